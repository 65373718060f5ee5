// What the user does to a notification (CONTRACT.md §2): a click focuses or opens the app
// (same origin only) and marks the entry activated and read; closing a group's notification
// dismisses every entry it counted. Real pushes to the real worker, in every browser of
// BROWSERS. In WebKit the user's click or close comes from the desktop's notification service,
// as a real one does; nobody can click a headless Chromium's or Firefox's notification, so
// there a fixture worker around the package's (fixtures/user-sw.js) dispatches the event as
// the browser would. The fixture also records what the worker opens or focuses, which a
// browser refuses to a test (every browser).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BROWSERS, inBrowser, notInWebKit, openDemo, until, visual, withClient } from './harness.mjs';

const SCOPE = '/fixtures/user/';
let serial = 0;
/** A fresh id per test run: the feed is the origin's, shared with the other suites. */
const fresh = (name) => `${name}-${Date.now()}-${serial++}`;

for (const browser of BROWSERS) describe(`what the user does to a notification ${inBrowser(browser)}`, () => {
  let demo;
  let worker;
  before(async () => {
    demo = await openDemo({ browser });
    worker = await demo.registerWorker('/fixtures/user-sw.js', SCOPE);
    await demo.page.evaluate(() => {
      window.__heard = [];
      navigator.serviceWorker.addEventListener('message', (event) => window.__heard.push(event.data));
    });
  });
  after(() => demo?.close());
  beforeEach(async () => {
    await demo.page.evaluate(async (scope) => {
      for (const n of await (await navigator.serviceWorker.getRegistration(scope)).getNotifications()) n.close();
    }, SCOPE);
    await until(worker.shown, (list) => list.length === 0, { what: 'a clean screen' });
  });

  /** Pushes to the fixture's worker and waits until it reports the push handled. */
  const push = async (notification) => {
    const key = notification.appNotificationId;
    await worker.pushBlind(notification);
    return until(() => demo.page.evaluate((wanted) => window.__handled.find((r) => r.key === wanted), key), Boolean, {
      what: `${key} handled`,
    });
  };
  const user = (kind, tag, action) => demo.userAction(SCOPE, kind, tag, action);
  const entry = (id) => withClient(demo.page, async (client, wanted) => (await client.getAllNotifications()).find((e) => e.id === wanted), id);
  const heard = (type, key) => until(() => demo.page.evaluate(([t, k]) => window.__heard.find((m) => m.type === t && m.key === k), [type, key]), Boolean, { what: `${type} for ${key}` });
  /** What the worker opened or focused since the last call. */
  const opened = async () => {
    const asked = await demo.page.evaluate(() => window.__heard.length);
    await demo.page.evaluate(async (scope) => (await navigator.serviceWorker.getRegistration(scope)).active.postMessage({ type: 'fixture-opened' }), SCOPE);
    const answer = await until(() => demo.page.evaluate((from) => window.__heard.slice(from).find((m) => m.type === 'fixture-opened'), asked), Boolean, { what: 'what was opened' });
    return answer.opened;
  };

  test('a click closes the notification, marks its entry activated and read, and the app hears it', async () => {
    const id = fresh('clicked');
    assert.equal((await push(visual('Click me', 'please', { appNotificationId: id }))).outcome, 'shown');
    await user('notificationclick', `usernotify:${id}`);
    await heard('usernotify-activated', id);
    const stored = await until(() => entry(id), (found) => found?.readState === 'read', { what: 'the entry read' });
    assert.deepEqual([stored.readState, stored.userActionState], ['read', 'activated']);
    await until(worker.shown, (list) => list.length === 0, { what: 'the clicked notification closed' });
  });

  test("a click opens the notification's URL of the app's origin, the app's root for any other, or focuses the open app", async () => {
    const root = new URL(SCOPE, demo.origin).href;
    const openPage = await demo.page.evaluate(() => location.href);
    const cases = [
      ['/fixtures/user/orders/7', ['open', new URL('/fixtures/user/orders/7', demo.origin).href]],
      ['https://elsewhere.example/phish', ['open', root]],
      ['javascript:alert(1)', ['open', root]],
      // No URL of its own: the app's page already open (the demo's) is focused.
      [undefined, ['focus', openPage]],
    ];
    await opened();
    const expected = [];
    for (const [url, target] of cases) {
      const id = fresh('url');
      await push({ ...visual('Go', 'somewhere'), appNotificationId: id, payload: { visualContent: { title: 'Go', url } } });
      await user('notificationclick', `usernotify:${id}`);
      await heard('usernotify-activated', id);
      expected.push(target);
    }
    assert.deepEqual(await opened(), expected);
  });

  test("a click on a button opens the button's URL, one without a URL the notification's, and the app hears which button", notInWebKit(browser, 'WebKitGTK shows no buttons (it offers the notification service only its default action)'), async () => {
    const page = (path) => new URL(`/fixtures/user/${path}`, demo.origin).href;
    const actions = [{ action: 'track', title: 'Track', url: '/fixtures/user/orders/7/track' }, { action: 'later', title: 'Later' }];
    const buttons = { ...visual('Shipped', 'buttons'), payload: { visualContent: { title: 'Shipped', url: '/fixtures/user/orders/7', actions } } };
    await opened();
    const [tracked, postponed] = [fresh('track'), fresh('later')];
    for (const [id, action] of [[tracked, 'track'], [postponed, 'later']]) {
      await push({ ...buttons, appNotificationId: id });
      await user('notificationclick', `usernotify:${id}`, action);
      const activated = await heard('usernotify-activated', id);
      assert.equal(activated.action, action);
      const stored = await until(() => entry(id), (found) => found?.userActionState === 'activated', { what: `${id} activated` });
      assert.equal(stored.readState, 'read');
      assert.deepEqual(stored.actions, [{ action: 'track', title: 'Track', url: '/fixtures/user/orders/7/track' }, { action: 'later', title: 'Later', url: null }]);
    }
    assert.deepEqual(await opened(), [['open', page('orders/7/track')], ['open', page('orders/7')]]);
    const body = fresh('body');
    await push({ ...buttons, appNotificationId: body });
    await user('notificationclick', `usernotify:${body}`);
    assert.equal((await heard('usernotify-activated', body)).action, null, 'a click on the notification itself names no button');
  });

  test("the user closing a group's notification dismisses it also after the worker closed the group's earlier one", async () => {
    const group = fresh('again');
    const [earlier, later] = [fresh('earlier'), fresh('later')];
    await push(visual('Earlier', 'clicked', { appNotificationId: earlier, groupName: group }));
    await user('notificationclick', `usernotify-group:${group}`);
    await heard('usernotify-activated', earlier);
    await until(worker.shown, (list) => list.length === 0, { what: 'the clicked notification closed by the worker' });
    await push(visual('Later', 'closed by the user', { appNotificationId: later, groupName: group }));
    await user('notificationclose', `usernotify-group:${group}`);
    await heard('usernotify-dismissed', later);
    const stored = await until(() => entry(later), (found) => found?.userActionState === 'dismissed', { what: `${later} dismissed` });
    assert.equal(stored.readState, 'unread');
  });

  test('the user closing a group notification dismisses every entry it counted, and the app hears it', async () => {
    const [first, second] = [fresh('first'), fresh('second')];
    const group = fresh('closing');
    await push(visual('First', 'one', { appNotificationId: first, groupName: group }));
    await push(visual('Second', 'two', { appNotificationId: second, groupName: group }));
    assert.deepEqual((await worker.shown()).map((n) => n.title), ['Second (2)']);
    await user('notificationclose', `usernotify-group:${group}`);
    await heard('usernotify-dismissed', second);
    for (const id of [first, second]) {
      const stored = await until(() => entry(id), (found) => found?.userActionState === 'dismissed', { what: `${id} dismissed` });
      assert.equal(stored.readState, 'unread', 'dismissing is not reading');
    }
  });
});
