// End-to-end harness: the demo served as `make demo` serves it, in headless Chromium
// (playwright-core), headless Firefox (puppeteer-core over WebDriver BiDi) or WebKitGTK, the
// engine of Safari (W3C WebDriver, webkit.mjs), behind one API (`push`, `pushAll`, `shown`,
// ...) so the same test bodies run in all three.
//
// Real parts: the browser, its service worker, the wasm module, the Notifications API.
// The only stand-in is the browser vendor's push service, which cannot exist here:
// - Chromium: pushes reach the worker through the DevTools protocol
//   (ServiceWorker.deliverPushMessage), the same `push` event a push service would cause.
// - Firefox: the real push path. Firefox's `dom.push.serverURL` points at a loopback push
//   service (push-server.mjs) speaking Firefox's push WebSocket protocol; the page subscribes
//   with the browser's own PushManager (the test's VAPID key), and each push is real Web Push
//   (aes128gcm + VAPID, made by the `web-push` library) POSTed to the endpoint Firefox got;
//   Firefox decrypts it and fires `push` in the worker.
// - WebKit: WebKitGTK has no push service at all (no way to subscribe, nothing that fires
//   `push`), so pushes reach the worker through its message path, `{type: "usernotify-push"}`
//   from a page, which runs the same push path. The other part a headless run lacks, the
//   desktop's notification service, is the test's own: a real D-Bus service on a private bus,
//   which WebKitGTK shows its notifications through and which plays the user's clicks and
//   closes (webkit.mjs).
//
// What is shown is read only after the worker reports a push handled: a getNotifications()
// that overlaps a showNotification() in flight makes Chromium drop the new entry from its
// notification database (it "synchronises" with the displayed set), for any worker.
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import webpush from 'web-push';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';
import { startPushServer } from './push-server.mjs';
import { launchWebKit } from './webkit.mjs';

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

const FIREFOX = process.env.FIREFOX || '/usr/lib/firefox-esr/firefox-esr';

/** What Firefox needs to reach the loopback push service and show notifications headless. */
export const firefoxPrefs = (pushServerUrl) => ({
  'dom.push.serverURL': pushServerUrl,
  'dom.push.testing.allowInsecureServerURL': true,
  'dom.push.connection.enabled': true,
  'permissions.default.desktop-notification': 1,
  'dom.serviceWorkers.testing.enabled': true,
  // The system backend fails headless (showNotification rejects with NS_ERROR_FAILURE).
  'alerts.useSystemBackend': false,
  // Firefox allows a subscription 16 pushes (per visit of the site) that leave no
  // notification visible three seconds later, then unsubscribes it (unregister code 201).
  // A suite sends hundreds of pushes in a minute and closes everything between tests.
  'dom.push.maxQuotaPerSubscription': 100_000,
});

/**
 * The browsers every cross-browser suite runs in, in order: `USERNOTIFY_BROWSERS`
 * (comma-separated: chromium, firefox, webkit) or all three.
 */
export const BROWSERS = (process.env.USERNOTIFY_BROWSERS || 'chromium,firefox,webkit').split(',').map((name) => name.trim()).filter(Boolean);

/** Test options that skip a test outside Chromium, saying which Chromium-only facility it needs. */
export const chromiumOnly = (browser, needs) => (browser === 'chromium' ? {} : { skip: `Chromium only: needs ${needs}` });

/** Test options that skip a test in WebKit, saying what WebKitGTK lacks for it. */
export const notInWebKit = (browser, lacks) => (browser === 'webkit' ? { skip: `not in WebKit: ${lacks}` } : {});

/**
 * Whether `browser` keeps `member` on a notification it shows (so that `getNotifications()`
 * reads it back), of what the worker sets beyond title, body, tag, silent and data:
 * Firefox 153 has no image or badge on a notification, WebKitGTK 2.50 only the icon.
 */
export const keeps = (browser, member) =>
  ({
    chromium: ['requireInteraction', 'icon', 'image', 'badge', 'actions'],
    firefox: ['requireInteraction', 'icon', 'actions'],
    webkit: ['icon'],
  })[browser]?.includes(member) ?? false;

/** A title suffix naming the browser, e.g. "in headless Firefox". */
export const inBrowser = (browser) =>
  ({ chromium: 'in headless Chromium', firefox: 'in headless Firefox', webkit: "in WebKitGTK (Safari's engine) under Xvfb" })[browser]
  ?? `in ${browser}`;

/**
 * Runs `call(client, arg)` in `page` with the package's page API (`NotificationClient`), as
 * an app would; `call` is a function or its source text.
 */
