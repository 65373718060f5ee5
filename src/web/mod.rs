//! The thin wasm adapter: turns browser events into calls on [`crate::core`] and its
//! decisions into browser calls. Never panics, never calls `window()` (absent in a worker),
//! and turns every thrown JS value into a `Result`.

mod js;
mod lock;
mod shown;
mod worker;
