// usernotify/inbox: <usernotify-inbox>, the notification centre as a custom element. A bell
// with the unread count opens a panel listing the feed, grouped by `groupName`, newest first:
// read, dismiss, delete, open a notification's URL, mark all read. It follows the feed live
// through the page API's `onChanged`, and is given the app's client rather than opening one,
// so that the page API's wasm is loaded once, by the app:
//
//   import 'usernotify/inbox';
//   document.querySelector('usernotify-inbox').client = await NotificationClient.open();
//
// It imports nothing: a page that does not use it loads none of it. Pushed text is only ever
// set as text (textContent), never as markup. Themed with CSS custom properties
// (--usernotify-*) and ::part(); every label can be replaced (`labels`).

/** The default labels, in English; `inbox.labels = {...}` replaces any of them. */
export const DEFAULT_LABELS = Object.freeze({
  title: 'Notifications',
  /** The bell's accessible name. */
  bell: (unread) => (unread ? `Notifications, ${unread} unread` : 'Notifications'),
  markAllRead: 'Mark all read',
  close: 'Close',
  read: 'Read',
  unread: 'Unread',
  dismiss: 'Dismiss',
  delete: 'Delete',
  /** Read by screen readers before an unread notification's title. */
  unreadMarker: 'Unread: ',
  highPriority: 'High priority',
  untitled: 'New notification',
  empty: "You're all caught up.",
  groupUnread: (count) => `${count} unread`,
  more: (count) => `and ${count} more`,
  /** What the panel says when an action failed; `error.name` is the page API's stable code. */
  failed: (action, error) => `${action}: ${error?.name ?? 'Error'}`,
});

/** A notification centre shows what is recent: the newest items and each group's newest few. */
const SHOWN_ITEMS = 50;
const SHOWN_PER_GROUP = 5;

