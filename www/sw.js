// usernotify service worker shell (a module worker).
// It only wires browser events to the wasm module: listeners are added synchronously at
// first evaluation, the module is initialised once, and every handler awaits that inside
// event.waitUntil. All decisions live in Rust.
import init, * as usernotify from './pkg/usernotify.js';

const ready = init();

const wire = (type, handler) =>
  self.addEventListener(type, (event) => event.waitUntil(ready.then(() => handler(event))));

wire('push', (event) => usernotify.handlePush(event));
wire('notificationclick', (event) => usernotify.handleNotificationClick(event));
wire('notificationclose', (event) => usernotify.handleNotificationClose(event));
wire('pushsubscriptionchange', (event) => usernotify.handlePushSubscriptionChange(event));
wire('message', (event) => usernotify.handleMessage(event));
self.addEventListener('install', (event) => event.waitUntil(Promise.all([ready, self.skipWaiting()])));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
