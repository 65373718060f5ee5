// A web app really uses it: tests/webapp, a Vite app that installs the packed npm package
// (`npm pack pkg`, installed as a tarball) and the package's Vite plugin (`usernotify/vite`),
// run both ways a developer runs it: `vite build`, its dist/ served at /app/, and `vite`, the
// dev server. In headless Chromium, the app registers the package's module worker itself;
// pushes reach that worker through the DevTools protocol, and everything is read from what
// the app's page shows. Also: the plugin's `path` option, and what a developer sees when the
// worker's wasm is not served (Vite's dev server answers a missing file with its index.html).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { launchChromiumBrowser, openApp, openDemo, until, visual } from './harness.mjs';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const webapp = join(root, 'tests', 'webapp');
const viteCli = join(webapp, 'node_modules', 'vite', 'bin', 'vite.js');
const WORKER_FILES = {
  'usernotify-sw.js': 'text/javascript',
  'usernotify-sw.classic.js': 'text/javascript',
  'usernotify_worker_bg.wasm': 'application/wasm',
};

/** Packs pkg/ and installs the tarball (and Vite, from the lock) into tests/webapp. */
async function installPackage() {
  const packed = await mkdtemp(join(tmpdir(), 'usernotify-pack-'));
  try {
    const { stdout } = await run('npm', ['pack', './pkg', '--pack-destination', packed, '--json'], { cwd: root });
    const [{ filename, files }] = JSON.parse(stdout);
    const shipped = files.map((file) => file.path);
    for (const file of ['usernotify.js', 'usernotify_bg.wasm', 'vite.js', ...Object.keys(WORKER_FILES)]) {
      assert.ok(shipped.includes(file), `npm pack ./pkg ships ${file} (is pkg/ complete? run make build)`);
    }
    // A new temporary path each run, so npm always replaces the package it installed before.
    await run('npm', ['install', '--no-save', '--no-audit', '--no-fund', join(packed, filename)], { cwd: webapp });
  } finally {
    await rm(packed, { recursive: true, force: true });
  }
}

/** What the package ships under `name`, as installed in the app. */
const installed = (name) => readFile(join(webapp, 'node_modules', 'usernotify', name));

/** The installed package's modules, resolved through its `exports` as an app resolves them. */
const fromApp = (specifier) => import(pathToFileURL(createRequire(join(webapp, 'package.json')).resolve(specifier)).href);

