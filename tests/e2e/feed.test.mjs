// The feed (CONTRACT.md §2): what the page API lists after real pushes to the demo's
// worker, how state survives reloads and worker restarts, and what other pages hear.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BROWSERS, inBrowser, inMinutes, openDemo, sleep, until, visual, withClient } from './harness.mjs';

const feed = (page) => withClient(page, (client) => client.getAllNotifications());
const entryOf = async (page, id) => (await feed(page)).find((entry) => entry.id === id);
/** The error name a page API call rejects with, or null when it resolves. */
const rejectionOf = (page, call, arg) =>
  withClient(
    page,
    `async (client, value) => { try { await (${call.toString()})(client, value); return null; } catch (error) { return error.name; } }`,
    arg,
  );

let serial = 0;
/** A fresh id per test run: deleted ids stay remembered in the feed until they expire. */
const fresh = (name) => `${name}-${Date.now()}-${serial++}`;

for (const browser of BROWSERS) describe(`the feed ${inBrowser(browser)}`, () => {
  let demo;
  before(async () => {
    demo = await openDemo({ browser });
  });
  after(() => demo?.close());
  beforeEach(async () => {
    await demo.closeAll();
    await demo.shownWhen((list) => list.length === 0, 'a clean screen');
  });

  test('a valid push is listed once, updated by the same id, and expired or invalid pushes leave nothing', async () => {
    const id = fresh('listed');
    const expired = fresh('expired');
    await demo.push(visual('Draft', 'first version', { appNotificationId: id, groupName: 'news' }));
    await demo.push(visual('Final', 'second version', { appNotificationId: id, groupName: 'news' }));
    assert.equal((await demo.push(visual('Old', 'gone', { appNotificationId: expired, expirationDateTime: inMinutes(-1) }))).outcome, 'expired');
    for (const bad of ['[1,2]', '{', JSON.stringify({ appNotificationId: fresh('bad'), payload: { visualContent: { title: 5 } } })]) {
      assert.notEqual((await demo.push(bad)).outcome, 'shown', bad);
    }
    const list = await feed(demo.page);
    const copies = list.filter((entry) => entry.id === id);
    assert.equal(copies.length, 1, 'the same id never duplicates');
    assert.deepEqual(
      { title: copies[0].title, body: copies[0].body, groupName: copies[0].groupName, readState: copies[0].readState, userActionState: copies[0].userActionState },
      { title: 'Final', body: 'second version', groupName: 'news', readState: 'unread', userActionState: 'none' },
    );
    assert.match(copies[0].creationDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(!list.some((entry) => entry.id === expired || entry.title === 5), 'nothing of the refused pushes');
    const times = list.map((entry) => Date.parse(entry.creationDateTime));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  });

  // Firefox offers a test no way to stop a worker (Chromium: CDP ServiceWorker.stopAllWorkers).
  const canStop = browser === 'chromium';
  test(`read and dismissed state survive a page reload${canStop ? ' and a worker stop' : ''}`, async () => {
    const [read, dismissed] = [fresh('read'), fresh('dismissed')];
    await demo.push(visual('Read me', 'r', { appNotificationId: read }));
    await demo.push(visual('Dismiss me', 'd', { appNotificationId: dismissed }));
    await withClient(demo.page, (client, id) => client.updateReadState(id, 'read'), read);
    await withClient(demo.page, (client, id) => client.updateUserActionState(id, 'dismissed'), dismissed);
    await demo.page.reload();
    if (canStop) await demo.stopWorker();
    await demo.push(visual('Wakes the worker', 'w', { appNotificationId: fresh('wake') }));
    assert.equal((await entryOf(demo.page, read)).readState, 'read');
    assert.equal((await entryOf(demo.page, dismissed)).userActionState, 'dismissed');
  });

  test('bad state names and unknown ids reject with stable error codes', async () => {
    const id = fresh('codes');
    await demo.push(visual('Codes', 'c', { appNotificationId: id }));
    assert.equal(await rejectionOf(demo.page, (client, value) => client.updateReadState(value, 'Read'), id), 'invalid-state');
    assert.equal(await rejectionOf(demo.page, (client, value) => client.updateUserActionState(value, 'deleted'), id), 'invalid-state');
    assert.equal(await rejectionOf(demo.page, (client) => client.updateReadState('no-such-id', 'read')), 'not-found');
    assert.equal(await rejectionOf(demo.page, (client) => client.deleteNotification('no-such-id')), 'not-found');
  });

  test('a deleted notification leaves the screen and stays deleted when its push is redelivered', async () => {
    const id = fresh('deleted');
    const push = visual('Delete me', 'soon gone', { appNotificationId: id });
    await demo.push(push);
    await demo.shownWhen((list) => list.some((n) => n.title === 'Delete me'), 'the notification');
    // Resolves once the worker has closed it: reading the screen afterwards is safe.
    await withClient(demo.page, (client, value) => client.deleteNotification(value), id);
    assert.ok(!(await demo.shown()).some((n) => n.title === 'Delete me'), 'closed with the delete');
    assert.equal((await demo.push(push)).outcome, 'deleted');
    assert.ok(!(await demo.shown()).some((n) => n.title === 'Delete me'), 'not shown again');
    assert.equal(await entryOf(demo.page, id), undefined);
  });

  test('dismissing one notification of a group from a page redraws the group with the new count', async () => {
    const group = fresh('group');
    const ids = [fresh('g'), fresh('g'), fresh('g')];
    for (const [n, id] of ids.entries()) {
      await demo.push(visual(`Message ${n + 1}`, `body ${n + 1}`, { appNotificationId: id, groupName: group }));
    }
    assert.deepEqual((await demo.shown()).map((n) => n.title), ['Message 3 (3)']);
    await withClient(demo.page, (client, id) => client.updateUserActionState(id, 'dismissed'), ids[2]);
    assert.deepEqual((await demo.shown()).map((n) => [n.title, n.body]), [['Message 2 (2)', 'body 2']]);
    await withClient(demo.page, (client, id) => client.updateReadState(id, 'read'), ids[0]);
    assert.deepEqual((await demo.shown()).map((n) => n.title), ['Message 2']);
    await withClient(demo.page, (client, id) => client.deleteNotification(id), ids[1]);
    assert.deepEqual(await demo.shown(), [], 'nothing left to count: the group notification closes');
  });

  test('reading the rest of a group from a page closes its notification and dismisses nothing', async () => {
    const group = fresh('read-group');
    const ids = [fresh('r'), fresh('r')];
    for (const [n, id] of ids.entries()) {
      await demo.push(visual(`Unread ${n + 1}`, `body ${n + 1}`, { appNotificationId: id, groupName: group }));
    }
    assert.deepEqual((await demo.shown()).map((n) => n.title), ['Unread 2 (2)']);
    for (const id of ids) await withClient(demo.page, (client, value) => client.updateReadState(value, 'read'), id);
    assert.deepEqual(await demo.shown(), [], 'nothing left to count: the group notification closes');
    // Firefox tells the worker of its own close as well; give that event time to arrive.
    await sleep(500);
    for (const id of ids) {
      const entry = await entryOf(demo.page, id);
      assert.deepEqual([entry.readState, entry.userActionState], ['read', 'none'], id);
    }
  });

  test('a second page hears what the worker and another page change', async () => {
    const second = await demo.context.newPage();
    try {
      await second.goto(`${demo.origin}/`);
      await withClient(second, (client) => {
        window.__changes = [];
        window.__stopListening = client.onChanged((change) => window.__changes.push(change));
      });
      const id = fresh('heard');
      await demo.push(visual('Heard', 'by the second page', { appNotificationId: id }));
      await until(() => second.evaluate(() => window.__changes), (changes) => changes.some((c) => c.id === id && c.change === 'added'), { what: 'the push heard' });
      await withClient(demo.page, (client, value) => client.updateReadState(value, 'read'), id);
      await until(() => second.evaluate(() => window.__changes), (changes) => changes.some((c) => c.id === id && c.change === 'updated'), { what: 'the read heard' });
      await withClient(demo.page, (client, value) => client.deleteNotification(value), id);
      await until(() => second.evaluate(() => window.__changes), (changes) => changes.some((c) => c.id === id && c.change === 'deleted'), { what: 'the delete heard' });
      assert.equal(await entryOf(second, id), undefined, 'the second page lists it no more');
    } finally {
      await second.close();
    }
  });

  test('an entry is purged from IndexedDB at its expiry and never listed after', async () => {
    const id = fresh('purged');
    await demo.push(visual('Brief', 'expires in two seconds', { appNotificationId: id, expirationDateTime: new Date(Date.now() + 2_000).toISOString() }));
    assert.ok(await entryOf(demo.page, id), 'listed before its expiry');
    await sleep(2_100);
    assert.equal(await entryOf(demo.page, id), undefined, 'not listed after');
    const stored = await demo.page.evaluate(
      (key) => new Promise((resolve, reject) => {
        const open = indexedDB.open('usernotify');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const request = open.result.transaction('feed').objectStore('feed').count(key);
          request.onsuccess = () => { open.result.close(); resolve(request.result); };
        };
      }),
      id,
    );
    assert.equal(stored, 0, 'the record itself is gone');
  });

  test('show() shows a notification through the worker with no push service and lists it; an invalid one is refused with the contract\'s code and message', async () => {
    const id = fresh('local');
    const shown = await withClient(demo.page, (client, key) => client.show({
      appNotificationId: key, groupName: 'local', payload: { visualContent: { title: 'Shown locally', body: 'no push service' } },
    }), id);
    assert.deepEqual(shown, { id, outcome: 'shown', stored: true });
    // Resolved once it is on screen.
    const notification = (await demo.shown()).find((n) => n.tag === 'usernotify-group:local');
    assert.deepEqual([notification?.title, notification?.body], ['Shown locally', 'no push service']);
    assert.equal((await entryOf(demo.page, id))?.title, 'Shown locally');
    const refusal = (notification) => withClient(demo.page, (client, value) => client.show(value).then(
      () => 'resolved',
      (error) => ({ name: error.name, message: error.message }),
    ), notification);
    assert.deepEqual(await refusal({ priority: 'Urgent', payload: { visualContent: { title: 't' } } }), {
      name: 'contract-mismatch', message: 'usernotify: priority must be "None", "High" or "Low" (any case).',
    });
    assert.deepEqual(await refusal({ payload: {} }), { name: 'invalid-payload', message: 'usernotify: payload needs visualContent or rawContent.' });
  });

  test('a display-time close leaves the feed entry unread and untouched', async () => {
    const id = fresh('ttl');
    await demo.push(visual('Brief on screen', 't', { appNotificationId: id, displayTimeToLive: 1 }));
    await sleep(2_500);
    assert.ok(!(await demo.shown()).some((n) => n.title === 'Brief on screen'), 'closed on screen');
    const entry = await entryOf(demo.page, id);
    assert.deepEqual([entry.readState, entry.userActionState], ['unread', 'none']);
  });

  test(`sixty grouped pushes${canStop ? ' with the worker stopped midway' : ''} are all stored and the group shows 60`, async () => {
    const group = fresh('burst');
    const pushes = Array.from({ length: 60 }, (_, n) =>
      visual('Burst', `message ${n + 1}`, { appNotificationId: `${group}-${n}`, groupName: group }));
    await demo.pushAll(pushes.slice(0, 30));
    if (canStop) await demo.stopWorker();
    // The second half arrives at once at a stopped worker: a cold start under load.
    await demo.pushAll(pushes.slice(30), 30_000);
    const stored = (await feed(demo.page)).filter((entry) => entry.groupName === group);
    assert.equal(stored.length, 60);
    assert.deepEqual((await demo.shown()).map((n) => n.title), ['Burst (60)']);
  });
});
