// When the feed cannot be stored (CONTRACT.md §2, issue "storage failures"): the worker
// still shows every push, and the page API rejects with a clear code. IndexedDB itself is
// real; what fails is what browsers make fail: no IndexedDB, a database left by a newer
// version, a used-up quota (Chromium's DevTools override, which applies only to an origin
// whose IndexedDB was not used yet in the session).
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
    await demo.push(visual('Connects the worker', 'to the feed', { appNotificationId: 'before-newer' }));
    // A newer release's database: this version cannot open it (IndexedDB has no downgrade).
    // The worker and the demo page both hold a connection by now; they close on
    // `versionchange`, so a newer version's delete and upgrade are not blocked.
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

  test('open connections never block its upgrade, and then the worker still shows pushes and the page API rejects with storage-unavailable', async () => {
    await demo.stopWorker();
    const report = await demo.push(visual('Still shown', 'with a newer database', { appNotificationId: 'newer-db' }));
    assert.deepEqual([report.outcome, report.stored], ['shown', false]);
    assert.ok((await demo.shown()).some((n) => n.title === 'Still shown'));
    assert.equal(await pageApiOutcome(demo.page, (api) => api.NotificationClient.open()), 'storage-unavailable');
  });
});

describe('an origin over its storage quota from the start', () => {
  let demo;
  let context;
  before(async () => {
    demo = await openDemo();
    // A context of its own, whose quota is set before the origin's IndexedDB is first used
    // (Chromium applies the DevTools override only then).
    context = await demo.browser.newContext();
    await context.grantPermissions(['notifications'], { origin: demo.origin });
    await context.addInitScript(() => {
      window.__handled = [];
      navigator.serviceWorker?.addEventListener('message', (event) => {
        if (event.data?.type === 'usernotify-push-handled') window.__handled.push(event.data);
      });
    });
  });
  after(async () => {
    await context?.close();
    await demo?.close();
  });

  test('pushes are still shown though the feed cannot store them', async () => {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    const registrations = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: updated }) => registrations.push(...updated));
    await cdp.send('ServiceWorker.enable');
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: demo.origin, quotaSize: 1 });
    await page.goto(`${demo.origin}/`);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    const { registrationId } = await until(
      async () => registrations.find((registration) => registration.scopeURL === `${demo.origin}/` && !registration.isDeleted),
      Boolean,
      { what: 'the demo worker registration' },
    );
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: demo.origin,
      registrationId,
      data: JSON.stringify(visual('Over quota', 'shown anyway', { appNotificationId: 'quota-1' })),
    });
    const report = await until(() => page.evaluate(() => window.__handled[0]), Boolean, { what: 'the push handled' });
    assert.deepEqual([report.outcome, report.stored], ['shown', false]);
    const shown = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => n.title));
    assert.deepEqual(shown, ['Over quota']);
    // Opening needs no room; nothing could be written, so the feed lists nothing. (No page
    // write can be provoked here: a page only changes entries that were stored.)
    const listed = await page.evaluate(async () => {
      const api = await import('/pkg/usernotify.js');
      await api.default();
      return (await api.NotificationClient.open()).getAllNotifications();
    });
    assert.deepEqual(listed, []);
  });
});
