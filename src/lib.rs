//! usernotify: Graph-style user notifications for the open web.
//!
//! [`core`] is plain Rust (model, validation, expiry, display decisions), shared by the
//! browser modules and the app service. [`worker`] is the service worker's decisions, asked
//! by its JS shell (`www/sw.js`), which makes the browser calls. `web` holds the wasm
//! adapters: the worker module's exports, and the page API.

// The wasm modules are no_std: std's panic machinery alone carried kilobytes of formatting
// code into every worker. Host builds (tests, the service) keep std.
#![cfg_attr(target_arch = "wasm32", no_std)]
// Input comes from the network and a panic in the worker kills the module for every later
// push: the library never unwraps, indexes or panics outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;

pub mod core;
pub mod worker;

#[cfg(target_arch = "wasm32")]
pub mod web;