export const withClient = (page, call, arg) =>
  page.evaluate(
    async ([source, value]) => {
      const api = await import('/pkg/usernotify.js');
      await api.default();
      const client = await api.NotificationClient.open();
      // eslint-disable-next-line no-new-func
      return new Function('client', 'value', `return (${source})(client, value);`)(client, value);
    },
    [call.toString(), arg],
  );

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

/** Every page collects the worker's `usernotify-push-handled` reports. */
const collectReports = () => {
  window.__handled = [];
  navigator.serviceWorker?.addEventListener('message', (event) => {
    if (event.data?.type === 'usernotify-push-handled') window.__handled.push(event.data);
  });
};

/** Registers `script` on `scope` from `page` and waits until it is active (or fails). */
const registerIn = (page, script, scope, type) =>
  page.evaluate(
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

/** What a registration shows: every notification of `scope` (the page's own when null). */
const shownIn = (page, scope) =>
  page.evaluate(async (at) => {
    const registration = at ? await navigator.serviceWorker.getRegistration(at) : await navigator.serviceWorker.ready;
    const list = await registration.getNotifications();
    return list.map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      silent: n.silent,
      requireInteraction: n.requireInteraction,
      data: n.data,
      // Pictures and buttons, where the browser has them on a notification (Firefox 153:
      // icon and actions only).
      icon: n.icon,
      image: n.image,
      badge: n.badge,
      actions: n.actions?.map(({ action, title }) => ({ action, title })),
    }));
  }, scope);

const asText = (data) => (typeof data === 'string' ? data : JSON.stringify(data));

/**
 * Starts the demo server and a browser with the demo page open and its worker active. In
 * Firefox the demo's registration is subscribed to push with the test's VAPID key unless
 * `subscribe` is false (a test that subscribes through the package itself).
 */
export async function openDemo({ browser = 'chromium', extraMounts = [], subscribe = true } = {}) {
  const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));
  const unavailable = new Set();
  const answeredWithPage = new Set();
  const server = await serve({
    host: '127.0.0.1',
    port: 0,
    extraMounts: [['/fixtures/', fixtures], ...extraMounts],
    unavailable,
    answeredWithPage,
  });
  let demo;
  try {
    demo = await openApp(`http://127.0.0.1:${server.address().port}`, { browser, subscribe });
  } catch (error) {
    server.close();
    throw error;
  }
  const closeApp = demo.close;
  return Object.assign(demo, {
    /** URL paths the server answers with 503 while they are in this set. */
    unavailable,
    /** URL paths the server answers with the demo's index.html (200, text/html) meanwhile. */
    answeredWithPage,
    server,
    close: async () => {
      await closeApp();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}

/**
 * A browser with the page at `origin`/ open, once the service worker that page registers
 * controls `origin`/: the demo's, or any app's (a Vite app's dev server, say).
 */
export async function openApp(origin, { browser: name = 'chromium', subscribe = true } = {}) {
  const launch = { chromium: launchChromium, firefox: launchFirefox, webkit: launchWebKitBrowser }[name];
  if (!launch) throw new Error(`no such browser: ${name} (chromium, firefox or webkit)`);
  const parts = await launch(origin, subscribe);

  const handledCount = () => demo.page.evaluate(() => window.__handled.length);
  const demo = {
    browser: name,
    origin,
    ...parts,
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
    shown: () => shownIn(demo.page, null),
    /** Waits until what is shown satisfies `accept`. */
    shownWhen: (accept, what, timeout) => until(demo.shown, accept, { what, timeout }),
    closeAll: () =>
      demo.page.evaluate(async () => {
        const registration = await navigator.serviceWorker.ready;
        for (const n of await registration.getNotifications()) n.close();
      }),
    /**
     * The user's click (`notificationclick`, on the button `action` when given) or close
     * (`notificationclose`) of the notification that the registration of `scope` shows under
     * `tag`. WebKit: a real one, from the desktop's notification service. Headless Chromium and
     * Firefox show notifications nobody can click or close: a fixture worker around the
     * package's (fixtures/user-sw.js) dispatches the event as the browser would.
     */
    userAction: (scope, kind, tag, action) =>
      parts.userAction
        ? parts.userAction(scope, kind, tag, action)
        : demo.page.evaluate(
        async ([at, message]) => (await navigator.serviceWorker.getRegistration(at)).active.postMessage(message),
        [scope, { type: 'fixture-user', kind, tag, action }],
      ),
    /**
     * WebKit only (else null): what the desktop's notification service shows now, as
     * `[title, body]` pairs in the order first shown: what the user sees.
     */
    onDesktop: parts.desktop ? () => [...parts.desktop.open.values()].map(({ summary, body }) => [summary, body]) : null,
    /** The text of every element matching `selector` in the demo page, in order. */
    texts: (selector) => demo.page.evaluate((at) => [...document.querySelectorAll(at)].map((element) => element.textContent), selector),
    close: () => parts.closeBrowser(),
  };
  return demo;
}

/** A headless Chromium as every test launches it. */
export const launchChromiumBrowser = () => chromium.launch({ executablePath: CHROMIUM, args: ARGS });

/** Waits until a service worker controls the page's scope, or fails saying so. */
const workerActive = async (page, timeout = 20_000) => {
  const active = await page.evaluate((ms) => Promise.race([
    navigator.serviceWorker.ready.then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), ms)),
  ]), timeout);
  if (!active) throw new Error(`no service worker became active for ${page.url()} within ${timeout} ms`);
};

