# usernotify: `make demo` runs the demo, `make test` runs every test. Both install what
# they need first (scripts/install-tools.sh, idempotent).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

# Everything the worker loads, gzip -9, in bytes. 56 KiB since issue 18 (state across devices
# and preferences: 56,490 bytes measured, 4,848 over main's 51,642; docs/performance.md);
# 57 KiB since issue 25 (the shell answers the page's status question and keeps a failed
# install's reason, show()'s answer on a port, a bounded PushManager.subscribe: 58,006 bytes
# measured, 852 over main's 57,154); 57.25 KiB with issue 26's WebKit fixes beside them
# (replaced notifications closed, the worker's own closes forgotten under a new show:
# 58,506 bytes measured); 57.75 KiB with issue 24's one feed open per worker life, begun by
# the shell while the wasm loads (+765 bytes), less wasm-opt's --low-memory-unused (−373),
# measured with the classic shell, the one to register: 58,905 bytes; the page's messages
# read in the core, 58,988 (58,983 after a review).
WORKER_BUDGET ?= 59136
# The page module is the npm package (wasm-pack: pkg/usernotify.js, its .d.ts, package.json);
# the worker module is built alone beside it, so the worker downloads none of the page API.
WASM_TARGET := wasm32-unknown-unknown
# --low-memory-unused: rustc puts the stack first in memory, so the low 1 KiB is only the bottom
# of a 1 MiB stack, never data; wasm-opt folds constant offsets into loads and stores (−0.4
# KiB on the worker).
WASM_OPT_FLAGS := -Oz --converge --low-memory-unused --strip-producers --strip-target-features \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals

# The worker module rebuilds the standard library with panics that trap at once (no panic
# messages, nor the formatting code they pull in), `Debug` formatting compiled to nothing
# and no source locations, std's smaller implementations (`optimize_for_size`), and
# without wasm's reference types (wasm-bindgen then keeps JS values in a table of its glue;
# measured 0.8 KiB smaller). The flags are unstable; RUSTC_BOOTSTRAP lets the stable
# toolchain take them for this build alone, in its own target directory (rust-src comes
# from scripts/install-tools.sh).
WORKER_BUILD := RUSTC_BOOTSTRAP=1 \
  RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none -Ctarget-feature=-reference-types"
# What the worker's shell (www/sw.js) shares with the module, read from the one place each is
# written: the feed database's name and version (src/core/record.rs), for its early open, and
# the names of the page messages it answers itself (src/core/messages.rs).
rust_str = $(shell sed -n 's/^pub const $(1): &str = "\(.*\)";/\1/p' $(2))
SHELL_DEFINES := --define:USERNOTIFY_DATABASE=\"$(call rust_str,DATABASE,src/core/record.rs)\" \
  --define:USERNOTIFY_DATABASE_VERSION=$(shell sed -n 's/^pub const VERSION: u32 = \([0-9]*\);/\1/p' src/core/record.rs) \
  --define:USERNOTIFY_STATUS_MESSAGE=\"$(call rust_str,STATUS,src/core/messages.rs)\" \
  --define:USERNOTIFY_PUSH_MESSAGE=\"$(call rust_str,PUSH,src/core/messages.rs)\"
WORKER_WASM := target/worker/$(WASM_TARGET)/wasm/usernotify.wasm
WORKER_GLUE := target/worker/glue

.PHONY: tools build-tools build demo test lint test-host size package-check test-worker test-e2e screenshots fuzz bench

# What building needs (make build, make demo); `tools` adds what the tests run in: the
# browsers and their drivers, PostgreSQL.
build-tools:
	@echo '==> tools: installing what building needs, where missing (scripts/install-tools.sh build)'
	@scripts/install-tools.sh build

tools: build-tools
	@echo '==> tools: installing what the tests need, where missing (scripts/install-tools.sh tests)'
	@scripts/install-tools.sh tests

# Both modules are made small after wasm-bindgen: wasm-opt, import/export names shortened
# in the module and its glue (checked to agree). The page module (wasm-pack) is the npm
# package; its glue is minified like any bundler would. The worker module is built alone,
# with wasm-bindgen's reset-state function (the shell's fresh instance after a trap), and
# its glue is bundled into the shell, built twice from www/sw.js: a module worker and a
# classic one (importScripts). The shell's wasm cache is named after the wasm's hash.
build: build-tools
	@echo '==> build 1/3: the page module (wasm-pack, wasm-opt, esbuild)'
	wasm-pack build --target web --profile wasm --out-dir pkg --out-name usernotify -- --no-default-features --features page
	wasm-opt $(WASM_OPT_FLAGS) pkg/usernotify_bg.wasm -o pkg/usernotify_bg.wasm
	node scripts/shorten-wasm-names.mjs pkg/usernotify_bg.wasm pkg/usernotify.js pkg/usernotify.d.ts
	esbuild pkg/usernotify.js --minify-whitespace --minify-syntax --format=esm --log-level=warning --outfile=pkg/usernotify.js --allow-overwrite
	@echo '==> build 2/3: the worker module (cargo with the standard library rebuilt, wasm-bindgen, wasm-opt)'
	$(WORKER_BUILD) cargo build --lib --target $(WASM_TARGET) --profile wasm --no-default-features --features worker \
	  -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size --target-dir target/worker
	wasm-bindgen $(WORKER_WASM) --target web --no-typescript --experimental-reset-state-function \
	  --out-dir $(WORKER_GLUE) --out-name usernotify_worker
	wasm-opt $(WASM_OPT_FLAGS) --strip-debug $(WORKER_GLUE)/usernotify_worker_bg.wasm -o pkg/usernotify_worker_bg.wasm
	node scripts/shorten-wasm-names.mjs pkg/usernotify_worker_bg.wasm $(WORKER_GLUE)/usernotify_worker.js
	@echo '==> build 3/3: the worker shells, the inbox component and the npm package in pkg/'
	cp www/sw.js $(WORKER_GLUE)/sw.js
	build=$$(sha256sum pkg/usernotify_worker_bg.wasm | cut -c1-16) && \
	  esbuild $(WORKER_GLUE)/sw.js --bundle --minify --format=esm --define:USERNOTIFY_BUILD=\"$$build\" $(SHELL_DEFINES) \
	    --log-level=warning --outfile=pkg/usernotify-sw.js && \
	  esbuild $(WORKER_GLUE)/sw.js --bundle --minify --format=iife --define:USERNOTIFY_BUILD=\"$$build\" $(SHELL_DEFINES) \
	    --define:import.meta.url=self.location.href --log-level=warning --outfile=pkg/usernotify-sw.classic.js
	esbuild npm/inbox.js --minify --format=esm --log-level=warning --outfile=pkg/inbox.js
	node scripts/complete-package.mjs

