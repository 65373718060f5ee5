// State that follows the user across devices, and the user's preferences (issue 18), with two
// devices of one user: two headless Firefox profiles, each on Firefox's real push path (its own
// PushManager.subscribe, its own loopback push service, Web Push decrypted by Firefox), both
// subscribed through the page API with the real service binary (its SQLite file). The push
// services (push-server.mjs) are the only stand-ins: the vendor's own cannot be reached here.
//
// Device A reads or deletes; device B, with the demo page open, follows the change stream and
// its worker closes or redraws at once; with no page of the package open, B hears of it with
// its next push (a push that only carries changes when it leaves a group redrawn). After every
// push each device shows something.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROWSERS, openDemo, sleep, until, visual, withClient } from './harness.mjs';
import { buildService, startService } from './service.mjs';

const TOKEN = 'two-devices-token';
const HOST = 'demo.usernotify.test';

const skip = !BROWSERS.includes('firefox') && 'USERNOTIFY_BROWSERS leaves Firefox out';

describe('two devices of one user, each on Firefox\'s real push path', { skip }, () => {
  let a;
  let b;
  let service;
  let dataDir;

  before(async () => {
    buildService();
    a = await openDemo({ browser: 'firefox', subscribe: false });
    b = await openDemo({ browser: 'firefox', subscribe: false });
    dataDir = mkdtempSync(join(tmpdir(), 'usernotify-devices-'));
    service = await startService({
      HOST: '127.0.0.1',
      PORT: '0',
      USERNOTIFY_DB: join(dataDir, 'usernotify.db'),
      USERNOTIFY_TOKENS: `${TOKEN}:two-devices-user`,
      USERNOTIFY_ALLOW_LOOPBACK_PUSH: '1',
      USERNOTIFY_CORS_ORIGINS: `${a.origin},${b.origin}`,
      USERNOTIFY_STATIC: '',
      RUST_LOG: 'info',
    });
    for (const [device, name] of [[a, 'Firefox A'], [b, 'Firefox B']]) {
      const options = { serviceUrl: service.url, accessToken: TOKEN, targetHostName: HOST, displayName: name };
      device.uns = (await withClient(device.page, (c, value) => c.subscribe(value), options)).id;
    }
  });
  after(async () => {
    service?.child.kill();
    await a?.close();
    await b?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
  /** Posts for the user (through A's UNSID: it names the user) and returns the stored id. */
  const post = async (notification) => {
    const answer = await fetch(`${service.url}/me/notifications`, {
      method: 'POST',
      headers: { ...headers, 'X-UNS': a.uns },
      body: JSON.stringify({ targetHostName: HOST, ...notification }),
    });
    const text = await answer.text();
    assert.equal(answer.status, 201, text);
    return JSON.parse(text).id;
  };
  const handledCount = (device) => device.page.evaluate(() => window.__handled.length);
  /** The worker's reports of pushes handled since `from`, once there are `count` of them. */
  const reports = (device, from, count = 1) =>
    until(() => device.page.evaluate((at) => window.__handled.slice(at), from), (list) => list.length >= count, {
      what: `${count} push(es) handled`,
      timeout: 15_000,
    });
  const feed = (device) => withClient(device.page, (c) => c.getAllNotifications());
  const titles = async (device) => (await device.shown()).map((n) => n.title).sort();

  test('reading on A closes the notification on B at once while B has a page open, and deleting on A removes it from B\'s feed', async () => {
    const [fromA, fromB] = [await handledCount(a), await handledCount(b)];
    const read = await post(visual('Read on A', 'closes on B'));
    const deleted = await post(visual('Deleted on A', 'leaves B'));
    await reports(a, fromA, 2);
    await reports(b, fromB, 2);
    assert.deepEqual(await titles(b), ['Deleted on A', 'Read on A']);

    await withClient(a.page, (c, id) => c.updateReadState(id, 'read'), read);
    const started = Date.now();
    await b.shownWhen((list) => !list.some((n) => n.title === 'Read on A'), "B's notification closed", 5_000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 3_000, `at once: ${elapsed} ms`);
    assert.equal((await feed(b)).find((entry) => entry.id === read)?.readState, 'read');
    assert.deepEqual(await titles(a), ['Deleted on A'], 'and closed on A, where it was read');

    await withClient(a.page, (c, id) => c.deleteNotification(id), deleted);
    await until(() => feed(b), (entries) => !entries.some((entry) => entry.id === deleted), { what: "the entry gone from B's feed" });
    await b.shownWhen((list) => !list.some((n) => n.title === 'Deleted on A'), "B's notification closed");
    // B's page API heard each change as the app would (onChanged), and kept where it is.
    const cursor = await b.page.evaluate(() => new Promise((resolve) => {
      const open = indexedDB.open('usernotify');
      open.onsuccess = () => {
        const request = open.result.transaction('settings').objectStore('settings').get('changesCursor');
        request.onsuccess = () => { open.result.close(); resolve(request.result ?? null); };
      };
    }));
    assert.match(cursor ?? '', /^[0-9]+$/, 'the last event id applied is kept');
  });

  test('a muted group is not pushed to either device, its deliveries say why, and both devices see the same preferences', async () => {
    const set = await withClient(a.page, (c) => c.setPreferences({ mutedGroups: ['promos'] }));
    assert.deepEqual(set, { mutedGroups: ['promos'], quietHours: null });
    assert.deepEqual(await withClient(b.page, (c) => c.getPreferences()), set, 'the same on B');
    const refused = await withClient(a.page, async (c) => {
      try {
        await c.setPreferences({ quietHours: { start: '25:00', end: '07:00', timeZone: 'UTC' } });
        return 'resolved';
      } catch (error) {
        return error.name;
      }
    });
    assert.equal(refused, 'invalid-time', "the core's code, before anything is sent");

    const accepted = [a, b].map((device) => device.pushServer.log.filter((entry) => entry.event === 'accepted').length);
    const [fromA, fromB] = [await handledCount(a), await handledCount(b)];
    const muted = await post({ ...visual('Flash sale', 'muted'), groupName: 'promos' });
    const deliveries = await (await fetch(`${service.url}/me/notifications/${muted}/deliveries`, { headers })).json();
    assert.deepEqual(deliveries.value.map((row) => [row.state, row.reason]), [['skipped', 'muted'], ['skipped', 'muted']]);
    await sleep(1_000);
    assert.deepEqual([a, b].map((device) => device.pushServer.log.filter((entry) => entry.event === 'accepted').length), accepted, 'nothing at either push service');
    assert.deepEqual([await handledCount(a), await handledCount(b)], [fromA, fromB], 'nothing reached either worker');
    const listed = await (await fetch(`${service.url}/me/notifications`, { headers })).json();
    assert.ok(listed.value.some((item) => item.id === muted), "the service's feed still has it");
    await withClient(a.page, (c) => c.setPreferences({ mutedGroups: [] }));
  });

  /** B's feed read straight from IndexedDB: no page API runs in B (it would follow the stream). */
  const storedIn = (device) => device.page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('usernotify');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const request = open.result.transaction('feed').objectStore('feed').getAll();
      request.onsuccess = () => {
        open.result.close();
        resolve(request.result.map((record) => ({ id: record.id, readState: record.readState })));
      };
    };
  }));

  test("with no page open on B, a read on A reaches B with its next push: alone when it leaves B's group redrawn, else with the next notification, and B never ends a push with nothing shown", async () => {
    // B leaves the app: a page of its origin that runs no page API (Firefox delivers pushes
    // only to origins a tab shows or the history has).
    await b.page.goto(`${b.origin}/fixtures/no-client.html`);
    await b.closeAll();
    await b.shownWhen((list) => list.length === 0, "B's screen cleared");
    const acceptedAtB = () => b.pushServer.log.filter((entry) => entry.event === 'accepted').length;
    let [fromA, fromB] = [await handledCount(a), 0];
    const older = await post({ ...visual('Ana', 'first'), groupName: 'chat' });
    // Rui's message follows Ana's once B has it: pushes sent together can overtake each
    // other (the service sends them at once, and push services promise no order), and a
    // group shows the one that arrived last.
    await reports(b, fromB, 1);
    const newer = await post({ ...visual('Rui', 'second'), groupName: 'chat' });
    const single = await post(visual('Single', 'ungrouped'));
    await reports(a, fromA, 3);
    await reports(b, fromB, 3);
    assert.deepEqual(await titles(b), ['Rui (2)', 'Single']);

    // A reads the newer of the group: B's group still counts the older one, so a push that
    // only carries the change goes to B, and B redraws its group.
    let before = acceptedAtB();
    fromB = await handledCount(b);
    await withClient(a.page, (c, id) => c.updateReadState(id, 'read'), newer);
    const [report] = await reports(b, fromB);
    assert.equal(report.outcome, 'changes-applied');
    await b.shownWhen((list) => list.map((n) => n.title).sort().join() === 'Ana,Single', "B's group redrawn with what is left");
    assert.equal(acceptedAtB(), before + 1, 'one push, carrying the change alone');
    assert.equal((await storedIn(b)).find((entry) => entry.id === newer)?.readState, 'read');

    // A reads the ungrouped one: on B it would only close, leaving nothing new, so it waits.
    before = acceptedAtB();
    await withClient(a.page, (c, id) => c.updateReadState(id, 'read'), single);
    await sleep(1_500);
    assert.equal(acceptedAtB(), before, 'no push for a change that would leave nothing');
    assert.deepEqual(await titles(b), ['Ana', 'Single'], 'still shown on B until its next push');
    // The next notification brings it: B closes Single, shows the new one.
    fromB = await handledCount(b);
    await post(visual('Next', 'carries the change'));
    await reports(b, fromB);
    await b.shownWhen((list) => list.map((n) => n.title).sort().join() === 'Ana,Next', "B's screen after its next push");
    assert.equal((await storedIn(b)).find((entry) => entry.id === single)?.readState, 'read');

    // A reads the last unread one of the group: nothing of the group is left on B, so no push
    // for it alone; B's screen keeps what it had, and its next push brings the change.
    before = acceptedAtB();
    await withClient(a.page, (c, id) => c.updateReadState(id, 'read'), older);
    await sleep(1_500);
    assert.equal(acceptedAtB(), before);
    assert.ok((await b.shown()).length > 0, 'B is never left with nothing shown');
    await b.page.goto(`${b.origin}/`);
  });
});

