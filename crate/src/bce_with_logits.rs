//! `binary_cross_entropy_with_logits` (PyTorch's `nn.BCEWithLogitsLoss`), forward and backward:
//!
//! loss = ((1 - y) * softplus(x) + p * y * softplus(-x)) * w   (p = 1 without pos_weight)
//! grad = g * (sigmoid(x) - y) * w / d          without pos_weight
//! grad = g * (((p * y + 1) - y) * sigmoid(x) - p * y) * w / d with pos_weight (PyTorch's order)
//!
//! The loss is PyTorch's `(1 - y) * x - lw * logsigmoid(x)` with `lw = 1 + (p - 1) * y`, rewritten:
//! `x = softplus(x) - softplus(-x)` and `logsigmoid(x) = -softplus(-x)` give the form above, whose
//! two terms are non-negative for targets in [0, 1] and p >= 0. PyTorch's form cancels (at x = -25,
//! y = 0 its float32 value is 0 for a true loss of 1.39e-11); this one is within a few ulps of the
//! true value everywhere. The gradient keeps PyTorch's formula and order of operations.
//!
//! No value checks: NaN propagates, as in PyTorch. `exp(-|x|)` and `1 + exp(-|x|)` are computed
//! once per element, and `log1p(exp(-|x|))` once, shared by both softplus terms and the sigmoid
//! (see `math::Logistic`).

use crate::lanes::{M, V};
use crate::math::Logistic;
use crate::pass::{dispatch, dispatch_fused, Loss, Pass};
use crate::stream::Bcast;
use wasm_bindgen::prelude::wasm_bindgen;

/// `POS`: whether a pos_weight is given (its gradient formula differs in rounding from the plain one).
struct Logits<const POS: bool> {
    pos_weight: Bcast,
}

impl<const POS: bool> Loss for Logits<POS> {
    const PAD_INPUT: f32 = 0.0;
    const PAD_TARGET: f32 = 0.0;
    const CHECKS: bool = false;
    const MASK_PAIRS: bool = POS;

    // Without a pos_weight the only special lanes are x = -inf: the quad loop leaves blocks holding
    // one to `step`, so that its blocks need not patch them (six operations a block).
    const SPECIAL: bool = !POS;

    #[inline(always)]
    fn special(x: V) -> M {
        neg_inf(x)
    }

    #[inline(always)]
    fn block<const L: bool, const G: bool>(&mut self, x: V, y: V, w: V, g: V, d: V) -> (V, V) {
        self.block_exact::<L, G, true>(x, y, w, g, d)
    }

    #[inline(always)]
    fn block_lean<const L: bool, const G: bool>(&mut self, x: V, y: V, w: V, g: V, d: V) -> (V, V) {
        self.block_exact::<L, G, POS>(x, y, w, g, d)
    }

    #[inline(always)]
    fn bad(_x: V, _y: V) -> (M, M) {
        let none = M::first_lanes(0);
        (none, none)
    }
}

impl<const POS: bool> Logits<POS> {
    /// A block; `EXACT`: with PyTorch's values at the special lanes (see `core_loss`).
    #[inline(always)]
    fn block_exact<const L: bool, const G: bool, const EXACT: bool>(&mut self, x: V, y: V, w: V, g: V, d: V) -> (V, V) {
        let one = V::splat(1.0);
        let logistic = Logistic::of(x);
        let p = if POS { self.pos_weight.next() } else { one };
        let loss = if L {
            core_loss::<POS, EXACT>(&logistic, x, y, p) * w
        } else {
            one
        };
        let grad = if G {
            let s = logistic.sigmoid();
            // PyTorch's order of float32 operations, `((p y + 1) - y) s - p y` (the same value as
            // `lw s - p y`), so that rounding agrees with it bit for bit wherever sigmoid does.
            let core = if POS {
                let t = p * y;
                ((t + one) - y) * s - t
            } else {
                s - y
            };
            g * core * w / d
        } else {
            one
        };
        (loss, grad)
    }
}

