// usernotify's service worker shell, a module worker. The build copies it, minified, to
// pkg/usernotify-sw.js beside the module it imports. It only wires events to the wasm
// module: listeners are added synchronously at first evaluation, the module is initialised
// once, and each handler awaits that inside event.waitUntil. All decisions live in Rust.
import init, { handleEvent } from './usernotify.js';

// Loaded once; a failed load (a missing file, a network error on a cold start) is retried
// by the next event instead of breaking the worker for good.
let ready;
const load = () => (ready ??= init().catch((error) => {
  ready = undefined;
  throw error;
}));
load().catch(() => {});

// Without the module no decision can run, yet a push must still end with a notification
// of the app on screen: the same quiet status the module shows (src/core/display.rs).
const quietStatus = async () => {
  if ((await self.registration.getNotifications()).length === 0) {
    await self.registration.showNotification('Notifications', {
      body: "You're all caught up.", tag: 'usernotify-status', silent: true,
    });
  }
};

for (const type of ['push', 'notificationclick', 'notificationclose', 'pushsubscriptionchange', 'message']) {
  self.addEventListener(type, (event) => event.waitUntil(
    load().then(() => handleEvent(event)).catch(() => (type === 'push' ? quietStatus() : undefined)),
  ));
}
self.addEventListener('install', (event) => event.waitUntil(Promise.all([load(), self.skipWaiting()])));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
