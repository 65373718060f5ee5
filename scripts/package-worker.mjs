// Completes the npm package wasm-pack wrote for the page module: lists the worker's files
// (its module and classic shells, each with its glue bundled in, and its wasm, built beside the page module) so that
// `npm pack` ships them, and drops the wasm's own typings, which name the exports before
// they were shortened and are not part of the API (pkg/usernotify.d.ts is).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const path = 'pkg/package.json';
const worker = ['usernotify-sw.js', 'usernotify-sw.classic.js', 'usernotify_worker_bg.wasm'];
const stale = 'usernotify_bg.wasm.d.ts';
rmSync(`pkg/${stale}`, { force: true });
const manifest = JSON.parse(readFileSync(path, 'utf8'));
manifest.files = [...new Set([...(manifest.files ?? []).filter((file) => file !== stale), ...worker])];
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
