// Serves the demo: www/ at /, the built package pkg/ at /pkg/.
// HOST (127.0.0.1) and PORT (8080) choose the address. Used by `make demo` and the tests.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const defaultMounts = [
  ['/pkg/', join(root, 'pkg')],
  ['/', join(root, 'www')],
];
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
};

/** Maps a URL path to a file under one of the mounts, refusing anything that escapes it. */
const fileFor = (mounts, pathname) => {
  for (const [prefix, dir] of mounts) {
    if (!pathname.startsWith(prefix)) continue;
    let rest = decodeURIComponent(pathname.slice(prefix.length));
    if (rest === '' || rest.endsWith('/')) rest += 'index.html';
    const file = normalize(join(dir, rest));
    return file.startsWith(dir + sep) ? file : null;
  }
  return null;
};

/**
 * Starts the server. Tests only: `extraMounts` (`[urlPrefix, directory]`) go first; paths in
 * `unavailable` (a Set the caller may change) answer 503, as a failing server would; paths in
 * `answeredWithPage` answer 200 with the demo's index.html, as a dev server's fallback
 * answers a file it does not have.
 */
export const serve = ({ host = '127.0.0.1', port = 8080, extraMounts = [], unavailable = new Set(), answeredWithPage = new Set() } = {}) =>
  new Promise((resolveServer, reject) => {
    const server = createServer(async (request, response) => {
      let file = null;
      let pathname = '';
      try {
        pathname = new URL(request.url, 'http://localhost').pathname;
        file = fileFor([...extraMounts, ...defaultMounts], pathname);
      } catch {
        file = null;
      }
      if (unavailable.has(pathname)) {
        response.writeHead(503).end();
        return;
      }
      if (answeredWithPage.has(pathname)) file = join(root, 'www', 'index.html');
      if (!file || !['GET', 'HEAD'].includes(request.method)) {
        response.writeHead(file ? 405 : 404).end();
        return;
      }
      try {
        const body = await readFile(file);
        response.writeHead(200, {
          'content-type': types[extname(file)] ?? 'application/octet-stream',
          'cache-control': 'no-cache',
          // The package's worker lives in /pkg/ but controls the whole site.
          'service-worker-allowed': '/',
        });
        response.end(request.method === 'HEAD' ? undefined : body);
      } catch {
        response.writeHead(404).end();
      }
    });
    server.once('error', reject);
    server.listen(Number(port), host, () => resolveServer(server));
  });

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const host = process.env.HOST || '127.0.0.1';
  const port = Number(process.env.PORT || 8080);
  const server = await serve({ host, port });
  const { port: actual } = server.address();
  console.log(`usernotify demo: http://${host}:${actual}/  (Ctrl-C to stop)`);
}
