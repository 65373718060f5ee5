#!/usr/bin/env bash
# Installs what building and testing usernotify needs, only where it is missing or the
# wrong version. `install-tools.sh build` (make build, make demo): the wasm target and
# rust-src, wasm-pack, the wasm-bindgen CLI matching Cargo.lock, and the npm tools (wasm-opt
# from `binaryen`, esbuild, and the test tools playwright-core, puppeteer-core, web-push, ws, axe-core).
# `install-tools.sh tests` (make tools, after the build's half): what the tests run in:
# Chromium and ChromeDriver (and curl), Firefox ESR and geckodriver, WebKitGTK with
# WebKitWebDriver, Xvfb, a D-Bus daemon and PyGObject (the WebKit end-to-end tests),
# PostgreSQL (the service's tests and bench start throwaway clusters of it; no server is
# started here), from apt, as root or with sudo. With no argument, both.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

missing() { ! command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Node.js 20.19 or later with npm: Vite 8 (tests/webapp) needs 20.19, playwright-core 20.
if ! node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)' 2>/dev/null; then
  echo "usernotify needs Node.js 20.19 or later, with npm; found: $(node --version 2>/dev/null || echo none)" >&2
  exit 1
fi

build_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi

  # The worker module rebuilds the standard library for size (Makefile: WORKER_BUILD).
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

  if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/puppeteer-core ] \
    || [ ! -d node_modules/axe-core ] \
    || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
}

# Building needs nothing more; the tests need browsers and PostgreSQL.
case "${1:-}" in
  build) build_tools; exit 0 ;;
  tests) ;;
  *) build_tools ;;
esac

# Chromium for the end-to-end tests (playwright-core drives it) and, with ChromeDriver, for
# the in-worker tests (wasm-pack test); curl for the service's demo test, which pastes the
# command the demo prints into a shell.
if missing chromium || missing chromedriver || missing curl; then
  as_root apt-get update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends chromium chromium-driver curl
fi

# Firefox ESR: the end-to-end tests run in it too (puppeteer-core over WebDriver BiDi), and
# the in-worker tests through geckodriver.
if [ ! -x /usr/lib/firefox-esr/firefox-esr ]; then
  as_root apt-get update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends firefox-esr
fi
if missing geckodriver; then
  cargo install geckodriver
fi

# WebKit, the engine of Safari: WebKitGTK 4.1 driven by WebKitWebDriver, in an X server
# without a screen (Xvfb) with a private D-Bus session bus (dbus-daemon) for its notifications;
# the test's own browser and notification service are PyGObject scripts on Debian's Python
# (tests/e2e/webkit/).
if missing WebKitWebDriver || missing Xvfb || missing dbus-daemon \
  || ! /usr/bin/python3 -c 'import gi; gi.require_version("WebKit2", "4.1"); gi.require_version("Gtk", "3.0")' 2>/dev/null; then
  as_root apt-get update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends \
    webkit2gtk-driver libwebkit2gtk-4.1-0 gir1.2-webkit2-4.1 python3-gi xvfb xauth dbus-daemon
fi

# PostgreSQL for the service's PostgreSQL tests and bench (Debian's package starts no
# cluster; scripts/pg-cluster.sh makes throwaway ones).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  as_root apt-get update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends postgresql
fi

