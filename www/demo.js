// The demo page: registers the worker on load, asks permission on a button, sends test
// notifications through the worker's push path, and lists the feed live through the page
// API. Pushed text is only ever set as text (textContent, text nodes), never as markup.
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

const showPermission = () => {
  $('permission-state').textContent = 'Notification' in self ? Notification.permission : 'unsupported';
};
showPermission();
$('allow').addEventListener('click', async () => {
  await Notification.requestPermission();
  showPermission();
});

const inMinutes = (minutes) => new Date(Date.now() + minutes * 60_000).toISOString();

const sendThroughWorker = async (notification) => {
  const ready = await registration;
  const text = JSON.stringify(notification, null, 2);
  ready.active.postMessage({ type: 'usernotify-push', data: text });
  $('sent').textContent = text;
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
  if (form.get('visual')) notification.payload.visualContent = { title: field('title'), body: field('body') };
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

const describe = ({ type, key, outcome, rawContent }) => {
  const name = key ? ` ${key}` : '';
  switch (type) {
    case 'usernotify-push-handled': return `push${name}: ${outcome}`;
    case 'usernotify-raw': return `raw content${name}: ${rawContent}`;
    case 'usernotify-activated': return `clicked${name}`;
    case 'usernotify-dismissed': return `dismissed${name}`;
    default: return `${type}${name}`;
  }
};

navigator.serviceWorker.addEventListener('message', (event) => {
  if (typeof event.data?.type !== 'string' || !event.data.type.startsWith('usernotify-')) return;
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

const time = (iso) => {
  const node = el('time', null, new Date(iso).toLocaleString());
  node.dateTime = iso;
  return node;
};

/** Runs one of the user's actions, shows its error if any, then re-reads the feed. */
const act = async (what, action) => {
  $('feed-error').textContent = '';
  try {
    await action();
  } catch (error) {
    showError(what, error);
  }
  refresh();
};

const button = (label, action, disabled = false) => {
  const node = el('button', null, label);
  node.type = 'button';
  node.disabled = disabled;
  node.addEventListener('click', () => act(label, action));
  return node;
};

const renderEntry = (entry) => {
  const item = el('li', `entry ${entry.readState}`);
  item.dataset.id = entry.id;
  const times = el('p', 'times');
  // `append` turns strings into text nodes.
  times.append('received ', time(entry.creationDateTime), ' · expires ', time(entry.expirationDateTime));
  if (entry.displayTimeToLive != null) times.append(` · on screen for ${entry.displayTimeToLive} s`);
  const read = entry.readState === 'read';
  const actions = el('p', 'actions');
  actions.append(
    button(read ? 'Unread' : 'Read', () => client.updateReadState(entry.id, read ? 'unread' : 'read')),
    button('Dismiss', () => client.updateUserActionState(entry.id, 'dismissed'), entry.userActionState === 'dismissed'),
    button('Delete', () => client.deleteNotification(entry.id)),
  );
  item.append(
    el('strong', 'title', entry.title ?? '(no title)'),
    el('p', 'text', entry.body ?? entry.rawContent ?? ''),
    el('p', 'states', `${entry.readState} · ${entry.userActionState} · priority ${entry.priority}`),
    times,
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

const renderGroup = ({ name, entries }) => {
  if (name == null) return renderEntry(entries[0]);
  const unread = entries.filter((entry) => entry.readState === 'unread').length;
  const item = el('li', 'group');
  item.dataset.group = name;
  const heading = el('h3', null, name);
  heading.append(' ', el('span', 'count', `${unread} unread`));
  const members = el('ul');
  members.append(...entries.map(renderEntry));
  item.append(heading, members);
  return item;
};

// Expired entries leave the feed with no event: re-read when the next one expires
// (setTimeout takes at most 2^31-1 ms; an expiry can be 30 days away).
let expiryTimer;
const render = (entries) => {
  feedList.replaceChildren(...grouped(entries).map(renderGroup));
  $('feed-empty').hidden = entries.length > 0;
  clearTimeout(expiryTimer);
  const next = Math.min(...entries.map((entry) => Date.parse(entry.expirationDateTime)));
  if (Number.isFinite(next)) expiryTimer = setTimeout(refresh, Math.min(next - Date.now() + 100, 2 ** 31 - 1));
};

// Several triggers fire for one change (the worker's report and the change broadcast), and a
// burst of pushes fires hundreds: one read of the feed at a time, and one more after it when
// anything changed meanwhile, so the list ends current without queueing a read per change.
let reading = false;
let again = false;
const refresh = async () => {
  if (!client) return;
  if (reading) {
    again = true;
    return;
  }
  reading = true;
  try {
    do {
      again = false;
      try {
        render(await client.getAllNotifications());
      } catch (error) {
        showError('Reading the feed', error);
      }
    } while (again);
  } finally {
    reading = false;
  }
};

navigator.serviceWorker.addEventListener('message', (event) => {
  if (event.data?.type === 'usernotify-push-handled') refresh();
});

// Loaded with a dynamic import so that the rest of the demo (worker, form, events) still
// works when the page module or its storage cannot load.
(async () => {
  try {
    const { default: init, NotificationClient } = await import('./pkg/usernotify.js');
    await init();
    client = await NotificationClient.open();
  } catch (error) {
    showError('Opening the feed', error);
    return;
  }
  client.onChanged(refresh);
  refresh();
})();

// Subscribing with the app service that serves this page (`make demo`): its VAPID key, the
// browser's push subscription, and the UNSID it answers with. Errors are shown by code.
const subscription = async (action) => {
  if (!client) return;
  try {
    const subscribed = await action();
    $('subscription-state').textContent = subscribed ? `UNSID ${subscribed.id}` : 'none';
  } catch (error) {
    $('subscription-state').textContent = `${error.name}: ${error.message}`;
  }
};
$('subscribe').addEventListener('click', () => subscription(() => client.subscribe({
  serviceUrl: location.origin,
  accessToken: new URLSearchParams(location.search).get('token') ?? 'demo-token',
  targetHostName: location.hostname,
  displayName: 'usernotify demo page',
})));
$('unsubscribe').addEventListener('click', () => subscription(async () => {
  await client.unsubscribe();
  return null;
}));
