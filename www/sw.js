// usernotify's service worker: a shell that hands the browser's events to the wasm module,
// which does everything else (src/web/worker.rs exports a handler under each event's name).
// The build makes two of it, each one script with the module's glue bundled in: a module
// worker (pkg/usernotify-sw.js) and a classic one (pkg/usernotify-sw.classic.js).
import init, * as worker from './usernotify_worker.js';

// The wasm sits beside this script, or in `self.usernotifyBase` (set by a classic worker that
// imports this one from elsewhere). The module keeps it in the Cache Storage under this
// build's name, so that a cold start needs no network. A failed load is logged once, with what
// the server answered; the event that meets the failure clears it, so the next one tries again
// (the start-up load and the event it started for are one attempt, logged once).
const wasm = new URL('usernotify_worker_bg.wasm', self.usernotifyBase ?? import.meta.url);
const cacheName = `usernotify-${USERNOTIFY_BUILD}`;
// The feed's database, opened while the module loads, so that a cold start waits for both
// at once. The module adopts the connection; where the database must first be created or
// upgraded, this open gives up and the module opens it itself (the schema is the module's,
// src/web/store.rs). Closed if another context deletes or upgrades it before the module
// takes it over. Never rejects: the module opens again on any failure.
const openFeed = () => new Promise((resolve) => {
  try {
    const request = indexedDB.open(USERNOTIFY_DATABASE, USERNOTIFY_DATABASE_VERSION);
    request.onupgradeneeded = () => request.transaction.abort();
    request.onsuccess = () => {
      request.result.onversionchange = () => request.result.close();
      resolve(request.result);
    };
    request.onerror = (event) => {
      event.preventDefault();
      resolve(undefined);
    };
  } catch {
    resolve(undefined);
  }
});
const load = async () => {
  const feed = openFeed();
  const cached = await caches.match(wasm, { cacheName }).catch(() => undefined);
  const response = cached ?? (await fetch(wasm, { cache: 'no-cache' }));
  const type = response.headers.get('content-type') ?? 'no content type';
  const html = type.includes('html') ? ' (is the wasm served?)' : '';
  if (!response.ok || html) throw new Error(`usernotify: cannot load ${wasm}: ${response.status}, ${type}${html}`);
  await init({ module_or_path: response });
  worker.configure(wasm.href, cacheName, !cached, feed);
};
let ready;
const start = () => (ready ??= load().catch((error) => {
  console.error(error.message);
  throw error;
}));
start().catch(() => {});

// A handler that traps or throws part-way surfaces as an uncaught error or rejection and
// never settles: every running handler is given up, and the next event gets a fresh
// instance. The old instance's callbacks still pending then fail harmlessly, and are dropped.
const running = new Set();
const inModule = (error) => error instanceof WebAssembly.RuntimeError || /wasm-function\[/.test(error?.stack);
const renew = () => {
  running.forEach((giveUp) => giveUp());
  worker.__wbg_reset_state();
  worker.configure(wasm.href, cacheName, false);
};
const watch = (event, error) => {
  if (!/previous WASM instance/.test(error?.message)) return inModule(error) && renew();
  event.preventDefault();
  event.stopImmediatePropagation();
};
self.addEventListener('error', (event) => watch(event, event.error));
self.addEventListener('unhandledrejection', (event) => watch(event, event.reason));

// Each event waits for the module, then for its handler. A push whose handler failed still
// ends with the quiet status: shown by a fresh instance, or here when no module loads. So
// does a page's `usernotify-push` message, which runs the same push path without a push
// service (the demo's Send; WebKitGTK, which has none). A mutable declarative push
// (`event.notification`, or WebKit's `pushnotification`) is left to the browser instead,
// which then shows the notification it proposed.
const plain = (event) => (event.type === 'push' && !event.notification) || event.data?.type === USERNOTIFY_PUSH_MESSAGE;
const handle = async (event) => {
  try {
    await start();
  } catch (error) {
    ready = undefined;
    if (event.type === 'install') {
      await lastWords(error.message);
      throw error;
    }
    if (!plain(event) || (await self.registration.getNotifications()).length) return;
    return self.registration.showNotification('Notifications', { body: "You're all caught up.", tag: 'usernotify-status', silent: true });
  }
  let giveUp;
  const handler = event.type === 'pushnotification' ? worker.push : worker[event.type];
  const finished = await new Promise((resolve) => {
    running.add((giveUp = () => resolve(false)));
    (async () => handler(event))().then(() => resolve(true), (error) => resolve(inModule(error) && renew()));
  });
  running.delete(giveUp);
  if (!finished && plain(event)) await worker.showQuietStatus();
};
// A first install that fails leaves no worker to ask: its reason is kept where the page API
// looks for it (a cache of this origin, which the next build to activate drops).
const lastWords = (reason) => caches.open('usernotify-status')
  .then((cache) => cache.put(new URL('/usernotify-status', self.location.origin), new Response(reason)))
  .catch(() => {});

// A page asks whether the worker runs (the page API's workerReady()): answered here, not by
// the module, so that a worker whose module cannot load still says why.
const status = async (port) => {
  try {
    await start();
    port.postMessage({ ok: true });
  } catch (error) {
    ready = undefined;
    port.postMessage({ ok: false, reason: error.message });
  }
};
const asked = (event) => event.type === 'message' && event.data?.type === USERNOTIFY_STATUS_MESSAGE && event.ports[0];

for (const type of ['push', 'pushnotification', 'notificationclick', 'notificationclose', 'pushsubscriptionchange', 'message', 'install', 'activate']) {
  self.addEventListener(type, (event) => event.waitUntil(asked(event) ? status(event.ports[0]) : handle(event)));
}