const freePort = () => new Promise((resolve, reject) => {
  const server = createServer().once('error', reject);
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

/**
 * `vite` (the dev server, its CLI) in tests/webapp, resolved once it prints its address.
 * NO_COLOR: with `CI` set (as CI machines set it) Vite colours the port even into a pipe, and
 * the address no longer reads as one. A Vite that never gets there is stopped, not left to
 * keep the test file running.
 */
async function startViteCli({ within = 45_000 } = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [viteCli, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: webapp,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill();
  });
  let output = '';
  const origin = `http://127.0.0.1:${port}`;
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`vite printed no ${origin}/ within ${within} ms: ${output}`)), within);
      const read = (chunk) => {
        output += chunk;
        if (output.includes(`${origin}/`)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`vite exited (${code}): ${output}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { origin, stop };
}

/**
 * A page of an app of its own, in a temporary root, run by Vite's JavaScript API; its
 * node_modules are tests/webapp's (the installed package), for a script that imports it.
 */
async function tinyApp({ script, plugins = [], publicFiles = [] }) {
  const dir = await mkdtemp(join(tmpdir(), 'usernotify-vite-'));
  await mkdir(join(dir, 'public'));
  await symlink(join(webapp, 'node_modules'), join(dir, 'node_modules'), 'dir');
  for (const name of publicFiles) await writeFile(join(dir, 'public', name), await installed(name));
  await writeFile(join(dir, 'index.html'), `<!doctype html><title>app</title><link rel="icon" href="data:,">\n<script type="module">${script}</script>\n`);
  const vite = await fromApp('vite');
  const config = { root: dir, configFile: false, logLevel: 'warn', plugins };
  return {
    dir,
    build: () => vite.build({ ...config, build: { outDir: join(dir, 'dist') } }),
    serve: async () => {
      const server = await vite.createServer({ ...config, server: { host: '127.0.0.1', port: await freePort(), strictPort: true } });
      await server.listen();
      return { origin: server.resolvedUrls.local[0].replace(/\/$/, ''), stop: () => server.close() };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Fetches `path` of `origin` as a service worker does (`Accept: *\/*`). */
const fetched = async (origin, path) => {
  const answer = await fetch(`${origin}${path}`);
  return { status: answer.status, type: answer.headers.get('content-type') ?? '', allowed: answer.headers.get('service-worker-allowed'), body: Buffer.from(await answer.arrayBuffer()) };
};

/** The app's list as the user reads it, top to bottom: title, body and read state. */
const listedIn = (page) => () =>
  page.locator('#feed li').evaluateAll((items) =>
    items.map((item) => {
      const [body, state] = [...item.querySelectorAll('p')].map((p) => p.textContent);
      return { title: item.querySelector('strong').textContent, body, state: state.split(' · ')[0] };
    }));

before(installPackage, { timeout: 120_000 });

describe('a Vite app built with `vite build`', { timeout: 180_000 }, () => {
  let demo;
  let app;
  let page;
  const scope = '/app/';

  before(async () => {
    await run(process.execPath, [viteCli, 'build', '--logLevel', 'warn'], { cwd: webapp });
    demo = await openDemo({ extraMounts: [[scope, join(webapp, 'dist')]] });
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

  const listed = () => listedIn(page)();
  const stateOf = async (title) => (await listed()).find((item) => item.title === title)?.state;
  const entry = (title) => page.locator('#feed li').filter({ has: page.locator('strong', { hasText: title }) });

  test("vite build writes the worker's files into dist/, beside index.html, exactly as the package ships them", async () => {
    for (const name of Object.keys(WORKER_FILES)) {
      assert.ok((await readFile(join(webapp, 'dist', name))).equals(await installed(name)), name);
    }
  });

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
    // The package's inbox, imported as `usernotify/inbox` and bundled by Vite, counts them.
    const bell = () => page.evaluate(() => document.querySelector('usernotify-inbox')?.shadowRoot?.querySelector('.bell')?.getAttribute('aria-label'));
    await until(bell, (name) => name === 'Notifications, 2 unread', { what: "the inbox's bell counting both" });
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

describe('the same Vite app run with `vite`, the dev server', { timeout: 120_000 }, () => {
  let dev;
  let app;
  before(async () => {
    dev = await startViteCli();
    app = await openApp(dev.origin);
  }, { timeout: 60_000 });
  after(async () => {
    await app?.close();
    await dev?.stop();
  });

  test("the dev server answers the worker's files at the app's root, as the package ships them and with the content types a browser runs", async () => {
    for (const [name, type] of Object.entries(WORKER_FILES)) {
      const answer = await fetched(dev.origin, `/${name}`);
      assert.equal(answer.status, 200, name);
      assert.ok(answer.type.startsWith(type), `${name}: ${answer.type}`);
      assert.ok(answer.body.equals(await installed(name)), `${name}: the package's bytes`);
    }
  });

  test("a push to the worker the app registered from the dev server is shown and listed on the app's page", async () => {
    const { page } = app;
    assert.equal(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL), `${dev.origin}/usernotify-sw.js`);
    await page.locator('#worker', { hasText: 'registered' }).waitFor();
    const report = await app.push(visual('Built in dev', 'served by vite', { appNotificationId: 'dev-1' }));
    assert.deepEqual([report.outcome, report.stored], ['shown', true]);
    assert.deepEqual((await app.shown()).map((n) => n.title), ['Built in dev']);
    const items = await until(listedIn(page), (list) => list.length > 0, { what: 'the entry listed' });
    assert.deepEqual(items, [{ title: 'Built in dev', body: 'served by vite', state: 'unread' }]);
  });
});

describe("the plugin's path option", { timeout: 120_000 }, () => {
  let app;
  before(async () => {
    const { default: usernotify } = await fromApp('usernotify/vite');
    app = await tinyApp({
      plugins: [usernotify({ path: '/push/' })],
      script: "navigator.serviceWorker.register('/push/usernotify-sw.js', { type: 'module', scope: '/' });",
    });
  });
  after(() => app?.remove());

  test("vite build writes the worker's files under the path, and nothing of them at the root", async () => {
    await app.build();
    for (const name of Object.keys(WORKER_FILES)) {
      assert.ok((await readFile(join(app.dir, 'dist', 'push', name))).equals(await installed(name)), name);
      await assert.rejects(readFile(join(app.dir, 'dist', name)), { code: 'ENOENT' });
    }
  });

  test('the dev server serves them under the path, and a worker registered from there controls and notifies the whole app', async () => {
    const dev = await app.serve();
    let browser;
    try {
      for (const [name, type] of Object.entries(WORKER_FILES)) {
        const answer = await fetched(dev.origin, `/push/${name}`);
        assert.deepEqual([answer.status, answer.type.split(';')[0], answer.allowed], [200, type, '/'], name);
        assert.ok(answer.body.equals(await installed(name)), `${name}: the package's bytes`);
      }
      browser = await openApp(dev.origin);
      const report = await browser.push(visual('From /push/', 'a worker under a path', { appNotificationId: 'path-1' }));
      assert.equal(report.outcome, 'shown');
      assert.deepEqual((await browser.shown()).map((n) => n.title), ['From /push/']);
    } finally {
      await browser?.close();
      await dev.stop();
    }
  });
});

describe('a worker whose wasm is not served', { timeout: 120_000 }, () => {
  test("the page API's workerReady() rejects with worker-failed and the worker's reason instead of claiming to be ready, and subscribe() says the same", async () => {
    // The app registers the worker copied without its wasm, then asks whether it runs, as the
    // README's app does; Vite's dev server answers the missing wasm with its index.html.
    const app = await tinyApp({
      publicFiles: ['usernotify-sw.js'],
      // The page API as the plugin leaves it (its glue beside its wasm), without the plugin.
      // (Its node_modules are tests/webapp's, linked: the dev server may serve from there.)
      plugins: [{ name: 'page-api-unbundled', config: () => ({ optimizeDeps: { exclude: ['usernotify'] }, server: { fs: { strict: false } } }) }],
      script: `import init, { NotificationClient } from 'usernotify';
        try {
          await navigator.serviceWorker.register('/usernotify-sw.js', { type: 'module', scope: '/' });
          await init();
          const client = await NotificationClient.open();
          const outcome = (call) => call.then(() => 'resolved', (error) => ({ name: error.name, message: error.message }));
          window.__ready = await outcome(client.workerReady());
          window.__subscribed = await outcome(client.subscribe({ serviceUrl: 'http://127.0.0.1:9', accessToken: 't', targetHostName: 'localhost' }));
        } catch (error) {
          window.__ready = { failed: String(error) };
        }`,
    });
    const dev = await app.serve();
    const browser = await launchChromiumBrowser();
    try {
      const context = await browser.newContext();
      await context.grantPermissions(['notifications'], { origin: dev.origin });
      const page = await context.newPage();
      await page.goto(`${dev.origin}/`);
      const ready = await until(() => page.evaluate(() => window.__ready), Boolean, { what: 'workerReady() settled', timeout: 30_000 });
      const reason = `usernotify: the app's service worker cannot run: cannot load ${dev.origin}/usernotify_worker_bg.wasm: 200, text/html (is the wasm served?)`;
      assert.deepEqual(ready, { name: 'worker-failed', message: reason });
      const subscribed = await until(() => page.evaluate(() => window.__subscribed), Boolean, { what: 'subscribe() settled', timeout: 30_000 });
      assert.deepEqual(subscribed, { name: 'worker-failed', message: reason });
    } finally {
      await browser.close();
      await dev.stop();
      await app.remove();
    }
  });

  test("copied into public/ without its wasm and run by Vite's dev server: one console error names the wasm's URL, its 200 and text/html, and asks whether the wasm is served", async () => {
    // Without the plugin, the developer copied the worker script alone; Vite's dev server
    // answers the missing wasm with its index.html, status 200.
    const app = await tinyApp({
      publicFiles: ['usernotify-sw.js'],
      script: `window.__worker = 'registering';
        navigator.serviceWorker.register('/usernotify-sw.js', { type: 'module', scope: '/' }).then((registration) => {
          const worker = registration.installing;
          worker.addEventListener('statechange', () => { window.__worker = worker.state; });
        });`,
    });
    const dev = await app.serve();
    const browser = await launchChromiumBrowser();
    try {
      const context = await browser.newContext();
      const lines = [];
      context.on('serviceworker', (worker) => worker.on('console', (message) => lines.push({ type: message.type(), text: message.text() })));
      const page = await context.newPage();
      await page.goto(`${dev.origin}/`);
      await until(() => page.evaluate(() => window.__worker), (state) => state === 'redundant', { what: 'the worker failing to install' });
      const errors = await until(() => lines.filter((line) => line.type === 'error'), (list) => list.length > 0, { what: "the worker's console error" });
      assert.deepEqual(errors.map((line) => line.text), [
        `usernotify: cannot load ${dev.origin}/usernotify_worker_bg.wasm: 200, text/html (is the wasm served?)`,
      ]);
    } finally {
      await browser.close();
      await dev.stop();
      await app.remove();
    }
  });
});
