// The app service binary (service/) for end-to-end tests: built once, started on a free
// loopback port with its own SQLite file, its log kept for the test to read.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Builds the service binary (debug), as `cargo test -p usernotify-service` leaves it. */
export const buildService = () => execFileSync('cargo', ['build', '-q', '-p', 'usernotify-service'], { cwd: root, stdio: 'inherit' });

const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, '');

/** The VAPID subject the service is started with unless `env` names another (it is required). */
export const VAPID_SUBJECT = 'mailto:e2e@usernotify.test';

/** Starts the service binary with `env` and resolves with its base URL and log. */
export const startService = (env) => new Promise((resolve, reject) => {
  const child = spawn(join(root, 'target/debug/usernotify-service'), [], {
    env: { USERNOTIFY_VAPID_SUBJECT: VAPID_SUBJECT, ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const read = (chunk) => {
    log += chunk;
    const address = /address=(\S+)/.exec(plain(log));
    if (address) resolve({ child, url: `http://${address[1]}`, log: () => plain(log) });
  };
  child.stdout.on('data', read);
  child.stderr.on('data', read);
  child.on('exit', (code) => reject(new Error(`the service exited (${code}): ${log}`)));
});

/** The tag the service's log gives an endpoint (service/src/push.rs `endpoint_tag`). */
export const endpointTag = (endpoint) => createHash('sha256').update(endpoint).digest('hex').slice(0, 12);

/** The service's `push delivery` log lines, as objects of their fields. */
export const deliveries = (service) =>
  service.log().split('\n').filter((line) => line.includes('push delivery')).map((line) =>
    Object.fromEntries([...line.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map(([, key, value]) => [key, value.replace(/^"|"$/g, '')])));