const STYLE = `
:host {
  display: inline-block; position: relative;
  font: var(--usernotify-font, inherit);
  color: var(--usernotify-text, #1d1d1f);
}
[hidden] { display: none !important; }
button { font: inherit; cursor: pointer; }
button:disabled { cursor: default; opacity: .55; }
:focus-visible { outline: 2px solid var(--usernotify-accent, #0a66c2); outline-offset: 2px; }
.bell {
  position: relative; display: grid; place-items: center;
  width: 2.5rem; height: 2.5rem; padding: 0; border-radius: 50%;
  border: 1px solid var(--usernotify-border, #d0d3d8);
  background: var(--usernotify-surface, #fff); color: inherit;
}
.bell[aria-expanded='true'] { background: var(--usernotify-accent-soft, #e8f1fb); color: var(--usernotify-accent, #0a66c2); }
.badge {
  position: absolute; top: -.3rem; right: -.35rem; min-width: 1.1rem; padding: 0 .3rem; box-sizing: border-box;
  border-radius: 999px; background: var(--usernotify-badge, #c5221f); color: var(--usernotify-badge-text, #fff);
  font-size: .72rem; font-weight: 700; line-height: 1.1rem; text-align: center;
}
.panel {
  position: fixed; z-index: var(--usernotify-z-index, 1000); box-sizing: border-box;
  width: var(--usernotify-panel-width, 24rem); max-width: calc(100% - 16px); overflow: auto;
  background: var(--usernotify-surface, #fff); color: var(--usernotify-text, #1d1d1f);
  border: 1px solid var(--usernotify-border, #d0d3d8); border-radius: var(--usernotify-radius, 10px);
  box-shadow: var(--usernotify-shadow, 0 8px 28px rgba(0, 0, 0, .18));
  text-align: start; font-size: .95rem; line-height: 1.4;
}
.header {
  position: sticky; top: 0; z-index: 1; display: flex; align-items: center; gap: .5rem;
  padding: .6rem .75rem .5rem 1rem; background: var(--usernotify-surface, #fff);
  border-bottom: 1px solid var(--usernotify-border, #d0d3d8);
}
h2 { margin: 0 auto 0 0; font-size: 1.05rem; }
h2:focus { outline: none; }
.header button, .actions button {
  padding: .15rem .5rem; border: 0; border-radius: 6px; background: none;
  color: var(--usernotify-accent, #0a66c2); font-size: .85rem;
}
.header button:hover:not(:disabled), .actions button:hover:not(:disabled) { background: var(--usernotify-accent-soft, #e8f1fb); }
.close { font-size: 1.2rem; line-height: 1; color: var(--usernotify-muted, #5f6368); }
.error { margin: .5rem 1rem 0; color: var(--usernotify-error, #b00020); font-weight: 600; }
.error:empty { display: none; }
.empty { margin: 0; padding: 2rem 1rem; text-align: center; color: var(--usernotify-muted, #5f6368); }
ul { list-style: none; margin: 0; padding: 0; }
.list > li { border-bottom: 1px solid var(--usernotify-border, #d0d3d8); }
.list > li:last-child { border-bottom: 0; }
h3 {
  margin: 0; padding: .55rem 1rem .1rem 1.5rem; font-size: .78rem; text-transform: uppercase;
  letter-spacing: .04em; color: var(--usernotify-muted, #5f6368);
}
h3 .count { text-transform: none; letter-spacing: 0; font-weight: 500; color: var(--usernotify-accent, #0a66c2); }
.entry { position: relative; padding: .55rem 1rem .45rem 1.5rem; }
.entry:focus { outline-offset: -2px; }
.group .entry { padding-left: 2.1rem; }
.entry.unread { background: var(--usernotify-unread, #f5f9fe); }
.entry.unread::before {
  content: ''; position: absolute; left: .6rem; top: 1rem;
  width: .45rem; height: .45rem; border-radius: 50%; background: var(--usernotify-accent, #0a66c2);
}
.group .entry.unread::before { left: 1.2rem; }
.title { display: block; font-weight: 600; overflow-wrap: anywhere; color: inherit; }
a.title { text-decoration: none; }
a.title:hover { text-decoration: underline; }
.entry.read .title, .entry.dismissed .title { font-weight: 500; }
.entry.read .title, .entry.read .body { color: var(--usernotify-muted, #5f6368); }
.high {
  margin-left: .4rem; padding: 0 .3rem; border: 1px solid currentColor; border-radius: 4px;
  font-size: .7rem; font-weight: 600; color: var(--usernotify-high, #b3261e); vertical-align: 1px;
}
.body { margin: .1rem 0; overflow-wrap: anywhere; font-size: .92rem; }
.meta { margin: 0; font-size: .75rem; color: var(--usernotify-muted, #5f6368); }
.actions { display: flex; flex-wrap: wrap; gap: .15rem; margin: .15rem 0 0 -.5rem; }
.more { padding: .3rem 1rem .6rem 2.1rem; color: var(--usernotify-muted, #5f6368); font-size: .85rem; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
`;

const BELL_ICON = '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"/></svg>';

const TEMPLATE = `<style>${STYLE}</style>
<button part="bell" class="bell" type="button" aria-expanded="false" aria-controls="panel" aria-haspopup="dialog">${BELL_ICON}<span part="badge" class="badge" aria-hidden="true" hidden></span></button>
<section part="panel" class="panel" id="panel" role="dialog" aria-labelledby="heading" hidden>
  <div part="header" class="header"><h2 part="heading" id="heading" tabindex="-1"></h2><button part="mark-all-read" class="mark-all" type="button"></button><button part="close" class="close" type="button">×</button></div>
  <p part="error" class="error" role="alert"></p>
  <p part="empty" class="empty"></p>
  <ul part="list" class="list"></ul>
</section>`;

