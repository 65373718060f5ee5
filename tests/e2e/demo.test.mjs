// The demo as a user meets it (www/): the bell and its unread count, the notification centre,
// the send panel's result beside its button, and Subscribe with the real app service: busy
// while it works, then what went wrong and what to do. Ends with the screenshot kept in docs/
// (written there by `make screenshots`; elsewhere to tests/e2e/.artifacts/). Chromium only:
// Playwright's locators, screenshots and network interception.
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

  const badge = () => page.locator('#unread-count');
  /** The bell's count as the user reads it: empty when the badge is hidden. */
  const unread = async () => ((await badge().isVisible()) ? await badge().textContent() : '');
  const entry = (id) => page.locator(`#feed li.entry[data-id="${id}"]`);
  const clearFeed = () => demo.page.evaluate(async () => {
    const api = await import('/pkg/usernotify.js');
    await api.default();
    const client = await api.NotificationClient.open();
    for (const { id } of await client.getAllNotifications()) await client.deleteNotification(id);
  });

  test('the bell counts what is unread and follows reads, dismissals and deletes; nothing unread hides the count', async () => {
    await clearFeed();
    await until(unread, (text) => text === '', { what: 'no count' });
    for (const id of ['bell-1', 'bell-2', 'bell-3']) await demo.push(visual(`Bell ${id}`, 'b', { appNotificationId: id }));
    await until(unread, (text) => text === '3', { what: 'three unread' });
    assert.equal(await page.locator('#bell').getAttribute('aria-label'), 'Notifications, 3 unread');
    await entry('bell-1').getByRole('button', { name: 'Read', exact: true }).click();
    await until(unread, (text) => text === '2', { what: 'two unread after a read' });
    await entry('bell-2').getByRole('button', { name: 'Dismiss', exact: true }).click();
    await until(unread, (text) => text === '1', { what: 'one unread after a dismissal' });
    await entry('bell-3').getByRole('button', { name: 'Delete', exact: true }).click();
    await until(unread, (text) => text === '', { what: 'the count hidden' });
  });

  test('the bell closes and opens the notification centre', async () => {
    const centre = page.locator('#centre');
    assert.equal(await centre.isVisible(), true, 'open when the page opens');
    await page.click('#bell');
    await centre.waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#bell').getAttribute('aria-expanded'), 'false');
    await page.click('#bell');
    await centre.waitFor({ state: 'visible' });
    assert.equal(await page.locator('#bell').getAttribute('aria-expanded'), 'true');
  });

  test("Send shows what the worker did beside its button: shown, or the code it refused the notification with", async () => {
    await page.fill('input[name=title]', 'Beside the button');
    await page.click('form#compose button[type=submit]');
    await until(() => page.locator('#sent').textContent(), (text) => text === 'Shown', { what: 'the result beside Send' });
    await page.locator('details.more summary').click();
    await page.fill('input[name=expiresInMinutes]', '-5');
    await page.click('form#compose button[type=submit]');
    await until(() => page.locator('#sent').textContent(), (text) => text === 'Refused: expired', { what: 'the refusal beside Send' });
    await page.fill('input[name=expiresInMinutes]', '60');
    const [send, result] = await Promise.all(['form#compose button[type=submit]', '#sent'].map((at) => page.locator(at).boundingBox()));
    assert.ok(Math.abs(send.y - result.y) < send.height, `the result is on the button's line: ${JSON.stringify({ send, result })}`);
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

  test('the demo as a user sees it: a group, a high-priority notification, one read, the count on the bell (the screenshot in docs/)', async () => {
    await page.goto(`${demo.origin}/`);
    await page.setViewportSize({ width: 1280, height: 800 });
    await clearFeed();
    await demo.push(visual('Your order shipped', 'Order 1042 arrives on Thursday.', { appNotificationId: 'shot-1', groupName: 'orders' }));
    await demo.push(visual('Payment received', 'We received €42.00 for invoice 2291.', { appNotificationId: 'shot-2', priority: 'High' }));
    await demo.push(visual('Your order is out for delivery', 'Order 1042 arrives today between 9:00 and 13:00.', { appNotificationId: 'shot-3', groupName: 'orders' }));
    await demo.push(visual('Ana commented on your review', '"Thanks, this helped a lot!"', { appNotificationId: 'shot-4' }));
    await entry('shot-4').getByRole('button', { name: 'Read', exact: true }).click();
    await until(unread, (text) => text === '3', { what: 'three unread on the bell' });
    await page.click('form#compose button[type=submit]');
    await until(() => page.locator('#sent').textContent(), (text) => text === 'Shown', { what: 'the send result' });
    await until(unread, (text) => text === '4', { what: 'four unread on the bell' });
    // The form's own default was sent last, into the same group: newest first.
    assert.deepEqual(await page.locator('#feed li.group[data-group="orders"] li.entry .title').allTextContents(), [
      'Your order shipped', 'Your order is out for delivery', 'Your order shipped',
    ]);
    mkdirSync(screenshots, { recursive: true });
    const file = join(screenshots, 'demo.png');
    await page.screenshot({ path: file });
    assert.ok(statSync(file).size > 20_000, 'a picture of the page, not a blank one');
  });
});
