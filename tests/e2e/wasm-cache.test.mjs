// The worker keeps its wasm in the Cache Storage under its build's name (www/sw.js): a worker
// woken for a push loads it without the network, and a new build's activation drops the
// wasm earlier builds cached. The worker is a copy of the package served from a temporary
// directory, so that its wasm can disappear from the server the way an unreachable app
// server would make it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROWSERS, chromiumOnly, inBrowser, openDemo, until, visual } from './harness.mjs';

const pkg = fileURLToPath(new URL('../../pkg', import.meta.url));
const WASM = 'usernotify_worker_bg.wasm';

for (const browser of BROWSERS) describe(`the worker's wasm cache ${inBrowser(browser)}`, () => {
  let demo;
  let served;
  before(async () => {
    served = mkdtempSync(join(tmpdir(), 'usernotify-served-'));
    cpSync(pkg, served, { recursive: true });
    demo = await openDemo({ browser, extraMounts: [['/served/', served]] });
  });
  after(async () => {
    await demo?.close();
    rmSync(served, { recursive: true, force: true });
  });

  const cacheNames = () => demo.page.evaluate(() => caches.keys());
  const status = (path) => demo.page.evaluate((url) => fetch(url, { cache: 'no-store' }).then((response) => response.status), path);

  test('activating a build drops the wasm earlier builds cached and keeps the app\'s own caches', async () => {
    await demo.page.evaluate(async () => {
      await (await caches.open('usernotify-0123456789abcdef')).put('/earlier.wasm', new Response('earlier build'));
      await (await caches.open('app-pages')).put('/page', new Response('the app\'s own'));
    });
    await demo.registerWorker('/served/usernotify-sw.js', '/served/');
    const names = await until(cacheNames, (list) => !list.includes('usernotify-0123456789abcdef'), { what: 'the earlier build dropped' });
    assert.ok(names.includes('app-pages'), `caches: ${names}`);
    const ours = names.filter((name) => name.startsWith('usernotify-'));
    assert.equal(ours.length, 1, `one build's cache: ${names}`);
    assert.match(ours[0], /^usernotify-[0-9a-f]{16}$/);
  });

  test('a worker woken for a push while its wasm cannot be fetched shows the notification from its cached wasm', chromiumOnly(browser, 'CDP ServiceWorker.stopAllWorkers to stop the worker'), async () => {
    const worker = await demo.registerWorker('/served/usernotify-sw.js', '/served/');
    await worker.pushBlind(visual('Before', 'the server went away', { appNotificationId: 'before' }));
    await until(worker.shown, (list) => list.some((n) => n.title === 'Before'), { what: 'the first push shown' });

    rmSync(join(served, WASM));
    assert.equal(await status(`/served/${WASM}`), 404);
    await demo.stopWorker();
    await worker.pushBlind(visual('After', 'shown all the same', { appNotificationId: 'after' }));
    const shown = await until(worker.shown, (list) => list.some((n) => n.title === 'After'), { what: 'the push after the wasm went away' });
    assert.equal(shown.find((n) => n.title === 'After').body, 'shown all the same');
  });
});
