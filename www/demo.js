// The demo page, a small app: an app bar with a bell counting what is unread, a notification
// centre listing the feed live through the page API, a compact send panel that hands test
// notifications to the worker's push path, and Subscribe with the app service that serves
// the page (`make demo`). Pushed text is only ever set as text (textContent, text nodes),
// never as markup.
const $ = (id) => document.getElementById(id);

// The package's own worker, served from /pkg/ with `Service-Worker-Allowed: /` so that it
// can control the whole site.
const registration = navigator.serviceWorker
  .register('./pkg/usernotify-sw.js', { type: 'module', scope: './' })
  .then((registration) => {
    $('worker-state').textContent = 'registered';
    return navigator.serviceWorker.ready;
  })
  .catch((error) => {
    $('worker-state').textContent = `failed: ${error.message}`;
    throw error;
  });

const permission = () => ('Notification' in self ? Notification.permission : 'unsupported');
const showPermission = () => {
  $('permission-state').textContent = { granted: 'allowed', denied: 'blocked', default: 'not asked' }[permission()] ?? permission();
  $('allow').hidden = permission() !== 'default';
};
showPermission();
$('allow').addEventListener('click', async () => {
  await Notification.requestPermission();
  showPermission();
});

// The bell opens and closes the notification centre.
$('bell').addEventListener('click', () => {
  const open = $('centre').hidden;
  $('centre').hidden = !open;
  $('bell').setAttribute('aria-expanded', String(open));
});

const inMinutes = (minutes) => new Date(Date.now() + minutes * 60_000).toISOString();

// The send panel's result, beside its buttons: what the worker did with the notification
// last sent, from its report to this page.
let sentKey = null;
const OUTCOMES = {
  shown: 'Shown',
  'taken-by-app': 'Taken by the app (raw content)',
  deleted: 'Not shown: deleted before',
  'already-seen': 'Not shown: already read or dismissed',
  'show-failed': 'The browser could not show it',
};
// A refused push's report names no key (the worker never trusts what it refused): the next
// one after a send is taken as the send's.
const showOutcome = ({ key, outcome }) => {
  if (sentKey == null || (key !== sentKey && key !== '')) return;
  sentKey = null;
  $('sent').textContent = OUTCOMES[outcome] ?? `Refused: ${outcome}`;
  $('sent').className = `result ${outcome in OUTCOMES ? 'ok' : 'error'}`;
};

const sendThroughWorker = async (notification) => {
  sentKey = notification.appNotificationId;
  $('sent').textContent = 'Sending…';
  $('sent').className = 'result';
  const text = JSON.stringify(notification, null, 2);
  $('sent-json').textContent = text;
  try {
    (await registration).active.postMessage({ type: 'usernotify-push', data: text });
  } catch (error) {
    $('sent').textContent = `Not sent: the worker did not start (${error.message})`;
    $('sent').className = 'result error';
  }
};

$('compose').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const field = (name) => String(form.get(name) ?? '').trim();
  const notification = {
    targetHostName: location.hostname,
    appNotificationId: field('appNotificationId') || `demo-${crypto.randomUUID()}`,
    expirationDateTime: inMinutes(Number(field('expiresInMinutes') || 60)),
    priority: field('priority'),
    payload: {},
  };
  if (form.get('visual')) {
    const visual = { title: field('title'), body: field('body') };
    if (field('icon')) visual.icon = field('icon');
    if (field('image')) visual.image = field('image');
    // A button is "Title" or "Title = /url"; its action name is the title in kebab case.
    const actions = ['action1', 'action2'].map(field).filter(Boolean).map((text) => {
      const [title, url] = text.split('=').map((part) => part.trim());
      const action = { action: title.toLowerCase().replace(/[^a-z0-9]+/g, '-'), title };
      return url ? { ...action, url } : action;
    });
    if (actions.length) visual.actions = actions;
    notification.payload.visualContent = visual;
  }
  if (field('rawContent')) notification.payload.rawContent = field('rawContent');
  if (field('groupName')) notification.groupName = field('groupName');
  if (field('displayTimeToLive')) notification.displayTimeToLive = Number(field('displayTimeToLive'));
  sendThroughWorker(notification);
});

// The example from Graph's POST /me/notifications reference, with its 2019 expiry moved
// to the future so that it shows.
$('send-seed').addEventListener('click', () =>
  sendThroughWorker({
    targetHostName: 'graphnotifications.sample.windows.com',
    appNotificationId: 'testDirectToastNotification',
    expirationDateTime: inMinutes(60),
    payload: { visualContent: { title: 'Hello World!', body: 'Notifications are Great!' } },
    targetPolicy: { platformTypes: ['windows', 'ios', 'android'] },
    priority: 'High',
    groupName: 'TestGroup',
    displayTimeToLive: '60',
  }));

