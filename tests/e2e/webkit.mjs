// WebKit, the engine of Safari, for the end-to-end tests: Debian's WebKitGTK driven over W3C
// WebDriver (WebKitWebDriver), in a desktop of its own made of real parts:
// - Xvfb, an X server without a screen, for the browser's windows;
// - a private D-Bus session bus (dbus-daemon), on which
// - webkit/notification-service.py is the desktop's notification service
//   (org.freedesktop.Notifications): WebKitGTK shows every notification through it, and it
//   records them and plays the user's click or close;
// - webkit/browser.py, a small WebKitGTK browser that WebKitWebDriver starts in MiniBrowser's
//   place, because MiniBrowser under automation can grant no notification permission.
//
// The WebDriver client is the handful of W3C WebDriver requests these tests need, sent with
// fetch (selenium-webdriver's releases now want Node 22; the project runs on 20).
//
// WebKitGTK has no push service (PushManager is behind a feature flag and its subscribe()
// refuses every key), so pushes reach the worker through its message path
// (`{type: "usernotify-push", data}` from a page), as the demo's Send does: the worker then
// runs the same push path as for a `push` event.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const DRIVER = process.env.WEBKIT_DRIVER || '/usr/bin/WebKitWebDriver';
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const BROWSER = here('./webkit/browser.py');
const NOTIFICATION_SERVICE = here('./webkit/notification-service.py');

/** Every process started here, killed at close, or when the test process exits without it. */
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const start = (command, args, env) => {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  child.on('exit', () => running.delete(child));
  child.stderr.on('data', () => {});
  return child;
};

const stop = async (child) => {
  if (!running.has(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
};

/** The first line of `child`'s stdout that `accept` maps to a value, or a failure after `timeout`. */
const lineOf = (child, accept, what, timeout = 15_000) =>
  new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const fail = (why) => {
      clearTimeout(timer);
      lines.close();
      reject(new Error(`${what}: ${why}`));
    };
    const timer = setTimeout(() => fail(`nothing after ${timeout} ms`), timeout);
    child.once('exit', (code) => fail(`exited with ${code}`));
    lines.on('line', (line) => {
      const value = accept(line);
      if (value === undefined) return;
      clearTimeout(timer);
      lines.removeAllListeners('line');
      resolve(value);
    });
  });

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

/**
 * The desktop's notification service: what it shows (`open`, id → {summary, body}) and every
 * call WebKit made (`events`); `click(id)` and `close(id)` are the user's.
 */
const notificationService = async (env) => {
  const child = start('/usr/bin/python3', [NOTIFICATION_SERVICE], env);
  const events = [];
  const open = new Map();
  await lineOf(child, (line) => (JSON.parse(line).event === 'ready' ? true : undefined), 'the notification service');
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = JSON.parse(line);
    events.push(event);
    if (event.event === 'notify') open.set(event.id, { summary: event.summary, body: event.body });
    if (event.event === 'closed') open.delete(event.id);
  });
  return {
    child,
    events,
    open,
    click: (id) => child.stdin.write(`click ${id}\n`),
    close: (id) => child.stdin.write(`close ${id}\n`),
  };
};

/** A W3C WebDriver session: its commands run one at a time, each in the window it names. */
class Session {
  constructor(url, id) {
    this.url = url;
    this.id = id;
    this.queue = Promise.resolve();
    this.window = null;
  }

