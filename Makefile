# usernotify: `make demo` runs the demo, `make test` runs every test. Both install what
# they need first (scripts/install-tools.sh, idempotent).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

# Everything the worker loads, gzip -9, in bytes.
WORKER_BUDGET ?= 24576
WASM_PACK_BUILD := wasm-pack build --target web --profile wasm --out-dir pkg --out-name usernotify

.PHONY: tools build demo test lint test-host size test-worker test-e2e fuzz bench

tools:
	scripts/install-tools.sh

# What the worker loads is made small after wasm-pack: import/export names shortened in
# the module and its glue (checked to agree), then the glue minified like any bundler would.
build: tools
	$(WASM_PACK_BUILD)
	node scripts/shorten-wasm-names.mjs pkg/usernotify_bg.wasm pkg/usernotify.js
	esbuild pkg/usernotify.js --minify --format=esm --log-level=warning --outfile=pkg/usernotify.js --allow-overwrite
	esbuild www/sw.js --minify --format=esm --log-level=warning --outfile=pkg/usernotify-sw.js
	node scripts/package-worker.mjs

demo: build
	node scripts/serve.mjs

test: tools lint test-host build size test-worker test-e2e

lint:
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy -p usernotify-service --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
	cargo clippy --all-targets --target wasm32-unknown-unknown --features std -- -D warnings

# The core, then the app service (real HTTP on loopback, SQLite files, Web Push decrypted by
# a loopback receiver).
test-host:
	cargo test
	cargo test -p usernotify-service

size:
	scripts/worker-size.sh $(WORKER_BUDGET)

# The glue inside a real service worker of headless Chromium (webdriver.json grants the
# notification permission).
test-worker:
	CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --release -- --features std --test worker

# The demo in headless Chromium, pushes delivered through the DevTools protocol.
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
