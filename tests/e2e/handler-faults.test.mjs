// A handler that fails part-way (issue "worker faults"): a browser call throwing in the middle
// of a push, with the worker's push lock held. The push still ends with the quiet status, the
// lock is released, nothing is an unhandled rejection, and the next push works.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BROWSERS, inBrowser, openDemo, sleep, until, visual } from './harness.mjs';

for (const browser of BROWSERS) describe(`a handler that fails part-way, ${inBrowser(browser)}`, () => {
  let demo;
  before(async () => {
    demo = await openDemo({ browser });
    await demo.page.evaluate(() => {
      window.__unhandled = [];
      navigator.serviceWorker.addEventListener('message', (event) => {
        if (event.data?.type === 'fixture-unhandled-rejection') window.__unhandled.push(event.data.reason);
      });
    });
  });
  after(() => demo?.close());

  test('the failed push leaves the quiet status and the next push is shown', async () => {
    const scope = '/fixtures/sabotage/';
    const worker = await demo.registerWorker('/fixtures/sabotage-sw.js', scope);
    await demo.page.evaluate(async (at) => (await navigator.serviceWorker.getRegistration(at)).active.postMessage('sabotage-next-push'), scope);
    await worker.pushBlind(visual('Lost', 'its handler fails part-way', { appNotificationId: 'sabotaged' }));
    // The failed handler sends no report: read once, well after it failed.
    await sleep(1_500);
    const afterFailure = await worker.shown();
    assert.deepEqual(afterFailure.map((n) => n.tag), ['usernotify-status'], JSON.stringify(afterFailure));

    const before = await demo.page.evaluate(() => window.__handled.length);
    await worker.pushBlind(visual('Works again', 'on a fresh instance', { appNotificationId: 'after-sabotage' }));
    const report = await until(
      () => demo.page.evaluate((from) => window.__handled.slice(from).find((r) => r.key === 'after-sabotage'), before),
      Boolean,
      { what: 'the next push handled' },
    );
    assert.deepEqual([report.outcome, report.stored], ['shown', true]);
    assert.deepEqual((await worker.shown()).map((n) => n.title), ['Works again']);
    assert.deepEqual(await demo.page.evaluate(() => window.__unhandled), [], 'no unhandled rejection in the worker');
  });
});
