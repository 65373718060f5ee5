// The package's classic worker build (pkg/usernotify-sw.classic.js), for browsers without
// module service workers: pulled in with importScripts by an app's own classic worker in
// another directory (fixtures/classic-sw.js, which sets self.usernotifyBase), and registered
// directly. Each is a classic worker on its own scope; pushes reach it through the DevTools
// protocol in Chromium and through Firefox's real push path in Firefox (where the classic
// build is what Firefox before 147 and ESR 140 need), and the feed is read back through the
// package's page API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BROWSERS, inBrowser, openDemo, until, visual } from './harness.mjs';

for (const browser of BROWSERS) describe(`the classic service worker build ${inBrowser(browser)}`, () => {
  let demo;
  before(async () => {
    demo = await openDemo({ browser });
  });
  // A cold start needs the DevTools protocol to stop the worker: Chromium only.
  const starts = browser === 'chromium' ? ['warm', 'cold'] : ['warm'];
  after(() => demo?.close());

  /** Pushes to `worker` and resolves with its report to the open page. */
  const push = async (worker, data) => {
    const count = () => demo.page.evaluate(() => window.__handled.length);
    const before = await count();
    await worker.pushBlind(data);
    await until(count, (now) => now > before, { what: 'the push handled' });
    return demo.page.evaluate((index) => window.__handled[index], before);
  };

  /** Registers `script` as a classic worker; fails if it does not install (e.g. no wasm). */
  const install = (script, scope) =>
    demo.page.evaluate(async ([url, at]) => {
      const registration = await navigator.serviceWorker.register(url, { type: 'classic', scope: at });
      const worker = registration.installing || registration.waiting || registration.active;
      await new Promise((resolve, reject) => {
        const settle = () => {
          if (worker.state === 'activated') resolve();
          if (worker.state === 'redundant') reject(new Error(`${url} failed to install`));
        };
        worker.addEventListener('statechange', settle);
        settle();
      });
      return [registration.active.scriptURL, registration.scope];
    }, [script, scope]);

  /** The origin's feed as the page API lists it. */
  const feed = () =>
    demo.page.evaluate(async () => {
      const { default: init, NotificationClient } = await import('/pkg/usernotify.js');
      await init();
      const client = await NotificationClient.open();
      return (await client.getAllNotifications()).map(({ id, title, body }) => ({ id, title, body }));
    });

  const cases = [
    ["an app's classic worker that imports it with importScripts and self.usernotifyBase", '/fixtures/classic-sw.js', '/fixtures/classic/'],
    ['the classic build registered directly', '/pkg/usernotify-sw.classic.js', '/classic/'],
  ];
  for (const [name, script, scope] of cases) {
    const alsoCold = starts.length > 1 ? ', also after a cold start' : '';
    test(`${name} shows a pushed notification and stores it in the feed${alsoCold}`, { timeout: 30_000 }, async () => {
      const registered = await install(script, scope);
      assert.deepEqual(registered, [new URL(script, demo.origin).href, new URL(scope, demo.origin).href]);
      // Registered already: this only finds the registration, to push to it.
      const worker = await demo.registerWorker(script, scope, 'classic');

      for (const [index, start] of starts.entries()) {
        if (start === 'cold') await demo.stopWorker();
        const id = `${scope}${start}`;
        const title = `Classic ${scope} ${start}`;
        const report = await push(worker, visual(title, `pushed ${index}`, { appNotificationId: id }));
        assert.deepEqual([report.outcome, report.key, report.stored], ['shown', id, true]);
        const shown = await worker.shown();
        assert.ok(shown.some((n) => n.title === title && n.body === `pushed ${index}`), `shown: ${JSON.stringify(shown)}`);
        assert.deepEqual((await feed()).find((entry) => entry.id === id), { id, title, body: `pushed ${index}` });
      }
    });
  }
});