  async send(method, path, body) {
    const answer = await fetch(`${this.url}/session/${this.id}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const { value } = await answer.json();
    if (value?.error) throw new Error(`WebDriver ${method} ${path}: ${value.error}: ${value.message}`);
    return value;
  }

  /** Runs `command` after every earlier one, with `window` the current window. */
  in(window, command) {
    const run = this.queue.then(async () => {
      if (window !== this.window) {
        await this.send('POST', '/window', { handle: window });
        this.window = window;
      }
      return command();
    });
    this.queue = run.catch(() => {});
    return run;
  }
}

/**
 * Runs `source(value)` in the page, or goes on waiting for an earlier run (`source` null):
 * a run that takes longer than a moment is kept in the page under `slot` and the command
 * returns `{pending: true}`, so that one long wait (a page waiting for a message, say) does
 * not hold up the session's other commands, as it would not in Playwright or Puppeteer.
 */
const EVALUATE = `const [source, value, slot, done] = arguments;
  const runs = (window.__webdriverRuns ??= new Map());
  if (source !== null) {
    runs.set(slot, Promise.resolve()
      .then(() => new Function('value', 'return (' + source + ')(value);')(value))
      .then((result) => JSON.stringify({ result }), (error) => JSON.stringify({ error: String(error?.stack ?? error) })));
  }
  const run = runs.get(slot);
  if (!run) done(JSON.stringify({ error: 'the page went away before it answered' }));
  else Promise.race([run, new Promise((resolve) => setTimeout(resolve, 50))]).then((answer) => {
    if (answer !== undefined) runs.delete(slot);
    done(answer ?? JSON.stringify({ pending: true }));
  });`;

let runs = 0;

/**
 * One window of the session, with the part of Playwright's and Puppeteer's `Page` the tests
 * use. `evaluate(fn, arg)` runs `fn(arg)` in the page and resolves with its JSON value
 * (`undefined` stays `undefined`, which WebDriver would turn into `null`).
 */
class Page {
  constructor(session, window, { onLoad = async () => {} } = {}) {
    this.session = session;
    this.window = window;
    this.onLoad = onLoad;
    this.address = 'about:blank';
  }

  async evaluate(fn, arg) {
    const slot = `run-${runs++}`;
    let source = fn.toString();
    for (;;) {
      const args = [source, arg ?? null, slot];
      const text = await this.session.in(this.window, () => this.session.send('POST', '/execute/async', { script: EVALUATE, args }));
      const { result, error, pending } = JSON.parse(text);
      if (error !== undefined) throw new Error(`in the page: ${error}`);
      if (!pending) return result;
      source = null;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async goto(url) {
    await this.session.in(this.window, () => this.session.send('POST', '/url', { url }));
    this.address = url;
    if (url.startsWith('http')) await this.onLoad(this);
  }

  async reload() {
    await this.session.in(this.window, () => this.session.send('POST', '/refresh', {}));
    await this.onLoad(this);
  }

  url() {
    return this.address;
  }

  /** The element `selector` matches, as WebDriver's element reference. */
  element(selector) {
    return this.session.send('POST', '/element', { using: 'css selector', value: selector });
  }

  fill(selector, value) {
    return this.session.in(this.window, async () => {
      const element = Object.values(await this.element(selector))[0];
      await this.session.send('POST', `/element/${element}/clear`, {});
      if (value !== '') await this.session.send('POST', `/element/${element}/value`, { text: value });
    });
  }

  click(selector) {
    return this.session.in(this.window, async () => {
      const element = Object.values(await this.element(selector))[0];
      await this.session.send('POST', `/element/${element}/click`, {});
    });
  }

  close() {
    return this.session.in(this.window, async () => {
      await this.session.send('DELETE', '/window');
      this.session.window = null;
    });
  }

  /** Runs one WebDriver input source's actions, then releases what they pressed. */
  perform(source) {
    return this.session.in(this.window, async () => {
      await this.session.send('POST', '/actions', { actions: [source] });
      await this.session.send('DELETE', '/actions');
    });
  }

  /** The mouse, as Playwright's: a click at a point of the viewport. */
  get mouse() {
    return {
      click: (x, y) => this.perform({
        type: 'pointer',
        id: 'mouse',
        parameters: { pointerType: 'mouse' },
        actions: [
          { type: 'pointerMove', duration: 0, origin: 'viewport', x: Math.round(x), y: Math.round(y) },
          { type: 'pointerDown', button: 0 },
          { type: 'pointerUp', button: 0 },
        ],
      }),
    };
  }

  /** The keyboard, as Playwright's: a key pressed by its name (WebDriver's key codes). */
  get keyboard() {
    return {
      press: (name) => {
        const value = KEYS[name] ?? name;
        return this.perform({ type: 'key', id: 'keyboard', actions: [{ type: 'keyDown', value }, { type: 'keyUp', value }] });
      },
    };
  }

  /** A script element with `content`, added to the page. */
  addScriptTag({ content }) {
    return this.evaluate((text) => {
      const script = document.createElement('script');
      script.textContent = text;
      document.head.append(script);
    }, content);
  }

  /** Resolves once the page is at another URL than now (a link followed), and loaded. */
  async waitForNavigation({ timeout = 10_000 } = {}) {
    const from = await this.session.in(this.window, () => this.session.send('GET', '/url'));
    const deadline = Date.now() + timeout;
    for (;;) {
      const at = await this.session.in(this.window, () => this.session.send('GET', '/url'));
      const ready = at !== from && await this.session.in(this.window, () => this.session.send('POST', '/execute/sync', { script: 'return document.readyState', args: [] })) === 'complete';
      if (ready) {
        this.address = at;
        if (at.startsWith('http')) await this.onLoad(this);
        return;
      }
      if (Date.now() > deadline) throw new Error(`no navigation from ${from} within ${timeout} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sets the window's size; this project's browser is the web view alone, so it is the viewport's. */
  resize(width, height) {
    return this.session.in(this.window, () => this.session.send('POST', '/window/rect', { width, height }));
  }
}

/** WebDriver's codes of the keys the tests press by name. */
const KEYS = {
  Enter: '\uE007', Tab: '\uE004', Escape: '\uE00C', Space: ' ',
  ArrowUp: '\uE013', ArrowDown: '\uE015', ArrowLeft: '\uE012', ArrowRight: '\uE014', Home: '\uE011', End: '\uE010',
};

/**
 * WebKitGTK with the page at `origin`/ open: a desktop of its own (Xvfb, a session bus, its
 * notification service), WebKitWebDriver, and this project's browser granting `origin`
 * notifications. `onLoad(page)` runs after each navigation of a page to an http(s) URL.
 * Resolves with the session's first page, `newPage()`, the notification service and `close()`.
 */
export async function launchWebKit(origin, { onLoad } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'usernotify-webkit-'));
  const started = [];
  const close = async () => {
    for (const child of started.reverse()) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const xvfb = start('Xvfb', ['-displayfd', '1', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], process.env);
    started.push(xvfb);
    const display = await lineOf(xvfb, (line) => (/^\d+$/.test(line) ? `:${line}` : undefined), 'Xvfb');
    const bus = start('dbus-daemon', ['--session', '--nofork', '--nopidfile', '--print-address=1'], process.env);
    started.push(bus);
    const address = await lineOf(bus, (line) => (line.includes('=') ? line.trim() : undefined), 'dbus-daemon');
    const env = {
      ...process.env,
      DISPLAY: display,
      DBUS_SESSION_BUS_ADDRESS: address,
      // No accessibility bus, and no GPU: Xvfb has none.
      NO_AT_BRIDGE: '1',
      GDK_BACKEND: 'x11',
      LIBGL_ALWAYS_SOFTWARE: '1',
    };
    const notifications = await notificationService(env);
    started.push(notifications.child);
    const port = await freePort();
    const driver = start(DRIVER, [`--port=${port}`, '--host=127.0.0.1'], env);
    started.push(driver);
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    while (!(await fetch(`${url}/status`).then((answer) => answer.ok, () => false))) {
      if (Date.now() > deadline) throw new Error('WebKitWebDriver did not start');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const answer = await fetch(`${url}/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        capabilities: {
          alwaysMatch: {
            'webkitgtk:browserOptions': {
              binary: BROWSER,
              args: ['--automation', `--data-dir=${dir}`, `--allow-notifications=${origin}`],
            },
          },
        },
      }),
    }).then((response) => response.json());
    if (answer.value?.error) throw new Error(`no WebKit session: ${answer.value.message}`);
    const session = new Session(url, answer.value.sessionId);
    const version = answer.value.capabilities.browserVersion;
    await session.send('POST', '/timeouts', { script: 60_000, pageLoad: 30_000, implicit: 0 });
    session.window = await session.send('GET', '/window');
    const page = new Page(session, session.window, { onLoad });
    const main = session.window;
    return {
      version,
      session,
      page,
      notifications,
      newPage: async () => {
        const { handle } = await session.in(main, () => session.send('POST', '/window/new', { type: 'window' }));
        return new Page(session, handle, { onLoad });
      },
      close: async () => {
        await session.queue;
        await fetch(`${url}/session/${session.id}`, { method: 'DELETE' }).catch(() => {});
        await close();
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}
