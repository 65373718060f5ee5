// End-to-end harness: the demo served as `make demo` serves it, in headless Chromium.
//
// Real parts: the browser, its service worker, the wasm module, the Notifications API.
// The only stand-in is the browser vendor's push service, which cannot exist here: pushes
// reach the worker through the DevTools protocol (ServiceWorker.deliverPushMessage), the
// same `push` event a push service would cause.
//
// What is shown is read only after the worker reports a push handled: a getNotifications()
// that overlaps a showNotification() in flight makes Chromium drop the new entry from its
// notification database (it "synchronises" with the displayed set), for any worker.
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `accept(value)` holds; fails with the last value after `timeout`. */
export async function until(read, accept, { timeout = 10_000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let value;
  for (;;) {
    value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value, null, 1)}`);
    }
    await sleep(interval);
  }
}

export const inMinutes = (minutes) => new Date(Date.now() + minutes * 60_000).toISOString();

/** A Graph notification with a visual content and a future expiry, plus `fields`. */
export const visual = (title, body, fields = {}) => ({
  expirationDateTime: inMinutes(60),
  payload: { visualContent: { title, body } },
  ...fields,
});

/** Starts the demo server and a browser with the demo page open and its worker active. */
export async function openDemo({ extraMounts = [] } = {}) {
  const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
  const unavailable = new Set();
  const server = await serve({
    host: '127.0.0.1',
    port: 0,
    extraMounts: [['/fixtures/', fixtures], ...extraMounts],
    unavailable,
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const context = await browser.newContext();
  await context.grantPermissions(['notifications'], { origin });
  // Every page collects the worker's `usernotify-push-handled` reports.
  await context.addInitScript(() => {
    window.__handled = [];
    navigator.serviceWorker?.addEventListener('message', (event) => {
      if (event.data?.type === 'usernotify-push-handled') window.__handled.push(event.data);
    });
  });
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (message) => consoleLines.push(message.text()));
  const cdp = await context.newCDPSession(page);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: updated }) =>
    registrations.push(...updated));
  await cdp.send('ServiceWorker.enable');
  await page.goto(`${origin}/`);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  const registrationFor = async (scope) =>
    (
      await until(
        async () => registrations.find((registration) => registration.scopeURL === scope && !registration.isDeleted),
        Boolean,
        { what: `the service worker registration of ${scope}` },
      )
    ).registrationId;
  const registrationId = await registrationFor(`${origin}/`);

  const handledCount = () => demo.page.evaluate(() => window.__handled.length);
  const demo = {
    origin,
    registrationId,
    /** URL paths the server answers with 503 while they are in this set. */
    unavailable,
    server,
    browser,
    page,
    context,
    cdp,
    consoleLines,
    /** Delivers a real `push` event carrying `data` (an object is sent as its JSON text). */
    pushBlind: (data) =>
      cdp.send('ServiceWorker.deliverPushMessage', {
        origin,
        registrationId,
        data: typeof data === 'string' ? data : JSON.stringify(data),
      }),
    /** Delivers pushes at once and waits until the worker reports each handled. */
    pushAll: async (list, timeout = 15_000) => {
      const before = await handledCount();
      await Promise.all(list.map((data) => demo.pushBlind(data)));
      await until(handledCount, (count) => count >= before + list.length, {
        timeout,
        what: `${list.length} push(es) handled`,
      });
      return demo.page.evaluate((from) => window.__handled.slice(from), before);
    },
    /** Delivers one push and resolves with the worker's report: `{type, key, outcome}`. */
    push: async (data) => (await demo.pushAll([data]))[0],
    /** What the user sees: every notification of the origin on screen now. */
    shown: () =>
      demo.page.evaluate(async () => {
        const registration = await navigator.serviceWorker.ready;
        const list = await registration.getNotifications();
        return list.map((n) => ({
          title: n.title,
          body: n.body,
          tag: n.tag,
          silent: n.silent,
          requireInteraction: n.requireInteraction,
          data: n.data,
        }));
      }),
    /** Waits until what is shown satisfies `accept`. */
    shownWhen: (accept, what, timeout) => until(demo.shown, accept, { what, timeout }),
    closeAll: () =>
      demo.page.evaluate(async () => {
        const registration = await navigator.serviceWorker.ready;
        for (const n of await registration.getNotifications()) n.close();
      }),
    /**
     * Registers another worker (a test fixture) on its own scope and returns a way to push
     * to it and read its notifications.
     */
    registerWorker: async (script, scope, type = 'module') => {
      await demo.page.evaluate(
        ([url, at, kind]) => navigator.serviceWorker.register(url, { type: kind, scope: at }).then(async (registration) => {
          const worker = registration.installing || registration.waiting || registration.active;
          if (worker.state !== 'activated') {
            // A worker that fails to install turns redundant: fail at once instead of waiting.
            await new Promise((resolve, reject) => worker.addEventListener('statechange', () => {
              if (worker.state === 'activated') resolve();
              if (worker.state === 'redundant') reject(new Error(`${url} failed to install`));
            }));
          }
        }),
        [script, scope, type],
      );
      const id = await registrationFor(new URL(scope, origin).href);
      return {
        registrationId: id,
        pushBlind: (data) =>
          cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: id, data: typeof data === 'string' ? data : JSON.stringify(data) }),
        shown: () =>
          demo.page.evaluate(async (at) => {
            const registration = await navigator.serviceWorker.getRegistration(at);
            return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
          }, scope),
      };
    },
    /** Stops the worker: the next event is a cold start. */
    stopWorker: () => cdp.send('ServiceWorker.stopAllWorkers'),
    close: async () => {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return demo;
}
