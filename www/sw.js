// usernotify's service worker. The build makes two of it from this file, each one script:
// a module worker (pkg/usernotify-sw.js) and a classic one (pkg/usernotify-sw.classic.js,
// for importScripts). Beside them, the only other file it loads is the wasm module.
//
// The wasm module decides; this script makes the browser calls. At each point of an event
// it asks the module (`decide`, src/worker.rs: a question written flat, a JSON answer)
// whether a push is valid and under which key, what it does to the feed, what is due to
// close, what to show and how, what a page's change leaves on screen; then it performs the
// answer with IndexedDB, the Notifications API and the app's pages. The module imports
// nothing and keeps nothing between questions. Listeners are added synchronously at first
// evaluation, the module is loaded once, and each handler awaits it inside event.waitUntil.
//
// Why the calls are here and not in Rust: a worker module that made them itself (through
// wasm-bindgen and web-sys) was 37.4 KiB gzip, most of it code moving data between Rust
// and the browser; this script and the module together are 15.7 KiB (README, Performance).

const registration = self.registration;
const FEED = 'feed';
const TOMBSTONES = 'tombstones';
const SETTINGS = 'settings';
const STATUS_TAG = 'usernotify-status';

// --- The wasm module -------------------------------------------------------------------

// The wasm file sits beside this script. A classic worker that pulls the script in with
// importScripts from another directory sets `self.usernotifyBase` to the package directory's
// URL first (any URL in that directory works).
const wasmUrl = new URL('usernotify_worker_bg.wasm', self.usernotifyBase ?? import.meta.url);

// The wasm is kept in the Cache Storage, under this build's name (USERNOTIFY_BUILD, the
// wasm's hash, set by the build): a worker woken for a push starts it without the network,
// which saves a round trip on every cold start and keeps pushes shown while the app's
// server is unreachable. Fetched on first use; without Cache Storage (a private window may
// refuse it), fetched each time.
const cacheName = `usernotify-${USERNOTIFY_BUILD}`;
const wasmBytes = async () => {
  const cache = await caches.open(cacheName).catch(() => undefined);
  let response = await cache?.match(wasmUrl);
  if (!response) {
    // Revalidated with the server: a wasm from the HTTP cache may be an earlier build's.
    response = await fetch(wasmUrl, { cache: 'no-cache' });
    if (!response.ok) throw new Error(`usernotify: ${wasmUrl} answered ${response.status}`);
    await cache?.put(wasmUrl, response.clone()).catch(() => {});
  }
  return response.arrayBuffer();
};

// Compiled once; a failed load (a missing file, a network error on a cold start) is retried
// by the next event. The instance is made again after a trap, which may leave its memory
// inconsistent.
let compiled;
let core;
const load = async () => {
  compiled ??= wasmBytes().then((bytes) => WebAssembly.compile(bytes));
  try {
    core ??= new WebAssembly.Instance(await compiled).exports;
  } catch (error) {
    compiled = undefined;
    throw error;
  }
};
load().catch(() => {});

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Asks the module `op` with `input` (JSON values); its answer, parsed. */
const decide = (op, input) => {
  used = 0;
  tape({ op, now: Date.now(), ...input });
  const at = core.input(used);
  new Uint8Array(core.memory.buffer, at, used).set(bytes.subarray(0, used));
  const length = core.decide();
  return JSON.parse(decoder.decode(new Uint8Array(core.memory.buffer, core.output(), length)));
};

/** A JSON value written flat for the module (src/core/tape.rs): a tag byte, then a double,
 * or a length and the UTF-8 bytes of a string, or a length and the items of an array (each
 * member's name and value for an object), little-endian. `undefined` is written as null, and
 * so is what lies deeper than the module ever reads (a push of deeply nested junk would
 * otherwise exhaust a worker's stack). */
