//! torchvision's `sigmoid_focal_loss` on logits, forward and backward:
//!
//! s    = sigmoid(x),  ce = BCEWithLogits(x, y)          (the logits loss of `bce_with_logits.rs`)
//! u    = 1 - p_t = s (1 - y) + (1 - s) y                (p_t = s y + (1 - s)(1 - y))
//! a    = alpha y + (1 - alpha)(1 - y)  if alpha >= 0, else 1    (1 - alpha from the caller: see below)
//! loss = ce * u^gamma * a * w
//! grad = g * a * (u^gamma (s - y) + s (1 - s) (1 - 2y) u^(gamma - 1) ce gamma) * w / d
//!
//! (`du/dx = s (1 - s) (1 - 2y)`, `dce/dx = s - y`: PyTorch autograd of that formula.) `1 - s` is
//! `sigmoid(-x)` formed from `s` without a second division (`math::Logistic::sigmoid_neg`, 2.375
//! ulp), so `u` does not cancel where p_t is near 1, and everything comes from the one `exp(-|x|)`
//! of the logits loss. `u^gamma` is a product of
//! squarings for an integral gamma (a few ulps), the same times `sqrt(u)` for a gamma of
//! k + 1/2 (sqrt is correctly rounded: no exponential or logarithm), exactly 1 for
//! gamma = 0, else `exp(gamma log u)`, whose relative error grows as |gamma log u| 2^-24. Where
//! autograd is not finite, at `u = 0` (p_t = 1 in float32) for gamma < 1, the second term is taken
//! as its limit 0 (ce is 0 there too); at x = +-inf, where PyTorch's ce is NaN, the gradient is NaN
//! for every gamma > 0, as autograd's (for gamma = 0 it is the logits loss's, 0 or -+1). Where
//! `u^(gamma - 1)` alone overflows (gamma < 1, u subnormal), `du u^(gamma - 1)` is formed scaled.
//! With `gamma = 0` and `alpha < 0` the loss and gradient are the logits loss's, bit for bit.

use crate::bce_with_logits::core_loss;
use crate::lanes::{M, V};
use crate::math::{exp, log, Logistic};
use crate::pass::{dispatch_fused, Loss, Pass};
use wasm_bindgen::prelude::wasm_bindgen;

struct Focal {
    alpha: f32,
    /// `1 - alpha`, computed by the caller from its double `alpha` and rounded once, as torchvision's
    /// `(1 - alpha) * (1 - targets)` does (1 - alpha of the float32 alpha differs near 1: 19% at
    /// alpha = 0.9999999).
    alpha_c: f32,
    gamma: f32,
    power: Power,
}

/// How `u^gamma` is computed (see the module comment).
#[derive(Clone, Copy)]
enum Power {
    /// gamma = k, an integer from 1 to 2^31 (0 as 1, and above 2^31 as 2^31: see `of`): squarings.
    Int(u32),
    /// gamma = k + 1/2: squarings and a square root.
    Half(u32),
    /// Any other gamma: `exp(gamma log u)`.
    Real,
}

impl Power {
    #[inline(always)]
    fn of(gamma: f32) -> Power {
        // Every integral gamma (at most 31 squarings; above 64 an integral gamma took exp(gamma log u)
        // before, NaN for a negative u, a target outside [0, 1], where torchvision's power is finite)
        // and every half-integral one (gamma - 0.5 is exact below 2^23, and above it every float32
        // is an integer). From 2^31 on every float32 is an even integer, and u^gamma in float32 is
        // u^(2^31): 0, 1 or inf by |u| (|u| = 1 -+ 2^-24 is already 0 or inf there), its derivative's
        // power odd, as PyTorch's gamma - 1 in float64 is (`gamma as u32` saturates: 2^32 came back
        // as 2^32 - 1, odd, and the sign of u^gamma with it).
        let h = gamma - 0.5;
        if gamma >= 2_147_483_648.0 {
            Power::Int(1 << 31)
        } else if gamma == (gamma as u32) as f32 {
            // (gamma = 0 too: `post` replaces its u^gamma by 1 and drops its term, so any finite
            // power does, and the squarings' cost 0 multiplications: not exp(0 log u).)
            Power::Int((gamma as u32).max(1))
        } else if h >= 0.0 && h == (h as u32) as f32 {
            Power::Half(h as u32)
        } else {
            Power::Real
        }
    }
}

