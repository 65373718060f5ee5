# usernotify: `make demo` runs the demo, `make test` runs every test. Both install what
# they need first (scripts/install-tools.sh, idempotent).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

# Everything the worker loads, gzip -9, in bytes.
WORKER_BUDGET ?= 16384
# The page module is the npm package (wasm-pack: pkg/usernotify.js, its .d.ts, package.json);
# the worker module is built alone beside it, so the worker downloads none of the page API.
WASM_TARGET := wasm32-unknown-unknown
WASM_OPT_FLAGS := -Oz --converge --strip-producers --strip-target-features \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals

# The worker module rebuilds core and alloc with panics that trap at once: no panic
# messages, nor the formatting code they pull in. Both flags are unstable; RUSTC_BOOTSTRAP
# lets the stable toolchain take them for this build alone, in its own target directory
# (rust-src comes from scripts/install-tools.sh).
WORKER_BUILD := RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort"
WORKER_WASM := target/worker/$(WASM_TARGET)/wasm/usernotify.wasm

.PHONY: tools build demo test lint test-host size test-e2e fuzz bench

tools:
	scripts/install-tools.sh

# The page module (wasm-pack, wasm-bindgen) is made small after wasm-bindgen: wasm-opt,
# import/export names shortened in the module and its glue (checked to agree), then the
# glue minified like any bundler would. The worker module has no bindings at all (it
# imports nothing; src/web/worker.rs): built by cargo, made small by wasm-opt, and loaded by
# its shell, built twice from www/sw.js: a module worker, and a classic one (importScripts).
# The shell's wasm cache is named after the wasm's hash.
build: tools
	wasm-pack build --target web --profile wasm --out-dir pkg --out-name usernotify -- --no-default-features --features page
	wasm-opt $(WASM_OPT_FLAGS) pkg/usernotify_bg.wasm -o pkg/usernotify_bg.wasm
	node scripts/shorten-wasm-names.mjs pkg/usernotify_bg.wasm pkg/usernotify.js pkg/usernotify.d.ts
	esbuild pkg/usernotify.js --minify-whitespace --minify-syntax --format=esm --log-level=warning --outfile=pkg/usernotify.js --allow-overwrite
	$(WORKER_BUILD) cargo build --lib --target $(WASM_TARGET) --profile wasm --no-default-features --features worker \
	  -Z build-std=core,alloc --target-dir target/worker
	wasm-opt $(WASM_OPT_FLAGS) --strip-debug $(WORKER_WASM) -o pkg/usernotify_worker_bg.wasm
	build=$$(sha256sum pkg/usernotify_worker_bg.wasm | cut -c1-16) && \
	  esbuild www/sw.js --bundle --minify --format=esm --define:USERNOTIFY_BUILD=\"$$build\" \
	    --log-level=warning --outfile=pkg/usernotify-sw.js && \
	  esbuild www/sw.js --bundle --minify --format=iife --define:USERNOTIFY_BUILD=\"$$build\" \
	    --define:import.meta.url=self.location.href --log-level=warning --outfile=pkg/usernotify-sw.classic.js
	node scripts/package-worker.mjs

# The app service serves the demo (www/ at /, pkg/ at /pkg/), with a demo user whose token
# is demo-token, and prints a ready-to-paste curl whenever a browser subscribes.
demo: build
	USERNOTIFY_TOKENS="$${USERNOTIFY_TOKENS:-demo-token:demo}" USERNOTIFY_STATIC="/=www,/pkg=pkg" \
	  USERNOTIFY_DEMO_CURL=1 cargo run --release -q -p usernotify-service

test: tools lint test-host build size test-e2e

lint:
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy -p usernotify-service --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features worker -- -D warnings

# The core and the worker's decisions, then the app service (real HTTP on loopback, SQLite
# files, Web Push decrypted by a loopback receiver).
test-host:
	cargo test
	cargo test -p usernotify-service

size:
	scripts/worker-size.sh $(WORKER_BUDGET)

# The demo in headless Chromium (pushes delivered through the DevTools protocol) and in
# headless Firefox (real Web Push through a loopback push service and Firefox's own push
# path). USERNOTIFY_BROWSERS=chromium (or firefox) runs the cross-browser suites in one only.
test-e2e:
	node --test --test-concurrency=1 tests/e2e/

# The usernotify worker against a plain JS worker in one headless Chromium (bench/bench.mjs):
# payload from the worker's own requests, push → on screen warm and cold, a 200-push burst.
# Then the service on loopback (service/examples/bench.rs): posts accepted per second,
# request latency, pushes delivered per second, peak memory.
bench: build
	node bench/bench.mjs
	cargo run --release -q -p usernotify-service --example bench

# Each cargo-fuzz target for FUZZ_SECONDS (nightly; not part of `make test`). New inputs go
# to fuzz/corpus/ (ignored); the committed seeds are the contract's examples.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := validate_push service_request
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
	cd fuzz && for target in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$target && \
	  cargo +nightly fuzz run $$target corpus/$$target seeds/$$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done
