// The app badge follows the feed (CONTRACT.md §4): after every change the worker asks the
// Badging API to show the number of unread, undismissed, unexpired notifications, and clears
// the badge at 0; the page API tells the same number (getUnreadCount, onChanged).
//
// Headless browsers show no app badge (Chromium only badges an installed app; Firefox has no
// Badging API; WebKitGTK has it only behind its AppBadge feature), so the worker here is the
// package's inside a fixture (fixtures/badge-sw.js) that records what it asks of
// `setAppBadge` and `clearAppBadge`; the user's clicks and closes are the harness's
// (`userAction`: WebKit's desktop notification service, elsewhere fixtures/user-sw.js, which
// it imports). Everything else is real: pushes, the worker, the feed, a page's changes through
// the page API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BROWSERS, inBrowser, openDemo, sleep, until, visual, withClient } from './harness.mjs';

const SCOPE = '/fixtures/badge/';
let serial = 0;
/** A fresh id per test run: the feed is the origin's, shared with the other suites. */
const fresh = (name) => `${name}-${Date.now()}-${serial++}`;

for (const browser of BROWSERS) describe(`the app badge ${inBrowser(browser)}`, () => {
  let demo;
  let worker;
  /** A page inside the fixture's scope: its page API talks to the fixture's worker. */
  let page;
  before(async () => {
    demo = await openDemo({ browser });
    worker = await demo.registerWorker('/fixtures/badge-sw.js', SCOPE);
    page = await demo.context.newPage();
    await page.goto(new URL(SCOPE, demo.origin).href);
    await demo.page.evaluate(() => {
      window.__heard = [];
      navigator.serviceWorker.addEventListener('message', (event) => window.__heard.push(event.data));
    });
    // The feed is the origin's: start from nothing unread.
    await withClient(page, async (client) => {
      for (const entry of await client.getAllNotifications()) await client.deleteNotification(entry.id);
    });
    await page.evaluate(async () => {
      window.__changes = [];
      const api = await import('/pkg/usernotify.js');
      await api.default();
      const client = await api.NotificationClient.open();
      client.onChanged((change) => window.__changes.push(change));
    });
  });
  after(() => demo?.close());

  const push = async (notification) => {
    await worker.pushBlind(notification);
    return until(() => demo.page.evaluate((key) => window.__handled.find((r) => r.key === key), notification.appNotificationId), Boolean, { what: `${notification.appNotificationId} handled` });
  };
  /** The worker's last call to the Badging API once it is `expected`. */
  const badge = (expected) =>
    until(
      async () => {
        const asked = await demo.page.evaluate(() => window.__heard.length);
        await demo.page.evaluate(async (scope) => (await navigator.serviceWorker.getRegistration(scope)).active.postMessage({ type: 'fixture-badge' }), SCOPE);
        const answer = await until(() => demo.page.evaluate((from) => window.__heard.slice(from).find((m) => m.type === 'fixture-badge'), asked), Boolean, { what: 'the recorded calls' });
        return answer.calls.at(-1);
      },
      (last) => JSON.stringify(last) === JSON.stringify(expected),
      { what: `the badge at ${JSON.stringify(expected)}` },
    );
  const unread = () => withClient(page, (client) => client.getUnreadCount());

  test('each push sets the badge to the unread count, a click and a page reading it take one off, and 0 clears it', async () => {
    const [first, second] = [fresh('first'), fresh('second')];
    await push(visual('First', 'one', { appNotificationId: first }));
    await badge(['set', 1]);
    await push(visual('Second', 'two', { appNotificationId: second }));
    await badge(['set', 2]);
    assert.equal(await unread(), 2, 'the page API tells the same number');

    await demo.userAction(SCOPE, 'notificationclick', `usernotify:${first}`);
    await badge(['set', 1]);

    await withClient(page, (client, id) => client.updateReadState(id, 'read'), second);
    await badge(['clear']);
    assert.equal(await unread(), 0);
  });

  test('the user dismissing a notification and an expired one leave the count', async () => {
    const [kept, closed, brief] = [fresh('kept'), fresh('closed'), fresh('brief')];
    await push(visual('Kept', 'stays unread', { appNotificationId: kept }));
    await push(visual('Closed', 'dismissed', { appNotificationId: closed }));
    await badge(['set', 2]);
    await demo.userAction(SCOPE, 'notificationclose', `usernotify:${closed}`);
    await badge(['set', 1]);
    await push(visual('Brief', 'expires in 2 s', { appNotificationId: brief, expirationDateTime: new Date(Date.now() + 2000).toISOString() }));
    await badge(['set', 2]);
    // Past its expiry, the next event counts without it.
    await sleep(2500);
    await demo.page.evaluate(async (scope) => (await navigator.serviceWorker.getRegistration(scope)).active.postMessage({ type: 'usernotify-sweep' }), SCOPE);
    await badge(['set', 1]);
    assert.equal(await unread(), 1);
    await withClient(page, (client, id) => client.updateUserActionState(id, 'dismissed'), kept);
    await badge(['clear']);
  });

  test('onChanged carries the unread count after each change', async () => {
    const id = fresh('told');
    await push(visual('Told', 'the count comes with the change', { appNotificationId: id }));
    const added = await until(() => page.evaluate((wanted) => window.__changes.find((c) => c.id === wanted && c.change === 'added'), id), Boolean, { what: 'the added change' });
    assert.equal(added.unreadCount, 1);
    await withClient(page, (client, wanted) => client.updateReadState(wanted, 'read'), id);
    const read = await until(() => page.evaluate((wanted) => window.__changes.find((c) => c.id === wanted && c.change === 'updated'), id), Boolean, { what: 'the updated change' });
    assert.deepEqual([read.entry.readState, read.unreadCount], ['read', 0]);
  });
});
