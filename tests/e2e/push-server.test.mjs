// The loopback push service (push-server.mjs) answers as a real push service does, so that
// what the Firefox tests prove about the service and the browser holds against the real one.
// A WebSocket client plays Firefox's side of the protocol; `web-push` is the app server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import webpush from 'web-push';
import WebSocket from 'ws';
import { startPushServer } from './push-server.mjs';
import { until } from './harness.mjs';

describe('the loopback push service', () => {
  let server;
  let socket;
  const received = [];
  const vapid = webpush.generateVAPIDKeys();
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  let subscription;

  const next = (type) => until(() => received.find((message) => message.messageType === type && !message.seen), Boolean, { what: type })
    .then((message) => Object.assign(message, { seen: true }));
  const sendJson = (message) => socket.send(JSON.stringify(message));
  const request = (payload, { keys = vapid, encoding = 'aes128gcm', to = subscription } = {}) =>
    webpush.generateRequestDetails(to, payload, {
      vapidDetails: { subject: 'mailto:tests@usernotify.invalid', publicKey: keys.publicKey, privateKey: keys.privateKey },
      TTL: 60,
      contentEncoding: encoding,
    });
  const send = async (details, headers = {}) => {
    const answer = await fetch(details.endpoint, { method: 'POST', headers: { ...details.headers, ...headers }, body: details.body });
    return answer.status;
  };

  before(async () => {
    server = await startPushServer();
    socket = new WebSocket(server.url, 'push-notification');
    socket.on('message', (raw) => received.push(JSON.parse(raw.toString('utf8'))));
    await new Promise((resolve) => socket.once('open', resolve));
    sendJson({ messageType: 'hello', use_webpush: true });
    const hello = await next('hello');
    assert.deepEqual([hello.status, hello.use_webpush, typeof hello.uaid], [200, true, 'string']);
    sendJson({ messageType: 'register', channelID: 'channel-1', key: `${vapid.publicKey}=` });
    const registered = await next('register');
    assert.equal(registered.status, 200);
    subscription = {
      endpoint: registered.pushEndpoint,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
    };
  });
  after(async () => {
    socket?.close();
    await server?.close();
  });

  test('a signed aes128gcm push is answered 201 and relayed to the browser, whose ack and nack are logged', async () => {
    assert.equal(await send(request('hello')), 201);
    const notification = await next('notification');
    assert.equal(notification.channelID, 'channel-1');
    assert.deepEqual(notification.headers, { encoding: 'aes128gcm' });
    assert.ok(Buffer.from(notification.data, 'base64url').length > 86, 'the encrypted body, header and tag');
    sendJson({ messageType: 'ack', updates: [{ channelID: 'channel-1', version: notification.version, code: 100 }] });
    sendJson({ messageType: 'nack', version: notification.version, code: 302 });
    const fate = await until(() => server.fate(notification.version), (entries) => entries.length === 3, { what: 'ack and nack logged' });
    assert.deepEqual(fate.map((entry) => [entry.event, entry.status ?? entry.code]), [['accepted', 201], ['ack', 100], ['nack', 302]]);
  });

  test('a push without a payload is relayed without data', async () => {
    assert.equal(await send(request(null)), 201);
    const notification = await next('notification');
    assert.equal(notification.data, undefined);
  });

  test('a ping is answered', async () => {
    const before = received.length;
    socket.send('{}');
    await until(() => received.length, (count) => count > before, { what: 'the ping answer' });
    assert.deepEqual(received.at(-1), {});
  });

  test('a body that is not aes128gcm is refused with 400', async () => {
    assert.equal(await send(request('old', { encoding: 'aesgcm' })), 400);
  });

  test('a body over 4096 bytes is refused with 413', async () => {
    assert.equal(await send(request('x'.repeat(4096))), 413);
  });

  test('a push without a TTL is refused with 400', async () => {
    const details = request('no ttl');
    delete details.headers.TTL;
    assert.equal(await send(details), 400);
  });

  test('a push without VAPID, or with a bad signature, is refused with 401; another key with 403', async () => {
    const unsigned = request('unsigned');
    delete unsigned.headers.Authorization;
    assert.equal(await send(unsigned), 401);
    const tampered = request('tampered');
    tampered.headers.Authorization = tampered.headers.Authorization.replace(/t=([^.]+)\.([^.]+)\.(\S+),/, (_, head, claims) => `t=${head}.${claims}.${Buffer.alloc(64).toString('base64url')},`);
    assert.equal(await send(tampered), 401);
    assert.equal(await send(request('other key', { keys: webpush.generateVAPIDKeys() })), 403);
  });

  test('an unknown endpoint is 404, and an unsubscribed one 410', async () => {
    assert.equal(await send(request('nobody', { to: { ...subscription, endpoint: `${server.origin}/wpush/v2/unknown` } })), 404);
    sendJson({ messageType: 'unregister', channelID: 'channel-1', code: 200 });
    assert.equal((await next('unregister')).status, 200);
    assert.equal(await send(request('too late')), 410);
  });
});
