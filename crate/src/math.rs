//! Vectorised `exp`, `log`, `log1p`, `sigmoid` and `logsigmoid` on four float32 lanes.
//!
//! All of them use float32 arithmetic only, with the classic scheme: split off a power of two,
//! reduce the argument to a short interval around zero, evaluate a minimax polynomial there, and
//! patch the special values (0, +-inf, NaN, subnormals) with lane masks at the end. The polynomial
//! coefficients are the single-precision Cephes ones (Stephen L. Moshier, `expf.c` and `logf.c`),
//! which are minimax fits for exactly these reduced intervals. `ln 2` is split into a high part with
//! 9 significant bits (so `n * LN2_HI` is exact) and a low part.
//!
//! Errors below are measured by `scripts/ulp-sweep.mjs` over every float32 input of the domain, against
//! the float64 value of the same function, in units of the float32 spacing at the exact result
//! (ulp); a correctly rounded function would score 0.5. Figures are in README.md ("Accuracy").

use crate::lanes::V;

const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_4e-4;
const LOG2_E: f32 = 1.442_695_040_888_963_4;
const SQRT_HALF: f32 = 0.707_106_781_186_547_5;

/// `exp(x)` for every float32 `x`. Results are exact for `x = 0`, overflow to `+inf` above 88.72,
/// are subnormal between -103.97 and -87.34 and 0 below; `exp(NaN)` is NaN.
#[inline(always)]
pub fn exp(x: V) -> V {
    // Arguments outside [-110, 90] give 0 or +inf anyway; clamping keeps the exponent arithmetic
    // in range. pmax/pmin keep a NaN in x.
    let x = x.pmax(V::splat(-110.0)).pmin(V::splat(90.0));
    let n = (x * V::splat(LOG2_E) + V::splat(0.5)).floor();
    // r = x - n ln 2 as rh - c: rh is exact (n * LN2_HI is), c is small. The sum below adds c to the
    // small terms before rh, so that the rounding of rh - c does not reach the result.
    let rh = x - n * V::splat(LN2_HI);
    let c = n * V::splat(LN2_LO);
    let r = rh - c;
    // exp(r) on |r| <= 0.5 ln 2: 1 + r + r^2 P(r).
    let z = r * r;
    let p = ((((V::splat(1.987_569_15e-4) * r + V::splat(1.398_199_950_7e-3)) * r
        + V::splat(8.333_451_907_3e-3))
        * r
        + V::splat(4.166_579_589_4e-2))
        * r
        + V::splat(1.666_666_545_9e-1))
        * r
        + V::splat(5.000_000_120_1e-1);
    let e = V::splat(1.0) + (rh + (p * z - c));
    // Scale by 2^n in two steps so that n in [-159, 130] never leaves the exponent range: the first
    // product is exact, the second rounds once (into a subnormal or to infinity where it must).
    let n1 = (n * V::splat(0.5)).floor();
    e * V::exp2i(n1) * V::exp2i(n - n1)
}

/// `log(v)` of a positive normal `v = m * 2^e` (from `frexp`), plus `c / v` (the rounding error of `v` when `v = 1 + u`).
/// `v = m * 2^e`, `m` in [sqrt(1/2), sqrt(2)), `f = m - 1` exact; `log(1 + f)` is
/// `f - f^2/2 + f^3 P(f)` on [-0.293, 0.414].
#[inline(always)]
fn log_reduced(e: V, m: V, c: V) -> V {
    let small = m.lt(V::splat(SQRT_HALF));
    let f = V::select(small, m + m, m) - V::splat(1.0);
    let e = V::select(small, e - V::splat(1.0), e);
    let z = f * f;
    let p = (((((((V::splat(7.037_683_629_2e-2) * f - V::splat(1.151_461_031_0e-1)) * f
        + V::splat(1.167_699_874_0e-1))
        * f
        - V::splat(1.242_014_084_6e-1))
        * f
        + V::splat(1.424_932_278_7e-1))
        * f
        - V::splat(1.666_805_766_5e-1))
        * f
        + V::splat(2.000_071_476_5e-1))
        * f
        - V::splat(2.499_999_399_3e-1))
        * f
        + V::splat(3.333_333_117_4e-1);
    let y = p * f * z + e * V::splat(LN2_LO) + c - V::splat(0.5) * z;
    f + y + e * V::splat(LN2_HI)
}

