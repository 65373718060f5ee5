// What a user sees when pushes reach the demo's usernotify worker (CONTRACT.md §2).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BROWSERS, chromiumOnly, inBrowser, inMinutes, keeps, notInWebKit, openDemo, sleep, until, visual } from './harness.mjs';

const STATUS_TAG = 'usernotify-status';

/** The seed's POST /me/notifications example, verbatim (it expired in 2019). */
const SEED = {
  targetHostName: 'graphnotifications.sample.windows.com',
  appNotificationId: 'testDirectToastNotification',
  expirationDateTime: '2019-10-30T23:59:00.000Z',
  payload: { visualContent: { title: 'Hello World!', body: 'Notifications are Great!' } },
  targetPolicy: { platformTypes: ['windows', 'ios', 'android'] },
  priority: 'High',
  groupName: 'TestGroup',
  displayTimeToLive: '60',
};

const only = (list) => {
  assert.equal(list.length, 1, `exactly one notification expected: ${JSON.stringify(list)}`);
  return list[0];
};

/** The quiet status: silent, fixed tag, and nothing of the push in it. */
const assertQuietStatusOnly = (list, pushed) => {
  const status = only(list);
  assert.equal(status.tag, STATUS_TAG);
  assert.equal(status.silent, true);
  for (const text of [status.title, status.body]) {
    assert.ok(text && !/undefined|null|error|invalid|expired|NaN/i.test(text), `status text: ${text}`);
    if (pushed) assert.ok(!text.includes(pushed), `status shows pushed text: ${text}`);
  }
};

const STOPS_WORKER = 'CDP ServiceWorker.stopAllWorkers to stop the worker';

/** In WebKit, waits until the desktop shows `expected` (`[title, body]` pairs); elsewhere nothing. */
const onDesktop = (demo, expected) =>
  demo.onDesktop
  && until(demo.onDesktop, (list) => JSON.stringify(list) === JSON.stringify(expected), { what: `the desktop showing ${JSON.stringify(expected)}` });

