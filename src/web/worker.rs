//! The worker module's exports: [`crate::worker::decide`] behind three functions, with a
//! tape in ([`crate::core::tape`]) and JSON text out. The module imports nothing and is
//! built without wasm-bindgen: the shell (`www/sw.js`) writes a question into [`input`]'s
//! buffer, calls [`decide`], and reads the answer from [`output`].

use alloc::string::String;
use alloc::vec::Vec;

use super::ModuleCell;

static INPUT: ModuleCell<Vec<u8>> = ModuleCell::new();
static OUTPUT: ModuleCell<String> = ModuleCell::new();

/// A buffer of `length` bytes for the shell to write the next question into. The last
/// question and answer are done with: their memory is reused.
#[export_name = "input"]
pub extern "C" fn input(length: usize) -> *mut u8 {
    INPUT.0.set(None);
    OUTPUT.0.set(None);
    #[cfg(not(feature = "page"))]
    arena::empty();
    let mut buffer = alloc::vec![0; length];
    let at = buffer.as_mut_ptr();
    INPUT.0.set(Some(buffer));
    at
}

/// Answers the question in the input buffer; returns the answer's length in bytes.
#[export_name = "decide"]
pub extern "C" fn decide() -> usize {
    let question = INPUT.0.take().unwrap_or_default();
    let answer = crate::worker::decide(&question);
    let length = answer.len();
    OUTPUT.0.set(Some(answer));
    length
}

/// Where the last answer is (UTF-8).
#[export_name = "output"]
pub extern "C" fn output() -> *const u8 {
    let answer = OUTPUT.0.take().unwrap_or_default();
    let at = answer.as_ptr();
    OUTPUT.0.set(Some(answer));
    at
}

/// The worker module's memory: one arena, emptied when the next question arrives. The
/// module keeps nothing between questions, so nothing is freed one by one, and the
/// allocator is a pointer that moves forward (a free list was 134 bytes more, gzip).
#[cfg(not(feature = "page"))]
mod arena {
    use core::alloc::{GlobalAlloc, Layout};
    use core::arch::wasm32::{memory_grow, memory_size};
    use core::cell::Cell;
    use core::ptr;

    const PAGE: usize = 65_536;

    extern "C" {
        /// Where the linker ends the module's static data and its stack: the heap's start.
        static __heap_base: u8;
    }

    struct Arena {
        /// The next free byte; 0 until the first allocation.
        next: Cell<usize>,
    }

    // SAFETY: wasm32-unknown-unknown without atomics runs this module on one thread only.
    unsafe impl Sync for Arena {}

    #[global_allocator]
    static ARENA: Arena = Arena { next: Cell::new(0) };

    /// Only the symbol's address is taken, never its value.
    fn heap_start() -> usize {
        ptr::addr_of!(__heap_base) as usize
    }

    /// Frees everything at once. Only called when nothing allocated is alive: between
    /// questions, once the input and output buffers are dropped.
    pub fn empty() {
        ARENA.next.set(heap_start());
    }

    // SAFETY: every block is fresh memory of the requested size and alignment, inside the
    // module's memory (grown as needed), and never handed out twice until `empty`.
    unsafe impl GlobalAlloc for Arena {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let next = match self.next.get() {
                0 => heap_start(),
                next => next,
            };
            let start = (next + layout.align() - 1) & !(layout.align() - 1);
            let Some(end) = start.checked_add(layout.size()) else {
                return ptr::null_mut();
            };
            let available = memory_size(0) * PAGE;
            if end > available && memory_grow(0, (end - available).div_ceil(PAGE)) == usize::MAX {
                return ptr::null_mut();
            }
            self.next.set(end);
            start as *mut u8
        }

        unsafe fn dealloc(&self, _block: *mut u8, _layout: Layout) {}
    }
}
