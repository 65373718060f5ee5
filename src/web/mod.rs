//! The thin wasm adapters. Two modules are built from here, so that the worker downloads
//! nothing of the page API:
//! - the worker's (`worker` feature): [`worker`], three exports over the decisions of
//!   [`crate::worker`], with no bindings at all: its shell performs the browser calls;
//! - the page's (`page` feature): `NotificationClient`, through wasm-bindgen. Never panic,
//!   never call `window()` (absent in a worker), and turn every thrown JS value into a
//!   `Result`.

#[cfg(feature = "page")]
pub mod client;
#[cfg(feature = "page")]
mod js;
#[cfg(feature = "page")]
mod store;
#[cfg(feature = "page")]
mod subscription;
#[cfg(feature = "page")]
mod task;
#[cfg(feature = "worker")]
pub mod worker;

/// A module-wide value: a `Cell` (swapping never panics, so no borrow-error formatting is
/// linked) that may live in a `static`.
pub struct ModuleCell<T>(pub core::cell::Cell<Option<T>>);

// SAFETY: wasm32-unknown-unknown without atomics runs each module on one thread only.
unsafe impl<T> Sync for ModuleCell<T> {}

impl<T> ModuleCell<T> {
    pub const fn new() -> ModuleCell<T> {
        ModuleCell(core::cell::Cell::new(None))
    }
}

impl<T> Default for ModuleCell<T> {
    fn default() -> ModuleCell<T> {
        ModuleCell::new()
    }
}

/// Without std a panic traps at once, with no message formatting linked in. Nothing here
/// panics on input: indexing, `unwrap` and `expect` are avoided by construction.
#[panic_handler]
fn abort(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// The page module's allocator: a free list a fraction of dlmalloc's size (measured: ~2.5
/// KB gzip saved). The worker module, built alone, has an arena instead ([`worker`]).
#[cfg(feature = "page")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without atomics has one thread; this module is never
    // built with threads.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
