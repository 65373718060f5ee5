//! usernotify: Graph-style user notifications for the open web.
//!
//! [`core`] is plain Rust (model, validation, expiry, grouping, the feed's state
//! transitions), shared by the browser and the app service. `web` is the browser around it
//! (wasm32 only): the service worker's event handlers and the page API, on web-sys.

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
