//! How every kernel walks its arrays: blocks of four lanes with one partial block at the end,
//! operands broadcast from a period that divides the length, and the small status a call leaves.

use crate::lanes::V;
use wasm_bindgen::prelude::wasm_bindgen;

/// Loads lanes `i..i + k` of `p`: all four in the body of a loop (`TAIL = false`), else the first
/// `k` (1..=4) element by element, padded with `pad`.
#[inline(always)]
pub unsafe fn load<const TAIL: bool>(p: *const f32, i: usize, k: usize, pad: f32) -> V {
    if TAIL {
        V::load_partial(p.add(i), k, pad)
    } else {
        V::load(p.add(i))
    }
}

/// Stores the lanes of `v` at `p + i`: all four, or the first `k` (1..=4) element by element.
#[inline(always)]
pub unsafe fn store<const TAIL: bool>(v: V, p: *mut f32, i: usize, k: usize) {
    if TAIL {
        v.store_partial(p.add(i), k)
    } else {
        v.store(p.add(i))
    }
}

/// An operand of period `len` (a weight, a pos_weight, a gradient): element `i` of the data uses
/// `ptr[i % len]`, read in step with the data, four lanes at a time, with no expanded copy.
/// `len = 0` means "absent" and reads as the constant `absent`; `len = 1` is a scalar. `phase`
/// (reduced modulo `len`) is the index of the operand that the first element uses: a piece of a
/// longer array that starts at element `a` passes `a % len`.
pub struct Bcast {
    ptr: *const f32,
    len: usize,
    pos: usize,
    splat: V,
}

impl Bcast {
    /// # Safety
    /// `ptr` must point to `len` readable floats when `len > 0`.
    #[inline(always)]
    pub unsafe fn new(ptr: *const f32, len: usize, phase: usize, absent: f32) -> Bcast {
        let splat = match len {
            0 => V::splat(absent),
            _ => V::splat(*ptr),
        };
        let pos = if len == 0 { 0 } else { phase % len };
        Bcast { ptr, len, pos, splat }
    }

    /// The next sixteen lanes, as `next()` four times; one branch for an operand that does not vary.
    /// (Its four values come out of one `if`, which wasm-opt leaves where it is: the kernels' four
    /// computations after it stay free of branches.)
    #[inline(always)]
    pub fn next4(&mut self) -> (V, V, V, V) {
        if self.len <= 1 {
            (self.splat, self.splat, self.splat, self.splat)
        } else {
            (self.next(), self.next(), self.next(), self.next())
        }
    }

    /// The next four lanes. Past the end of the data they wrap around, which is harmless: a partial
    /// block only stores and sums its valid lanes.
    #[inline(always)]
    pub fn next(&mut self) -> V {
        if self.len <= 1 {
            return self.splat;
        }
        // SAFETY: pos < len always holds, and every index read below is reduced below len.
        unsafe {
            if self.pos + 4 <= self.len {
                let v = V::load(self.ptr.add(self.pos));
                self.pos += 4;
                if self.pos == self.len {
                    self.pos = 0;
                }
                v
            } else {
                let mut a = [0.0f32; 4];
                for slot in a.iter_mut() {
                    *slot = *self.ptr.add(self.pos);
                    self.pos += 1;
                    if self.pos == self.len {
                        self.pos = 0;
                    }
                }
                V::from_array(a)
            }
        }
    }
}

/// Status codes returned by the kernels that check their input.
pub const OK: u32 = 0;
/// An element of the input is outside [0, 1] or NaN; its index is in `bce_error_index()`.
pub const BAD_INPUT: u32 = 1;
/// An element of the target is outside [0, 1] or NaN; its index is in `bce_error_index()`.
pub const BAD_TARGET: u32 = 2;

static mut STATUS: u32 = OK;
static mut ERROR_INDEX: usize = 0;

pub fn set_error_index(i: usize) {
    // SAFETY: a wasm instance runs one call at a time.
    unsafe { ERROR_INDEX = i }
}

/// What a loss kernel returns, given its status and its float64 loss sum: the sum when the status
/// is `OK`, else NaN. The status is kept for `bce_status()`, which the facade reads only after a
/// NaN (a NaN sum is also what NaN data gives), so that a call is one crossing into wasm.
pub fn finish(status: u32, sum: f64) -> f64 {
    // SAFETY: as above.
    unsafe { STATUS = status }
    if status == OK {
        sum
    } else {
        f64::NAN
    }
}

/// The status of the last loss call: `OK`, `BAD_INPUT`, `BAD_TARGET` or `pass::BAD_WHAT`.
#[wasm_bindgen]
pub fn bce_status() -> u32 {
    // SAFETY: as above.
    unsafe { STATUS }
}

/// The index of the first bad element after a call whose status is `BAD_INPUT` or `BAD_TARGET`.
#[wasm_bindgen]
pub fn bce_error_index() -> usize {
    // SAFETY: as above.
    unsafe { ERROR_INDEX }
}

/// `out[i] = f(x[i])` for `i < n`; `out` may be `x` itself.
///
/// # Safety
/// `x` and `out` must point to `n` floats each.
#[inline(always)]
pub unsafe fn map(x: *const f32, out: *mut f32, n: usize, f: fn(V) -> V) {
    let full = n & !3;
    let mut i = 0;
    // Four blocks per iteration, as in `pass::run`.
    while i < (n & !15) {
        store::<false>(f(load::<false>(x, i, 4, 0.0)), out, i, 4);
        store::<false>(f(load::<false>(x, i + 4, 4, 0.0)), out, i + 4, 4);
        store::<false>(f(load::<false>(x, i + 8, 4, 0.0)), out, i + 8, 4);
        store::<false>(f(load::<false>(x, i + 12, 4, 0.0)), out, i + 12, 4);
        i += 16;
    }
    while i < full {
        store::<false>(f(load::<false>(x, i, 4, 0.0)), out, i, 4);
        i += 4;
    }
    if i < n {
        store::<true>(f(load::<true>(x, i, n - i, 0.0)), out, i, n - i);
    }
}