/**
 * Runs `setUp(browser)`, closing the browser (and the servers `also` lists) when it fails, so
 * that no test run hangs on them.
 */
const closedOnFailure = async (browser, setUp, also = []) => {
  try {
    return await setUp(browser);
  } catch (error) {
    await browser.close();
    for (const server of also) await server.close();
    throw error;
  }
};

/** Chromium: pushes through the DevTools protocol. */
const launchChromium = async (origin) => closedOnFailure(await launchChromiumBrowser(), async (browser) => {
  const context = await browser.newContext();
  await context.grantPermissions(['notifications'], { origin });
  await context.addInitScript(collectReports);
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (message) => consoleLines.push(message.text()));
  const cdp = await context.newCDPSession(page);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: updated }) =>
    registrations.push(...updated));
  await cdp.send('ServiceWorker.enable');
  await page.goto(`${origin}/`);
  await workerActive(page);
  const registrationFor = async (scope) =>
    (
      await until(
        async () => registrations.find((registration) => registration.scopeURL === scope && !registration.isDeleted),
        Boolean,
        { what: `the service worker registration of ${scope}` },
      )
    ).registrationId;
  const registrationId = await registrationFor(`${origin}/`);
  const deliver = (id) => (data) =>
    cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: id, data: asText(data) });
  return {
    browser,
    page,
    context,
    cdp,
    registrationId,
    consoleLines,
    /** Delivers a real `push` event carrying `data` (an object is sent as its JSON text). */
    pushBlind: deliver(registrationId),
    /**
     * Registers another worker (a test fixture) on its own scope and returns a way to push
     * to it and read its notifications.
     */
    registerWorker: async (script, scope, type = 'module') => {
      await registerIn(page, script, scope, type);
      const id = await registrationFor(new URL(scope, origin).href);
      return { registrationId: id, pushBlind: deliver(id), shown: () => shownIn(page, scope) };
    },
    /** Stops the worker: the next event is a cold start. */
    stopWorker: () => cdp.send('ServiceWorker.stopAllWorkers'),
    fill: (selector, value) => page.fill(selector, value),
    click: (selector) => page.click(selector),
    /** Sets the viewport, in CSS pixels (a phone: 390 × 844). */
    resize: (width, height) => page.setViewportSize({ width, height }),
    closeBrowser: () => browser.close(),
  };
});