/** Counted by the bell and a group's heading: not read, and not dismissed either. */
const isUnread = (entry) => entry.readState === 'unread' && entry.userActionState !== 'dismissed';
// ISO 8601 instants written alike compare as text.
const descending = (a, b) => (a < b) - (a > b);
const newestFirst = (a, b) => descending(a.creationDateTime, b.creationDateTime) || descending(a.id, b.id);

/** Entries come newest first; a group is listed where its newest entry is. */
const grouped = (entries) => {
  const groups = new Map();
  const items = [];
  for (const entry of entries) {
    if (entry.groupName == null) {
      items.push({ name: null, entries: [entry] });
    } else if (groups.has(entry.groupName)) {
      groups.get(entry.groupName).entries.push(entry);
    } else {
      const group = { name: entry.groupName, entries: [entry] };
      groups.set(entry.groupName, group);
      items.push(group);
    }
  }
  return items;
};

/** An element whose text, if any, is set as text. */
const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
};

/** A notification's URL when it is of this page's origin; a pushed URL never leads elsewhere. */
const sameOrigin = (url) => {
  if (!url) return null;
  try {
    const resolved = new URL(url, document.baseURI);
    return resolved.origin === location.origin ? resolved.href : null;
  } catch {
    return null;
  }
};

export class UsernotifyInbox extends HTMLElement {
  static observedAttributes = ['open'];

