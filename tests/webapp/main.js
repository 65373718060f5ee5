// A web app using usernotify from npm: it registers the package's service worker and lists
// the notification feed through the page API. Pushed text is only ever set as textContent.
import init, { NotificationClient } from 'usernotify';
// The package's notification centre, resolved through its `exports` as `usernotify/inbox`.
import 'usernotify/inbox';

const $ = (id) => document.getElementById(id);

// The package's module worker, served beside this page by its Vite plugin (vite.config.js).
navigator.serviceWorker
  .register('./usernotify-sw.js', { type: 'module', scope: './' })
  .then(
    () => { $('worker').textContent = 'registered'; },
    (error) => { $('worker').textContent = `failed: ${error.message}`; },
  );

const showPermission = () => { $('permission').textContent = Notification.permission; };
showPermission();
$('allow').addEventListener('click', () => Notification.requestPermission().then(showPermission));

// The page API: its wasm is emitted by the bundler and found by `init` on its own.
await init();
const client = await NotificationClient.open();
document.querySelector('usernotify-inbox').client = client;

const button = (label, action) => {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = label;
  element.addEventListener('click', () => action().then(render, showError));
  return element;
};

const text = (tag, value) => {
  const element = document.createElement(tag);
  element.textContent = value;
  return element;
};

const entryItem = (entry) => {
  const item = document.createElement('li');
  item.className = entry.readState;
  item.dataset.id = entry.id;
  const read = entry.readState === 'read';
  item.append(
    text('strong', entry.title ?? 'New notification'),
    text('p', entry.body ?? entry.rawContent ?? ''),
    text('p', `${entry.readState} · ${new Date(entry.creationDateTime).toLocaleString()}`),
    button(read ? 'Mark unread' : 'Mark read', () => client.updateReadState(entry.id, read ? 'unread' : 'read')),
    button('Delete', () => client.deleteNotification(entry.id)),
  );
  return item;
};

const showError = (error) => { $('error').textContent = `${error.name}: ${error.message}`; };

// Newest first, as the page API returns it; the last render started wins.
let latest = 0;
async function render() {
  const mine = ++latest;
  const entries = await client.getAllNotifications();
  if (mine !== latest) return;
  $('feed').replaceChildren(...entries.map(entryItem));
  $('empty').hidden = entries.length > 0;
}

// What the worker or another page changed, and each push the worker handled.
client.onChanged(() => render().catch(showError));
navigator.serviceWorker.addEventListener('message', (event) => {
  if (event.data?.type === 'usernotify-push-handled') render().catch(showError);
});
await render().catch(showError);