/// Natural `log(x)` for every float32 `x`: subnormals are scaled into the normal range first,
/// `log(0) = -inf`, `log(+inf) = +inf`, negative and NaN give NaN.
#[inline(always)]
pub fn log(x: V) -> V {
    let sub = x.lt(V::splat(f32::MIN_POSITIVE));
    let xs = V::select(sub, x * V::splat(8_388_608.0), x); // 2^23
    let (m, e) = xs.frexp();
    let e = V::select(sub, e - V::splat(23.0), e);
    let r = log_reduced(e, m, V::splat(0.0));
    patch_log(x, r)
}

/// `log(1 + u)` for every float32 `u`, accurate for tiny `u` too: `log1p(-1) = -inf`,
/// `log1p(+inf) = +inf`, `u < -1` and NaN give NaN.
#[inline(always)]
pub fn log1p(u: V) -> V {
    log1p_with(u, V::splat(1.0) + u)
}

/// `log1p(u)` for a caller that already has `v = 1 + u` (rounded), e.g. to share it with a sigmoid.
#[inline(always)]
pub fn log1p_with(u: V, v: V) -> V {
    // v is 0 or normal for u >= -1, so frexp needs no subnormal step. c recovers the part of u that
    // the rounding of 1 + u lost; log(1 + u) = log(v) + c / v to first order.
    let c = (u - (v - V::splat(1.0))) / v;
    let (m, e) = v.frexp();
    let r = patch_log(v, log_reduced(e, m, c));
    // log1p(+-0) = +-0.
    V::select(u.eq(V::splat(0.0)), u, r)
}

/// Special values of `log(v)`: `v = 0` gives -inf, `v = +inf` gives +inf, `v < 0` or NaN gives NaN.
#[inline(always)]
fn patch_log(v: V, r: V) -> V {
    let r = V::select(v.eq(V::splat(f32::INFINITY)), V::splat(f32::INFINITY), r);
    let r = V::select(v.eq(V::splat(0.0)), V::splat(f32::NEG_INFINITY), r);
    V::select(v.ge(V::splat(0.0)), r, V::splat(f32::NAN))
}

/// `exp(-|x|)`, the one exponential that sigmoid and logsigmoid need: in (0, 1], never overflows.
#[inline(always)]
pub fn exp_neg_abs(x: V) -> V {
    exp(x.abs().neg())
}

/// `sigmoid(x)` given `t = exp(-|x|)` and `d = 1 + t` (rounded): `1 / (1 + t)` for `x >= 0`,
/// `t / (1 + t)` otherwise. The rounding error of `d` would cost up to 0.5 ulp; it is recovered
/// exactly (`err = (1 + t) - d`, exact because `t <= 1`) and the quotient `q` corrected to first
/// order: `q / (1 + err / d) ~ q - q * err / d`, where `1 / d` is `q` itself for `x >= 0` and
/// `1 - q` otherwise.
#[inline(always)]
pub fn sigmoid_with(x: V, t: V, d: V) -> V {
    let one = V::splat(1.0);
    let positive = x.ge(V::splat(0.0));
    let q = V::select(positive, one, t) / d;
    let err = t - (d - one);
    let inv_d = V::select(positive, q, one - q);
    q - q * err * inv_d
}

/// `sigmoid(x) = 1 / (1 + exp(-x))` for every float32 `x`, without overflow:
/// 0.5 at 0, 1 at +inf, 0 at -inf, subnormal results below -87.3, NaN for NaN.
#[inline(always)]
pub fn sigmoid(x: V) -> V {
    let t = exp_neg_abs(x);
    sigmoid_with(x, t, V::splat(1.0) + t)
}

/// `logsigmoid(x)` given `t = exp(-|x|)` and `d = 1 + t`: `min(x, 0) - log1p(t)`.
#[inline(always)]
pub fn logsigmoid_with(x: V, t: V, d: V) -> V {
    x.pmin(V::splat(0.0)) - log1p_with(t, d)
}

/// `logsigmoid(x) = min(x, 0) - log1p(exp(-|x|))` for every float32 `x`: finite for finite `x`,
/// `-inf` at `-inf`, 0 at `+inf`, NaN for NaN.
#[inline(always)]
pub fn logsigmoid(x: V) -> V {
    let t = exp_neg_abs(x);
    logsigmoid_with(x, t, V::splat(1.0) + t)
}
