// The demo as a user meets it (www/): the worker's state, the send panel's result beside its
// button, and Subscribe with the real app service: busy while it works, then what went wrong
// and what to do, also when the browser's push service never answers. The notification
// centre is the package's component (tests/e2e/inbox.test.mjs tests it in every engine). Ends
// with the screenshot kept in docs/ (written there by `make screenshots`; elsewhere to
// tests/e2e/.artifacts/). Chromium only: Playwright's locators, screenshots and network
// interception.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDemo, until, visual } from './harness.mjs';
import { buildService, startService } from './service.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const screenshots = process.env.USERNOTIFY_SCREENSHOTS || join(root, 'tests', 'e2e', '.artifacts');
const TOKEN = 'demo-token';

describe('the demo, as a small app', () => {
  let demo;
  let page;
  let service;
  let dataDir;
  before(async () => {
    buildService();
    demo = await openDemo();
    page = demo.page;
    dataDir = mkdtempSync(join(tmpdir(), 'usernotify-demo-'));
    service = await startService({
      HOST: '127.0.0.1',
      PORT: '0',
      USERNOTIFY_DB: join(dataDir, 'usernotify.db'),
      USERNOTIFY_TOKENS: `${TOKEN}:demo`,
      USERNOTIFY_CORS_ORIGINS: demo.origin,
      USERNOTIFY_STATIC: '',
    });
  });
  after(async () => {
    service?.child.kill();
    await demo?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** The bell's count as the user reads it: empty when the badge is hidden. */
  const unread = () => page.evaluate(() => {
    const badge = document.querySelector('usernotify-inbox').shadowRoot.querySelector('.badge');
    return badge.hidden ? '' : badge.textContent;
  });
  const clearFeed = () => demo.page.evaluate(async () => {
    const api = await import('/pkg/usernotify.js');
    await api.default();
    const client = await api.NotificationClient.open();
    for (const { id } of await client.getAllNotifications()) await client.deleteNotification(id);
  });

  test("the worker's state says ready once its wasm runs", async () => {
    await until(() => page.locator('#worker-state').textContent(), (text) => text === 'ready', { what: 'the worker ready' });
  });

  test("a worker whose wasm is not served is shown as failed, with the worker's reason, never as ready", async () => {
    // A browser context of its own, so that no worker of the demo is installed or cached yet.
    const context = await demo.browser.newContext();
    const wasm = '/pkg/usernotify_worker_bg.wasm';
    demo.answeredWithPage.add(wasm);
    try {
      const fresh = await context.newPage();
      await fresh.goto(`${demo.origin}/?service=${encodeURIComponent(service.url)}`);
      const state = await until(() => fresh.locator('#worker-state').textContent(), (text) => text.startsWith('failed'), { what: 'the failure shown' });
      assert.equal(state, `failed: the app's service worker cannot run: cannot load ${demo.origin}${wasm}: 200, text/html; charset=utf-8 (is the wasm served?)`);
      // Subscribe says the same rather than waiting for a worker for ever.
      await fresh.click('#subscribe');
      await until(() => fresh.locator('#subscription-state').textContent(), (text) => text.endsWith('(worker-failed)'), { what: 'Subscribe refused' });
    } finally {
      demo.answeredWithPage.delete(wasm);
      await context.close();
    }
  });

  test("Send shows what the worker did beside its button: shown, or the code and message it was refused with", async () => {
    await page.fill('input[name=title]', 'Beside the button');
    await page.click('form#compose button[type=submit]');
    await until(() => page.locator('#sent').textContent(), (text) => text === 'Shown', { what: 'the result beside Send' });
    await page.locator('details.more summary').click();
    await page.fill('input[name=expiresInMinutes]', '-5');
    await page.click('form#compose button[type=submit]');
    await until(() => page.locator('#sent').textContent(), (text) => text === 'Refused: expired', { what: 'the refusal beside Send' });
    assert.equal(await page.locator('#sent-detail').textContent(), 'expirationDateTime has already passed.');
    await page.fill('input[name=expiresInMinutes]', '60');
    const [send, result] = await Promise.all(['form#compose button[type=submit]', '#sent'].map((at) => page.locator(at).boundingBox()));
    assert.ok(Math.abs(send.y - result.y) < send.height, `the result is on the button's line: ${JSON.stringify({ send, result })}`);
  });

  test("Subscribe when the browser's push service never answers gives up and names it, with the likely causes", async () => {
    // The browser boundary: a PushManager whose push service is out of reach (a firewall):
    // subscribe() never settles, as Chromium's did in a persistent profile.
    const context = await demo.browser.newContext();
    try {
      await context.grantPermissions(['notifications'], { origin: demo.origin });
      await context.addInitScript(() => {
        PushManager.prototype.subscribe = () => new Promise(() => {});
      });
      const hung = await context.newPage();
      await hung.goto(`${demo.origin}/?service=${encodeURIComponent(service.url)}&pushTimeout=1500`);
      await until(() => hung.locator('#worker-state').textContent(), (text) => text === 'ready', { what: 'the worker ready' });
      await hung.click('#subscribe');
      const state = await until(() => hung.locator('#subscription-state').textContent(), (text) => text.endsWith('(push-unavailable)'), { what: 'Subscribe gave up', timeout: 15_000 });
      assert.equal(
        state,
        "the browser could not reach its push service: Google's push service (Firebase Cloud Messaging: fcm.googleapis.com, and mtalk.googleapis.com on port 5228) "
          + 'did not answer within 1 s. A firewall or proxy may block it (office networks often do), the device may be offline, or this browser has no working push service '
          + "(Chromium builds without Google's API keys have none); try another network or browser (subscribe()'s pushTimeout sets how long to wait) (push-unavailable)",
      );
      assert.equal(await hung.locator('#subscribe').isDisabled(), false, 'can be pressed again');
    } finally {
      await context.close();
    }
  });

  test('Subscribe says it is busy while it waits for the service, then that the service cannot be reached at its URL and what to check, and can be pressed again', async () => {
    // Port 9 (discard) has no listener on loopback. The request is held until the test has
    // read the busy state, then goes out and is refused.
    const unreachable = 'http://127.0.0.1:9';
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    await page.route(`${unreachable}/vapidPublicKey`, async (route) => {
      await held;
      await route.continue();
    });
    try {
      await page.goto(`${demo.origin}/?service=${encodeURIComponent(unreachable)}`);
      const subscribe = page.locator('#subscribe');
      await subscribe.click();
      await until(() => subscribe.textContent(), (text) => text === 'Subscribing…', { what: 'the busy label' });
      assert.equal(await subscribe.isDisabled(), true, 'not pressed twice');
      release();
      const state = page.locator('#subscription-state');
      await until(() => state.textContent(), (text) => text.endsWith('(service-unreachable)'), { what: 'the failure shown' });
      assert.equal(
        await state.textContent(),
        `could not reach the app service at ${unreachable}: check the URL and that the service runs; `
          + "a service on another origin must list this page's origin in USERNOTIFY_CORS_ORIGINS (service-unreachable)",
      );
      assert.equal(await state.getAttribute('class'), 'result error');
      assert.deepEqual([await subscribe.textContent(), await subscribe.isDisabled()], ['Subscribe', false]);
    } finally {
      release();
      await page.unroute(`${unreachable}/vapidPublicKey`);
    }
  });

  test('Subscribe with notifications blocked says how the user can allow them', async () => {
    const context = await demo.browser.newContext();
    try {
      const blocked = await context.newPage();
      const { targetInfo } = await (await context.newCDPSession(blocked)).send('Target.getTargetInfo');
      const cdp = await demo.browser.newBrowserCDPSession();
      await cdp.send('Browser.setPermission', {
        permission: { name: 'notifications' }, setting: 'denied', origin: demo.origin, browserContextId: targetInfo.browserContextId,
      });
      await blocked.goto(`${demo.origin}/?service=${encodeURIComponent(service.url)}`);
      await blocked.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
      assert.equal(await blocked.locator('#permission-state').textContent(), 'blocked');
      await blocked.click('#subscribe');
      await until(() => blocked.locator('#subscription-state').textContent(), (text) => text.endsWith('(push-unavailable)'), { what: 'the refusal shown' });
      assert.equal(
        await blocked.locator('#subscription-state').textContent(),
        "notifications are blocked for this site: the user can allow them in the browser's site settings (private windows block them) (push-unavailable)",
      );
    } finally {
      await context.close();
    }
  });

  test('the demo as a user sees it: the notification centre open with a group, a high-priority notification, one read, the count on the bell (the screenshot in docs/)', async () => {
    await page.goto(`${demo.origin}/`);
    await page.setViewportSize({ width: 1280, height: 800 });
    await until(() => page.evaluate(() => Boolean(document.querySelector('usernotify-inbox').client)), Boolean, { what: 'the inbox ready' });
    await clearFeed();
    await demo.push(visual('Your order shipped', 'Order 1042 arrives on Thursday.', { appNotificationId: 'shot-1', groupName: 'orders' }));
    await demo.push(visual('Payment received', 'We received €42.00 for invoice 2291.', { appNotificationId: 'shot-2', priority: 'High' }));
    await demo.push(visual('Your order is out for delivery', 'Order 1042 arrives today between 9:00 and 13:00.', { appNotificationId: 'shot-3', groupName: 'orders' }));
    await demo.push(visual('Ana commented on your review', '"Thanks, this helped a lot!"', { appNotificationId: 'shot-4' }));
    await demo.page.evaluate(async () => {
      const api = await import('/pkg/usernotify.js');
      await (await api.NotificationClient.open()).updateReadState('shot-4', 'read');
    });
    await until(unread, (text) => text === '3', { what: 'three unread on the bell' });
    await page.click('form#compose button[type=submit]');
    await until(() => page.locator('#sent').textContent(), (text) => text === 'Shown', { what: 'the send result' });
    await until(unread, (text) => text === '4', { what: 'four unread on the bell' });
    await page.locator('usernotify-inbox .bell').click();
    // The form's own default was sent last, into the same group: newest first.
    // A title's own text, without what is read out beside it (unread, high priority).
    const titles = () => page.evaluate(() => [...document.querySelector('usernotify-inbox').shadowRoot
      .querySelectorAll('li.group[data-group="orders"] li.entry .title')]
      .map((title) => [...title.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE).map((node) => node.textContent).join('')));
    assert.deepEqual(await until(titles, (list) => list.length === 3, { what: 'the group listed' }), [
      'Your order shipped', 'Your order is out for delivery', 'Your order shipped',
    ]);
    mkdirSync(screenshots, { recursive: true });
    const file = join(screenshots, 'demo.png');
    await page.screenshot({ path: file });
    assert.ok(statSync(file).size > 20_000, 'a picture of the page, not a blank one');
  });
});
