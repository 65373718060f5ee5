// The demo page, a small app: an app bar with the package's notification centre
// (<usernotify-inbox>, pkg/inbox.js: the bell, its count, the feed), a compact send panel
// that shows test notifications through the worker's push path (`client.show()`), and
// Subscribe with the app service that serves the page (`make demo`). Pushed text is only
// ever set as text (textContent, text nodes), never as markup.
const $ = (id) => document.getElementById(id);

// The package's own worker, served from /pkg/ with `Service-Worker-Allowed: /` so that it
// can control the whole site. Whether it runs is the page API's `workerReady()`, below: a
// worker whose wasm does not load says why instead of seeming ready.
const registered = navigator.serviceWorker
  .register('./pkg/usernotify-sw.classic.js', { scope: './' })
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

const inMinutes = (minutes) => new Date(Date.now() + minutes * 60_000).toISOString();

// The send panel's result, beside its buttons: what the worker did with the notification
// last sent (`client.show()` resolves once it is on screen), or why it was not shown.
const OUTCOMES = {
  shown: 'Shown',
  'taken-by-app': 'Taken by the app (raw content)',
  deleted: 'Not shown: deleted before',
  'already-seen': 'Not shown: already read or dismissed',
};
const NOT_REFUSALS = new Set(['worker-failed', 'push-unavailable', 'show-failed', 'storage-unavailable']);
const message = (error) => error.message.replace(/^usernotify: /, '');

const sendThroughWorker = async (notification) => {
  $('sent').textContent = 'Sending…';
  $('sent').className = 'result';
  $('sent-json').textContent = JSON.stringify(notification, null, 2);
  try {
    const { outcome } = await (await opened).show(notification);
    $('sent').textContent = OUTCOMES[outcome] ?? outcome;
    $('sent').className = 'result ok';
  } catch (error) {
    const what = NOT_REFUSALS.has(error.name) ? 'Not shown' : 'Refused';
    $('sent').textContent = `${what}: ${error.name}`;
    $('sent').title = message(error);
    $('sent-detail').textContent = message(error);
    $('sent').className = 'result error';
    return;
  }
  $('sent').title = '';
  $('sent-detail').textContent = '';
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
  const item = document.createElement('li');
  item.textContent = describe(event.data);
  $('events').prepend(item);
});

// ---- The page API and the notification centre ----

// Loaded with dynamic imports so that the rest of the demo (worker, form, events) still
// works when the page module or its storage cannot load. `opened` settles once: with the
// client, or with why it could not open. The inbox component gets the same client.
const opened = (async () => {
  const [{ default: init, NotificationClient }] = await Promise.all([import('./pkg/usernotify.js'), import('./pkg/inbox.js')]);
  await init();
  const client = await NotificationClient.open();
  document.querySelector('usernotify-inbox').client = client;
  client.getSubscription().then(showSubscription, () => {});
  return client;
})();
opened.catch((error) => {
  $('worker-state').textContent = `page API not loaded: ${error.name}: ${message(error)}`;
});

// The worker's state as the page API sees it: ready once its wasm runs, else why not.
(async () => {
  await registered;
  $('worker-state').textContent = 'starting…';
  await (await opened).workerReady();
  $('worker-state').textContent = 'ready';
})().catch((error) => {
  if (error.name === 'worker-failed') $('worker-state').textContent = `failed: ${message(error)}`;
});

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
    $('subscription-state').textContent = `${message(error)} (${error.name})`;
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
    // How long to wait for the browser's push service (default 30 s).
    ...(params.has('pushTimeout') && { pushTimeout: Number(params.get('pushTimeout')) }),
  });
}));
$('unsubscribe').addEventListener('click', (event) => subscription(event.currentTarget, 'Unsubscribing…', async (client) => {
  await client.unsubscribe();
  return null;
}));
