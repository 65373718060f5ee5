//! usernotify: Graph-style user notifications for the open web.
//!
//! [`core`] is plain Rust (model, validation, expiry, display decisions), shared by the
//! browser module and the app service. `web` is the thin wasm adapter that runs them inside
//! a service worker and a page.

// The shipped wasm module is no_std: std's panic machinery alone carried kilobytes of
// formatting code into every worker. Host builds (tests, the service) keep std.
#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]
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

#[cfg(target_arch = "wasm32")]
pub mod web;
