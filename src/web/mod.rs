//! The browser around the core: thin adapters over web-sys, awaited through
//! wasm-bindgen-futures. Two wasm modules are built from here, so that the worker downloads
//! nothing of the page API:
//! - the worker's (`worker` feature): [`worker`], the service worker's event handlers;
//! - the page's (`page` feature): [`client`], `NotificationClient`.
//!
//! Both share one IndexedDB layer ([`store`]) and one subscription path ([`subscription`],
//! over [`service`]). Nothing here panics or calls `window()` (absent in a worker); every
//! thrown JS value becomes a typed error with a stable code.

#[cfg(feature = "page")]
pub mod client;
#[cfg(feature = "page")]
mod follow;
pub mod js;
#[cfg(feature = "worker")]
mod lock;
#[cfg(feature = "worker")]
mod pages;
#[cfg(feature = "worker")]
mod screen;
pub mod service;
pub mod store;
pub mod subscription;
#[cfg(feature = "worker")]
mod wasm_cache;
#[cfg(feature = "worker")]
pub mod worker;
#[cfg(feature = "page")]
pub mod worker_status;

/// Both modules' allocator: a free list a fraction of dlmalloc's size (measured: ~2.5 KB
/// gzip saved).
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without atomics has one thread; these modules are
    // never built with threads.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
