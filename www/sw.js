// usernotify's service worker shell, a module worker. The build copies it, minified, to
// pkg/usernotify-sw.js beside the module it imports. It only wires events to the wasm
// module: listeners are added synchronously at first evaluation, the module is initialised
// once, and each handler awaits that inside event.waitUntil. All decisions live in Rust.
import init, { handleEvent } from './usernotify.js';

const ready = init();

for (const type of ['push', 'notificationclick', 'notificationclose', 'pushsubscriptionchange', 'message']) {
  self.addEventListener(type, (event) => event.waitUntil(ready.then(() => handleEvent(event))));
}
self.addEventListener('install', (event) => event.waitUntil(Promise.all([ready, self.skipWaiting()])));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