let bytes = new Uint8Array(4096);
let view = new DataView(bytes.buffer);
let used = 0;
const room = (size) => {
  if (used + size > bytes.length) {
    const grown = new Uint8Array(2 * (used + size));
    grown.set(bytes);
    bytes = grown;
    view = new DataView(bytes.buffer);
  }
};
const tape = (value, depth = 0) => {
  const at = used;
  if (depth > 16 && typeof value === 'object') value = null;
  if (value == null || typeof value === 'boolean') {
    room(1);
    bytes[used++] = value == null ? 0 : value ? 2 : 1;
  } else if (typeof value === 'number') {
    room(9);
    bytes[at] = 3;
    view.setFloat64(at + 1, value, true);
    used += 9;
  } else if (typeof value === 'string') {
    room(5 + 3 * value.length);
    bytes[at] = 4;
    used += 5 + encoder.encodeInto(value, bytes.subarray(at + 5)).written;
    view.setUint32(at + 1, used - at - 5, true);
  } else {
    const list = Array.isArray(value);
    room(5);
    bytes[at] = list ? 5 : 6;
    used += 5;
    for (const [name, item] of Object.entries(value)) {
      if (!list) tape(name);
      tape(item, depth + 1);
    }
    view.setUint32(at + 1, used - at - 5, true);
  }
};

// --- Browser calls ---------------------------------------------------------------------

/** Reports a failure to the developer console with its stable code; never to the user. */
const warn = (code, detail) => console.warn('usernotify:', code, detail);

/** One change to the screen at a time: every flow below reads what is shown, decides, then
 * shows, and two pushes of one group handled at once would both read a count of one. */
let tail = Promise.resolve();
const locked = (work) => {
  const run = tail.then(work);
  tail = run.catch(() => {});
  return run;
};

/** A promise awaited later, after other work: its rejection is handled there, not reported
 * meanwhile as an unhandled one. */
const later = (promise) => {
  promise.catch(() => {});
  return promise;
};

/** The app's pages, controlled or not (a page loaded before the worker is not). */
const listPages = () => self.clients.matchAll({ type: 'window', includeUncontrolled: true });
const post = (pages, message) => pages.forEach((page) => page.postMessage(message));

/** Every event sweeps, since a stopped worker runs no timers: what is due closes, and the
 * rest (with what the module needs to know of each, `[tag, data.usernotify]`) is returned. */
const closedHere = [];
const sweep = async () => {
  const shown = await registration.getNotifications();
  const described = shown.map(describe);
  const due = decide('sweep', { screen: described });
  for (const index of due) closeHere(shown[index]);
  const kept = (_, index) => !due.includes(index);
  const screen = shown.filter(kept);
  screen.described = described.filter(kept);
  return screen;
};
const describe = (notification) => [notification.tag, notification.data?.usernotify ?? null];

/** Closes one of usernotify's notifications, remembering that the worker did: Firefox fires
 * `notificationclose` for those too (Chromium only for the user's), and it is no dismissal. */
const closeHere = (notification) => {
  closedHere.push([notification.tag, notification.timestamp]);
  closedHere.splice(0, closedHere.length - 8);
  notification.close();
};
const show = (display) => registration.showNotification(display.title, display.options);

// The feed in IndexedDB: one connection, opened on first use; it closes when another context
// upgrades or deletes the database (`versionchange`), so that it never blocks that, and the
// next change reopens it. src/web/store.rs creates the same stores for the page API, and
// src/core/record.rs defines the records.
let connection;
const database = () =>
  (connection ??= new Promise((resolve, reject) => {
    const opening = indexedDB.open('usernotify', 2);
    opening.onupgradeneeded = () => {
      const db = opening.result;
      const names = db.objectStoreNames;
      if (!names.contains(SETTINGS)) db.createObjectStore(SETTINGS);
      if (names.contains(FEED)) return;
      const feed = db.createObjectStore(FEED, { keyPath: 'id' });
      feed.createIndex('expires', 'expires');
      feed.createIndex('groupName', 'groupName');
      feed.createIndex('counted', ['groupName', 'counted', 'created']);
      db.createObjectStore(TOMBSTONES, { keyPath: 'id' }).createIndex('expires', 'expires');
    };
    opening.onsuccess = () => {
      const db = opening.result;
      db.onversionchange = () => {
        db.close();
        connection = undefined;
      };
      resolve(db);
    };
    opening.onerror = opening.onblocked = () => reject(opening.error ?? new DOMException('blocked'));
  }).catch((error) => {
    connection = undefined;
    throw error;
  }));
