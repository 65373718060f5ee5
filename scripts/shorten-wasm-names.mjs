// Shortens the wasm module's import, export and module names, and rewrites the generated
// glue to match.
//
// wasm-bindgen names each import like `__wbg_transaction_ce332d6d1e483672`: dozens of them,
// hashed, so they barely compress, and each appears twice (in the wasm and in the glue).
// wasm-opt renames them to one or two letters and prints the mapping; this applies it to
// the glue and then checks that the two still agree, failing the build if they do not.
//
// Usage: node scripts/shorten-wasm-names.mjs WASM GLUE [TYPINGS]
// TYPINGS, the glue's .d.ts, gets the new export names too (its `InitOutput` lists them).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const [wasmPath, gluePath, typingsPath] = process.argv.slice(2);
if (!wasmPath || !gluePath) throw new Error('usage: shorten-wasm-names.mjs WASM GLUE');

const modulesOf = (bytes) => [...new Set(WebAssembly.Module.imports(new WebAssembly.Module(bytes)).map((i) => i.module))];
const before = readFileSync(wasmPath);
const [oldModule, ...extraModules] = modulesOf(before);
if (extraModules.length) throw new Error(`expected one import module, found ${[oldModule, ...extraModules]}`);

const mapping = JSON.parse(
  execFileSync('wasm-opt', [
    wasmPath,
    '--minify-imports-and-exports-and-modules',
    '--enable-bulk-memory',
    '--enable-nontrapping-float-to-int',
    '--enable-sign-ext',
    '--enable-mutable-globals',
    '--enable-reference-types',
    '--enable-multivalue',
    '-o',
    wasmPath,
  ], { encoding: 'utf8' }),
);
const after = readFileSync(wasmPath);
const [newModule] = modulesOf(after);

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
let glue = readFileSync(gluePath, 'utf8');
for (const [, name, short] of mapping.imports) {
  glue = glue.replace(new RegExp(`\\b${escape(name)}\\b`, 'g'), short);
}
for (const [name, short] of mapping.exports) {
  glue = glue.replace(new RegExp(`\\bwasm\\.${escape(name)}\\b`, 'g'), `wasm.${short}`);
}
glue = glue.replaceAll(JSON.stringify(oldModule), JSON.stringify(newModule));
writeFileSync(gluePath, glue);
if (typingsPath) {
  let typings = readFileSync(typingsPath, 'utf8');
  for (const [name, short] of mapping.exports) {
    typings = typings.replace(new RegExp(`\\breadonly ${escape(name)}:`, 'g'), `readonly ${short}:`);
  }
  writeFileSync(typingsPath, typings);
}

// The glue must provide every import the module now asks for, and use only real exports.
const module = new WebAssembly.Module(after);
const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
const missing = WebAssembly.Module.imports(module)
  .map((i) => i.name)
  .filter((name) => !new RegExp(`(^|[\\s{,])${escape(name)}\\s*:`).test(glue));
const unknown = [...glue.matchAll(/\bwasm\.([A-Za-z_$][\w$]*)/g)].map((m) => m[1]).filter((name) => !exports.has(name));
if (missing.length || unknown.length || !glue.includes(JSON.stringify(newModule))) {
  throw new Error(`glue and module disagree: missing imports ${missing}, unknown exports ${unknown}`);
}
console.log(`shortened ${mapping.imports.length} import and ${mapping.exports.length} export names: ${before.length} -> ${after.length} bytes`);
