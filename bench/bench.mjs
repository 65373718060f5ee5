// `make bench`: the usernotify worker against two hand-written JS workers in the same headless
// Chromium, on the demo as `make demo` serves it: a plain one that parses and shows
// (bench/plain-sw.js), and the same job as ours, feed in IndexedDB included
// (bench/same-job-sw.js), the yardstick. Prints a table.
//
// "On screen" is when the worker reports its showNotification resolved (both workers report
// the same way); pushes come through the DevTools protocol, as in the end-to-end tests.
// Latency is measured twice: from an empty page, and with the demo's live feed open.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { openDemo, sleep, visual } from '../tests/e2e/harness.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Bytes of `file` after `gzip -9`, the same measure as the CI budget. */
const gzipped = (file) => execFileSync('gzip', ['-9', '-c', file]).length;
const WARM = Number(process.env.BENCH_WARM || 40);
const COLD = Number(process.env.BENCH_COLD || 15);
const BURST = Number(process.env.BENCH_BURST || 200);

const demo = await openDemo({ extraMounts: [['/bench/', join(root, 'bench')]] });
const { page, cdp, origin } = demo;

// 1. Payload: every request the worker makes (its script, the wasm), gzip -9.
const workerRequests = new Set();
demo.context.on('request', (request) => {
  if (request.serviceWorker() || /usernotify-sw\.js$/.test(request.url())) workerRequests.add(request.url());
});
// A fresh install: no registration, and no wasm kept in the Cache Storage from the demo's.
await page.evaluate(async () => {
  await (await navigator.serviceWorker.getRegistration('/')).unregister();
  for (const name of await caches.keys()) await caches.delete(name);
});
await page.reload();
await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
await demo.stopWorker();
const usernotify = { registrationId: await newRegistrationId('/'), name: 'usernotify' };
await pushTo(usernotify, visual('warm-up', 'x', { appNotificationId: 'warm-up' }));
await sleep(500);
const usernotifyRequests = [...workerRequests];
const plain = { ...(await demo.registerWorker('/bench/plain-sw.js', '/bench/', 'classic')), name: 'plain JS', scope: '/bench/' };
const sameJob = { ...(await demo.registerWorker('/bench/same-job-sw.js', '/bench/same-job/', 'classic')), name: 'same job in JS', scope: '/bench/same-job/' };
usernotify.scope = '/';
const workers = [usernotify, plain, sameJob];
let payload = 0;
const files = [];
for (const url of usernotifyRequests) {
  const path = new URL(url).pathname;
  const file = path.startsWith('/pkg/') ? join(root, 'pkg', path.slice(5)) : join(root, 'www', path);
  const bytes = gzipped(file);
  files.push(`${path} ${bytes}`);
  payload += bytes;
}
const plainPayload = gzipped(join(root, 'bench/plain-sw.js'));
const sameJobPayload = gzipped(join(root, 'bench/same-job-sw.js'));