/** A transaction over `stores`, and a promise of its commit (a failure, e.g. over quota,
 * rejects), which is watched at once: the caller may await it after other work. */
const transaction = async (stores, mode = 'readwrite') => {
  const tx = (await database()).transaction(stores, mode);
  tx.done = new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
  tx.done.catch(() => {});
  return tx;
};
const request = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
/** The keys in `store` that expired at `now` (the `expires` index up to now). */
const expiredKeys = (tx, store, now) => request(tx.objectStore(store).index('expires').getAllKeys(IDBKeyRange.upperBound(now)));
/** Tells every context of the origin that the feed changed: `{id, change}` (`onChanged`). */
const announce = (id, change) => {
  const channel = new BroadcastChannel('usernotify-feed');
  channel.postMessage({ id, change });
  channel.close();
};
const storeError = (error) => (error?.name === 'QuotaExceededError' ? 'quota-exceeded' : 'storage-unavailable');

// --- Pushes ----------------------------------------------------------------------------

/** A push, from the push service (its text) or a page (`usernotify-push`: text or object):
 * validated, stored in the feed, then shown, handed to the app, or left as the quiet status.
 * Every push ends with a notification of the app visible, or with a visible page that got
 * the raw content: browsers penalise silent pushes, and Safari revokes the subscription
 * after three. Pages hear how it ended once it is on screen (`usernotify-push-handled`). */
const receive = async (data) => {
  // The app's pages to report to, listed while the push is handled.
  let reportTo = later(listPages());
  const push = parsed(data);
  push.now = Date.now();
  const accepted = decide('accept', push);
  const { key = '', group, raw, refused } = accepted;
  // The feed's part starts at once, outside the screen's lock: IndexedDB runs the
  // transactions of pushes that arrive together one after another, in order, so each reads
  // what the one before it wrote, while the screen is still busy with that one.
  const arriving = refused ? undefined : later(arrive(push, key, group));
  const report = await locked(async () => {
    const screen = later(sweep());
    if (refused) {
      warn(refused, 'push refused');
      await showStatus(await screen);
      return { outcome: refused };
    }
    let arrival;
    let committed;
    try {
      ({ arrival, committed } = await arriving);
    } catch (error) {
      // The feed cannot be written: the push is still shown, its group counted from the screen.
      warn(storeError(error), error);
    }
    const shown = await screen;
    const stored = () => committed?.then(() => true, (error) => (warn(storeError(error), error), false)) ?? false;
    if (arrival?.outcome) {
      await showStatus(shown);
      return { outcome: arrival.outcome, stored: await stored() };
    }
    let taken = false;
    if (raw != null) {
      const pages = await (reportTo = later(listPages()));
      taken = await handRawToApp(pages, shown.length, key, raw, push.body);
    }
    const display = decide('show', { ...push, members: arrival?.members ?? null, screen: shown.described, taken });
    if (!display) return { outcome: 'taken-by-app', stored: await stored() };
    try {
      await show(display);
    } catch (error) {
      warn('show-failed', error);
      return { outcome: 'show-failed', stored: await stored() };
    }
    for (const index of display.close) shown[index].close();
    // Closes due notifications while the worker is alive; a stopped worker catches up on its
    // next event. Not before a second: a push ends with its notification visible.
    const closeAt = display.options.data.usernotify.closeAt;
    if (closeAt != null) setTimeout(() => locked(sweep).then(purgeIfDue).catch(() => {}), Math.max(closeAt - Date.now(), 1000));
    return { outcome: 'shown', stored: await stored() };
  });
  // Sent once the browser has the notification on screen: pages (and tests) read what is
  // shown after this, never while a show is in flight, when Chromium's getNotifications can
  // drop the entry it is still displaying.
  post(await reportTo, { type: 'usernotify-push-handled', key, stored: false, ...report });
  await purgeIfDue();
};

