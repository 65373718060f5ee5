// usernotify's service worker shell. The build makes two of it from this file: a module
// worker (pkg/usernotify-sw.js, importing the worker module beside it) and a classic one
// (pkg/usernotify-sw.classic.js, everything in one script, for importScripts). It only
// wires events to the wasm module: listeners are added synchronously at first evaluation,
// the module is initialised once, and each handler awaits that inside event.waitUntil. All
// decisions live in Rust.
import init, { handleEvent } from './usernotify_worker.js';

// The wasm file sits beside this script. A classic worker that pulls the script in with
// importScripts from another directory sets `self.usernotifyBase` to the package directory's
// URL first (any URL in that directory works).
const wasm = new URL('usernotify_worker_bg.wasm', self.usernotifyBase ?? import.meta.url);

// Loaded once; a failed load (a missing file, a network error on a cold start) is retried
// by the next event instead of breaking the worker for good.
let ready;
const load = () => (ready ??= init({ module_or_path: wasm }).catch((error) => {
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