/** Firefox: pushes through the browser's real push path, via the loopback push service. */
async function launchFirefox(origin, subscribeDemo) {
  const pushServer = await startPushServer();
  const vapidKeys = webpush.generateVAPIDKeys();
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      extraPrefsFirefox: firefoxPrefs(pushServer.url),
    });
  } catch (error) {
    await pushServer.close();
    throw error;
  }
  return closedOnFailure(browser, async () => {
    const defaultContext = browser.defaultBrowserContext();
    const newPage = async () => {
      const opened = await defaultContext.newPage();
      await opened.evaluateOnNewDocument(collectReports);
      return opened;
    };
    const page = await newPage();
    const consoleLines = [];
    page.on('console', (message) => consoleLines.push(message.text()));
    await page.goto(`${origin}/`);
    // Firefox drops a push to an origin that no tab shows and its history has no visit of
    // (a link followed, an address typed): "Ignoring message sent to unvisited origin", and it
    // unsubscribes. A navigation by WebDriver is not such a visit; following a link is, as
    // when a user came to the app.
    await Promise.all([
      page.waitForNavigation(),
      page.evaluate(() => {
        const link = Object.assign(document.createElement('a'), { href: '/?visited' });
        document.body.append(link);
        link.click();
      }),
    ]);
    await workerActive(page);

    /** Subscribes the registration of `scope` with the browser's own PushManager. */
    const subscribe = (scope) =>
      page.evaluate(async ([at, key]) => {
        const registration = await navigator.serviceWorker.getRegistration(at);
        const subscription = (await registration.pushManager.getSubscription())
          ?? (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
        return subscription.toJSON();
      }, [scope, vapidKeys.publicKey]);
    /** Sends real Web Push to `subscription`; an empty string is a push without a payload. */
    const sender = (subscription) => async (data) => {
      const text = asText(data);
      const request = webpush.generateRequestDetails(subscription, text === '' ? null : text, {
        vapidDetails: { subject: 'mailto:tests@usernotify.invalid', publicKey: vapidKeys.publicKey, privateKey: vapidKeys.privateKey },
        TTL: 60,
      });
      const answer = await fetch(request.endpoint, { method: request.method, headers: request.headers, body: request.body });
      if (answer.status !== 201) throw new Error(`the push service answered ${answer.status}: ${await answer.text()}`);
      return answer.headers.get('location');
    };
    const subscription = subscribeDemo ? await subscribe(`${origin}/`) : null;
    return {
      browser,
      page,
      context: { newPage },
      pushServer,
      vapidKeys,
      subscription,
      consoleLines,
      /** Sends a real Web Push message carrying `data` (an object is sent as its JSON text). */
      pushBlind: subscription ? sender(subscription) : () => Promise.reject(new Error('the demo is not subscribed')),
      /** Registers a fixture worker on its own scope, subscribed to push on its own. */
      registerWorker: async (script, scope, type = 'module') => {
        await registerIn(page, script, scope, type);
        const own = await subscribe(new URL(scope, origin).href);
        return { subscription: own, pushBlind: sender(own), shown: () => shownIn(page, scope) };
      },
      stopWorker: () => {
        throw new Error('Firefox offers no way to stop a service worker from a test');
      },
      fill: (selector, value) => page.locator(selector).fill(value),
      click: (selector) => page.click(selector),
      resize: (width, height) => page.setViewport({ width, height }),
      closeBrowser: async () => {
        await browser.close();
        await pushServer.close();
      },
    };
  }, [pushServer]);
}

/**
 * WebKit: WebKitGTK through WebKitWebDriver (webkit.mjs). Pushes go through the worker's
 * message path; the user's clicks and closes come from the desktop's notification service.
 */
async function launchWebKitBrowser(origin) {
  const webkit = await launchWebKit(origin, { onLoad: (page) => page.evaluate(collectReports) });
  try {
    const { page, notifications: desktop } = webkit;
    await page.goto(`${origin}/`);
    await workerActive(page);
    /** Pushes `data` (an object is sent as its JSON text) to the worker of `scope`. */
    const sender = (scope) => (data) =>
      page.evaluate(async ([at, text]) => {
        const registration = await navigator.serviceWorker.getRegistration(at);
        registration.active.postMessage({ type: 'usernotify-push', data: text });
      }, [scope, asText(data)]);
    return {
      browser: webkit.session,
      browserVersion: webkit.version,
      page,
      context: { newPage: webkit.newPage },
      desktop,
      consoleLines: [],
      pushBlind: sender(`${origin}/`),
      registerWorker: async (script, scope, type = 'module') => {
        await registerIn(page, script, scope, type);
        return { pushBlind: sender(scope), shown: () => shownIn(page, scope) };
      },
      stopWorker: () => {
        throw new Error('WebKitGTK offers a test no way to stop a service worker');
      },
      userAction: async (scope, kind, tag, action) => {
        if (action) throw new Error('WebKitGTK shows no buttons on a notification');
        const shown = (await shownIn(page, scope)).find((n) => n.tag === tag);
        if (!shown) throw new Error(`nothing on screen under ${tag}`);
        // The desktop knows a notification by its title and body (WebKit sends no tag).
        const id = await until(
          () => [...desktop.open].filter(([, n]) => n.summary === shown.title && n.body === shown.body).map(([key]) => key).at(-1),
          Boolean,
          { what: `${tag} on the desktop` },
        );
        if (kind === 'notificationclick') return desktop.click(id);
        desktop.close(id);
        await until(() => shownIn(page, scope), (list) => !list.some((n) => n.tag === tag), { what: `${tag} closed` });
      },
      fill: (selector, value) => page.fill(selector, value),
      click: (selector) => page.click(selector),
      resize: (width, height) => page.resize(width, height),
      closeBrowser: webkit.close,
    };
  } catch (error) {
    await webkit.close();
    throw error;
  }
}
