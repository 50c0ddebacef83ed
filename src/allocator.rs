//! The global allocator of the `kvflow` binary and its benchmarks: mimalloc, asked for a
//! plain block whenever a plain block is aligned enough.
//!
//! Every row, key and group is a small allocation, and glibc's allocator was the largest
//! single cost in profiles of the engine benchmarks, hence mimalloc. Its Rust wrapper asks
//! for every block through the aligned entry points. Those take mimalloc's fast path only
//! when a page of the size's class has a free block at hand; otherwise (a page used up, a
//! block over 1 KiB) a size that is not a power of two is over-allocated and aligned by
//! hand: about 150 instructions (callgrind, `window_counts.toml`: 600 000 such calls for
//! 200 000 events). A block mimalloc hands out is aligned to 16 bytes when it is at least
//! 16 bytes long, and to 8 otherwise, so, as the standard library does with the system's
//! `malloc`, an alignment of at most 16 and at most the size takes the plain entry points.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every block of at least that size has.
const PLAIN_ALIGN: usize = 16;

/// mimalloc, through its plain entry points where they suffice (see the module docs).
pub struct Allocator;

/// Whether a plain block suits `layout`.
#[inline(always)]
fn plain(layout: &Layout) -> bool {
    layout.align() <= PLAIN_ALIGN && layout.align() <= layout.size()
}

// SAFETY: every entry point returns a block of at least `layout.size()` bytes aligned to
// `layout.align()` (the plain ones when `plain` holds, see the module docs), or null; and
// `mi_free` takes a block from any of them.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's entry points take any size and a power-of-two alignment.
        unsafe {
            match plain(&layout) {
                true => mi::mi_malloc(layout.size()),
                false => mi::mi_malloc_aligned(layout.size(), layout.align()),
            }
            .cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            match plain(&layout) {
                true => mi::mi_zalloc(layout.size()),
                false => mi::mi_zalloc_aligned(layout.size(), layout.align()),
            }
            .cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from one of this allocator's entry points.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align(new_size, layout.align());
        // SAFETY: `ptr` came from one of this allocator's entry points; the new block keeps
        // the alignment, plain only when a plain block of the new size has it.
        unsafe {
            match new.as_ref().is_ok_and(plain) {
                true => mi::mi_realloc(ptr.cast(), new_size),
                false => mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()),
            }
            .cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of every small size and alignment, grown and shrunk, keep their alignment and
    /// their contents.
    #[test]
    fn blocks_keep_their_alignment_and_contents() {
        let allocator = Allocator;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in (1..=130).chain([1000, 1024, 1025, 5000, 70_000]) {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a layout of non-zero size; each block is freed once, by this
                // allocator, with the layout it has.
                unsafe {
                    let block = allocator.alloc(layout);
                    assert_eq!(block as usize % align, 0, "size {size} align {align}");
                    block.write_bytes(0xA5, size);
                    let grown = allocator.realloc(block, layout, size * 3 + 7);
                    assert_eq!(grown as usize % align, 0, "grown {size} align {align}");
                    assert!((0..size).all(|i| *grown.add(i) == 0xA5));
                    let shrunk = allocator.realloc(grown, layout, size.div_ceil(2));
                    assert_eq!(shrunk as usize % align, 0, "shrunk {size} align {align}");
                    assert!((0..size.div_ceil(2)).all(|i| *shrunk.add(i) == 0xA5));
                    allocator.dealloc(
                        shrunk,
                        Layout::from_size_align(size.div_ceil(2), align).unwrap(),
                    );
                    let zeroed = allocator.alloc_zeroed(layout);
                    assert_eq!(zeroed as usize % align, 0, "zeroed {size} align {align}");
                    assert!((0..size).all(|i| *zeroed.add(i) == 0));
                    allocator.dealloc(zeroed, layout);
                }
            }
        }
    }
}