/// The part of a block before the power of `u` (see the module comment); `du = du/dx`.
struct Pre {
    s: V,
    ce: V,
    u: V,
    du: V,
}

impl Focal {
    #[inline(always)]
    fn pre(x: V, y: V) -> Pre {
        let logistic = Logistic::of(x);
        let s = logistic.sigmoid();
        let sc = logistic.sigmoid_neg(s);
        let ce = core_loss::<false, true>(&logistic, x, y, V::splat(1.0));
        let u = s * (V::splat(1.0) - y) + sc * y;
        let du = s * sc * (V::splat(1.0) - (y + y));
        Pre { s, ce, u, du }
    }

    /// `(u^gamma, du u^(gamma - 1))` of two blocks: by multiplications for an integral gamma (a few
    /// ulps), times a square root for a half-integral one, else exp(gamma log u) and its quotient by
    /// u (whose error grows with |gamma log u|). (The value for gamma = 0 is replaced by 1 in
    /// `post`.) The squarings of both blocks side by side in one loop. du first: |du| <= 1/4 and
    /// u^(gamma - 1) <= 1 for gamma >= 1, so where du is 0 (|x| huge, y = 1/2) the product is 0
    /// before it meets a ce or a gamma that would overflow in `post`.
    #[inline(always)]
    fn power2(&self, a: &Pre, b: &Pre) -> ((V, V), (V, V)) {
        let (u, v) = (a.u, b.u);
        let (k, half) = match self.power {
            Power::Int(k) => (k - 1, false),
            Power::Half(k) => (k, true),
            Power::Real => return (self.power_real(a), self.power_real(b)),
        };
        let (pu, pv) = powi2(u, v, k);
        if half {
            // u^k sqrt(u), and its quotient by u (NaN at u = 0, where `post` takes the limit, 0).
            let (fu, fv) = (pu * u.sqrt(), pv * v.sqrt());
            ((fu, a.du * (fu / u)), (fv, b.du * (fv / v)))
        } else {
            ((pu * u, a.du * pu), (pv * v, b.du * pv))
        }
    }

    #[inline(always)]
    fn power_real(&self, p: &Pre) -> (V, V) {
        let u = p.u;
        let f = exp(V::splat(self.gamma) * log(u));
        // du u^(gamma - 1) as (du k)(f / (u k)), k = 2^64 where u is subnormal: for gamma < 1,
        // u^(gamma - 1) alone overflows there (up to 2^149 for gamma near 0) while the product,
        // at most u^gamma in size (|du| <= u for targets in [0, 1]), does not; both scalings are
        // exact. k = 1 elsewhere: bit for bit `du * (f / u)`.
        let k = V::select(u.lt(V::splat(f32::MIN_POSITIVE)), V::splat(18_446_744_073_709_551_616.0), V::splat(1.0));
        (f, (p.du * k) * (f / (u * k)))
    }