/** A valid push's entry, read, decided and written in one transaction: the write goes out as
 * the reads answer, while the transaction is active, so concurrent pushes and pages never
 * lose an update. Resolves with the module's answer once written, and `committed`, which
 * settles once it is on disk (and tells every page). */
const arrive = async (push, key, group) => {
  const tx = await transaction([FEED, TOMBSTONES]);
  const feed = tx.objectStore(FEED);
  const [entry, tombstone, counted, expired] = await Promise.all([
    request(feed.get(key)),
    request(tx.objectStore(TOMBSTONES).get(key)),
    group != null && request(feed.index('counted').getAllKeys(IDBKeyRange.bound([group, 1], [group, 1, []]))),
    group != null && expiredKeys(tx, FEED, push.now),
  ]);
  const arrival = decide('arrive', { ...push, entry, tombstone, counted, expired });
  if (arrival.put) feed.put(arrival.put);
  return { arrival, committed: later(tx.done.then(() => arrival.change && announce(key, arrival.change))) };
};

/** A push as the module reads it: `{body}` as `JSON.parse` made it, `{}` when there is no text
 * (or only JSON whitespace), `{malformed: true}` when it is not JSON. What a page posts
 * goes through JSON too, as a push would. */
const parsed = (data) => {
  if (data === undefined || /^[\t\n\r ]*$/.test(data)) return {};
  try {
    return { body: JSON.parse(typeof data === 'string' ? data : JSON.stringify(data)) };
  } catch {
    return { malformed: true };
  }
};

/** The quiet status, for a push with nothing to show, unless something of the app is shown. */
const showStatus = async (screen) => {
  const status = decide('status', { screen: screen.described });
  if (status) await show(status).catch((error) => warn('show-failed', error));
};

/** Posts the raw content to every open page and calls the worker hook
 * (`self.usernotifyRawContentHook(rawContent, notification)`). True when a page is visible,
 * or the hook said it handled it or showed something: nothing more needs to be shown. */
const handRawToApp = async (pages, shownBefore, key, rawContent, notification) => {
  post(pages, { type: 'usernotify-raw', key, rawContent, notification });
  const visible = pages.some((page) => page.visibilityState === 'visible');
  const hook = self.usernotifyRawContentHook;
  if (typeof hook !== 'function') return visible;
  let handled = false;
  try {
    handled = !!(await hook.call(self, rawContent, notification));
  } catch (error) {
    warn('raw-content-hook-failed', error);
  }
  return visible || handled || (await registration.getNotifications()).length > shownBefore;
};

/** How often the worker purges the feed. What expired is left out wherever the feed is
 * read, so purging only frees storage: a burst of pushes need not pay for it each time. */
let purgedAt = -Infinity;
const purgeIfDue = async () => {
  const now = Date.now();
  if (now - purgedAt < 60_000) return;
  purgedAt = now;
  try {
    const tx = await transaction([FEED, TOMBSTONES]);
    const [entries, tombstones] = await Promise.all([expiredKeys(tx, FEED, now), expiredKeys(tx, TOMBSTONES, now)]);
    entries.forEach((key) => tx.objectStore(FEED).delete(key));
    tombstones.forEach((key) => tx.objectStore(TOMBSTONES).delete(key));
    await tx.done;
    if (entries.length) announce(null, 'purged');
  } catch {
    // Purging only frees storage; the next event tries again.
    purgedAt = -Infinity;
  }
};

