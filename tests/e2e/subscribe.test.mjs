// The page subscribes through the package, the app service posts, and the push reaches the
// page's real worker (CONTRACT.md §2–3). Real parts: the service binary (its SQLite file, its
// Web Push encryption and VAPID signature), the page API, the browser, the worker.
// Stand-ins, for what cannot exist here: the browser's PushManager (replaced at the page
// boundary by one that returns a subscription whose keys this test holds) and the vendor's
// push service (a loopback HTTP receiver; the test decrypts what it gets, RFC 8291, with
// node's crypto, and delivers it with the DevTools protocol).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDemo, sleep, until, visual, withClient } from './harness.mjs';
import { buildService, startService } from './service.mjs';

const TOKEN = 'demo-token';
const HOST = 'demo.usernotify.test';

/** A push service on loopback that records each request and answers 201. */
const startReceiver = () => new Promise((resolve) => {
  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url, headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(201).end();
    });
  });
  server.listen(0, '127.0.0.1', () => resolve({ server, received, origin: `http://127.0.0.1:${server.address().port}` }));
});

/** RFC 8291 decryption of one aes128gcm push, with the subscription's keys. */
const decrypt = (body, ecdh, auth) => {
  const salt = body.subarray(0, 16);
  const idLength = body[20];
  const serverKey = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength);
  const secret = ecdh.computeSecret(serverKey);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), serverKey]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, auth, info, 32));
  const key = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', key, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  const end = padded.lastIndexOf(2); // the last record's delimiter, then zero padding
  return padded.subarray(0, end).toString('utf8');
};

