// The demo page: registers the worker on load, asks permission on a button, and sends test
// notifications through the worker's push path. Pushed text is only ever set as text.
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
