// A loopback push service, for tests only: a stand-in for the browser vendor's push service
// (Mozilla's autopush), which a test cannot reach. It is the only stand-in in the Firefox
// tests; everything on both sides of it is real.
//
// Browser side: Firefox's push WebSocket protocol, which Firefox speaks to whatever URL its
// `dom.push.serverURL` preference names (subprotocol `push-notification`, JSON messages):
//   hello      → {messageType: "hello", uaid, status: 200, use_webpush: true}
//   register   {channelID, key} → {messageType: "register", channelID, status: 200, pushEndpoint}
//   unregister {channelID, code} → {messageType: "unregister", channelID, status: 200}
//   ack        {updates: [{channelID, version, code}]}   (code 100 delivered, 101 decryption
//              failed, 102 not delivered)
//   nack       {version, code}   (301 the push handler threw, 302 its promise rejected,
//              303 internal error)
//   ping       "{}" → "{}"
// and, to deliver, {messageType: "notification", channelID, version, data, headers}.
//
// App-server side: Web Push (RFC 8030) POSTs on the endpoints it hands out, checked as a real
// push service checks them: an unknown endpoint is 404, an unsubscribed one 410; a body must
// be `Content-Encoding: aes128gcm` (RFC 8291) and at most 4096 bytes (413); `TTL` is
// required; when the subscription was made with an applicationServerKey, the request needs a
// VAPID `Authorization: vapid t=<JWT>, k=<that key>` (RFC 8292) whose ES256 signature, `aud`
// and `exp` hold (401; 403 for another key). Accepted messages answer 201 and are relayed at
// once when the browser is connected, or kept until it says hello again (within their TTL).
//
// `log` records every message's fate in order: {event: "accepted" | "refused" | "ack" |
// "nack" | "unregistered", status | code, channelID, endpoint, version, topic, urgency, ttl,
// bytes}.
import { createServer } from 'node:http';
import { createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto';
import { WebSocketServer } from 'ws';

const MAX_BODY = 4096;

const b64url = (buffer) => Buffer.from(buffer).toString('base64url');
/** base64url with or without padding (Firefox pads the key it registers). */
const unb64url = (text) => Buffer.from(String(text).replace(/=+$/, ''), 'base64url');

/** Checks an RFC 8292 `vapid t=…, k=…` header; returns null when valid, else [status, why]. */
export function checkVapid(header, registeredKey, audience, now = Date.now()) {
  const match = /^vapid\s+(.+)$/i.exec(header ?? '');
  if (!match) return [401, 'no VAPID authorization'];
  const params = Object.fromEntries(match[1].split(',').map((part) => {
    const at = part.indexOf('=');
    return [part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim()];
  }));
  if (!params.t || !params.k) return [401, 'VAPID needs t and k'];
  const key = unb64url(params.k);
  if (!key.equals(registeredKey)) return [403, 'VAPID key is not the subscription\'s key'];
  const [head, claims, signature] = params.t.split('.');
  if (!signature) return [401, 'malformed JWT'];
  let header_;
  let body;
  try {
    header_ = JSON.parse(unb64url(head).toString('utf8'));
    body = JSON.parse(unb64url(claims).toString('utf8'));
  } catch {
    return [401, 'malformed JWT'];
  }
  if (header_.alg !== 'ES256') return [401, `JWT alg ${header_.alg}`];
  if (key.length !== 65 || key[0] !== 4) return [401, 'key is not an uncompressed P-256 point'];
  const publicKey = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64url(key.subarray(1, 33)), y: b64url(key.subarray(33)) },
    format: 'jwk',
  });
  const signed = verify('sha256', Buffer.from(`${head}.${claims}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, unb64url(signature));
  if (!signed) return [401, 'bad JWT signature'];
  if (body.aud !== audience) return [401, `JWT aud ${body.aud} is not ${audience}`];
  const seconds = Math.floor(now / 1000);
  if (typeof body.exp !== 'number' || body.exp <= seconds || body.exp > seconds + 24 * 3600) {
    return [401, 'JWT exp missing, past or more than 24 hours ahead'];
  }
  return null;
}

/** Starts the push service on a free loopback port. */
export function startPushServer({ host = '127.0.0.1' } = {}) {
  const log = [];
  /** uaid → {socket, pending: Map version → message} */
  const agents = new Map();
  /** endpoint token → {channelID, uaid, key: Buffer | null, gone: boolean} */
  const endpoints = new Map();
  const byChannel = new Map();
  let origin = '';

  const send = (socket, message) => {
    if (socket?.readyState === 1) socket.send(JSON.stringify(message));
  };

  const server = createServer((request, response) => {
    const chunks = [];
    let size = 0;
    request.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY + 1) chunks.push(chunk);
    });
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const answer = (status, why, extra = {}) => {
        response.writeHead(status, { 'Content-Type': 'application/json', ...extra });
        response.end(status === 201 ? '' : JSON.stringify({ code: status, error: why }));
      };
      const match = /^\/wpush\/v2\/([\w-]+)$/.exec(new URL(request.url, origin).pathname);
      if (request.method !== 'POST' || !match) return answer(404, 'no such endpoint');
      const channel = endpoints.get(match[1]);
      const refuse = (status, why) => {
        log.push({ event: 'refused', status, why, channelID: channel?.channelID ?? null, endpoint: `${origin}${request.url}` });
        return answer(status, why);
      };
      if (!channel) return refuse(404, 'no such subscription');
      if (channel.gone) return refuse(410, 'unsubscribed');
      if (size > MAX_BODY) return refuse(413, `body of ${size} bytes is over ${MAX_BODY}`);
      const ttlHeader = request.headers.ttl;
      if (ttlHeader === undefined || !/^\d+$/.test(ttlHeader)) return refuse(400, 'TTL header missing or not a number');
      if (size > 0 && request.headers['content-encoding'] !== 'aes128gcm') {
        return refuse(400, `Content-Encoding ${request.headers['content-encoding']} is not aes128gcm`);
      }
      if (channel.key) {
        const failed = checkVapid(request.headers.authorization, channel.key, origin);
        if (failed) return refuse(...failed);
      }
      const version = randomUUID();
      const message = { messageType: 'notification', channelID: channel.channelID, version };
      if (size > 0) {
        message.data = b64url(body);
        message.headers = { encoding: 'aes128gcm' };
      }
      const ttl = Number(ttlHeader);
      log.push({
        event: 'accepted',
        status: 201,
        channelID: channel.channelID,
        endpoint: `${origin}${request.url}`,
        version,
        topic: request.headers.topic ?? null,
        urgency: request.headers.urgency ?? null,
        ttl,
        bytes: size,
      });
      const agent = agents.get(channel.uaid);
      if (agent.socket?.readyState === 1) {
        agent.pending.set(version, message);
        send(agent.socket, message);
      } else if (ttl > 0) {
        agent.pending.set(version, message);
      }
      return answer(201, '', { Location: `${origin}/m/${version}`, TTL: String(ttl) });
    });
  });

  const sockets = new WebSocketServer({
    server,
    handleProtocols: (protocols) => (protocols.has('push-notification') ? 'push-notification' : false),
  });
  sockets.on('connection', (socket) => {
    let uaid = null;
    socket.on('message', (raw) => {
      let message;
      try {
        message = JSON.parse(raw.toString('utf8'));
      } catch {
        socket.close(1002, 'not JSON');
        return;
      }
      switch (message.messageType) {
        case undefined:
        case 'ping':
          socket.send('{}');
          return;
        case 'hello': {
          uaid = typeof message.uaid === 'string' && agents.has(message.uaid) ? message.uaid : randomBytes(16).toString('hex');
          const agent = agents.get(uaid) ?? { socket: null, pending: new Map() };
          agent.socket?.close(4000, 'replaced by a newer connection');
          agent.socket = socket;
          agents.set(uaid, agent);
          send(socket, { messageType: 'hello', uaid, status: 200, use_webpush: true });
          for (const pending of agent.pending.values()) send(socket, pending);
          return;
        }
        case 'register': {
          if (!uaid || typeof message.channelID !== 'string') return;
          const token = randomBytes(24).toString('base64url');
          const key = message.key ? unb64url(message.key) : null;
          const channel = { channelID: message.channelID, uaid, key, gone: false, token };
          endpoints.set(token, channel);
          byChannel.set(message.channelID, channel);
          send(socket, {
            messageType: 'register',
            channelID: message.channelID,
            status: 200,
            pushEndpoint: `${origin}/wpush/v2/${token}`,
          });
          return;
        }
        case 'unregister': {
          const channel = byChannel.get(message.channelID);
          if (channel && channel.uaid === uaid) channel.gone = true;
          log.push({ event: 'unregistered', channelID: message.channelID, code: message.code });
          send(socket, { messageType: 'unregister', channelID: message.channelID, status: 200 });
          return;
        }
        case 'ack':
          for (const update of message.updates ?? []) {
            agents.get(uaid)?.pending.delete(update.version);
            log.push({ event: 'ack', channelID: update.channelID, version: update.version, code: update.code });
          }
          return;
        case 'nack':
          agents.get(uaid)?.pending.delete(message.version);
          log.push({ event: 'nack', version: message.version, code: message.code });
          return;
        default:
          // broadcast_subscribe and anything newer: nothing to do for a test push service.
          return;
      }
    });
    socket.on('close', () => {
      const agent = agents.get(uaid);
      if (agent?.socket === socket) agent.socket = null;
    });
  });

  return new Promise((resolve) => {
    server.listen(0, host, () => {
      origin = `http://${host}:${server.address().port}`;
      resolve({
        origin,
        /** The WebSocket URL for Firefox's `dom.push.serverURL`. */
        url: `ws://${host}:${server.address().port}/`,
        log,
        /** The log entries about the message accepted as `version`, in order. */
        fate: (version) => log.filter((entry) => entry.version === version),
        /** How many browsers are connected now. */
        connected: () => [...agents.values()].filter((agent) => agent.socket?.readyState === 1).length,
        close: () => new Promise((done) => {
          for (const client of sockets.clients) client.terminate();
          sockets.close();
          server.close(done);
          server.closeAllConnections?.();
        }),
      });
    });
  });
}
