// usernotify/vite: puts the usernotify service worker's files in a Vite app. The dev server
// (`vite`) serves them and `vite build` emits them, unbundled and unhashed, at the app's
// root or at `path`: a service worker must keep its URL from one release to the next, and
// it loads its wasm from beside itself. The page API needs nothing: Vite bundles it and
// emits its wasm on its own.
import { readFile } from 'node:fs/promises';

/** The worker's files, with the content types a browser needs to run them. */
const WORKER_FILES = {
  'usernotify-sw.js': 'text/javascript; charset=utf-8',
  'usernotify-sw.classic.js': 'text/javascript; charset=utf-8',
  'usernotify_worker_bg.wasm': 'application/wasm',
};

const read = (name) => readFile(new URL(`./${name}`, import.meta.url));

/** `path` as a directory URL path: one leading and one trailing slash, no `.` or `..`. */
const directoryOf = (path) => {
  const segments = String(path).split('/').filter(Boolean);
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new Error(`usernotify/vite: path must not contain . or .. segments: ${path}`);
  }
  return `/${segments.map((segment) => `${segment}/`).join('')}`;
};

/**
 * The Vite plugin. `path` is the URL directory, under the app's `base`, where the worker's
 * files are served and written (default `/`: `usernotify-sw.js` beside `index.html`).
 */
export default function usernotify({ path = '/' } = {}) {
  const directory = directoryOf(path);
  let base = '/';
  let ssrBuild = false;
  return {
    name: 'usernotify',
    // Keeps Vite's dependency optimizer away from the page API, so that its glue stays
    // beside the wasm it loads with `new URL('usernotify_bg.wasm', import.meta.url)`.
    config: () => ({ optimizeDeps: { exclude: ['usernotify'] } }),
    configResolved(config) {
      // The dev server's base is a path; a relative or external base serves from its path.
      base = new URL(config.base || '/', 'http://vite.invalid/').pathname;
      ssrBuild = Boolean(config.build?.ssr);
    },
    configureServer(server) {
      // Runs before Vite's own middlewares, so a worker file never falls through to the
      // dev server's index.html fallback.
      const prefix = `${base.replace(/\/$/, '')}${directory}`;
      server.middlewares.use((request, response, next) => {
        const pathname = new URL(request.url ?? '/', 'http://vite.invalid').pathname;
        const name = pathname.startsWith(prefix) ? pathname.slice(prefix.length) : '';
        if (!Object.hasOwn(WORKER_FILES, name) || !['GET', 'HEAD'].includes(request.method)) return next();
        read(name).then((body) => {
          response.writeHead(200, {
            'content-type': WORKER_FILES[name],
            'cache-control': 'no-cache',
            // A worker served from `path` may still control the whole app.
            'service-worker-allowed': base,
          });
          response.end(request.method === 'HEAD' ? undefined : body);
        }, next);
      });
    },
    async generateBundle() {
      // Only the browser's bundle gets them, not a server-side one.
      if (ssrBuild || this.environment?.config?.consumer === 'server') return;
      for (const name of Object.keys(WORKER_FILES)) {
        this.emitFile({ type: 'asset', fileName: `${directory.slice(1)}${name}`, source: await read(name) });
      }
    },
  };
}
