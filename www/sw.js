// usernotify service worker shell (a module worker).
// It only wires browser events to the wasm module: listeners are added synchronously at
// first evaluation, the module is initialised once, and every handler awaits that inside
// event.waitUntil. All decisions live in Rust.
import init, { handleEvent } from './pkg/usernotify.js';

const ready = init();

for (const type of ['push', 'notificationclick', 'notificationclose', 'pushsubscriptionchange', 'message']) {
  self.addEventListener(type, (event) => event.waitUntil(ready.then(() => handleEvent(event))));
}
self.addEventListener('install', (event) => event.waitUntil(Promise.all([ready, self.skipWaiting()])));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
