//! The thin wasm adapter: turns browser events into calls on [`crate::core`] and its
//! decisions into browser calls. Never panics, never calls `window()` (absent in a worker),
//! and turns every thrown JS value into a `Result`.

mod js;
mod json;
mod lock;
pub mod pages;
mod shown;
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
