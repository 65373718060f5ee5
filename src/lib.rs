//! usernotify: Graph-style user notifications for the open web.
//!
//! [`core`] is plain Rust (model, validation, expiry, display decisions), shared by the
//! browser module and the app service. `web` is the thin wasm adapter that runs them inside
//! a service worker and a page.

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod web;
