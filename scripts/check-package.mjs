// Checks the npm package in pkg/ as `npm publish` sees it (`npm publish --dry-run`, the only
// publish step that needs no account): npm has nothing to warn about, every file that
// package.json names (main, types, exports, sideEffects) is in the tarball, and the tarball's
// README is the package's own (npm/README.md), not the repository's.
// Run by `make test` after `make build`.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const failures = [];
const fail = (why) => failures.push(why);

const { stdout, stderr } = await run('npm', ['publish', '--dry-run', '--json', './pkg']);
// A dry run without an npm account always says it would need one; nothing else may be said.
const LOGIN = /requires you to be logged in .*\(dry-run\)/;
for (const line of stderr.split('\n')) {
  if (/^npm (warn|error)/i.test(line) && !LOGIN.test(line)) fail(line);
}

const published = Object.values(JSON.parse(stdout))[0];
const shipped = new Set(published.files.map((file) => file.path));
const manifest = JSON.parse(readFileSync('pkg/package.json', 'utf8'));
const targets = (value) => (typeof value === 'string' ? [value] : Object.values(value ?? {}).flatMap(targets));
const named = [manifest.main, manifest.types, ...targets(manifest.exports), ...(manifest.sideEffects || [])];
for (const target of new Set(named)) {
  const path = target.replace(/^\.\//, '');
  if (!shipped.has(path)) fail(`package.json names ${target}, which the tarball does not have`);
}
if (readFileSync('pkg/README.md', 'utf8') !== readFileSync('npm/README.md', 'utf8')) {
  fail("pkg/README.md is not the package's README (npm/README.md): run make build");
}

const size = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(`${published.id}: ${shipped.size} files, ${size(published.size)} packed, ${size(published.unpackedSize)} unpacked`);
if (failures.length) {
  console.error(failures.map((why) => `  ${why}`).join('\n'));
  process.exit(1);
}