# The app service serves the demo (www/ at /, pkg/ at /pkg/), with a demo user whose token
# is demo-token, and prints a ready-to-paste curl whenever a browser subscribes. Its data is
# in its own file, usernotify-demo.db, not the service's default. Set USERNOTIFY_VAPID_SUBJECT
# to your own address to push through Apple's push service.
demo: build
	@echo '==> the app service (cargo build --release; the first build takes a few minutes)'
	cargo build --release -p usernotify-service
	@echo "==> the demo on http://$${HOST:-127.0.0.1}:$${PORT:-8080}/ (Ctrl-C stops it)"
	USERNOTIFY_TOKENS="$${USERNOTIFY_TOKENS:-demo-token:demo}" USERNOTIFY_STATIC="/=www,/pkg=pkg" \
	  USERNOTIFY_DB="$${USERNOTIFY_DB:-usernotify-demo.db}" \
	  USERNOTIFY_VAPID_SUBJECT="$${USERNOTIFY_VAPID_SUBJECT:-mailto:demo@usernotify.invalid}" \
	  USERNOTIFY_DEMO_CURL=1 target/release/usernotify-service

test: tools lint test-host build size package-check test-worker test-e2e

lint:
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy -p usernotify-service --all-targets -- -D warnings
	cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features worker -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features page -- -D warnings

# The core and the worker's decisions, then the app service (real HTTP on loopback, SQLite
# files, Web Push decrypted by a loopback receiver), and its PostgreSQL suites: the store on
# both backends, the real binary as three replicas on one database (tests/replicas.rs). They
# start throwaway PostgreSQL clusters themselves (scripts/pg-cluster.sh, PostgreSQL from
# scripts/install-tools.sh); USERNOTIFY_TEST_POSTGRES=postgres://... uses a running server.
test-host:
	cargo test
	cargo test -p usernotify-service

size:
	scripts/worker-size.sh $(WORKER_BUDGET)

# The npm package as `npm publish --dry-run` sees it: no warnings, every file package.json
# names is shipped, the package's own README.
package-check:
	node scripts/check-package.mjs

# The worker's handlers inside a real service worker, in headless Chromium and Firefox
# (wasm-bindgen-test's run_in_service_worker; tests/in_worker.rs). webdriver.json grants
# the notification permission in both.
test-worker:
	CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome
	GECKODRIVER=$(HOME)/.cargo/bin/geckodriver wasm-pack test --headless --firefox

# The demo in headless Chromium (pushes delivered through the DevTools protocol), in
# headless Firefox (real Web Push through a loopback push service and Firefox's own push
# path) and in WebKitGTK, Safari's engine (W3C WebDriver under Xvfb; pushes through the
# worker's message path, since WebKitGTK has no push service). USERNOTIFY_BROWSERS=chromium
# (or firefox, webkit, or a comma-separated list) runs the cross-browser suites in those only.
# --test-force-exit: a file whose tests are done exits even if a child process it started is
# left running, so a failure ends the run instead of hanging it.
test-e2e:
	node --test --test-concurrency=1 --test-force-exit tests/e2e/

# docs/demo.png, the demo as a user sees it, taken by its end-to-end test (tests/e2e/demo.test.mjs)
# in headless Chromium; `make test` takes it too, into tests/e2e/.artifacts/.
screenshots: tools build
	USERNOTIFY_SCREENSHOTS=docs node --test --test-concurrency=1 tests/e2e/demo.test.mjs

# The usernotify worker against two JS workers in one headless Chromium (bench/bench.mjs): a
# plain one (bench/plain-sw.js) and the same job hand-written (bench/same-job-sw.js); payload
# from the worker's own requests, push → on screen warm and cold, a 200-push burst.
# `node bench/trace.mjs` shows where a cold push's time goes, phase by phase.
# Then the service on loopback (service/examples/bench.rs), on SQLite and on PostgreSQL with
# 1 and 3 replicas (a throwaway cluster at default durability), each scenario on a database
# of its own: posts accepted per second and their latency, pushes per second while posts
# arrive and as a backlog drained, post-to-push p50/p99, a user holding 100,000
# notifications against a fresh one, the noisy neighbour (one user's pushes hanging, another's
# post-to-push time), and every push checked to arrive exactly once. `cargo run --release
# -p usernotify-service --example bench 0.1` runs it at a tenth of the posts.
bench: tools build
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