  #root;
  #bell;
  #badge;
  #panel;
  #list;
  #client = null;
  #stop = null;
  #labels = DEFAULT_LABELS;
  /** The feed as the element knows it, by id: read once, then kept by applying each change. */
  #feed = new Map();
  /** Changes heard while the feed is read, applied after it. */
  #heard = null;
  #drawing = false;
  #expiry;
  #ids = 0;
  #drawn = new WeakMap();
  #outside = (event) => {
    if (!event.composedPath().includes(this)) this.open = false;
  };
  /** Escape closes the panel wherever the focus is (a button that was just deleted, say). */
  #escape = (event) => {
    if (event.key === 'Escape' && this.open && !event.defaultPrevented) {
      event.preventDefault();
      this.#close();
    }
  };
  #place = () => this.#position();

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.innerHTML = TEMPLATE;
    const $ = (selector) => this.#root.querySelector(selector);
    this.#bell = $('.bell');
    this.#badge = $('.badge');
    this.#panel = $('.panel');
    this.#list = $('.list');
    // Opened from the bell, the focus moves into the panel (its heading), for keyboards and
    // screen readers; opened by the `open` attribute, it stays where it is.
    this.#bell.addEventListener('click', () => {
      this.open = !this.open;
      if (this.open) this.#root.querySelector('h2').focus();
    });
    $('.close').addEventListener('click', () => this.#close());
    $('.mark-all').addEventListener('click', () => this.markAllRead());
    this.#root.addEventListener('keydown', (event) => this.#key(event));
    // Tabbing out of the panel closes it, as a click outside does.
    this.#panel.addEventListener('focusout', (event) => {
      const to = event.relatedTarget;
      if (to && to !== this && !this.#root.contains(to) && !this.contains(to)) this.open = false;
    });
    this.#label();
  }

  /** The page API's `NotificationClient`, from `NotificationClient.open()`. */
  get client() {
    return this.#client;
  }

  set client(client) {
    if (client === this.#client) return;
    this.#disconnectClient();
    this.#client = client ?? null;
    if (this.isConnected) this.#connectClient();
  }

  /** The labels in use; setting replaces the defaults named, e.g. `{title: 'Avisos'}`. */
  get labels() {
    return this.#labels;
  }

  set labels(labels) {
    this.#labels = Object.freeze({ ...DEFAULT_LABELS, ...labels });
    this.#label();
    this.#drawn = new WeakMap();
    this.#render();
  }

  /** Whether the panel is open (the `open` attribute). */
  get open() {
    return this.hasAttribute('open');
  }

  set open(open) {
    this.toggleAttribute('open', Boolean(open));
  }

  /** How many notifications are unread and not dismissed: the bell's number. */
  get unreadCount() {
    let count = 0;
    for (const entry of this.#feed.values()) if (isUnread(entry)) count += 1;
    return count;
  }

  connectedCallback() {
    this.#connectClient();
    if (this.open) this.#opened();
  }

  disconnectedCallback() {
    this.#disconnectClient();
    this.#closed();
  }

  attributeChangedCallback(name, before, now) {
    if ((before === null) === (now === null)) return;
    if (now === null) this.#closed();
    else if (this.isConnected) this.#opened();
  }

  /** Marks every unread notification read. */
  async markAllRead() {
    const unread = [...this.#feed.values()].filter((entry) => entry.readState === 'unread');
    await this.#act(this.#labels.markAllRead, () =>
      Promise.all(unread.map((entry) => this.#client.updateReadState(entry.id, 'read'))));
  }

  #connectClient() {
    if (!this.#client || this.#stop) return;
    this.#stop = this.#client.onChanged((change) => this.#apply(change));
    this.#reload();
  }

  #disconnectClient() {
    this.#stop?.();
    this.#stop = null;
    this.#feed.clear();
    this.#draw();
  }

  #opened() {
    this.#panel.hidden = false;
    this.#bell.setAttribute('aria-expanded', 'true');
    this.#render();
    this.#position();
    addEventListener('resize', this.#place, { passive: true });
    addEventListener('scroll', this.#place, { passive: true, capture: true });
    document.addEventListener('pointerdown', this.#outside, true);
    document.addEventListener('keydown', this.#escape);
  }

  #closed() {
    this.#panel.hidden = true;
    this.#bell.setAttribute('aria-expanded', 'false');
    removeEventListener('resize', this.#place);
    removeEventListener('scroll', this.#place, { capture: true });
    document.removeEventListener('pointerdown', this.#outside, true);
    document.removeEventListener('keydown', this.#escape);
  }

  /** Closes the panel and gives the focus back to the bell. */
  #close() {
    this.open = false;
    this.#bell.focus();
  }

  /** Under the bell, inside the viewport, whatever the width of the screen. */
  #position() {
    if (this.#panel.hidden) return;
    const margin = 8;
    const bell = this.#bell.getBoundingClientRect();
    const { clientWidth, clientHeight } = document.documentElement;
    const top = Math.max(margin, Math.min(bell.bottom + 6, clientHeight - 160));
    this.#panel.style.top = `${top}px`;
    this.#panel.style.maxHeight = `${Math.max(160, clientHeight - top - margin)}px`;
    const width = this.#panel.offsetWidth;
    const left = Math.max(margin, Math.min(bell.right - width, clientWidth - width - margin));
    this.#panel.style.left = `${left}px`;
  }

  /** Arrows, Home and End move between notifications. */
  #key(event) {
    const entries = [...this.#root.querySelectorAll('li.entry')];
    const current = entries.findIndex((entry) => entry.contains(this.#root.activeElement));
    const to = {
      ArrowDown: current + 1,
      ArrowUp: current - 1,
      Home: 0,
      End: entries.length - 1,
    }[event.key];
    if (to === undefined || this.#panel.hidden || !entries.length) return;
    if ((event.key === 'Home' || event.key === 'End') && current < 0) return;
    event.preventDefault();
    entries[Math.max(0, Math.min(entries.length - 1, to))].focus();
  }

  #label() {
    const labels = this.#labels;
    this.#root.querySelector('h2').textContent = labels.title;
    this.#root.querySelector('.mark-all').textContent = labels.markAllRead;
    this.#root.querySelector('.close').setAttribute('aria-label', labels.close);
    this.#root.querySelector('.empty').textContent = labels.empty;
    this.#count();
  }

  /** Reads the whole feed: on connecting, and after a purge (which names no entries). */
  async #reload() {
    if (this.#heard) return;
    this.#heard = [];
    const client = this.#client;
    try {
      const entries = await client.getAllNotifications();
      if (client !== this.#client) return;
      this.#feed.clear();
      for (const entry of entries) this.#feed.set(entry.id, entry);
    } catch (error) {
      this.#showError(this.#labels.title, error);
    } finally {
      const later = this.#heard ?? [];
      this.#heard = null;
      later.forEach((change) => this.#apply(change));
      this.#draw();
    }
  }

  /** One change, as `onChanged` delivers it (with the entry as it now is). */
  #apply(change) {
    if (this.#heard) return void this.#heard.push(change);
    if (change.entry) this.#feed.set(change.id, change.entry);
    else if (change.change === 'deleted') this.#feed.delete(change.id);
    else return void this.#reload();
    this.#draw();
  }

  /** The count at once; the list once a frame, and only while the panel is open. */
  #draw() {
    this.#count();
    if (this.#drawing || this.#panel.hidden) return;
    this.#drawing = true;
    requestAnimationFrame(() => {
      this.#drawing = false;
      this.#render();
    });
  }

  #count() {
    const unread = this.unreadCount;
    this.#badge.textContent = unread > 99 ? '99+' : String(unread);
    this.#badge.hidden = unread === 0;
    this.#bell.setAttribute('aria-label', this.#labels.bell(unread));
    const markAll = this.#root.querySelector('.mark-all');
    markAll.disabled = ![...this.#feed.values()].some((entry) => entry.readState === 'unread');
  }

  #render() {
    const now = Date.now();
    let expired = false;
    for (const [id, entry] of this.#feed) {
      if (Date.parse(entry.expirationDateTime) <= now) {
        this.#feed.delete(id);
        expired = true;
      }
    }
    if (expired) this.#count();
    clearTimeout(this.#expiry);
    const entries = [...this.#feed.values()].sort(newestFirst);
    const next = Math.min(...entries.map((entry) => Date.parse(entry.expirationDateTime)));
    // setTimeout takes at most 2^31-1 ms; an expiry can be 30 days away.
    if (Number.isFinite(next)) this.#expiry = setTimeout(() => this.#draw(), Math.min(next - now + 100, 2 ** 31 - 1));
    if (this.#panel.hidden) return;
    const items = grouped(entries);
    const focused = this.#root.activeElement?.closest?.('li.entry')?.dataset.id;
    this.#list.replaceChildren(...items.slice(0, SHOWN_ITEMS).map((item) => this.#renderItem(item)));
    if (items.length > SHOWN_ITEMS) this.#list.append(el('li', 'more', this.#labels.more(items.length - SHOWN_ITEMS)));
    this.#root.querySelector('.empty').hidden = entries.length > 0;
    // A redraw keeps the keyboard where it was: on the same notification, or on the heading
    // when that one is gone.
    if (focused && !this.#root.activeElement) {
      const same = [...this.#list.querySelectorAll('li.entry')].find((entry) => entry.dataset.id === focused);
      (same ?? this.#root.querySelector('h2')).focus();
    }
  }

  #renderItem({ name, entries }) {
    if (name == null) return this.#renderEntry(entries[0]);
    const unread = entries.filter(isUnread).length;
    const item = el('li', 'group');
    item.setAttribute('part', 'group');
    item.dataset.group = name;
    const id = `g${(this.#ids += 1)}`;
    const heading = el('h3', null, name);
    heading.id = id;
    heading.setAttribute('part', 'group-heading');
    if (unread) heading.append(' ', el('span', 'count', this.#labels.groupUnread(unread)));
    const members = el('ul');
    members.setAttribute('aria-labelledby', id);
    members.append(...entries.slice(0, SHOWN_PER_GROUP).map((entry) => this.#renderEntry(entry)));
    if (entries.length > SHOWN_PER_GROUP) members.append(el('li', 'more', this.#labels.more(entries.length - SHOWN_PER_GROUP)));
    item.append(heading, members);
    return item;
  }

  // An entry's element is made once and reused while the entry is the same object: a change
  // delivered by `onChanged` replaces the object, so only changed entries are drawn again.
  #renderEntry(entry) {
    if (!this.#drawn.has(entry)) this.#drawn.set(entry, this.#drawEntry(entry));
    return this.#drawn.get(entry);
  }

  #drawEntry(entry) {
    const labels = this.#labels;
    const read = entry.readState === 'read';
    const dismissed = entry.userActionState === 'dismissed';
    const state = `${read ? 'read' : 'unread'}${dismissed ? ' dismissed' : ''}`;
    const item = el('li', `entry ${state}`);
    item.setAttribute('part', `item ${state}`);
    item.dataset.id = entry.id;
    item.tabIndex = -1;
    const id = `e${(this.#ids += 1)}`;
    item.setAttribute('aria-labelledby', id);
    const url = sameOrigin(entry.url);
    const title = el(url ? 'a' : 'strong', 'title');
    title.id = id;
    title.setAttribute('part', 'title');
    if (isUnread(entry)) title.append(el('span', 'sr', labels.unreadMarker));
    title.append(entry.title ?? labels.untitled);
    if (url) {
      title.href = url;
      title.addEventListener('click', (event) => this.#follow(event, entry, url));
    }
    if (entry.priority === 'High') title.append(el('span', 'high', labels.highPriority));
    const body = el('p', 'body', entry.body ?? entry.rawContent ?? '');
    body.setAttribute('part', 'body');
    const meta = el('p', 'meta');
    const time = el('time', null, this.#time(entry.creationDateTime));
    time.dateTime = entry.creationDateTime;
    time.title = new Date(entry.creationDateTime).toLocaleString(this.#locale());
    time.setAttribute('part', 'time');
    meta.append(time);
    const actions = el('div', 'actions');
    actions.setAttribute('part', 'actions');
    const button = (label, action, disabled = false) => {
      const node = el('button', null, label);
      node.type = 'button';
      node.disabled = disabled;
      node.setAttribute('part', 'action');
      node.addEventListener('click', () => this.#act(label, action));
      return node;
    };
    actions.append(
      button(read ? labels.unread : labels.read, () => this.#client.updateReadState(entry.id, read ? 'unread' : 'read')),
      button(labels.dismiss, () => this.#client.updateUserActionState(entry.id, 'dismissed'), dismissed),
      button(labels.delete, () => this.#client.deleteNotification(entry.id)),
    );
    item.append(title, body, meta, actions);
    return item;
  }

  /**
   * Opening a notification's URL marks it activated (and read), as a click on the shown
   * notification does. An app that routes itself cancels the `usernotify-open` event.
   */
  async #follow(event, entry, url) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      this.#client?.updateUserActionState(entry.id, 'activated').catch(() => {});
      return;
    }
    event.preventDefault();
    await this.#client?.updateUserActionState(entry.id, 'activated').catch(() => {});
    const go = this.dispatchEvent(new CustomEvent('usernotify-open', { detail: { entry, url }, cancelable: true, bubbles: true, composed: true }));
    this.open = false;
    if (go) location.assign(url);
  }

  /** Runs one of the user's actions; the list follows the change through `onChanged`. */
  async #act(label, action) {
    this.#showError(null);
    try {
      await action();
    } catch (error) {
      this.#showError(label, error);
    }
  }

  #showError(label, error) {
    this.#root.querySelector('.error').textContent = label == null ? '' : this.#labels.failed(label, error);
  }

  #locale() {
    return this.closest('[lang]')?.lang || undefined;
  }

  #time(iso) {
    return new Date(iso).toLocaleTimeString(this.#locale(), { hour: '2-digit', minute: '2-digit' });
  }
}

if (!customElements.get('usernotify-inbox')) customElements.define('usernotify-inbox', UsernotifyInbox);