describe('subscribing through the package, with the app service', () => {
  let demo;
  let receiver;
  let service;
  let serviceEnv;
  let dataDir;
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);

  before(async () => {
    buildService();
    receiver = await startReceiver();
    demo = await openDemo();
    dataDir = mkdtempSync(join(tmpdir(), 'usernotify-subscribe-'));
    serviceEnv = {
      HOST: '127.0.0.1',
      PORT: '0',
      USERNOTIFY_DB: join(dataDir, 'usernotify.db'),
      USERNOTIFY_TOKENS: `${TOKEN}:demo`,
      USERNOTIFY_ALLOW_LOOPBACK_PUSH: '1',
      USERNOTIFY_CORS_ORIGINS: demo.origin,
      USERNOTIFY_STATIC: '',
      // The paging test posts 500 notifications at once: the caller's rate is not under test.
      USERNOTIFY_RATE_PER_MINUTE: '0',
      RUST_LOG: 'info',
    };
    service = await startService(serviceEnv);
    // The browser boundary: PushManager returns a subscription whose keys this test holds.
    await demo.page.evaluate(({ endpoint, p256dh, authSecret }) => {
      window.__fakeSubscription = (at) => ({
        endpoint: at,
        toJSON: () => ({ endpoint: at, expirationTime: null, keys: { p256dh, auth: authSecret } }),
        unsubscribe: async () => {
          window.__pushSubscription = null;
          return true;
        },
      });
      PushManager.prototype.subscribe = async function subscribe(options) {
        window.__subscribeOptions = { userVisibleOnly: options.userVisibleOnly, applicationServerKey: options.applicationServerKey };
        window.__pushSubscription = window.__fakeSubscription(endpoint);
        return window.__pushSubscription;
      };
      PushManager.prototype.getSubscription = async function getSubscription() {
        return window.__pushSubscription ?? null;
      };
    }, { endpoint: `${receiver.origin}/push/demo-browser`, p256dh: ecdh.getPublicKey().toString('base64url'), authSecret: auth.toString('base64url') });
  });
  after(async () => {
    service?.child.kill();
    receiver?.server.close();
    await demo?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Runs `call(client, arg)` in the demo page with the package's page API. */
  const client = (call, arg) => withClient(demo.page, call, arg);

  const post = (uns, notification) =>
    fetch(`${service.url}/me/notifications`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'X-UNS': uns, 'Content-Type': 'application/json' },
      body: JSON.stringify(notification),
    });

  test('a post to the service for the subscribed browser is shown by its worker and kept in its feed', async () => {
    const options = { serviceUrl: service.url, accessToken: TOKEN, targetHostName: HOST, displayName: 'Headless Chromium' };
    const subscribed = await client((c, value) => c.subscribe(value), options);
    assert.match(subscribed.id, /^[A-Za-z0-9_-]{22,}$/, 'an unguessable, URL-safe UNSID');
    assert.equal(subscribed.endpoint, `${receiver.origin}/push/demo-browser`);
    const { publicKey } = await (await fetch(`${service.url}/vapidPublicKey`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    assert.deepEqual(await demo.page.evaluate(() => window.__subscribeOptions), { userVisibleOnly: true, applicationServerKey: publicKey });

    const answer = await post(subscribed.id, visual('Through the service', 'end to end', { appNotificationId: 'via-service', targetHostName: HOST }));
    assert.equal(answer.status, 201, await answer.text());
    const [push] = await until(() => receiver.received, (list) => list.length === 1, { what: 'the push at the receiver' });
    assert.equal(push.headers['content-encoding'], 'aes128gcm');
    assert.match(push.headers.authorization, /^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=/);
    const plaintext = decrypt(push.body, ecdh, auth);
    assert.equal(JSON.parse(plaintext).appNotificationId, 'via-service');

    const report = await demo.push(plaintext);
    assert.deepEqual([report.outcome, report.stored], ['shown', true]);
    assert.ok((await demo.shown()).some((n) => n.title === 'Through the service'));
    const listed = await client((c) => c.getAllNotifications());
    assert.ok(listed.some((entry) => entry.id === report.key && entry.title === 'Through the service'));
  });

  test('when the push service rotated the subscription, open() registers the new one and posts reach it', async () => {
    const subscribed = await client((c, value) => c.subscribe(value), { serviceUrl: service.url, accessToken: TOKEN, targetHostName: HOST });
    const rotated = `${receiver.origin}/push/rotated`;
    await demo.page.evaluate((at) => { window.__pushSubscription = window.__fakeSubscription(at); }, rotated);
    // Any call opens the client, which checks the registration; the new UNSID is the app's
    // to send to its service.
    const renewed = await client((c) => c.getSubscription());
    assert.equal(renewed.endpoint, rotated);
    assert.notEqual(renewed.id, subscribed.id);
    const before = receiver.received.length;
    // The app service may still send the old UNSID: it names the user, whose subscriptions
    // now include the rotated one (the old endpoint goes once its push service says 410).
    for (const uns of [subscribed.id, renewed.id]) {
      const answer = await post(uns, visual('After rotation', uns, { targetHostName: HOST }));
      assert.equal(answer.status, 201, uns);
    }
    const pushes = await until(
      () => receiver.received.slice(before).filter((push) => push.path === '/push/rotated'),
      (list) => list.length === 2,
      { what: 'both posts at the rotated endpoint' },
    );
    assert.equal(JSON.parse(decrypt(pushes[0].body, ecdh, auth)).payload.visualContent.title, 'After rotation');
  });

  test('what other devices read or delete reaches the open page through the change stream at once, what this browser changed offline is sent when the service is back, and sync() then finds nothing left', async () => {
    const { id: uns } = await client((c) => c.getSubscription());
    const before = receiver.received.length;
    const posted = [];
    for (const title of ['Read elsewhere', 'Deleted elsewhere', 'Read here']) {
      const answer = await post(uns, visual(title, 'sync', { targetHostName: HOST }));
      assert.equal(answer.status, 201);
      posted.push((await answer.json()).id);
    }
    // Each post reaches this browser (through the receiver) and its worker stores it.
    const plaintexts = await until(
      () => [...new Map(receiver.received.slice(before).map((push) => {
        const text = decrypt(push.body, ecdh, auth);
        return [JSON.parse(text).id, text];
      })).values()],
      (list) => list.length === 3,
      { what: 'the three posts at the receiver' },
    );
    for (const text of plaintexts) assert.equal((await demo.push(text)).stored, true);
    const [readElsewhere, deletedElsewhere, readHere] = posted;
    const at = (id) => `${service.url}/me/notifications/${id}`;
    const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
    // The page follows the user's change stream: what another device does is applied here
    // at once, and its notification closes.
    assert.equal((await fetch(at(readElsewhere), { method: 'PATCH', headers, body: JSON.stringify({ readState: 'read' }) })).status, 200);
    assert.equal((await fetch(at(deletedElsewhere), { method: 'DELETE', headers })).status, 204);
    const local = await until(
      () => client((c) => c.getAllNotifications()),
      (entries) => entries.find((entry) => entry.id === readElsewhere)?.readState === 'read'
        && !entries.some((entry) => entry.id === deletedElsewhere),
      { what: 'the changes made elsewhere applied here' },
    );
    assert.equal(local.find((entry) => entry.id === readHere).readState, 'unread');
    await demo.shownWhen((list) => !list.some((n) => ['Read elsewhere', 'Deleted elsewhere'].includes(n.title)), 'their notifications closed');
    await client((c, id) => c.updateReadState(id, 'read'), readHere);
    const serviceState = async (id) => (await (await fetch(`${service.url}/me/notifications`, { headers })).json()).value.find((item) => item.id === id);
    assert.equal((await serviceState(readHere)).readState, 'read', 'sent to the service at once');

    // Offline: the change waits in the outbox; sync() cannot send it either; once the service
    // is back, the page's stream reconnects and sends it first.
    const port = new URL(service.url).port;
    service.child.kill();
    await new Promise((resolve) => service.child.once('exit', resolve));
    await client((c, id) => c.updateUserActionState(id, 'dismissed'), readHere);
    const offline = await client(async (c) => {
      try {
        return await c.sync();
      } catch (error) {
        return error.name;
      }
    });
    assert.equal(offline, 'service-unreachable');
    service = await startService({ ...serviceEnv, PORT: port });
    await until(() => serviceState(readHere), (item) => item?.userActionState === 'dismissed', { what: 'the outbox sent by the reconnected stream', timeout: 20_000 });
    assert.deepEqual(await client((c) => c.sync()), { sent: 0, updated: 0, deleted: 0 }, 'nothing left to send or adopt');
  });

  test("sync() reads every page of the service's feed: a notification older than the first page is not taken for deleted", async () => {
    const { id: uns } = await client((c) => c.getSubscription());
    const before = receiver.received.length;
    const answer = await post(uns, visual('Older than a page', 'paged', { targetHostName: HOST }));
    assert.equal(answer.status, 201);
    const oldest = (await answer.json()).id;
    // The browser's current subscription and its rotated one both get it; one is enough.
    const [push] = await until(() => receiver.received.slice(before), (list) => list.length >= 1, { what: 'the oldest at the receiver' });
    assert.equal((await demo.push(decrypt(push.body, ecdh, auth))).stored, true);
    // 500 newer ones: the service's first page (500 at most) no longer holds the oldest.
    // They are for another app's host, so they are kept in the feed but pushed to nobody
    // (1,000 pushes queued would hold up the next tests' pushes).
    for (let start = 0; start < 500; start += 25) {
      const answers = await Promise.all(Array.from({ length: 25 }, (_, index) =>
        post(uns, { targetHostName: 'other-app.example', payload: { rawContent: `newer ${start + index}` } })));
      assert.deepEqual(answers.map((each) => each.status), Array(25).fill(201));
    }
    const firstPage = await (await fetch(`${service.url}/me/notifications?$top=500`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    assert.ok(firstPage['@odata.nextLink'] && !firstPage.value.some((item) => item.id === oldest), 'the oldest is on a later page');
    const synced = await client((c) => c.sync());
    assert.equal(synced.deleted, 0, 'nothing is taken for deleted');
    const local = await client((c) => c.getAllNotifications());
    assert.ok(local.some((entry) => entry.id === oldest), 'the oldest is still in the feed here');
  });

  test("the worker's pushsubscriptionchange subscribes again and registers, or drops the registration when it cannot", async () => {
    const kept = () => demo.page.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('usernotify');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const request = open.result.transaction('settings').objectStore('settings').get('subscription');
        request.onsuccess = () => { open.result.close(); resolve(request.result ?? null); };
      };
    }));
    const scope = '/fixtures/resubscribe/';
    await demo.registerWorker('/fixtures/resubscribe-sw.js', scope);
    const tell = (message) => demo.page.evaluate(async ([at, data]) => (await navigator.serviceWorker.getRegistration(at)).active.postMessage(data), [scope, message]);
    const renewedAt = `${receiver.origin}/push/renewed-by-worker`;
    await tell({ type: 'fixture-next-subscription', endpoint: renewedAt, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') });
    await tell({ type: 'fixture-subscription-change' });
    const renewed = await until(kept, (record) => record?.endpoint === renewedAt, { what: 'the registration renewed by the worker' });
    const before = receiver.received.length;
    assert.equal((await post(renewed.id, visual('Renewed', 'by the worker', { targetHostName: HOST }))).status, 201);
    await until(() => receiver.received.slice(before).map((push) => push.path), (paths) => paths.includes('/push/renewed-by-worker'), { what: 'a push at the renewed endpoint' });

    // No subscription to be had any more (the permission was revoked): the registration goes.
    await tell({ type: 'fixture-next-subscription' });
    await tell({ type: 'fixture-subscription-change' });
    await until(kept, (record) => record === null, { what: 'the registration dropped by the worker' });
    assert.equal((await post(renewed.id, visual('Gone', 'unregistered', { targetHostName: HOST }))).status, 403);
  });

  test('after unsubscribe() a post no longer reaches the browser', async () => {
    const before = receiver.received.length;
    const subscribed = await client((c, value) => c.subscribe(value), { serviceUrl: service.url, accessToken: TOKEN, targetHostName: HOST });
    await client((c) => c.unsubscribe());
    assert.equal(await demo.page.evaluate(() => window.__pushSubscription), null, 'the push subscription is gone too');
    // Its UNSID is gone at the service: the post is refused, and nothing is pushed.
    const refused = await post(subscribed.id, visual('Not delivered', 'unsubscribed', { targetHostName: HOST }));
    assert.equal(refused.status, 403);
    await sleep(1_000);
    assert.equal(receiver.received.length, before, 'nothing more reached the push service');
  });

  test('bad options and refusals reject with stable codes and messages that say what to do', async () => {
    const rejection = (options) => client(async (c, value) => {
      try {
        await c.subscribe(value);
        return 'resolved';
      } catch (error) {
        return { name: error.name, message: error.message };
      }
    }, options);
    assert.deepEqual(await rejection({ serviceUrl: service.url, accessToken: TOKEN }), {
      name: 'invalid-options',
      message: 'usernotify: subscribe() needs targetHostName: the app\'s host name, e.g. location.hostname',
    });
    // A service URL without its scheme is refused before anything is fetched (it would reach
    // the page's own server as a relative URL, and its index.html).
    const requests = [];
    const record = (request) => requests.push(request.url());
    demo.page.on('request', record);
    try {
      for (const serviceUrl of ['127.0.0.1:8080', 'localhost:8080', '/api', 'ftp://notify.example.com']) {
        assert.deepEqual(await rejection({ serviceUrl, accessToken: TOKEN, targetHostName: HOST }), {
          name: 'invalid-options',
          message: 'usernotify: subscribe() needs serviceUrl to be an absolute http(s) URL, the app service\'s base URL, '
            + `e.g. https://notify.example.com or http://127.0.0.1:8080; got ${JSON.stringify(serviceUrl)}`,
        });
      }
      assert.deepEqual(await rejection({ serviceUrl: service.url, accessToken: TOKEN, targetHostName: HOST, pushTimeout: -1 }), {
        name: 'invalid-options',
        message: "usernotify: subscribe()'s pushTimeout is how long to wait for the browser's push service, in ms: from 1 to 600000 (default 30000)",
      });
    } finally {
      demo.page.off('request', record);
    }
    assert.deepEqual(requests.filter((url) => !url.endsWith('/pkg/usernotify.js') && !url.endsWith('/pkg/usernotify_bg.wasm')), [], 'nothing fetched');
    assert.deepEqual(await rejection({ serviceUrl: service.url, accessToken: 'wrong', targetHostName: HOST }), {
      name: 'unauthorized',
      message: `usernotify: the app service at ${service.url} answered 401: The bearer token is not known.`,
    });
    assert.deepEqual(await rejection({ serviceUrl: 'http://127.0.0.1:9', accessToken: TOKEN, targetHostName: HOST }), {
      name: 'service-unreachable',
      message: 'usernotify: could not reach the app service at http://127.0.0.1:9: check the URL and that the service runs; '
        + "a service on another origin must list this page's origin in USERNOTIFY_CORS_ORIGINS",
    });
  });

  test("with the browser's own PushManager, subscribe() rejects saying what the user can do: notifications blocked, not allowed yet, or the browser's own reason", async () => {
    // A browser context of its own, with the real PushManager: headless Chromium has no push
    // service to reach, so even with the permission granted the browser refuses.
    const context = await demo.browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${demo.origin}/`);
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
      const rejection = () => withClient(page, async (c, value) => {
        try {
          await c.subscribe(value);
          return 'resolved';
        } catch (error) {
          return { name: error.name, message: error.message };
        }
      }, { serviceUrl: service.url, accessToken: TOKEN, targetHostName: HOST });
      const { targetInfo } = await (await context.newCDPSession(page)).send('Target.getTargetInfo');
      const browserCdp = await demo.browser.newBrowserCDPSession();
      const setPermission = (setting) => browserCdp.send('Browser.setPermission', {
        permission: { name: 'notifications' }, setting, origin: demo.origin, browserContextId: targetInfo.browserContextId,
      });
      await setPermission('prompt');
      assert.equal(await page.evaluate(() => Notification.permission), 'default');
      assert.deepEqual(await rejection(), {
        name: 'push-unavailable',
        message: 'usernotify: the user has not allowed notifications: call Notification.requestPermission() from a click, then subscribe()',
      });
      await setPermission('denied');
      assert.deepEqual(await rejection(), {
        name: 'push-unavailable',
        message: "usernotify: notifications are blocked for this site: the user can allow them in the browser's site settings (private windows block them)",
      });
      await setPermission('granted');
      const refused = await rejection();
      assert.equal(refused.name, 'push-unavailable');
      assert.match(refused.message, /^usernotify: the browser could not subscribe to its push service \((AbortError|NotAllowedError): .+\); private windows and browsers without a push service cannot subscribe$/);
    } finally {
      await context.close();
    }
  });

  test('before the app registers its service worker, subscribe() rejects saying to register it instead of waiting forever', async () => {
    const context = await demo.browser.newContext();
    try {
      await context.grantPermissions(['notifications'], { origin: demo.origin });
      // An app that never registers the worker (the demo page registers it on load).
      await context.addInitScript(() => {
        ServiceWorkerContainer.prototype.register = () => new Promise(() => {});
      });
      const page = await context.newPage();
      await page.goto(`${demo.origin}/`);
      const rejected = await withClient(page, (c, value) => c.subscribe(value).then(
        () => 'resolved',
        (error) => ({ name: error.name, message: error.message }),
      ), { serviceUrl: service.url, accessToken: TOKEN, targetHostName: HOST });
      assert.deepEqual(rejected, {
        name: 'push-unavailable',
        message: "usernotify: no service worker is registered for this page: register usernotify-sw.js first (navigator.serviceWorker.register('/usernotify-sw.js', {type: 'module'})); if you did, it failed to install, and the worker's console says why",
      });
    } finally {
      await context.close();
    }
  });
});
