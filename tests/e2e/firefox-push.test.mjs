// The whole flow through Firefox's real push path, with nothing in the browser replaced:
// the demo page subscribes through the package (Firefox's own PushManager.subscribe with the
// service's VAPID key), the app service (the real binary, its SQLite file) stores the UNSID,
// encrypts (RFC 8291) and signs (RFC 8292) each post, the loopback push service relays it
// over Firefox's push WebSocket, Firefox decrypts it and fires `push` in the usernotify
// worker, which shows it and stores it in the feed. The push service (push-server.mjs) is
// the only stand-in: the browser vendor's own cannot be reached from a test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import webpush from 'web-push';
import { BROWSERS, openDemo, sleep, until, visual, withClient } from './harness.mjs';
import { buildService, deliveries, endpointTag, startService } from './service.mjs';

const TOKEN = 'firefox-token';
const HOST = 'demo.usernotify.test';

const skip = !BROWSERS.includes('firefox') && 'USERNOTIFY_BROWSERS leaves Firefox out';

describe("the whole flow through Firefox's real push path", { skip }, () => {
  let demo;
  let service;
  let dataDir;

  before(async () => {
    buildService();
    demo = await openDemo({ browser: 'firefox', subscribe: false });
    dataDir = mkdtempSync(join(tmpdir(), 'usernotify-firefox-'));
    service = await startService({
      HOST: '127.0.0.1',
      PORT: '0',
      USERNOTIFY_DB: join(dataDir, 'usernotify.db'),
      USERNOTIFY_TOKENS: `${TOKEN}:firefox-user`,
      USERNOTIFY_ALLOW_LOOPBACK_PUSH: '1',
      USERNOTIFY_CORS_ORIGINS: demo.origin,
      USERNOTIFY_STATIC: '',
      RUST_LOG: 'info',
    });
  });
  after(async () => {
    service?.child.kill();
    await demo?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Runs `call(client, arg)` in the demo page with the package's page API. */
  const client = (call, arg) => withClient(demo.page, call, arg);

  const options = () => ({ serviceUrl: service.url, accessToken: TOKEN, targetHostName: HOST, displayName: 'Headless Firefox' });
  const authorized = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
  const post = (uns, notification) =>
    fetch(`${service.url}/me/notifications`, { method: 'POST', headers: { ...authorized, 'X-UNS': uns }, body: JSON.stringify(notification) });
  /** Firefox's own push subscription of the registration of `scope` (the demo's when null). */
  const browserSubscription = (scope = null) =>
    demo.page.evaluate(async (at) => {
      const registration = at ? await navigator.serviceWorker.getRegistration(at) : await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.getSubscription();
      if (!subscription) return null;
      const key = new Uint8Array(subscription.options.applicationServerKey);
      return { ...subscription.toJSON(), applicationServerKey: btoa(String.fromCharCode(...key)) };
    }, scope);
  const handledSince = (from) => demo.page.evaluate((at) => window.__handled.slice(at), from);
  const handledCount = () => demo.page.evaluate(() => window.__handled.length);
  /** The service's `push delivery` log lines for `endpoint`. */
  const deliveriesTo = (endpoint) => deliveries(service).filter((line) => line.endpoint === endpointTag(endpoint));

  test("a post to the service is decrypted by Firefox, shown by the worker and listed by getNotifications() and getAllNotifications()", async () => {
    const subscribed = await client((c, value) => c.subscribe(value), options());
    assert.match(subscribed.id, /^[A-Za-z0-9_-]{22,}$/, 'an unguessable, URL-safe UNSID');
    assert.ok(subscribed.endpoint.startsWith(`${demo.pushServer.origin}/wpush/v2/`), `an endpoint Firefox got from its push service: ${subscribed.endpoint}`);
    const { publicKey } = await (await fetch(`${service.url}/vapidPublicKey`, { headers: authorized })).json();
    const own = await browserSubscription();
    assert.equal(own.endpoint, subscribed.endpoint, "the browser's own subscription is the one registered");
    assert.equal(Buffer.from(own.applicationServerKey, 'base64').toString('base64url'), publicKey, "subscribed with the service's VAPID key");

    const before = await handledCount();
    const answer = await post(subscribed.id, visual('Through Firefox', 'decrypted by the browser', { appNotificationId: 'firefox-whole-flow', targetHostName: HOST, priority: 'High' }));
    const text = await answer.text();
    assert.equal(answer.status, 201, text);
    const created = JSON.parse(text);
    const [report] = await until(() => handledSince(before), (list) => list.length > 0, { what: "the worker's report of the push" });
    assert.deepEqual([report.outcome, report.key, report.stored], ['shown', created.id, true]);

    const shown = (await demo.shown()).find((n) => n.title === 'Through Firefox');
    assert.ok(shown, 'on screen');
    assert.equal(shown.body, 'decrypted by the browser');
    assert.equal(shown.requireInteraction, true, 'High priority stays until the user acts');
    const listed = (await client((c) => c.getAllNotifications())).find((entry) => entry.id === created.id);
    assert.deepEqual([listed?.title, listed?.body, listed?.readState], ['Through Firefox', 'decrypted by the browser', 'unread']);

    // What each side recorded: the push service accepted one aes128gcm message for this
    // endpoint with the service's Topic and Urgency, and Firefox acknowledged it as delivered
    // (ack code 100); the service logged the delivery as 201.
    const accepted = demo.pushServer.log.find((entry) => entry.event === 'accepted' && entry.endpoint === subscribed.endpoint);
    assert.deepEqual([accepted.urgency, accepted.topic], ['high', 'firefox-whole-flow']);
    assert.deepEqual(demo.pushServer.fate(accepted.version).map((entry) => [entry.event, entry.status ?? entry.code]), [['accepted', 201], ['ack', 100]]);
    const [logged] = await until(() => deliveriesTo(subscribed.endpoint), (lines) => lines.length > 0, { what: "the service's delivery log line" });
    assert.deepEqual([logged.status, logged.outcome], ['201', 'delivered']);
  });

  test("a post with pictures and buttons reaches Firefox beside its Declarative Web Push message, and the worker shows it from the resource", async () => {
    const subscribed = await client((c, value) => c.subscribe(value), options());
    await demo.page.evaluate(() => {
      window.__raw = [];
      navigator.serviceWorker.addEventListener('message', (event) => event.data?.type === 'usernotify-raw' && window.__raw.push(event.data));
    });
    const before = await handledCount();
    const rich = {
      title: 'Rich through Firefox',
      body: 'pictures and buttons',
      url: '/orders/7',
      icon: '/fixtures/icon.png',
      image: '/fixtures/image.png',
      actions: [{ action: 'track', title: 'Track', url: '/orders/7/track' }, { action: 'later', title: 'Later' }],
    };
    const answer = await post(subscribed.id, {
      ...visual('unused', 'unused', { appNotificationId: 'firefox-rich', targetHostName: HOST }),
      // Raw content makes the worker hand the push, as it arrived, to the page.
      payload: { visualContent: rich, rawContent: '{"order":7}' },
    });
    const text = await answer.text();
    assert.equal(answer.status, 201, text);
    const created = JSON.parse(text);
    const [report] = await until(() => handledSince(before), (list) => list.length > 0, { what: "the worker's report" });
    assert.deepEqual([report.outcome, report.key, report.stored], ['shown', created.id, true]);

    // What Firefox decrypted and the worker got: the resource, and the declarative message
    // beside it, which Firefox 153 does not act on (it has no Declarative Web Push).
    const [raw] = await until(() => demo.page.evaluate(() => window.__raw), (list) => list.length > 0, { what: 'the push as the worker got it' });
    const pushed = raw.notification;
    assert.equal(pushed.id, created.id);
    assert.deepEqual(pushed.payload.visualContent, rich);
    assert.equal(pushed.web_push, 8030);
    assert.equal(pushed.mutable, true);
    assert.ok(Number.isInteger(pushed.app_badge) && pushed.app_badge >= 1, `app_badge ${pushed.app_badge}`);
    assert.equal(pushed.notification.app_badge, pushed.app_badge, 'the badge in notification too, where WebKit reads it');
    assert.equal(pushed.notification.mutable, true);
    assert.deepEqual(
      [pushed.notification.title, pushed.notification.navigate, pushed.notification.tag, pushed.notification.icon],
      ['Rich through Firefox', `https://${HOST}/orders/7`, `usernotify:${created.id}`, `https://${HOST}/fixtures/icon.png`],
    );
    assert.deepEqual(pushed.notification.data.id, created.id, 'the resource again, for a mutable push');

    const shown = (await demo.shown()).find((n) => n.title === 'Rich through Firefox');
    assert.ok(shown, 'on screen');
    assert.deepEqual([shown.body, shown.tag, shown.icon], ['pictures and buttons', `usernotify:${created.id}`, new URL('/fixtures/icon.png', demo.origin).href]);
    assert.deepEqual(shown.actions, [{ action: 'track', title: 'Track' }, { action: 'later', title: 'Later' }]);
    const listed = (await client((c) => c.getAllNotifications())).find((entry) => entry.id === created.id);
    assert.deepEqual([listed.icon, listed.image, listed.actions.length], ['/fixtures/icon.png', '/fixtures/image.png', 2]);
    await client((c) => c.unsubscribe());
  });

  test('after unsubscribe() Firefox leaves its push service, posts are refused, and the old endpoint answers 410', async () => {
    const subscribed = await client((c, value) => c.subscribe(value), options());
    const own = await browserSubscription();
    await client((c) => c.unsubscribe());
    assert.equal(await browserSubscription(), null, "Firefox's subscription is gone");
    await until(() => demo.pushServer.log, (log) => log.some((entry) => entry.event === 'unregistered' && entry.code === 200), { what: 'the unregister (code 200, by the user) at the push service' });

    const before = await handledCount();
    const refused = await post(subscribed.id, visual('Not delivered', 'unsubscribed', { targetHostName: HOST }));
    assert.equal(refused.status, 403, 'the UNSID is gone at the service');
    // An app server that still holds the endpoint gets 410 Gone from the push service.
    const keys = webpush.generateVAPIDKeys();
    const request = webpush.generateRequestDetails(own, 'late', {
      vapidDetails: { subject: 'mailto:tests@usernotify.invalid', publicKey: keys.publicKey, privateKey: keys.privateKey },
      TTL: 60,
    });
    const late = await fetch(request.endpoint, { method: 'POST', headers: request.headers, body: request.body });
    assert.equal(late.status, 410);
    await sleep(1_000);
    assert.equal(await handledCount(), before, 'nothing reached the worker');
    assert.ok(!(await demo.shown()).some((n) => n.title === 'Not delivered'));
  });

  test('a subscription Firefox dropped on its own is answered 410 by the push service, the service stops pushing to it, and nothing is shown', async () => {
    const subscribed = await client((c, value) => c.subscribe(value), options());
    // Firefox drops subscriptions by itself (its push quota, a cleared history): the page
    // API is not told. The registration at the app service outlives it.
    await demo.page.evaluate(async () => (await (await navigator.serviceWorker.ready).pushManager.getSubscription()).unsubscribe());
    const before = await handledCount();
    const answer = await post(subscribed.id, visual('Into the void', 'the subscription is gone', { targetHostName: HOST }));
    assert.equal(answer.status, 201, 'the service accepts the post and pushes');
    const [gone] = await until(() => deliveriesTo(subscribed.endpoint), (lines) => lines.length > 0, { what: "the service's delivery log line" });
    assert.deepEqual([gone.status, gone.outcome], ['410', 'subscription-gone']);
    assert.ok(demo.pushServer.log.some((entry) => entry.event === 'refused' && entry.status === 410 && entry.endpoint === subscribed.endpoint));
    // The UNSID still names the user (CONTRACT.md §3), so a post under it is accepted, but
    // the forgotten endpoint is pushed to no more.
    const next = await post(subscribed.id, visual('Still nothing', 'forgotten', { targetHostName: HOST }));
    assert.equal(next.status, 201);
    await sleep(1_000);
    assert.equal(deliveriesTo(subscribed.endpoint).length, 1, 'no second attempt at the gone endpoint');
    assert.equal(demo.pushServer.log.filter((entry) => entry.endpoint === subscribed.endpoint).length, 1, 'nothing more at the push service');
    assert.equal(await handledCount(), before, 'nothing reached the worker');
    assert.ok(!(await demo.shown()).some((n) => ['Into the void', 'Still nothing'].includes(n.title)));
  });

  test("an app worker whose own push listener rejects still shows the notification, and Firefox reports nack 302 for the message the service delivered", async () => {
    const scope = '/fixtures/rejecting/';
    const { publicKey } = await (await fetch(`${service.url}/vapidPublicKey`, { headers: authorized })).json();
    const pushSubscription = await demo.page.evaluate(async ([at, key]) => {
      const registration = await navigator.serviceWorker.register('/fixtures/rejecting-sw.js', { type: 'module', scope: at });
      const worker = registration.installing || registration.waiting || registration.active;
      if (worker.state !== 'activated') {
        await new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve()));
      }
      return (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key })).toJSON();
    }, [scope, publicKey]);
    // The app registers this worker's subscription with the service, as the package does.
    const registered = await fetch(`${service.url}/me/notificationSubscriptions`, {
      method: 'POST',
      headers: authorized,
      body: JSON.stringify({ pushSubscription, targetHostName: HOST, displayName: 'Failing app worker' }),
    });
    const text = await registered.text();
    assert.equal(registered.status, 201, text);
    const { id: uns } = JSON.parse(text);

    const answer = await post(uns, visual('Shown anyway', "the app's handler failed", { appNotificationId: 'firefox-nack', targetHostName: HOST }));
    assert.equal(answer.status, 201);
    const accepted = await until(
      () => demo.pushServer.log.find((entry) => entry.event === 'accepted' && entry.endpoint === pushSubscription.endpoint),
      Boolean,
      { what: 'the message at the push service' },
    );
    const fate = await until(() => demo.pushServer.fate(accepted.version), (entries) => entries.some((entry) => entry.event === 'nack'), { what: 'the nack' });
    assert.deepEqual(fate.map((entry) => [entry.event, entry.status ?? entry.code]), [['accepted', 201], ['ack', 100], ['nack', 302]]);
    const [logged] = await until(() => deliveriesTo(pushSubscription.endpoint), (lines) => lines.length > 0, { what: "the service's delivery log line" });
    assert.deepEqual([logged.status, logged.outcome], ['201', 'delivered'], 'a push service accepts before the browser handles: the service sees 201');
    const shown = await until(
      () => demo.page.evaluate(async (at) => (await (await navigator.serviceWorker.getRegistration(at)).getNotifications()).map((n) => n.title), scope),
      (titles) => titles.length > 0,
      { what: 'the notification of the failing worker' },
    );
    assert.deepEqual(shown, ['Shown anyway']);
  });
});