// --- Clicks, closes and pages' changes -------------------------------------------------

/** Applies the user's action (`activated`, `dismissed`) to the entries under `keys` in one
 * transaction, and tells every page; failures only warn, since it already happened on screen. */
const changeState = async (keys, action) => {
  try {
    const tx = await transaction([FEED]);
    const feed = tx.objectStore(FEED);
    const records = await Promise.all(keys.map((key) => request(feed.get(key))));
    const changed = decide('change', { records: records.filter(Boolean), action });
    changed.forEach((record) => feed.put(record));
    await tx.done;
    changed.forEach((record) => announce(record.id, 'updated'));
  } catch (error) {
    warn(storeError(error), error);
  }
};

/** A click focuses the app's page already at the notification's URL (same origin only),
 * else any page of the app when the notification named no URL, else opens it; the app's
 * pages hear what was activated, and the feed marks it activated and read. */
const click = async (notification) => {
  const shown = notification.data?.usernotify;
  if (!shown) return;
  closeHere(notification);
  const root = registration.scope;
  let target = root;
  try {
    const url = shown.url && new URL(shown.url, root);
    // A pushed URL can never send the user elsewhere.
    if (url?.origin === location.origin) target = url.href;
  } catch {}
  const pages = await listPages();
  const page = pages.find((candidate) => candidate.url === target) ?? (shown.url ? undefined : pages[0]);
  await (page ? page.focus() : self.clients.openWindow(target)).catch((error) => warn('open-failed', error));
  post(pages, { type: 'usernotify-activated', key: shown.key });
  await changeState([shown.key], 'activated');
};

/** The user closed a notification: every entry it counted is dismissed. Firefox also fires
 * `notificationclose` when a notification is replaced by one with its tag (a group's update)
 * and when the worker closes it (a click, its display time, a page's change): none is the
 * user's, so none dismisses. */
const close = async (notification) => {
  const shown = notification.data?.usernotify;
  if (!shown) return;
  const replaced = (await registration.getNotifications()).some((other) => other.tag === notification.tag);
  const here = closedHere.findIndex(([tag, at]) => tag === notification.tag && Object.is(at, notification.timestamp));
  if (here >= 0) closedHere.splice(here, 1);
  if (replaced || here >= 0) return;
  await changeState(shown.members, 'dismissed');
  post(await listPages(), { type: 'usernotify-dismissed', key: shown.key });
};

/** After a page read, dismissed or deleted `id` (`usernotify-feed-changed`): closes its
 * notification, or redraws its group's with the new newest entry and count. */
const redraw = async (key, group) => {
  const screen = await sweep();
  let records;
  try {
    const feed = (await transaction([FEED], 'readonly')).objectStore(FEED);
    records = await request(group != null ? feed.index('groupName').getAll(group) : feed.getAll(key));
  } catch (error) {
    return warn(storeError(error), error);
  }
  const change = decide('refresh', { key, group, records, screen: screen.described });
  change.close?.forEach((index) => closeHere(screen[index]));
  if (change.title) await show(change).catch((error) => warn('show-failed', error));
};

/** Messages from the app's pages: `{type: "usernotify-push", data}` runs the push path on
 * `data`, so a page can show a notification with no push service; `{type:
 * "usernotify-sweep"}` closes what is due; `{type: "usernotify-feed-changed", id, groupName}`
 * (from the page API) redraws what that change affects, then answers on the port. True when
 * it swept already. */
const message = async (event) => {
  const { type, data, id, groupName } = event.data ?? {};
  if (type === 'usernotify-push') {
    await receive(data);
    return true;
  }
  if (type === 'usernotify-feed-changed') {
    if (typeof id === 'string') await locked(() => redraw(id, groupName ?? null));
    // The page API resolves its call once the screen shows the change.
    event.ports[0]?.postMessage(true);
    return true;
  }
};

