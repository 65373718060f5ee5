// `node bench/trace.mjs`: where a cold push's time goes, phase by phase, in usernotify's worker
// and in the same job hand-written in JS (bench/same-job-sw.js), from a Chromium trace of
// cold pushes (each worker stopped before its push). Phases are read off the service worker's
// thread: from the push's delivery to the script's first line, the shell's script, the
// wasm's load, compile and instantiation, each lazy compilation of a wasm function on first
// call, the push event's dispatch, and the end of the handler. Prints medians per phase, in ms
// after the push was sent. Tracing slows the worker (every lazy compilation is traced): read
// the phases against each other, and the totals from `make bench`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDemo, sleep, visual } from '../tests/e2e/harness.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const COLD = Number(process.env.TRACE_COLD || 8);
const demo = await openDemo({ extraMounts: [['/bench/', join(root, 'bench')]] });
const { page, cdp, origin } = demo;
await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
const usernotify = { registrationId: await registrationId('/'), name: 'usernotify' };
const sameJob = { ...(await demo.registerWorker('/bench/same-job-sw.js', '/bench/same-job/', 'classic')), name: 'same job in JS' };
await page.goto(`${origin}/bench/index.html`);
await page.evaluate(() => {
  window.__seen = new Map();
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data?.type === 'usernotify-push-handled') window.__seen.set(event.data.key, true);
  });
});
for (const worker of [usernotify, sameJob]) await push(worker, 'warm-up');

const browserSession = await demo.browser.newBrowserCDPSession();
const events = [];
browserSession.on('Tracing.dataCollected', ({ value }) => events.push(...value));
const finished = new Promise((resolve) => browserSession.on('Tracing.tracingComplete', resolve));
await browserSession.send('Tracing.start', {
  traceConfig: {
    recordMode: 'recordAsMuchAsPossible',
    includedCategories: ['devtools.timeline', 'v8', 'v8.wasm', 'disabled-by-default-v8.compile', 'disabled-by-default-v8.wasm.detailed', 'ServiceWorker', 'blink.user_timing', 'toplevel'],
  },
});
const windows = [];
for (let index = 0; index < COLD; index += 1) {
  for (const worker of [usernotify, sameJob]) {
    await demo.stopWorker();
    await sleep(100);
    const started = await traceClock();
    await push(worker, `trace-${worker.name}-${index}`);
    windows.push({ worker: worker.name, started, ended: await traceClock() });
  }
}
await browserSession.send('Tracing.end');
await finished;
if (process.env.TRACE_FILE) writeFileSync(process.env.TRACE_FILE, JSON.stringify(events));

// Each push's events: those in its window on a service worker thread.
const threadNames = new Map();
for (const event of events) if (event.name === 'thread_name') threadNames.set(`${event.pid}:${event.tid}`, event.args.name);
const onWorker = events.filter((event) => /ServiceWorker/.test(threadNames.get(`${event.pid}:${event.tid}`) ?? '') && event.ph !== 'M');
const markAt = new Map(events.filter((event) => /^clock-/.test(event.name)).map((event) => [event.name, event.ts]));
const phases = {};
for (const window of windows) {
  const { worker } = window;
  const started = markAt.get(window.started.mark);
  const ended = markAt.get(window.ended.mark);
  if (started === undefined || ended === undefined) continue;
  const mine = onWorker.filter((event) => event.ts >= started && event.ts <= ended).sort((a, b) => a.ts - b.ts);
  if (!mine.length) continue;
  const sum = (test) => mine.filter(test).reduce((total, event) => total + (event.dur ?? 0), 0) / 1000;
  const count = (test) => mine.filter(test).length;
  // When the first event of that name began (or ended), in ms after the push was sent.
  const at = (name, end = false) => {
    const found = mine.find((event) => event.name === name);
    return found ? (found.ts + (end ? found.dur ?? 0 : 0) - started) / 1000 : NaN;
  };
  const row = {
    'script starts': at('ServiceWorkerGlobalScopeProxy::EvaluateTopLevelScript'),
    'script evaluated': at('EvaluateScript', true),
    'wasm bytes first received': at('wasm.OnBytesReceived'),
    'wasm compiled': at('wasm.FinishAsyncCompile'),
    'wasm instantiated': at('wasm.InstanceBuilder.Build', true),
    'push event dispatched': at('ServiceWorkerGlobalScope::DispatchPushEvent'),
    'shown, and the page told (as make bench times it)': (ended - started) / 1000,
    'wasm functions compiled lazily': count((event) => event.name === 'wasm.CompileLazy'),
    'time in lazy compilation': sum((event) => event.name === 'wasm.CompileLazy'),
  };
  for (const [phase, value] of Object.entries(row)) ((phases[worker] ??= {})[phase] ??= []).push(value);
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const names = Object.keys(phases[usernotify.name] ?? {});
console.log(`| cold push, median of ${COLD} (ms after the push was sent) | usernotify | same job in JS |`);
console.log('| --- | --- | --- |');
for (const phase of names) {
  const cell = (worker) => {
    const value = median(phases[worker]?.[phase] ?? [NaN]);
    return phase === 'wasm functions compiled lazily' ? String(value) : `${value.toFixed(2)} ms`;
  };
  console.log(`| ${phase} | ${cell(usernotify.name)} | ${cell(sameJob.name)} |`);
}
await demo.close();

async function registrationId(scope) {
  return new Promise((resolve) => {
    const listener = ({ registrations }) => {
      const found = registrations.find((r) => r.scopeURL === new URL(scope, origin).href && !r.isDeleted);
      if (found) {
        cdp.off('ServiceWorker.workerRegistrationUpdated', listener);
        resolve(found.registrationId);
      }
    };
    cdp.on('ServiceWorker.workerRegistrationUpdated', listener);
    cdp.send('ServiceWorker.disable').then(() => cdp.send('ServiceWorker.enable'));
  });
}

async function push(worker, key) {
  await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: worker.registrationId, data: JSON.stringify(visual('Traced', 'cold', { appNotificationId: key })) });
  await page.evaluate((wanted) => new Promise((resolve) => {
    const check = () => (window.__seen.has(wanted) ? resolve() : setTimeout(check, 1));
    check();
  }), key);
}

/** The trace's clock (microseconds, monotonic), read through a mark on the page. */
async function traceClock() {
  const mark = `clock-${Math.random()}`;
  await page.evaluate((name) => performance.mark(name), mark);
  return { mark };
}
