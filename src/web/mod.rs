//! The thin wasm adapters: turn browser events and page calls into calls on [`crate::core`]
//! and its decisions into browser calls. Never panic, never call `window()` (absent in a
//! worker), and turn every thrown JS value into a `Result`.
//!
//! Two modules are built from here: the worker's (`worker` feature: `handleEvent`) and the
//! page's (`page` feature: `NotificationClient`), so that the worker downloads nothing of
//! the page API. Both share the feed store.

mod js;
mod json;
mod store;

#[cfg(feature = "page")]
pub mod client;
#[cfg(feature = "worker")]
mod lock;
#[cfg(feature = "worker")]
pub mod pages;
#[cfg(feature = "worker")]
mod shown;
mod subscription;
mod task;
#[cfg(feature = "worker")]
pub mod worker;

/// Without std a panic traps at once, with no message formatting linked in. Nothing here
/// panics on input: indexing, `unwrap` and `expect` are avoided by construction.
#[cfg(not(feature = "std"))]
#[panic_handler]
fn abort(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// A free-list allocator a fraction of dlmalloc's size: a worker runs one event at a time
/// and keeps little alive between events (measured: ~2.5 KB gzip saved).
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without atomics has one thread; this module is never
    // built with threads.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
