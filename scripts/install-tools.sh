#!/usr/bin/env bash
# Installs what building and testing usernotify needs, only where it is missing or the
# wrong version: the wasm target and rust-src, wasm-pack, the wasm-bindgen CLI matching
# Cargo.lock, Chromium (and curl), Firefox ESR, and the npm tools (wasm-opt from `binaryen`,
# esbuild, playwright-core, puppeteer-core, web-push, ws).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

missing() { ! command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# The worker module rebuilds core and alloc for size (Makefile: WORKER_BUILD).
if ! rustup component list --installed | grep -q '^rust-src'; then
  rustup component add rust-src
fi

if missing wasm-pack; then
  cargo install wasm-pack
fi

# The CLI must match the wasm-bindgen crate exactly. No --locked: its lock file names a
# dependency version this registry lacks.
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$wanted" ]; then
  cargo install wasm-bindgen-cli --version "$wanted" --force
fi

# Chromium for the end-to-end tests (playwright-core drives it), curl for the service's demo
# test, which pastes the command the demo prints into a shell.
if missing chromium || missing curl; then
  as_root apt-get update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends chromium curl
fi

# Firefox ESR: the end-to-end tests run in it too (puppeteer-core over WebDriver BiDi).
if [ ! -x /usr/lib/firefox-esr/firefox-esr ]; then
  as_root apt-get update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends firefox-esr
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/puppeteer-core ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
