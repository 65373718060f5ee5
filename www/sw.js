// usernotify's service worker shell. The build makes two of it from this file, each one
// script with the module's glue bundled in (a worker starts faster with no import to load):
// a module worker (pkg/usernotify-sw.js) and a classic one (pkg/usernotify-sw.classic.js,
// for importScripts). Beside them, the only other file it loads is the wasm. It only
// wires events to the wasm module: listeners are added synchronously at first evaluation,
// the module is initialised once, and each handler awaits that inside event.waitUntil. All
// decisions live in Rust.
import init, { handleEvent, __wbg_reset_state as freshInstance } from './usernotify_worker.js';

// The wasm file sits beside this script. A classic worker that pulls the script in with
// importScripts from another directory sets `self.usernotifyBase` to the package directory's
// URL first (any URL in that directory works).
const wasm = new URL('usernotify_worker_bg.wasm', self.usernotifyBase ?? import.meta.url);

// The wasm is kept in the Cache Storage, under this build's name (USERNOTIFY_BUILD, the
// wasm's hash, set by the build): a worker woken for a push instantiates it without the
// network, which saves a round trip on every cold start and keeps pushes shown while the
// app's server is unreachable. Fetched on first use; without Cache Storage (a private
// window may refuse it), fetched each time.
const cacheName = `usernotify-${USERNOTIFY_BUILD}`;
const wasmResponse = async () => {
  const cache = await caches.open(cacheName).catch(() => undefined);
  const cached = await cache?.match(wasm);
  if (cached) return cached;
  // Revalidated with the server: a wasm from the HTTP cache may be an earlier build's.
  const fetched = await fetch(wasm, { cache: 'no-cache' });
  if (fetched.ok) await cache?.put(wasm, fetched.clone()).catch(() => {});
  return fetched;
};

// Loaded once; a failed load (a missing file, a network error on a cold start) is retried
// by the next event instead of breaking the worker for good.
let ready;
const load = () => (ready ??= wasmResponse().then((source) => init({ module_or_path: source })).catch((error) => {
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

// A handler the module could not finish (a trap, or a browser call throwing through it)
// may have left it mid-change, its push lock held. A failure after the handler's first
// await happens while the module resumes it from a promise reaction: the module reports it
// as an uncaught error (an unhandled rejection where `reportError` is missing), not as the
// handler's rejection. The shell watches all three: every handler still running is given
// up, and the next event gets a fresh instance.
const running = new Set();
const giveUp = () => {
  for (const stop of running) stop();
  running.clear();
  if (ready) freshInstance();
};
const failedInModule = (error) =>
  error instanceof WebAssembly.RuntimeError || /wasm-function\[/.test(String(error?.stack));
self.addEventListener('error', (event) => failedInModule(event.error) && giveUp());
self.addEventListener('unhandledrejection', (event) => failedInModule(event.reason) && giveUp());

const handle = async (type, event) => {
  try {
    await load();
  } catch {
    return type === 'push' ? quietStatus() : undefined;
  }
  let stop;
  const givenUp = new Promise((resolve) => running.add((stop = () => resolve(true))));
  try {
    if (await Promise.race([handleEvent(event).then(() => false), givenUp])) throw new Error('given up');
  } catch {
    if (running.delete(stop)) giveUp();
    if (type === 'push') await quietStatus();
  } finally {
    running.delete(stop);
  }
};

for (const type of ['push', 'notificationclick', 'notificationclose', 'pushsubscriptionchange', 'message']) {
  self.addEventListener(type, (event) => event.waitUntil(handle(type, event)));
}
self.addEventListener('install', (event) => event.waitUntil(Promise.all([load(), self.skipWaiting()])));
// Earlier builds' wasm goes once this build is active; an app's own caches stay.
const dropEarlierBuilds = async () => {
  for (const name of await caches.keys()) {
    if (name.startsWith('usernotify-') && name !== cacheName) await caches.delete(name);
  }
};
self.addEventListener('activate', (event) => event.waitUntil(Promise.all([self.clients.claim(), dropEarlierBuilds().catch(() => {})])));
