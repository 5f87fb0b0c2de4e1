//! Linear-memory allocation for the TypeScript facade: buffers and scratch are 16-byte aligned
//! blocks of the Rust allocator. Failure returns 0 (null) rather than trapping.

use std::alloc::{alloc, dealloc, Layout};

const ALIGN: usize = 16;

/// Allocates `bytes` (at least 1) bytes aligned to 16; returns 0 when memory cannot grow.
#[no_mangle]
pub extern "C" fn bce_alloc(bytes: usize) -> *mut u8 {
    match Layout::from_size_align(bytes.max(1), ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc(layout) },
        Err(_) => core::ptr::null_mut(),
    }
}

/// Frees a block from `bce_alloc` of the same `bytes`. A null `ptr` is ignored.
///
/// # Safety
/// `ptr` came from `bce_alloc(bytes)` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn bce_free(ptr: *mut u8, bytes: usize) {
    if ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(bytes.max(1), ALIGN) {
        dealloc(ptr, layout)
    }
}