    #[inline(always)]
    fn post<const L: bool, const G: bool>(&self, p: Pre, (f, du_f1): (V, V), y: V, w: V, g: V, d: V) -> (V, V) {
        let one = V::splat(1.0);
        let zero = V::splat(0.0);
        let Pre { s, ce, u, .. } = p;
        let gamma = V::splat(self.gamma);
        let gamma_zero = gamma.eq(zero);
        let f = V::select(gamma_zero, one, f);
        let alpha = V::splat(self.alpha);
        let a = V::select(alpha.ge(zero), alpha * y + V::splat(self.alpha_c) * (one - y), one);
        let loss = if L { ce * f * a * w } else { one };
        let grad = if G {
            let sy = s - y;
            // du u^(gamma - 1) from `power2` first (`gamma * ce` first made inf * 0 = NaN where
            // autograd is finite).
            let term = du_f1 * ce * gamma;
            // At u = 0 the term's limit, 0 (where autograd has 0 * inf for gamma < 1), unless ce is
            // NaN (x = +-inf: PyTorch's ce is NaN there, and so is autograd's gradient); none for
            // gamma = 0 (f = 1 there: `1 * sy + 0` is sy, never -0, bit for bit the logits loss's).
            let term = V::select((u.eq(zero) & ce.eq(ce)) | gamma_zero, zero, term);
            let core = (f * sy + term) * a;
            g * core * w / d
        } else {
            one
        };
        (loss, grad)
    }
}

/// `(u^k, v^k)` by squaring (k multiplications at most 2 log2 k, each rounding once), the two
/// side by side in one loop.
#[inline(always)]
fn powi2(u: V, v: V, mut k: u32) -> (V, V) {
    let (mut r, mut q) = (V::splat(1.0), V::splat(1.0));
    let (mut b, mut c) = (u, v);
    while k > 0 {
        if k & 1 == 1 {
            r = r * b;
            q = q * c;
        }
        k >>= 1;
        if k > 0 {
            b = b * b;
            c = c * c;
        }
    }
    (r, q)
}

impl Loss for Focal {
    const PAD_INPUT: f32 = 0.0;
    const PAD_TARGET: f32 = 0.0;
    const CHECKS: bool = false;

    #[inline(always)]
    fn block<const L: bool, const G: bool>(&mut self, x: V, y: V, w: V, g: V, d: V) -> (V, V) {
        let p = Focal::pre(x, y);
        // (The second block's powers, unused, are dropped by the compiler.)
        let f = self.power2(&p, &p).0;
        self.post::<L, G>(p, f, y, w, g, d)
    }

    /// Both blocks up to `u`, one branch on gamma for both powers, then both the rest: two
    /// straight lines of two blocks each (for the CPU to overlap and scripts/schedule-loops.mjs to
    /// interleave) instead of four lines of one.
    #[inline(always)]
    fn block2<const L: bool, const G: bool>(&mut self, a: (V, V, V, V), b: (V, V, V, V), d: V) -> ((V, V), (V, V)) {
        let pa = Focal::pre(a.0, a.1);
        let pb = Focal::pre(b.0, b.1);
        let (fa, fb) = self.power2(&pa, &pb);
        let ra = self.post::<L, G>(pa, fa, a.1, a.2, a.3, d);
        let rb = self.post::<L, G>(pb, fb, b.1, b.2, b.3, d);
        (ra, rb)
    }

    #[inline(always)]
    fn bad(_x: V, _y: V) -> (M, M) {
        let none = M::first_lanes(0);
        (none, none)
    }
}

/// The focal loss over `n` elements of `x` (logits) and `y` (target). Arguments as for
/// `bce_binary_cross_entropy_options`, whose mask `m` this always reads (all 1 for none), plus
/// `alpha` (negative: no alpha factor), `alpha_c` (`1 - alpha`, computed in float64 by the caller and
/// rounded once) and `gamma` (>= 0). Returns the float64 loss sum as
/// `bce_binary_cross_entropy` does (failures: status 4 for a bad mask byte, index in
/// `bce_error_index()`; 3 for a bad `what`).
///
/// # Safety
/// As for `bce_binary_cross_entropy`; `m` holds `n` bytes.
#[wasm_bindgen]
pub unsafe fn bce_sigmoid_focal_loss(
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
    alpha: f32,
    alpha_c: f32,
    gamma: f32,
    what: u32,
) -> f64 {
    let pass = Pass::new(x, y, n, (w, w_len, w_phase), (g, g_len), grad_div, loss_out, grad_out)
        .with_options(smooth_a, smooth_b, m);
    dispatch_fused(&mut Focal { alpha, alpha_c, gamma, power: Power::of(gamma) }, pass, what)
}
