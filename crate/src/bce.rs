//! `binary_cross_entropy` on probabilities (PyTorch's `nn.BCELoss`), forward and backward:
//!
//! loss = ((y - 1) * max(log1p(-x), -100) - y * max(log(x), -100)) * w
//! grad = g * (x - y) / max((1 - x) * x, 1e-12) * w / d
//!
//! with the range check `0 <= x <= 1`, `0 <= y <= 1` (NaN fails) fused into the same pass.

use crate::lanes::{M, V};
use crate::math::{log1m_clamped, log_clamped};
use crate::pass::{dispatch, dispatch_fused, Loss, Pass};
use wasm_bindgen::prelude::wasm_bindgen;

struct Probabilities;

impl Loss for Probabilities {
    const PAD_INPUT: f32 = 0.5;
    const PAD_TARGET: f32 = 0.5;
    const CHECKS: bool = true;
    const PAIRS: bool = true;

    #[inline(always)]
    fn block<const L: bool, const G: bool>(&mut self, x: V, y: V, w: V, g: V, d: V) -> (V, V) {
        let one = V::splat(1.0);
        let loss = if L {
            ((y - one) * log1m_clamped(x) - y * log_clamped(x)) * w
        } else {
            one
        };
        let grad = if G {
            let denom = ((one - x) * x).pmax(V::splat(1e-12));
            g * (x - y) / denom * w / d
        } else {
            one
        };
        (loss, grad)
    }

    #[inline(always)]
    fn bad(x: V, y: V) -> (M, M) {
        let zero = V::splat(0.0);
        let one = V::splat(1.0);
        ((x.ge(zero) & x.le(one)).not(), (y.ge(zero) & y.le(one)).not())
    }
}

/// BCE on probabilities over `n` elements of `x` (input) and `y` (target); every array argument is
/// an address in linear memory.
///
/// `w`/`w_len`/`w_phase`: weight of period `w_len` (0: none), the first element using `w[w_phase]`
/// (see `stream::Bcast`). `g`/`g_len`: upstream gradient of period
/// `g_len` (0: 1). `grad_div`: the divisor of the gradient (N for `mean`, the kept count or weight
/// sum for a masked `mean` or `weightedMean`, else 1). `smooth_a`, `smooth_b`: label smoothing, the
/// target after its range check becomes `y * smooth_a + smooth_b` (`1 - e` and `e / 2` rounded once
/// from float64; none: 1 and -0, which leave `y` bit for bit). `what`: `pass::LOSS | LOSS_STORE |
/// GRAD` bits. (A mask: `bce_binary_cross_entropy_options`.)
/// Returns the float64 sum of the element losses (0 without `LOSS`), or NaN when the call failed:
/// then `bce_status()` is 1 / 2 for an input / target element outside [0, 1] (index in
/// `bce_error_index()`), 4 for a mask byte above 1 (likewise), or 3 for a bad `what` (a NaN sum
/// with status 0 is NaN in the data).
///
/// # Safety
/// Every address used holds as many floats as its length says (`n` for data and outputs).
#[wasm_bindgen]
pub unsafe fn bce_binary_cross_entropy(
    x: usize,
    y: usize,
    n: usize,
    w: usize,
    w_len: usize,
    w_phase: usize,
    g: usize,
    g_len: usize,
    grad_div: f32,
    loss_out: usize,
    grad_out: usize,
    smooth_a: f32,
    smooth_b: f32,
    what: u32,
) -> f64 {
    let pass = Pass::new(x, y, n, (w, w_len, w_phase), (g, g_len), grad_div, loss_out, grad_out)
        .with_options(smooth_a, smooth_b, 0);
    dispatch(&mut Probabilities, pass, what)
}

/// `bce_binary_cross_entropy` with a mask (and label smoothing as there): a 0/1 byte
/// mask at `m`, one byte per element (the caller expands a broadcast one); a masked-out
/// element gives 0 and is not range-checked; a mask byte above 1 is status 4 (index in
/// `bce_error_index()`). One fused loop for them (forward or backward alone write the other output
/// to a scratch block).
///
/// # Safety
/// As for `bce_binary_cross_entropy`; `m` holds `n` bytes.
#[wasm_bindgen]
pub unsafe fn bce_binary_cross_entropy_options(
    x: usize,
    y: usize,
    n: usize,
    w: usize,
    w_len: usize,
    w_phase: usize,
    g: usize,
    g_len: usize,
    grad_div: f32,
    loss_out: usize,
    grad_out: usize,
    smooth_a: f32,
    smooth_b: f32,
    m: usize,
    what: u32,
) -> f64 {
    let pass = Pass::new(x, y, n, (w, w_len, w_phase), (g, g_len), grad_div, loss_out, grad_out)
        .with_options(smooth_a, smooth_b, m);
    dispatch_fused(&mut Probabilities, pass, what)
}
