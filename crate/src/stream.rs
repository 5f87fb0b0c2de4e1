//! How every kernel walks its arrays: blocks of four lanes with one partial block at the end,
//! operands broadcast from a period that divides the length, and the small status a call leaves.

use crate::lanes::{count_ones, Acc, M, V};
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
/// An element of the mask is neither 0 nor 1; its index is in `bce_error_index()`.
pub const BAD_MASK: u32 = 4;

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

/// The status of the last loss call: `OK`, `BAD_INPUT`, `BAD_TARGET`, `BAD_MASK` or `pass::BAD_WHAT`.
#[wasm_bindgen]
pub fn bce_status() -> u32 {
    // SAFETY: as above.
    unsafe { STATUS }
}

/// The index of the first bad element after a call whose status is `BAD_INPUT`, `BAD_TARGET` or `BAD_MASK`.
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

/// `map` with one copy of `f` (a block of four per iteration, the last one partial): for the raw
/// approximations, which are exported to be measured, not to be fast; their code is a fifth of
/// `map`'s, which the default entry's size budget needs for the loss kernels' scheduled loops.
///
/// # Safety
/// As for `map`.
#[inline(always)]
pub unsafe fn map_small(x: *const f32, out: *mut f32, n: usize, f: fn(V) -> V) {
    let mut i = 0;
    while i < n {
        let k = if n - i < 4 { n - i } else { 4 };
        let v = if k == 4 { load::<false>(x, i, 4, 0.0) } else { load::<true>(x, i, k, 0.0) };
        let r = f(v);
        if k == 4 {
            store::<false>(r, out, i, 4)
        } else {
            store::<true>(r, out, i, k)
        }
        i += k;
    }
}

/// The float64 sum of `w[i]` (1 without a weight) over the `n` elements that the mask at `m` keeps
/// (one byte per element, as the loss kernels read it; 0: no mask, all kept): the divisor of a masked
/// `'mean'` (a count) or of `'weightedMean'`. It reads the weight and the mask only, never the data,
/// so a fused pass can know its gradient's divisor before it starts. The weight as for the loss
/// kernels. Returns the sum, or NaN with `bce_status()` `BAD_MASK` for a mask byte above 1 (index in
/// `bce_error_index()`).
///
/// # Safety
/// `w` points to `w_len` floats, `m` (if not 0) to `n` bytes.
#[wasm_bindgen]
pub unsafe fn bce_kept_weight(w: usize, w_len: usize, w_phase: usize, m: usize, n: usize) -> f64 {
    let m = m as *const u8;
    // The two common cases read their operand straight through: a mask without a weight (a masked
    // 'mean': the count of its 1 bytes, `lanes::count_ones`) and a weight without a mask that lies in one
    // stretch ('weightedMean': the same lanes added in the same order as below, so the same sum).
    // Anything else, and a mask byte above 1 (whose index the loop below finds), takes the general loop.
    if w_len == 0 && !m.is_null() {
        if let Some(count) = count_ones(m, n) {
            return finish(OK, count as f64);
        }
    } else if m.is_null() && w_len > 1 && w_phase % w_len + n <= w_len {
        let p = (w as *const f32).add(w_phase % w_len);
        let mut acc = Acc::zero();
        let mut i = 0;
        while i + 4 <= n {
            acc.add(V::load(p.add(i)));
            i += 4;
        }
        if i < n {
            acc.add(V::load_partial(p.add(i), n - i, 0.0));
        }
        return finish(OK, acc.total());
    }
    let mut wb = Bcast::new(w as *const f32, w_len, w_phase, 1.0);
    let mut acc = Acc::zero();
    let mut i = 0;
    while i < n {
        let k = if n - i < 4 { n - i } else { 4 };
        let valid = M::first_lanes(k);
        let (keep, bad) = if m.is_null() {
            (valid, M::first_lanes(0))
        } else if k == 4 {
            load_mask::<false>(m, i, 4)
        } else {
            load_mask::<true>(m, i, k)
        };
        let bad = bad & valid;
        if bad.any() {
            let mut lane = 0;
            while !bad.lane(lane) {
                lane += 1;
            }
            set_error_index(i + lane);
            return finish(BAD_MASK, 0.0);
        }
        acc.add(V::select(keep & valid, wb.next(), V::splat(0.0)));
        i += k;
    }
    finish(OK, acc.total())
}

/// The mask lanes of elements `i..i + k` (`k = 4` unless `TAIL`) of a mask of one byte per element:
/// kept (byte not 0) and bad (byte above 1); a partial block reads its `k` bytes only (the lanes past
/// them are neither).
///
/// # Safety
/// `m` holds `i + k` bytes.
#[inline(always)]
pub unsafe fn load_mask<const TAIL: bool>(m: *const u8, i: usize, k: usize) -> (M, M) {
    if TAIL {
        let mut b = [0u8; 4];
        for (j, b) in b.iter_mut().enumerate().take(k) {
            *b = *m.add(i + j);
        }
        M::load_bytes(b.as_ptr())
    } else {
        M::load_bytes(m.add(i))
    }
}