const describe = ({ type, key, outcome, rawContent, action }) => {
  const name = key ? ` ${key}` : '';
  switch (type) {
    case 'usernotify-push-handled': return `push${name}: ${outcome}`;
    case 'usernotify-raw': return `raw content${name}: ${rawContent}`;
    case 'usernotify-activated': return `clicked${name}${action ? `: ${action}` : ''}`;
    case 'usernotify-dismissed': return `dismissed${name}`;
    default: return `${type}${name}`;
  }
};

navigator.serviceWorker.addEventListener('message', (event) => {
  if (typeof event.data?.type !== 'string' || !event.data.type.startsWith('usernotify-')) return;
  if (event.data.type === 'usernotify-push-handled') showOutcome(event.data);
  const item = document.createElement('li');
  item.textContent = describe(event.data);
  $('events').prepend(item);
});

// ---- The feed, through the page API ----

const feedList = $('feed');
let client;

const showError = (what, error) => {
  // The API's errors carry a stable code in `name` (not-found, invalid-state, …).
  $('feed-error').textContent = `${what}: ${error?.name ?? 'Error'}`;
};

/** An element whose text, if any, is set as text. */
const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
};

/** A time as the centre shows it (hours and minutes), the whole instant on hover. */
const time = (iso) => {
  const date = new Date(iso);
  const node = el('time', null, date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  node.dateTime = iso;
  node.title = date.toLocaleString();
  return node;
};

/** Counted by the bell and a group's heading: not read, and not dismissed either. */
const isUnread = (entry) => entry.readState === 'unread' && entry.userActionState !== 'dismissed';

/** Runs one of the user's actions and shows its error, if any; the list follows the change
 * through `onChanged`, like every other change. */
const act = async (what, action) => {
  $('feed-error').textContent = '';
  try {
    await action();
  } catch (error) {
    showError(what, error);
  }
};

const button = (label, action, disabled = false) => {
  const node = el('button', null, label);
  node.type = 'button';
  node.disabled = disabled;
  node.addEventListener('click', () => act(label, action));
  return node;
};

// An entry's element is made once and reused while the entry is the same object: a change
// delivered by `onChanged` replaces the object, so only changed entries are drawn again.
const drawn = new WeakMap();
const renderEntry = (entry) => {
  if (!drawn.has(entry)) drawn.set(entry, drawEntry(entry));
  return drawn.get(entry);
};

const drawEntry = (entry) => {
  const dismissed = entry.userActionState === 'dismissed';
  const item = el('li', `entry ${entry.readState}${dismissed ? ' dismissed' : ''} priority-${entry.priority.toLowerCase()}`);
  item.dataset.id = entry.id;
  const meta = el('p', 'meta');
  const times = el('span', 'times');
  // `append` turns strings into text nodes.
  times.append(time(entry.creationDateTime), ' · expires ', time(entry.expirationDateTime));
  if (entry.displayTimeToLive != null) times.append(` · on screen ${entry.displayTimeToLive} s`);
  meta.append(el('span', 'states', `${entry.readState} · ${entry.userActionState} · priority ${entry.priority}`), ' · ', times);
  const read = entry.readState === 'read';
  const actions = el('p', 'actions');
  actions.append(
    button(read ? 'Unread' : 'Read', () => client.updateReadState(entry.id, read ? 'unread' : 'read')),
    button('Dismiss', () => client.updateUserActionState(entry.id, 'dismissed'), dismissed),
    button('Delete', () => client.deleteNotification(entry.id)),
  );
  item.append(
    el('strong', 'title', entry.title ?? '(no title)'),
    el('p', 'text', entry.body ?? entry.rawContent ?? ''),
    meta,
    actions,
  );
  return item;
};

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

// A notification centre shows what is recent: the newest groups and notifications, and the
// newest few of each group, with how many more there are. (Drawing a feed of hundreds in
// full, once a frame during a burst, would keep the page busy.)
const SHOWN_ITEMS = 50;
const SHOWN_PER_GROUP = 5;
const more = (count) => el('li', 'more', `and ${count} more`);

const renderGroup = ({ name, entries }) => {
  if (name == null) return renderEntry(entries[0]);
  const unread = entries.filter(isUnread).length;
  const item = el('li', 'group');
  item.dataset.group = name;
  const heading = el('h3', null, name);
  heading.append(' ', el('span', 'count', `${unread} unread`));
  const members = el('ul');
  members.append(...entries.slice(0, SHOWN_PER_GROUP).map(renderEntry));
  if (entries.length > SHOWN_PER_GROUP) members.append(more(entries.length - SHOWN_PER_GROUP));
  item.append(heading, members);
  return item;
};

// The feed as the page knows it, by id: read once when the page opens, then kept current by
// applying each change `onChanged` delivers (it carries the entry as it now is), never by
// reading the whole feed again. A burst of pushes is hundreds of changes: each is applied at
// once and the list is drawn once per frame. (Reading the feed on every change would also
// hold up the worker: its writes wait behind the page's reads.)
const feed = new Map();
let drawing = false;
const draw = () => {
  if (drawing) return;
  drawing = true;
  requestAnimationFrame(() => {
    drawing = false;
    render();
  });
};

// Expired entries leave the feed with no event: dropped when the next one expires
// (setTimeout takes at most 2^31-1 ms; an expiry can be 30 days away).
let expiryTimer;
// ISO 8601 instants written alike compare as text.
const descending = (a, b) => (a < b) - (a > b);
const newestFirst = (a, b) => descending(a.creationDateTime, b.creationDateTime) || descending(a.id, b.id);

const render = () => {
  const now = Date.now();
  for (const [id, entry] of feed) if (Date.parse(entry.expirationDateTime) <= now) feed.delete(id);
  // Newest first, as getAllNotifications() lists them.
  const entries = [...feed.values()].sort(newestFirst);
  const items = grouped(entries);
  feedList.replaceChildren(...items.slice(0, SHOWN_ITEMS).map(renderGroup));
  if (items.length > SHOWN_ITEMS) feedList.append(more(items.length - SHOWN_ITEMS));
  $('feed-empty').hidden = entries.length > 0;
  const unread = entries.filter(isUnread).length;
  $('unread-count').textContent = unread > 99 ? '99+' : String(unread);
  $('unread-count').hidden = unread === 0;
  $('bell').setAttribute('aria-label', `Notifications, ${unread} unread`);
  $('centre-summary').textContent = entries.length ? `${entries.length} in the feed` : '';
  clearTimeout(expiryTimer);
  const next = Math.min(...entries.map((entry) => Date.parse(entry.expirationDateTime)));
  if (Number.isFinite(next)) expiryTimer = setTimeout(draw, Math.min(next - now + 100, 2 ** 31 - 1));
};

/** Reads the whole feed: when the page opens, and after a purge (which names no entries).
 * Changes heard while it reads are applied after it, so that none is lost. */
let heard = null;
const reload = async () => {
  if (heard) return;
  heard = [];
  try {
    const entries = await client.getAllNotifications();
    feed.clear();
    for (const entry of entries) feed.set(entry.id, entry);
  } catch (error) {
    showError('Reading the feed', error);
  }
  const later = heard;
  heard = null;
  later.forEach(apply);
  draw();
};

/** One change, as `onChanged` delivers it. */
const apply = (change) => {
  if (heard) return heard.push(change);
  if (change.entry) feed.set(change.id, change.entry);
  else if (change.change === 'deleted') feed.delete(change.id);
  else return reload();
  draw();
};

// Loaded with a dynamic import so that the rest of the demo (worker, form, events) still
// works when the page module or its storage cannot load.
// `opened` settles once: with the client, or with why it could not open.
const opened = (async () => {
  const { default: init, NotificationClient } = await import('./pkg/usernotify.js');
  await init();
  client = await NotificationClient.open();
  client.onChanged(apply);
  reload();
  client.getSubscription().then(showSubscription, () => {});
  return client;
})();
opened.catch((error) => showError('Opening the feed', error));

// Subscribing with the app service that serves this page (`make demo`; `?service=URL` and
// `?token=` name another): the notification permission first (asked from this click), then
// the page API's subscribe(): the service's VAPID key, the browser's push subscription, and
// the UNSID the service answers with. The button says it is busy meanwhile; a failure shows
// the API's message, which says what to do, with its stable code.
const params = new URLSearchParams(location.search);
const showSubscription = (subscribed) => {
  $('subscription-state').textContent = subscribed ? `Subscribed · UNSID ${subscribed.id}` : 'Not subscribed';
  $('subscription-state').className = `result${subscribed ? ' ok' : ''}`;
  $('subscribe').hidden = Boolean(subscribed);
  $('unsubscribe').hidden = !subscribed;
};
const subscription = async (button, pending, action) => {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = pending;
  $('subscription-state').textContent = '';
  try {
    showSubscription(await action(await opened));
  } catch (error) {
    $('subscription-state').textContent = `${error.message.replace(/^usernotify: /, '')} (${error.name})`;
    $('subscription-state').className = 'result error';
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
};
$('subscribe').addEventListener('click', (event) => subscription(event.currentTarget, 'Subscribing…', async (client) => {
  if (permission() === 'default') {
    await Notification.requestPermission();
    showPermission();
  }
  return client.subscribe({
    serviceUrl: params.get('service') ?? location.origin,
    accessToken: params.get('token') ?? 'demo-token',
    targetHostName: location.hostname,
    displayName: 'usernotify demo page',
  });
}));
$('unsubscribe').addEventListener('click', (event) => subscription(event.currentTarget, 'Unsubscribing…', async (client) => {
  await client.unsubscribe();
  return null;
}));