/** `pushsubscriptionchange`: the browser's push subscription changed (expired, rotated,
 * revoked). Subscribes again with the kept key and registers the new subscription with the
 * app service; when none can be had (the permission was revoked), drops the registration
 * there. Nothing to do when this browser never subscribed (the page API's `subscribe()`
 * keeps the registration in the feed database's settings). */
const renew = async () => {
  const kept = await setting();
  if (!kept?.serviceUrl || !kept.accessToken || !kept.publicKey) return;
  const pushManager = registration.pushManager;
  let subscription;
  try {
    subscription =
      (await pushManager.getSubscription()) ??
      (await pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: kept.publicKey }).catch(() => null));
    if (!subscription) return await forget(kept);
    const { endpoint } = subscription;
    if (endpoint === kept.endpoint) return;
    const pushSubscription = subscription.toJSON();
    const { id } = (await callService(kept, 'POST', '/me/notificationSubscriptions', {
      pushSubscription,
      targetHostName: kept.targetHostName,
      displayName: kept.displayName,
    })) ?? {};
    if (typeof id !== 'string') throw new Error('the app service sent no subscription id');
    await setting({ ...kept, id, endpoint });
  } catch (error) {
    warn('registration-not-renewed', error);
  }
};

/** Drops the registration at the app service (one already gone there is fine) and here. */
const forget = async (kept) => {
  try {
    if (kept.id) {
      await callService(kept, 'DELETE', `/me/notificationSubscriptions/${encodeURIComponent(kept.id)}`).catch((error) => {
        if (error.name !== 'not-found') throw error;
      });
    }
    await setting(null);
  } catch (error) {
    warn('registration-not-dropped', error);
  }
};

/** The kept registration; or, given one, writes it (`null` removes it). */
const setting = async (value) => {
  const store = (await transaction([SETTINGS], value === undefined ? 'readonly' : 'readwrite')).objectStore(SETTINGS);
  return request(value === undefined ? store.get('subscription') : value ? store.put(value, 'subscription') : store.delete('subscription'));
};

/** One JSON call to the app service with the kept bearer token; a refusal rejects with the
 * Graph error's code as its `name`. */
const callService = async (kept, method, path, body) => {
  const headers = { Authorization: `Bearer ${kept.accessToken}` };
  if (body) headers['Content-Type'] = 'application/json';
  const response = await fetch(kept.serviceUrl + path, { method, headers, body: body && JSON.stringify(body) });
  const answer = response.status === 204 ? undefined : await response.json().catch(() => undefined);
  if (response.ok) return answer;
  const error = new Error(answer?.error?.message);
  error.name = answer?.error?.code ?? 'service-error';
  throw error;
};

// --- Wiring ----------------------------------------------------------------------------

/** Without the module no decision can run, yet a push must still end with a notification of
 * the app on screen: the same quiet status the module plans (src/core/display.rs). */
const quietStatus = async () => {
  if ((await registration.getNotifications()).length === 0) {
    await registration.showNotification('Notifications', { body: "You're all caught up.", tag: STATUS_TAG, silent: true });
  }
};

/** Every event ends swept: a push (and a page's push or redraw) sweeps on its way, every
 * other event at the end. A handler that fails (a browser call throwing part-way, a trap in
 * the module) still ends a push with the quiet status; after a trap the next event gets a
 * fresh instance of the module. */
const handle = async (type, event) => {
  try {
    await load();
  } catch {
    return type === 'push' && quietStatus();
  }
  try {
    let swept = false;
    if (type === 'push') swept = await receive(event.data?.text()).then(() => true);
    if (type === 'message') swept = await message(event);
    if (type === 'notificationclick') await click(event.notification);
    if (type === 'notificationclose') await close(event.notification);
    if (type === 'pushsubscriptionchange') await renew();
    if (!swept) {
      await locked(sweep);
      await purgeIfDue();
    }
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) core = undefined;
    warn('handler-failed', error);
    if (type === 'push') await quietStatus();
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
