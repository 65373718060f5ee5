// `vite build` writes dist/: Vite bundles the page API (usernotify.js) and emits its wasm, which
// the glue loads with `new URL('usernotify_bg.wasm', import.meta.url)`. The service worker is
// not bundled: its two files are copied from the package, unhashed, beside index.html.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig } from 'vite';

const packageDir = dirname(createRequire(import.meta.url).resolve('usernotify/package.json'));
const workerFiles = ['usernotify-sw.js', 'usernotify_worker_bg.wasm'];

const usernotifyWorker = {
  name: 'usernotify-worker',
  // `vite build`: into dist/.
  generateBundle() {
    for (const fileName of workerFiles) {
      this.emitFile({ type: 'asset', fileName, source: readFileSync(join(packageDir, fileName)) });
    }
  },
  // `vite` (dev server): at the root.
  configureServer(server) {
    server.middlewares.use((request, response, next) => {
      const name = new URL(request.url, 'http://x').pathname.slice(1);
      if (!workerFiles.includes(name)) return next();
      response.setHeader('content-type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
      response.end(readFileSync(join(packageDir, name)));
    });
  },
};

export default defineConfig({
  // Relative URLs: dist/ works wherever it is served (the tests serve it at /app/).
  base: './',
  plugins: [usernotifyWorker],
  // Dev server: older Vites pre-bundled the glue away from its wasm (vitejs/vite#8427); Vite 8.3
  // rewrites that URL. Serving the package as it is works with either.
  optimizeDeps: { exclude: ['usernotify'] },
});
