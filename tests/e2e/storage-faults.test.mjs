// When the feed cannot be stored (CONTRACT.md §2, issue "storage failures"): the worker
// still shows every push, and the page API rejects with a clear code. IndexedDB itself is
// real; what fails is what browsers make fail: no IndexedDB, a database left by a newer
// version. (A used-up quota is not tested here: Chromium's DevTools quota override does not
// apply to an origin whose IndexedDB was already used in the session, as the demo's is.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDemo, until, visual } from './harness.mjs';

/** Delivers `data` with `push` and waits for the worker's report in the demo page. */
const reported = async (demo, push, data) => {
  const before = await demo.page.evaluate(() => window.__handled.length);
  await push(data);
  await until(() => demo.page.evaluate(() => window.__handled.length), (count) => count > before, { what: 'the push handled' });
  return demo.page.evaluate((from) => window.__handled[from], before);
};

/** The error name a page API call rejects with, or `resolved`. */
const pageApiOutcome = (page, call) =>
  page.evaluate(async (source) => {
    try {
      const api = await import('/pkg/usernotify.js');
      await api.default();
      // eslint-disable-next-line no-new-func
      await new Function('api', `return (${source})(api);`)(api);
      return 'resolved';
    } catch (error) {
      return error.name;
    }
  }, call.toString());

describe('storage failures in headless Chromium', () => {
  let demo;
  before(async () => {
    demo = await openDemo();
  });
  after(() => demo?.close());

  test('a worker without IndexedDB still shows pushes, grouped from the screen, and says they were not stored', async () => {
    const worker = await demo.registerWorker('/fixtures/no-indexeddb-sw.js', '/fixtures/no-idb/');
    const first = await reported(demo, worker.pushBlind, visual('First', 'no feed', { appNotificationId: 'no-idb-1', groupName: 'g' }));
    assert.deepEqual([first.outcome, first.stored], ['shown', false]);
    await reported(demo, worker.pushBlind, visual('Second', 'no feed', { appNotificationId: 'no-idb-2', groupName: 'g' }));
    assert.deepEqual((await worker.shown()).map((n) => n.title), ['Second (2)']);
  });

  test('the page API rejects with storage-unavailable in a page without IndexedDB', async () => {
    const page = await demo.context.newPage();
    try {
      await page.addInitScript(() => Object.defineProperty(window, 'indexedDB', { value: undefined }));
      await page.goto(`${demo.origin}/`);
      assert.equal(await pageApiOutcome(page, (api) => api.NotificationClient.open()), 'storage-unavailable');
    } finally {
      await page.close();
    }
  });
});

describe('a feed database left by a newer version', () => {
  let demo;
  before(async () => {
    demo = await openDemo();
    // A newer release's database: this version cannot open it (IndexedDB has no downgrade).
    // Open connections (the demo page's, the worker's) close on `versionchange`, so the
    // delete is not blocked.
    await demo.page.evaluate(() => new Promise((resolve, reject) => {
      const request = indexedDB.deleteDatabase('usernotify');
      request.onblocked = () => reject(new Error('delete blocked by an open connection'));
      request.onsuccess = () => {
        const newer = indexedDB.open('usernotify', 99);
        newer.onsuccess = () => { newer.result.close(); resolve(); };
        newer.onerror = () => reject(newer.error);
      };
      request.onerror = () => reject(request.error);
    }));
  });
  after(() => demo?.close());

  test('the worker still shows pushes and the page API rejects with storage-unavailable', async () => {
    await demo.stopWorker();
    const report = await demo.push(visual('Still shown', 'with a newer database', { appNotificationId: 'newer-db' }));
    assert.deepEqual([report.outcome, report.stored], ['shown', false]);
    assert.ok((await demo.shown()).some((n) => n.title === 'Still shown'));
    assert.equal(await pageApiOutcome(demo.page, (api) => api.NotificationClient.open()), 'storage-unavailable');
  });
});