// 2. Push → on screen, warm and cold, interleaved so that drift hits both alike, then a burst
// into one group, in two scenarios: from an empty page of the origin, and with the app's
// live feed open (the demo page, which applies every change the page API announces).
// Each scenario starts from the same feed: emptied, then FEED entries (half of them in
// groups), as a user's feed would hold, so that one scenario's burst does not weigh on the next.
const FEED = Number(process.env.BENCH_FEED || 50);
const scenarios = { 'empty page': `${origin}/bench/index.html`, 'feed open': `${origin}/` };
const results = {};
for (const [scenario, url] of Object.entries(scenarios)) {
  await page.goto(`${origin}/bench/index.html`);
  await page.evaluate((names) => Promise.all(names.map((name) => new Promise((resolve, reject) => {
    const deleting = indexedDB.deleteDatabase(name);
    deleting.onsuccess = resolve;
    deleting.onerror = () => reject(deleting.error);
    deleting.onblocked = () => reject(new Error(`the ${name} database is held open`));
  }))), ['usernotify', 'same-job']);
  for (let index = 0; index < FEED; index += 1) {
    const group = index % 2 ? { groupName: `feed ${index % 5}` } : {};
    for (const worker of [usernotify, sameJob]) {
      await pushTo(worker, visual(`Earlier ${index}`, 'already in the feed', { appNotificationId: `${scenario}-earlier-${index}`, ...group }));
    }
  }
  await sleep(500);
  await page.goto(url);
  await page.evaluate(() => {
    window.__seen = new Map();
    navigator.serviceWorker.addEventListener('message', (event) => {
      if (event.data?.type === 'usernotify-push-handled') window.__seen.set(event.data.key, performance.timeOrigin + performance.now());
    });
  });
  const latency = Object.fromEntries(workers.map((worker) => [worker.name, { warm: [], cold: [] }]));
  for (const [kind, count] of [['warm', WARM], ['cold', COLD]]) {
    for (let index = 0; index < count; index += 1) {
      for (const worker of workers) {
        await closeAll();
        if (kind === 'cold') await demo.stopWorker();
        const key = `${scenario}-${worker.name}-${kind}-${index}`;
        latency[worker.name][kind].push(await timedPush(worker, visual(`Sample ${index}`, 'latency', { appNotificationId: key }), key));
      }
    }
  }

  // 3. A burst into one group: until every push is handled and the group shows the count.
  const burst = {};
  for (const worker of workers) {
    await closeAll();
    const started = performance.timeOrigin + performance.now();
    const keys = Array.from({ length: BURST }, (_, index) => `${scenario}-${worker.name}-burst-${index}`);
    await Promise.all(keys.map((key, index) => pushTo(worker, visual(`Message ${index}`, 'burst', { appNotificationId: key, groupName: `burst ${scenario}` }))));
    const finished = await page.evaluate(
      (wanted) => new Promise((resolve) => {
        const check = () => (wanted.every((key) => window.__seen.has(key)) ? resolve(Math.max(...wanted.map((key) => window.__seen.get(key)))) : setTimeout(check, 5));
        check();
      }),
      keys,
    );
    const shown = await page.evaluate(async (scope) => {
      const registration = await navigator.serviceWorker.getRegistration(scope);
      return (await registration.getNotifications()).map((n) => n.title);
    }, worker.scope);
    burst[worker.name] = { ms: finished - started, shown };
  }
  results[scenario] = { latency, burst };
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const ms = (value) => `${value.toFixed(1)} ms`;
const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const head = ['measure', 'usernotify', 'plain JS', 'same job in JS', '÷ plain', '÷ same job', 'target'];
const rows = [['worker payload, gzip -9', kib(payload), kib(plainPayload), kib(sameJobPayload), '', '', '≤ 40 KiB (goal 24)']];
// Each row: usernotify, both baselines, the ratio to each; the targets are against the same job.
const summary = { payload };
for (const [scenario, { latency, burst }] of Object.entries(results)) {
  for (const kind of ['warm', 'cold']) {
    for (const [label, q] of [['median', 0.5], ['p95', 0.95]]) {
      const [ours, plainMs, sameMs] = workers.map((worker) => quantile(latency[worker.name][kind], q));
      const target = label === 'median' ? (kind === 'warm' ? '≤ 1.25× same job' : '≤ 1.5× same job') : '';
      rows.push([`${scenario}: push → on screen, ${kind}, ${label}`, ms(ours), ms(plainMs), ms(sameMs), ratio(ours, plainMs), ratio(ours, sameMs), target]);
      if (label === 'median') summary[`${scenario}, ${kind}`] = { usernotify: ours, plain: plainMs, sameJob: sameMs, ratio: ours / sameMs };
    }
  }
  const [ours, plainMs, sameMs] = workers.map((worker) => burst[worker.name].ms);
  rows.push([`${scenario}: burst of ${BURST} into one group`, ms(ours), ms(plainMs), ms(sameMs), ratio(ours, plainMs), ratio(ours, sameMs), scenario === 'feed open' ? '≤ 2,000 ms' : '']);
  summary[`${scenario}, burst`] = ours;
}
const widths = head.map((_, column) => Math.max(...[head, ...rows].map((row) => row[column].length)));
const line = (row) => `| ${row.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
console.log(line(head));
console.log(line(widths.map((width) => '-'.repeat(width))));
rows.forEach((row) => console.log(line(row)));
// One line to gather several runs' medians (grep '^bench-json').
console.log(`bench-json ${JSON.stringify(summary)}`);
console.log(`\nworker requests: ${files.join(', ')}`);
const shownAfter = Object.entries(results).map(([scenario, { burst }]) => `${scenario}: "${burst.usernotify.shown.join(', ')}"`);
console.log(`samples: ${WARM} warm, ${COLD} cold per worker and scenario, each scenario on a feed of ${FEED} entries; burst group shows ${shownAfter.join('; ')}`);
console.log(`machine: ${(await import('node:os')).cpus().length} cores, Chromium ${demo.browser.version()}`);
await demo.close();

async function newRegistrationId(scope) {
  const { registrationId } = await new Promise((resolve) => {
    const listener = ({ registrations }) => {
      const found = registrations.find((r) => r.scopeURL === new URL(scope, origin).href && !r.isDeleted);
      if (found) {
        cdp.off('ServiceWorker.workerRegistrationUpdated', listener);
        resolve(found);
      }
    };
    cdp.on('ServiceWorker.workerRegistrationUpdated', listener);
    cdp.send('ServiceWorker.disable').then(() => cdp.send('ServiceWorker.enable'));
  });
  return registrationId;
}

function pushTo(worker, notification) {
  return cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: worker.registrationId, data: JSON.stringify(notification) });
}

async function timedPush(worker, notification, key) {
  const started = performance.timeOrigin + performance.now();
  await pushTo(worker, notification);
  const seen = await page.evaluate(
    (wanted) => new Promise((resolve) => {
      const check = () => (window.__seen.has(wanted) ? resolve(window.__seen.get(wanted)) : setTimeout(check, 1));
      check();
    }),
    key,
  );
  return seen - started;
}

async function closeAll() {
  await sleep(20);
  await page.evaluate(async () => {
    for (const registration of await navigator.serviceWorker.getRegistrations()) {
      for (const notification of await registration.getNotifications()) notification.close();
    }
  });
}
