// Completes the npm package wasm-pack wrote to pkg/ for the page module: adds the worker's
// files (its module and classic shells, each with its glue bundled in, and its wasm, built
// beside the page module), the inbox component (npm/inbox.js, minified into pkg/ by the
// Makefile, and its types) and the Vite plugin (npm/vite.js), replaces the repository's README
// with the package's own (npm/README.md), and writes package.json's exports, types,
// sideEffects, keywords, engines and repository. Drops the wasm's own typings, which name
// the exports before they were shortened and are not part of the API (usernotify.d.ts is).
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const pkg = (name) => `pkg/${name}`;
const worker = ['usernotify-sw.js', 'usernotify-sw.classic.js', 'usernotify_worker_bg.wasm'];
const plugin = ['vite.js', 'vite.d.ts'];
const inbox = ['inbox.js', 'inbox.d.ts'];
const stale = 'usernotify_bg.wasm.d.ts';

rmSync(pkg(stale), { force: true });
for (const name of [...plugin, 'inbox.d.ts', 'README.md']) copyFileSync(`npm/${name}`, pkg(name));

/**
 * Where the source lives: Cargo.toml's `repository` (wasm-pack already copied it), else
 * this clone's `origin` remote when it is a URL the npm registry can link to.
 */
const repositoryOf = (manifest) => {
  if (manifest.repository) return manifest.repository;
  let origin;
  try {
    origin = execFileSync('git', ['remote', 'get-url', 'origin'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
  const scp = /^[\w.-]+@([\w.-]+):(.+)$/.exec(origin);
  if (scp) return { type: 'git', url: `git+ssh://git@${scp[1]}/${scp[2]}` };
  if (/^https?:\/\//.test(origin)) return { type: 'git', url: `git+${origin}` };
  return undefined;
};

const manifest = JSON.parse(readFileSync(pkg('package.json'), 'utf8'));
const repository = repositoryOf(manifest);
if (!repository) console.warn('complete-package: pkg/package.json gets no "repository" (none in Cargo.toml, no URL in the origin remote); set one in Cargo.toml before publishing');

const completed = {
  name: manifest.name,
  version: manifest.version,
  description: manifest.description,
  license: manifest.license,
  ...(repository && { repository }),
  keywords: ['notifications', 'web-push', 'push-notifications', 'service-worker', 'microsoft-graph', 'webassembly', 'vite-plugin', 'notification-center', 'web-component'],
  type: 'module',
  main: './usernotify.js',
  types: './usernotify.d.ts',
  exports: {
    '.': { types: './usernotify.d.ts', default: './usernotify.js' },
    './inbox': { types: './inbox.d.ts', default: './inbox.js' },
    './vite': { types: './vite.d.ts', default: './vite.js' },
    './usernotify-sw.js': './usernotify-sw.js',
    './usernotify-sw.classic.js': './usernotify-sw.classic.js',
    './usernotify_worker_bg.wasm': './usernotify_worker_bg.wasm',
    './usernotify_bg.wasm': './usernotify_bg.wasm',
    './package.json': './package.json',
  },
  files: [...new Set([...(manifest.files ?? []).filter((file) => file !== stale), ...worker, ...inbox, ...plugin])],
  // Importing the page API or the plugin changes nothing; a worker script adds its
  // listeners to the worker that imports it, and the inbox defines <usernotify-inbox>.
  sideEffects: ['./usernotify-sw.js', './usernotify-sw.classic.js', './inbox.js'],
  // The Vite plugin runs in Node; the rest runs in browsers.
  engines: { node: '>=18' },
  peerDependencies: { vite: '>=5' },
  peerDependenciesMeta: { vite: { optional: true } },
};
writeFileSync(pkg('package.json'), `${JSON.stringify(completed, null, 2)}\n`);
