// Lists the worker shell (pkg/usernotify-sw.js, built from www/sw.js) in the package's
// files, so that `npm pack` ships the worker web apps register.
import { readFileSync, writeFileSync } from 'node:fs';

const path = 'pkg/package.json';
const manifest = JSON.parse(readFileSync(path, 'utf8'));
manifest.files = [...new Set([...(manifest.files ?? []), 'usernotify-sw.js'])];
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