/// The element loss before the weight (see the module comment; `p` is 1 without a pos_weight):
/// shared with the focal loss, whose `gamma = 0`, `alpha < 0` case is this loss bit for bit.
/// PyTorch's `(1 - y) x - lw logsigmoid(x)` as `(1 - y) softplus(x) + p y softplus(-x)`, with
/// softplus(+-x) = log1p(t) + max(+-x, 0): `lw log1p(t) + x c`, `lw = (1 - y) + p y`, `c = 1 - y` for
/// x >= 0 and `-p y` below. Every term is non-negative for y in [0, 1] and p >= 0: nothing cancels.
/// `EXACT = false` leaves out the lanes where x = -inf (only without a pos_weight: for blocks that have none).
#[inline(always)]
pub(crate) fn core_loss<const POS: bool, const EXACT: bool>(logistic: &Logistic, x: V, y: V, p: V) -> V {
    let one = V::splat(1.0);
    let l = logistic.log1p_t();
    let one_y = one - y;
    let py = if POS { p * y } else { y };
    // Without a pos_weight, `1 - y` for x >= 0 and `0 - y` below, one subtraction (`0 - y` is `-y`
    // but for y = +0, where x c is then -0 instead of +0, which l >= +0 absorbs).
    let c = if POS { V::select(logistic.positive, one_y, py.neg()) } else { one.keep(logistic.positive) - y };
    // lw = (1 - y) + p y is exactly 1 for p = 1 and y in [0, 1]: with a pos_weight of 1 the
    // loss is the one without, bit for bit, as in PyTorch.
    let core = if POS { (one_y + py) * l + x * c } else { l + x * c };
    // Where PyTorch's form has special values ours has not, PyTorch's: at x = -inf it is
    // `(1 - y)(-inf) + lw inf`, NaN for y <= 1 (the limit would be +inf); with an infinite
    // lw, `lw * 0` would be NaN where PyTorch has `inf * x`.
    if !EXACT {
        return core;
    }
    let lw = if POS { one + (p - one) * y } else { one };
    let special = neg_inf(x);
    let special = if POS { special | lw.abs().eq(V::splat(f32::INFINITY)) } else { special };
    // (logsigmoid(x) = min(x, 0) - log1p(t), which is x itself at x = -inf.)
    let torch = if POS { one_y * x - lw * (x.pmin(V::splat(0.0)) - l) } else { one_y * x - x };
    V::select(special, torch, core)
}

/// The lanes where x = -inf, whose PyTorch values `core_loss` computes only when `EXACT` (and the
/// quad loop, `Loss::special`, sends to the per-block path for that): one test for both.
#[inline(always)]
fn neg_inf(x: V) -> M {
    x.eq(V::splat(f32::NEG_INFINITY))
}

/// BCE with logits over `n` elements of `x` (logits) and `y` (target). Arguments as for
/// `bce_binary_cross_entropy`, plus `p`/`p_len`/`p_phase`: pos_weight of period `p_len` (0: none)
/// starting at `p[p_phase]`.
/// Returns the float64 loss sum as `bce_binary_cross_entropy` does (the only failure: a bad `what`,
/// status 3).
///
/// # Safety
/// As for `bce_binary_cross_entropy`.
#[wasm_bindgen]
pub unsafe fn bce_binary_cross_entropy_with_logits(
    x: usize,
    y: usize,
    n: usize,
    w: usize,
    w_len: usize,
    w_phase: usize,
    p: usize,
    p_len: usize,
    p_phase: usize,
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
    let pos_weight = Bcast::new(p as *const f32, p_len, p_phase, 1.0);
    if p_len == 0 {
        dispatch(&mut Logits::<false> { pos_weight }, pass, what)
    } else {
        dispatch(&mut Logits::<true> { pos_weight }, pass, what)
    }
}

/// `bce_binary_cross_entropy_with_logits` with a mask (and label smoothing as there): a 0/1 byte
/// mask at `m`, one byte per element (the caller expands a broadcast one); a masked-out
/// element gives 0 and is not range-checked; a mask byte above 1 is status 4 (index in
/// `bce_error_index()`). One fused loop for them (forward or backward alone write the other output
/// to a scratch block).
///
/// # Safety
/// As for `bce_binary_cross_entropy_with_logits`; `m` holds `n` bytes.
#[wasm_bindgen]
pub unsafe fn bce_binary_cross_entropy_with_logits_options(
    x: usize,
    y: usize,
    n: usize,
    w: usize,
    w_len: usize,
    w_phase: usize,
    p: usize,
    p_len: usize,
    p_phase: usize,
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
    let pos_weight = Bcast::new(p as *const f32, p_len, p_phase, 1.0);
    if p_len == 0 {
        dispatch_fused(&mut Logits::<false> { pos_weight }, pass, what)
    } else {
        dispatch_fused(&mut Logits::<true> { pos_weight }, pass, what)
    }
}
