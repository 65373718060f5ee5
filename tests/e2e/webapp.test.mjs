// A web app really imports it: tests/webapp, built by Vite against the packed npm package
// (`npm pack pkg`, installed as a tarball), served at /app/ and driven in headless Chromium.
// The app registers the package's module worker itself; pushes reach that worker through the
// DevTools protocol, and everything is read from what the app's page shows.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openDemo, until, visual } from './harness.mjs';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const webapp = join(root, 'tests', 'webapp');
const WORKER_FILES = ['usernotify-sw.js', 'usernotify_worker_bg.wasm'];

/** Packs pkg/, installs the tarball (and Vite, from the lock) into tests/webapp, builds dist/. */
async function buildWebapp() {
  const packed = await mkdtemp(join(tmpdir(), 'usernotify-pack-'));
  try {
    const { stdout } = await run('npm', ['pack', './pkg', '--pack-destination', packed, '--json'], { cwd: root });
    const [{ filename, files }] = JSON.parse(stdout);
    const shipped = files.map((file) => file.path);
    for (const file of ['usernotify.js', 'usernotify_bg.wasm', ...WORKER_FILES]) {
      assert.ok(shipped.includes(file), `npm pack ./pkg ships ${file} (is pkg/ complete? run make build)`);
    }
    const tarball = join(packed, filename);
    // A new temporary path each run, so npm always replaces the package it installed before.
    await run('npm', ['install', '--no-save', '--no-audit', '--no-fund', tarball], { cwd: webapp });
  } finally {
    await rm(packed, { recursive: true, force: true });
  }
  await run(process.execPath, [join(webapp, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: webapp });
  return join(webapp, 'dist');
}

describe('a Vite app that installs the usernotify package', { timeout: 180_000 }, () => {
  let demo;
  let app;
  let page;
  const scope = '/app/';

  // npm install (Vite from the registry on a fresh machine) and vite build come first.
  before(async () => {
    const dist = await buildWebapp();
    demo = await openDemo({ extraMounts: [[scope, dist]] });
    page = demo.page;
    await page.goto(`${demo.origin}${scope}`);
    // The app's own registration takes over its page (the worker claims its clients).
    await until(
      () => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? null),
      (url) => url === `${demo.origin}${scope}usernotify-sw.js`,
      { what: "the app's page controlled by the worker it registered" },
    );
    await page.locator('#worker', { hasText: 'registered' }).waitFor();
    // Same script and scope: this only finds the app's registration, to push to it.
    app = await demo.registerWorker(`${scope}usernotify-sw.js`, scope, 'module');
  }, { timeout: 120_000 });
  after(() => demo?.close());

  /** Pushes to the app's worker and resolves with its report to the app's page. */
  const push = async (data) => {
    const count = () => page.evaluate(() => window.__handled.length);
    const before = await count();
    await app.pushBlind(data);
    await until(count, (now) => now > before, { what: 'the push handled' });
    return page.evaluate((index) => window.__handled[index], before);
  };

  /** The app's list as the user reads it, top to bottom: title, body and read state. */
  const listed = () =>
    page.locator('#feed li').evaluateAll((items) =>
      items.map((item) => {
        const [body, state] = [...item.querySelectorAll('p')].map((p) => p.textContent);
        return { title: item.querySelector('strong').textContent, body, state: state.split(' · ')[0] };
      }));
  const stateOf = async (title) => (await listed()).find((item) => item.title === title)?.state;
  const entry = (title) => page.locator('#feed li').filter({ has: page.locator('strong', { hasText: title }) });

  test("a push to the app's worker is shown as a notification and listed on the app's page, newest first", async () => {
    for (const [index, title] of ['Order shipped', 'Order delivered'].entries()) {
      const report = await push(visual(title, `step ${index}`, { appNotificationId: `order-${index}` }));
      assert.deepEqual([report.outcome, report.stored], ['shown', true]);
    }
    const shown = await until(app.shown, (list) => list.length >= 2, { what: 'both notifications on screen' });
    assert.deepEqual(shown.map((n) => n.title).sort(), ['Order delivered', 'Order shipped']);
    const items = await until(listed, (list) => list.length >= 2, { what: 'both entries listed' });
    const titles = items.map((item) => item.title);
    assert.ok(titles.indexOf('Order delivered') < titles.indexOf('Order shipped'), `newest first: ${titles}`);
    assert.deepEqual(items.find((item) => item.title === 'Order shipped'), { title: 'Order shipped', body: 'step 0', state: 'unread' });
  });

  test("pushed markup is listed by the app as text and never becomes part of the page", async () => {
    const title = '<img src=x onerror="window.pwned=1">Sale';
    const body = '<b>50%</b> off';
    await push(visual(title, body, { appNotificationId: 'markup' }));
    await entry('Sale').waitFor();
    assert.equal(await entry('Sale').locator('strong').textContent(), title);
    assert.equal(await entry('Sale').locator('p').first().textContent(), body);
    assert.equal(await page.locator('#feed img, #feed b').count(), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
  });

  test("marking an entry read with the app's button lists it as read, also after a reload", async () => {
    await push(visual('Invoice ready', 'March', { appNotificationId: 'invoice' }));
    await entry('Invoice ready').waitFor();
    assert.equal(await stateOf('Invoice ready'), 'unread');
    await entry('Invoice ready').getByRole('button', { name: 'Mark read' }).click();
    await entry('Invoice ready').getByRole('button', { name: 'Mark unread' }).waitFor();
    assert.equal(await stateOf('Invoice ready'), 'read');

    await page.reload();
    await entry('Invoice ready').waitFor();
    assert.equal(await stateOf('Invoice ready'), 'read', 'stored in the feed, not only on the page');

    await entry('Invoice ready').getByRole('button', { name: 'Mark unread' }).click();
    await entry('Invoice ready').getByRole('button', { name: 'Mark read' }).waitFor();
    assert.equal(await stateOf('Invoice ready'), 'unread');
  });

  test('an entry marked read in another tab of the app is listed as read here without a reload', async () => {
    await push(visual('Shared doc', 'edited', { appNotificationId: 'doc' }));
    await entry('Shared doc').waitFor();
    const other = await demo.context.newPage();
    try {
      await other.goto(`${demo.origin}${scope}`);
      const there = other.locator('#feed li').filter({ has: other.locator('strong', { hasText: 'Shared doc' }) });
      await there.getByRole('button', { name: 'Mark read' }).click();
      await there.getByRole('button', { name: 'Mark unread' }).waitFor();
      await entry('Shared doc').getByRole('button', { name: 'Mark unread' }).waitFor();
      assert.equal(await stateOf('Shared doc'), 'read');
    } finally {
      await other.close();
    }
  });

  test("deleting an entry with the app's button removes it from the list and closes its notification", async () => {
    await push(visual('Meeting moved', 'to 3 pm', { appNotificationId: 'meeting' }));
    await push(visual('Keep me', 'still here', { appNotificationId: 'keep' }));
    await until(app.shown, (list) => list.some((n) => n.title === 'Meeting moved'), { what: 'the notification on screen' });
    await entry('Meeting moved').getByRole('button', { name: 'Delete' }).click();
    await entry('Meeting moved').waitFor({ state: 'detached' });
    const shown = await until(app.shown, (list) => !list.some((n) => n.title === 'Meeting moved'), {
      what: 'the deleted notification closed',
    });
    assert.ok(shown.some((n) => n.title === 'Keep me'), 'the other notification stays on screen');
    assert.equal(await entry('Keep me').count(), 1, 'the other entry stays listed');
    await page.reload();
    await entry('Keep me').waitFor();
    assert.equal(await entry('Meeting moved').count(), 0, 'deleted from the feed, not only from the page');
  });
});