for (const browser of BROWSERS) describe(`the usernotify worker ${inBrowser(browser)}`, () => {
  let demo;
  before(async () => {
    demo = await openDemo({ browser });
  });
  after(() => demo?.close());
  beforeEach(async () => {
    await demo.closeAll();
    await demo.shownWhen((list) => list.length === 0, 'a clean screen');
  });

  test('the seed example with a future expiry shows "Hello World!" / "Notifications are Great!"', async () => {
    await demo.push({ ...SEED, expirationDateTime: inMinutes(30) });
    const shown = only(await demo.shownWhen((list) => list.length > 0, 'the seed notification'));
    assert.equal(shown.title, 'Hello World!');
    assert.equal(shown.body, 'Notifications are Great!');
    if (keeps(browser, 'requireInteraction')) assert.equal(shown.requireInteraction, true, 'High priority stays until the user acts');
    assert.equal(shown.tag, 'usernotify-group:TestGroup');
    await onDesktop(demo, [['Hello World!', 'Notifications are Great!']]);
  });

  test('the seed example verbatim, expired since 2019, shows nothing of it', async () => {
    const report = await demo.push(SEED);
    assert.equal(report.outcome, 'expired');
    assertQuietStatusOnly(await demo.shownWhen((list) => list.length > 0, 'the status'), 'Hello World!');
    await onDesktop(demo, [['Notifications', "You're all caught up."]]);
  });

  test('an expired push adds nothing when another notification of the app is already visible', async () => {
    await demo.push(visual('Still here', 'visible', { appNotificationId: 'keep' }));
    await demo.shownWhen((list) => list.length === 1, 'the first notification');
    await demo.push({ ...SEED, appNotificationId: 'late' });
    await sleep(500);
    const shown = only(await demo.shown());
    assert.equal(shown.title, 'Still here');
  });

  const invalidBodies = {
    'an empty body': ['', 'empty-body'],
    'text that is not JSON': ['Hello World!', 'malformed-json'],
    'an array of notifications': [JSON.stringify([visual('Hello World!', 'in an array')]), 'body-is-array'],
    'a title of the wrong type': [JSON.stringify({ payload: { visualContent: { title: ['Hello World!'] } } }), 'contract-mismatch'],
    'no content at all': [JSON.stringify({ appNotificationId: 'Hello World!' }), 'invalid-payload'],
    'a title missing': [JSON.stringify({ payload: { visualContent: { body: 'Hello World!' } } }), 'missing-title'],
    'a negative display time': [JSON.stringify(visual('Hello World!', 'b', { displayTimeToLive: -5 })), 'negative-ttl'],
    'an unparseable expiry': [JSON.stringify(visual('Hello World!', 'b', { expirationDateTime: 'soon' })), 'invalid-date'],
    'an expiry beyond 30 days': [JSON.stringify(visual('Hello World!', 'b', { expirationDateTime: inMinutes(31 * 24 * 60) })), 'expires-too-late'],
    'an icon that is not https': [JSON.stringify({ payload: { visualContent: { title: 'Hello World!', icon: 'http://cdn.example/i.png' } } }), 'invalid-media-url'],
    'three buttons': [JSON.stringify({ payload: { visualContent: { title: 'Hello World!', actions: ['a', 'b', 'c'].map((name) => ({ action: name, title: name })) } } }), 'too-many-actions'],
    // As deep as still fits one Web Push message (4096 bytes encrypted): Firefox's real push
    // path carries nothing bigger.
    'deeply nested junk': ['{"a":' + '['.repeat(1900) + ']'.repeat(1900) + '}', 'invalid-payload'],
  };
  for (const [name, [body, code]] of Object.entries(invalidBodies)) {
    test(`a push with ${name} is refused as ${code} and leaves only the quiet status notification`, async () => {
      const report = await demo.push(body);
      assert.equal(report.outcome, code);
      assertQuietStatusOnly(await demo.shown(), 'Hello World!');
    });
  }

  test('the quiet status notification gives way to the next real notification', async () => {
    await demo.push('not json');
    await demo.shownWhen((list) => list.some((n) => n.tag === STATUS_TAG), 'the status');
    await demo.push(visual('Real one', 'arrived', { appNotificationId: 'real' }));
    const shown = only(await demo.shownWhen((list) => list.length === 1 && list[0].title === 'Real one', 'only the real one'));
    assert.equal(shown.body, 'arrived');
  });

  test(`high priority ${keeps(browser, 'requireInteraction') ? 'requires interaction' : 'is not silent'}, low priority is silent, none is neither`, async () => {
    await demo.push(visual('High', 'h', { appNotificationId: 'p-high', priority: 'High' }));
    await demo.push(visual('Low', 'l', { appNotificationId: 'p-low', priority: 'Low' }));
    await demo.push(visual('None', 'n', { appNotificationId: 'p-none', priority: 'None' }));
    const list = await demo.shownWhen((shown) => shown.length === 3, 'three notifications');
    const byTitle = Object.fromEntries(list.map((n) => [n.title, n]));
    assert.deepEqual([byTitle.High.silent, byTitle.Low.silent, byTitle.None.silent], [false, true, false]);
    if (keeps(browser, 'requireInteraction')) {
      assert.deepEqual([byTitle.High.requireInteraction, byTitle.Low.requireInteraction, byTitle.None.requireInteraction], [true, false, false]);
    } else {
      assert.deepEqual([byTitle.High.requireInteraction, byTitle.Low.requireInteraction], [undefined, undefined], 'WebKit has no requireInteraction');
    }
  });

  test('a group shows one notification with the newest title and body and the count', async () => {
    for (const [index, title] of ['First', 'Second', 'Third'].entries()) {
      const report = await demo.push(visual(title, `body ${index}`, { appNotificationId: `g-${index}`, groupName: 'news' }));
      assert.deepEqual([report.outcome, report.key], ['shown', `g-${index}`]);
    }
    const group = only(await demo.shown());
    assert.equal(group.title, 'Third (3)');
    assert.equal(group.body, 'body 2');
    assert.equal(group.data.usernotify.count, 3);
    await onDesktop(demo, [['Third (3)', 'body 2']]);
  });

  test('the same id again replaces its notification and never duplicates or recounts', async () => {
    await demo.push(visual('Draft', 'v1', { appNotificationId: 'same' }));
    await demo.shownWhen((list) => list.length === 1, 'the first version');
    await demo.push(visual('Final', 'v2', { appNotificationId: 'same' }));
    const shown = only(await demo.shownWhen((list) => list[0]?.title === 'Final', 'the replacement'));
    assert.equal(shown.body, 'v2');

    await demo.push(visual('G', 'one', { appNotificationId: 'dup', groupName: 'dups' }));
    await demo.push(visual('G', 'one again', { appNotificationId: 'dup', groupName: 'dups' }));
    const list = await demo.shownWhen((all) => all.some((n) => n.body === 'one again'), 'the group update');
    const group = list.find((n) => n.tag === 'usernotify-group:dups');
    assert.equal(group.title, 'G', 'one member only: no count');
  });

  test('text in any script, with emoji, quotes, escapes and control characters, is shown exactly as sent', async () => {
    const title = 'Zoë’s “order” 📦 — 注文 #7';
    const body = 'Line one\nTab\there \\ "quoted" \u0007 ünïcödé 🚚';
    const report = await demo.push(visual(title, body, { appNotificationId: 'text-ü-📦', groupName: 'grüppe 📬' }));
    assert.deepEqual([report.outcome, report.key], ['shown', 'text-ü-📦']);
    const shown = only(await demo.shown());
    assert.deepEqual([shown.title, shown.body, shown.tag], [title, body, 'usernotify-group:grüppe 📬']);
    assert.deepEqual(shown.data.usernotify.members, ['text-ü-📦']);
  });

  test('ungrouped notifications each keep their own', async () => {
    await demo.push(visual('One', '1', { appNotificationId: 'u1' }));
    await demo.push(visual('Two', '2', { appNotificationId: 'u2' }));
    const list = await demo.shownWhen((shown) => shown.length === 2, 'two notifications');
    assert.deepEqual(list.map((n) => n.title).sort(), ['One', 'Two']);
  });

  test('a display time to live closes the notification after that many seconds', async () => {
    await demo.push(visual('Brief', 'gone soon', { appNotificationId: 'ttl', displayTimeToLive: '1' }));
    await demo.shownWhen((list) => list.length === 1, 'the brief notification');
    const started = Date.now();
    await demo.shownWhen((list) => list.length === 0, 'the close after 1 s', 5_000);
    assert.ok(Date.now() - started >= 500, 'not closed before its time');
  });

  test('a stopped worker closes what outlived its display time on its next push', chromiumOnly(browser, STOPS_WORKER), async () => {
    await demo.push(visual('Brief', 'outlives its worker', { appNotificationId: 'ttl-cold', displayTimeToLive: 1 }));
    await demo.shownWhen((list) => list.length === 1, 'the brief notification');
    await demo.stopWorker();
    await sleep(1_500);
    await demo.push(visual('Next', 'arrives', { appNotificationId: 'after-ttl' }));
    const shown = only(await demo.shownWhen((list) => list.some((n) => n.title === 'Next') && list.length === 1, 'only the next one'));
    assert.equal(shown.body, 'arrives');
  });

  test('a push to a stopped worker is shown on the cold start', chromiumOnly(browser, STOPS_WORKER), async () => {
    await demo.stopWorker();
    await demo.push(visual('Cold', 'start', { appNotificationId: 'cold' }));
    const shown = only(await demo.shownWhen((list) => list.length === 1, 'the cold-start notification'));
    assert.equal(shown.title, 'Cold');
  });

  test('a burst of pushes into one group loses none and shows one notification with the full count', async () => {
    const burst = 30;
    await demo.pushAll(
      Array.from({ length: burst }, (_, index) =>
        visual(`Message ${index}`, `b${index}`, { appNotificationId: `burst-${index}`, groupName: 'burst' })),
    );
    const group = only(
      await demo.shownWhen((list) => list[0]?.data?.usernotify?.count === burst, `the count ${burst}`, 15_000),
    );
    assert.match(group.title, new RegExp(`\\(${burst}\\)$`));
  });

  test('a burst of ungrouped pushes shows every one of them', async () => {
    await demo.pushAll(
      Array.from({ length: 12 }, (_, index) => visual(`Item ${index}`, 'x', { appNotificationId: `item-${index}` })),
    );
    const list = await demo.shownWhen((shown) => shown.length === 12, 'twelve notifications');
    assert.equal(new Set(list.map((n) => n.tag)).size, 12);
  });

  test('raw content goes to the visible page and shows nothing', async () => {
    const received = demo.page.evaluate(
      () => new Promise((resolve) =>
        navigator.serviceWorker.addEventListener('message', (event) => {
          if (event.data?.type === 'usernotify-raw') resolve(event.data);
        })),
    );
    const report = await demo.push({ appNotificationId: 'raw-1', expirationDateTime: inMinutes(5), payload: { rawContent: 'order 42 shipped' } });
    assert.deepEqual([report.outcome, report.key], ['taken-by-app', 'raw-1']);
    const message = await received;
    assert.equal(message.rawContent, 'order 42 shipped');
    assert.equal(message.notification.appNotificationId, 'raw-1');
    await sleep(300);
    assert.deepEqual(await demo.shown(), []);
  });

  const NO_PAGE = 'a push while no page of the app is open (WebKitGTK has no push service: pushes come from a page, which is visible)';

  test('raw content is shown as text under a default title when no page is visible', notInWebKit(browser, NO_PAGE), async () => {
    await demo.page.goto('about:blank');
    try {
      await demo.pushBlind({ appNotificationId: 'raw-2', payload: { rawContent: '<b>order</b> 43' } });
      await sleep(500);
    } finally {
      await demo.page.goto(`${demo.origin}/`);
    }
    const shown = only(await demo.shownWhen((list) => list.length > 0, 'the raw fallback'));
    assert.equal(shown.title, 'New notification');
    assert.equal(shown.body, '<b>order</b> 43');
  });

  describe('with a raw-content hook in the app\'s own worker', notInWebKit(browser, NO_PAGE), () => {
    let hooked;
    before(async () => {
      hooked = await demo.registerWorker('/fixtures/hook-sw.js', '/fixtures/');
    });

    /** Pushes with no page of the app visible, then reads what the hooked worker shows. */
    const pushUnseen = async (rawContent) => {
      await demo.page.goto('about:blank');
      try {
        await hooked.pushBlind({ appNotificationId: `hook-${rawContent}`, payload: { rawContent } });
        await sleep(700);
      } finally {
        await demo.page.goto(`${demo.origin}/`);
      }
      const list = await hooked.shown();
      await demo.page.evaluate(async () => {
        const registration = await navigator.serviceWorker.getRegistration('/fixtures/');
        for (const n of await registration.getNotifications()) n.close();
      });
      return list;
    };

    test('a hook that shows its own notification replaces the default one', async () => {
      const list = await pushUnseen('show:order 44 packed');
      assert.deepEqual(list.map((n) => [n.title, n.body]), [['From the hook', 'order 44 packed']]);
    });

    test('a hook that says it handled the raw content leaves nothing more to show', async () => {
      assert.deepEqual(await pushUnseen('handled:sync done'), []);
    });

    test('a hook that throws still leaves the raw text under the default title', async () => {
      const list = await pushUnseen('throw:order 45');
      assert.deepEqual(list.map((n) => [n.title, n.body]), [['New notification', 'throw:order 45']]);
    });
  });

  /** Submits the demo's form; what is shown once the worker handled it. */
  const submitForm = async () => {
    const before = await demo.page.evaluate(() => window.__handled.length);
    await demo.click('form#compose button[type=submit]');
    await until(() => demo.page.evaluate(() => window.__handled.length), (count) => count > before, { what: 'the form push handled' });
    return only(await demo.shownWhen((list) => list.length > 0, 'the form notification'));
  };

  test("a push's icon, image, badge and buttons are shown where the browser has them", async () => {
    const pictures = { icon: '/fixtures/icon.png', image: '/fixtures/image.png', badge: '/fixtures/icon.png' };
    const actions = [{ action: 'track', title: 'Track', url: '/orders/7' }, { action: 'later', title: 'Later' }];
    const report = await demo.push({ ...visual('Rich', 'pictures and buttons'), appNotificationId: 'rich', payload: { visualContent: { title: 'Rich', body: 'pictures and buttons', ...pictures, actions } } });
    assert.equal(report.outcome, 'shown');
    const shown = only(await demo.shown());
    const url = (path) => new URL(path, demo.origin).href;
    const expected = {
      icon: url('/fixtures/icon.png'),
      image: url('/fixtures/image.png'),
      badge: url('/fixtures/icon.png'),
      actions: [{ action: 'track', title: 'Track' }, { action: 'later', title: 'Later' }],
    };
    for (const [member, value] of Object.entries(expected)) {
      assert.deepEqual(shown[member], keeps(browser, member) ? value : undefined, member);
    }
  });

  test('a Declarative Web Push message from another sender is shown and kept in the feed', async () => {
    const report = await demo.push({ web_push: 8030, notification: { title: 'From another sender', body: 'declarative', navigate: '/elsewhere', tag: 'other-1', icon: '/fixtures/icon.png' } });
    assert.deepEqual([report.outcome, report.key, report.stored], ['shown', 'other-1', true]);
    const shown = only(await demo.shown());
    assert.deepEqual([shown.title, shown.body, shown.tag, shown.icon], ['From another sender', 'declarative', 'usernotify:other-1', new URL('/fixtures/icon.png', demo.origin).href]);
  });

  test('the demo form sends an icon, an image and two buttons', async () => {
    // Pictures and buttons are among the form's "More fields".
    await demo.page.evaluate(() => { document.querySelector('details.more').open = true; });
    await demo.fill('input[name=title]', 'Buttons from the form');
    await demo.fill('input[name=groupName]', '');
    await demo.fill('input[name=icon]', '/fixtures/icon.png');
    await demo.fill('input[name=image]', '/fixtures/image.png');
    await demo.fill('input[name=action1]', 'Track = /orders/7');
    await demo.fill('input[name=action2]', 'Later');
    const shown = await submitForm();
    assert.equal(shown.title, 'Buttons from the form');
    assert.equal(shown.icon, new URL('/fixtures/icon.png', demo.origin).href);
    if (keeps(browser, 'actions')) assert.deepEqual(shown.actions, [{ action: 'track', title: 'Track' }, { action: 'later', title: 'Later' }]);
    if (keeps(browser, 'image')) assert.equal(shown.image, new URL('/fixtures/image.png', demo.origin).href);
    const sent = JSON.parse(await demo.page.evaluate(() => document.getElementById('sent-json').textContent));
    assert.deepEqual(sent.payload.visualContent.actions, [{ action: 'track', title: 'Track', url: '/orders/7' }, { action: 'later', title: 'Later' }]);
    for (const name of ['icon', 'image', 'action1', 'action2']) await demo.fill(`input[name=${name}]`, '');
  });

  test('the demo form sends a notification through the worker with no push service', async () => {
    await demo.fill('input[name=title]', 'From the form');
    await demo.fill('input[name=body]', 'Notifications are Great!');
    await demo.fill('input[name=groupName]', '');
    const shown = await submitForm();
    assert.equal(shown.title, 'From the form');
    assert.equal(shown.body, 'Notifications are Great!');
    await until(async () => (await demo.texts('#events li'))[0], (text) => /: shown$/.test(text ?? ''), { what: 'the outcome listed on the page' });
  });

  const WASM = '/pkg/usernotify_worker_bg.wasm';

  /**
   * A cold push while the worker's wasm is not in the Cache Storage (the browser evicted it)
   * and `answers` (one of the demo server's test sets) makes the server answer it wrongly:
   * only the quiet status is shown; then a push with the wasm served again is shown.
   */
  const pushWithoutModule = async (answers, id) => {
    answers.add(WASM);
    try {
      await demo.page.evaluate(async () => {
        for (const name of await caches.keys()) if (name.startsWith('usernotify-')) await caches.delete(name);
      });
      await demo.stopWorker();
      await demo.pushBlind(visual('Hello World!', 'lost with the module', { appNotificationId: id }));
      // No report comes without the module: read once, well after the fallback has shown.
      await sleep(1_500);
      assertQuietStatusOnly(await demo.shown(), 'Hello World!');
    } finally {
      answers.delete(WASM);
    }
    const report = await demo.push(visual('Back', 'the module loads again', { appNotificationId: `${id}-back` }));
    assert.equal(report.outcome, 'shown');
    assert.equal(only(await demo.shown()).title, 'Back');
  };

  test("a push while the server answers the wasm with an HTML page logs one console error naming the wasm's URL, 200 and text/html, still leaves the quiet status, and the next push works", chromiumOnly(browser, `${STOPS_WORKER}, and Playwright's service-worker console events`), async () => {
    const errors = [];
    const collect = (message) => message.type() === 'error' && errors.push(message.text());
    const listen = (worker) => worker.on('console', collect);
    demo.context.serviceWorkers().forEach(listen);
    demo.context.on('serviceworker', listen);
    try {
      await pushWithoutModule(demo.answeredWithPage, 'html-module');
    } finally {
      demo.context.off('serviceworker', listen);
      for (const worker of demo.context.serviceWorkers()) worker.off('console', collect);
    }
    assert.deepEqual(errors, [`usernotify: cannot load ${demo.origin}${WASM}: 200, text/html; charset=utf-8 (is the wasm served?)`]);
  });

  test('a push while the wasm module cannot load (not cached, and its server answers 503) still leaves the quiet status, and the next push works', chromiumOnly(browser, STOPS_WORKER), async () => {
    await pushWithoutModule(demo.unavailable, 'no-module');
  });

  test('pushed markup is shown by the demo as text, never as markup', async () => {
    const markup = '<img src=x onerror="window.__pwned = true">';
    await demo.push({ appNotificationId: 'markup', payload: { rawContent: markup, visualContent: { title: markup } } });
    const item = (await demo.texts('#events li')).find((text) => text.includes('raw content'));
    assert.equal(item, `raw content markup: ${markup}`);
    assert.deepEqual(await demo.texts('#events img'), []);
    assert.equal(await demo.page.evaluate(() => window.__pwned), undefined);
    const shown = only(await demo.shown());
    assert.equal(shown.title, markup, 'the notification title is plain text too');
  });

  test('the worker logs why a push was refused, with its stable code, to the console only', chromiumOnly(browser, "Playwright's service-worker console events"), async () => {
    const worker = demo.context.serviceWorkers()[0];
    assert.ok(worker, 'the worker is visible to the test');
    const lines = [];
    worker.on('console', (message) => lines.push(message.text()));
    await demo.push('[]');
    await until(() => lines, (all) => all.some((line) => line.includes('body-is-array')), { what: 'the console line' });
  });
});
