//! Linear-memory allocation for the TypeScript facade: buffers and scratch are 16-byte aligned
//! blocks of the Rust allocator. Failure returns 0 (null) rather than trapping.

use std::alloc::{alloc, dealloc, Layout};
use wasm_bindgen::prelude::wasm_bindgen;

const ALIGN: usize = 16;

/// Allocates `bytes` (at least 1) bytes aligned to 16; returns their address, or 0 when memory
/// cannot grow.
#[wasm_bindgen]
pub fn bce_alloc(bytes: usize) -> usize {
    match Layout::from_size_align(bytes.max(1), ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc(layout) as usize },
        Err(_) => 0,
    }
}

/// Frees a block from `bce_alloc` of the same `bytes`. A null `ptr` is ignored.
///
/// # Safety
/// `ptr` came from `bce_alloc(bytes)` and was not freed before.
#[wasm_bindgen]
pub unsafe fn bce_free(ptr: usize, bytes: usize) {
    let ptr = ptr as *mut u8;
    if ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(bytes.max(1), ALIGN) {
        dealloc(ptr, layout)
    }
}
