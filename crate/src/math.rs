//! Vectorised `exp`, `log`, `log1p`, `sigmoid` and `logsigmoid` on four float32 lanes, and the
//! clamped logs of BCE on probabilities.
//!
//! All of them use float32 arithmetic only, with the classic scheme: split off a power of two,
//! reduce the argument to a short interval around zero, evaluate a minimax polynomial there, and
//! patch the special values (0, +-inf, NaN, subnormals) with lane masks at the end. The polynomial
//! coefficients are the single-precision Cephes ones (Stephen L. Moshier, `expf.c` and `logf.c`),
//! which are minimax fits for exactly these reduced intervals. `ln 2` is split into a high part with
//! 9 significant bits (so `n * LN2_HI` is exact) and a low part.
//!
//! Errors are measured by `scripts/ulp-sweep.mjs` over every float32 input of the domain, against
//! the float64 value of the same function, in units of the float32 spacing at the exact result
//! (ulp); a correctly rounded function would score 0.5. The figures are in README.md ("Accuracy")
//! and `scripts/ulp-results.json`; the bounds quoted below are those measurements.

use crate::lanes::{M, V};

const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_4e-4;
const LOG2_E: f32 = 1.442_695_040_888_963_4;

/// `exp(x)` for every float32 `x` (max error 0.90 ulp). Exact at 0, `+inf` above 88.72, subnormal
/// results between -103.97 and -87.34 and 0 below; NaN for NaN.
#[inline(always)]
pub fn exp(x: V) -> V {
    // Outside [-110, 90] the result is 0 or +inf anyway; the clamp keeps the exponent arithmetic in
    // range. pmax/pmin keep a NaN in x.
    exp_clamped(x.pmax(V::splat(-110.0)).pmin(V::splat(90.0)))
}

/// `exp(-|x|)`, the exponential that sigmoid and logsigmoid need: in [0, 1], never overflows.
#[inline(always)]
pub fn exp_neg_abs(x: V) -> V {
    let (e, n) = exp_parts(x.neg_abs().pmax(V::splat(-110.0)));
    // n is in [-159, 0]: 2^n = 2^(n + 64) * 2^-64, the first product exact, the second rounding once
    // (into a subnormal where it must).
    e * V::exp2i(n + V::splat(64.0)) * V::splat(5.421_010_862_427_522e-20)
}

/// `exp(x)` for `x` in [-110, 90] or NaN.
#[inline(always)]
fn exp_clamped(x: V) -> V {
    let (e, n) = exp_parts(x);
    // Scale by 2^n in two steps so that n in [-159, 130] never leaves the exponent range: the first
    // product is exact, the second rounds once (into a subnormal or to infinity where it must).
    let n1 = (n * V::splat(0.5)).floor();
    e * V::exp2i(n1) * V::exp2i(n - n1)
}

/// `(e, n)` with `exp(x) = e * 2^n`, `n = round(x / ln 2)` and `e = exp(x - n ln 2)` in
/// [sqrt(1/2), sqrt(2)], for `x` in [-110, 90] or NaN.
#[inline(always)]
fn exp_parts(x: V) -> (V, V) {
    let n = (x * V::splat(LOG2_E) + V::splat(0.5)).floor();
    // r = x - n ln 2 as rh - c: rh is exact (n * LN2_HI is), c is small. The sum below adds c to the
    // small terms before rh, so that the rounding of rh - c does not reach the result.
    let rh = x - n * V::splat(LN2_HI);
    let c = n * V::splat(LN2_LO);
    let r = rh - c;
    // exp(r) on |r| <= 0.5 ln 2: 1 + r + r^2 P(r), P of degree 5 evaluated by Estrin's scheme (three
    // dependent multiply-adds instead of Horner's five: the loops are latency-bound).
    let z = r * r;
    let p01 = V::splat(5.000_000_120_1e-1) + V::splat(1.666_666_545_9e-1) * r;
    let p23 = V::splat(4.166_579_589_4e-2) + V::splat(8.333_451_907_3e-3) * r;
    let p45 = V::splat(1.398_199_950_7e-3) + V::splat(1.987_569_15e-4) * r;
    let p = p01 + (p23 + p45 * z) * z;
    (V::splat(1.0) + (rh + (p * z - c)), n)
}

/// `e ln 2 + log(1 + f) + c` for `f` in [sqrt(1/2) - 1, sqrt(2) - 1], where `log(1 + f)` is
/// `f - f^2/2 + f^3 P(f)` and `c` a small correction added with the small terms.
#[inline(always)]
fn log_poly(f: V, e: V, c: V) -> V {
    // P of degree 8 by Estrin's scheme: four dependent multiply-adds instead of Horner's eight.
    let z = f * f;
    let z2 = z * z;
    let p01 = V::splat(3.333_333_117_4e-1) - V::splat(2.499_999_399_3e-1) * f;
    let p23 = V::splat(2.000_071_476_5e-1) - V::splat(1.666_805_766_5e-1) * f;
    let p45 = V::splat(1.424_932_278_7e-1) - V::splat(1.242_014_084_6e-1) * f;
    let p67 = V::splat(1.167_699_874_0e-1) - V::splat(1.151_461_031_0e-1) * f;
    let p8 = V::splat(7.037_683_629_2e-2);
    let p = (p01 + p23 * z) + ((p45 + p67 * z) + p8 * z2) * z2;
    let y = p * f * z + e * V::splat(LN2_LO) + c - V::splat(0.5) * z;
    f + y + e * V::splat(LN2_HI)
}

/// `log(v) + c` for a positive normal `v`, by `V::split`: `v = m * 2^e` with `f = m - 1` exact.
#[inline(always)]
fn log_split(v: V, c: V) -> V {
    let (m, e) = v.split();
    log_poly(m - V::splat(1.0), e, c)
}

/// `log(x * 2^23) - 23 ln 2`, for a non-negative `x` of any size up to 2^104: the exact scaling
/// makes subnormals normal. 0 gives -103.97 instead of -inf (callers patch or clamp it).
#[inline(always)]
fn log_scaled(x: V) -> V {
    let (m, e) = (x * V::splat(8_388_608.0)).split();
    log_poly(m - V::splat(1.0), e - V::splat(23.0), V::splat(0.0))
}

/// Natural `log(x)` for every float32 `x` (max error 0.83 ulp): `log(0) = -inf`, `log(+inf) = +inf`,
/// negative and NaN give NaN.
#[inline(always)]
pub fn log(x: V) -> V {
    // Subnormals through log_scaled, the rest directly (x * 2^23 would overflow above 2^104).
    let r = V::select(x.lt(V::splat(f32::MIN_POSITIVE)), log_scaled(x), log_split(x, V::splat(0.0)));
    patch_log(x, r)
}

/// `log(1 + u)` for every float32 `u` (max error 0.86 ulp), accurate for tiny `u`:
/// `log1p(-1) = -inf`, `log1p(+inf) = +inf`, `u < -1` and NaN give NaN, `log1p(+-0) = +-0`.
#[inline(always)]
pub fn log1p(u: V) -> V {
    // v = 1 + u is 0 or normal for u >= -1, so split needs no subnormal step. c recovers the part of
    // u that the rounding of 1 + u lost (exact); log(1 + u) = log(v) + c / v to first order.
    let v = V::splat(1.0) + u;
    let c = (u - (v - V::splat(1.0))) / v;
    let r = patch_log(v, log_split(v, c));
    V::select(u.eq(V::splat(0.0)), u, r)
}

/// Special values of `log(v)`: `v = 0` gives -inf, `v = +inf` gives +inf, `v < 0` or NaN gives NaN.
#[inline(always)]
fn patch_log(v: V, r: V) -> V {
    let r = V::select(v.eq(V::splat(f32::INFINITY)), V::splat(f32::INFINITY), r);
    let r = V::select(v.eq(V::splat(0.0)), V::splat(f32::NEG_INFINITY), r);
    V::select(v.ge(V::splat(0.0)), r, V::splat(f32::NAN))
}

/// `max(log(x), -100)` for `x` in [0, 1] (BCE's input after its range check; other values give
/// unspecified results). The clamp does the special-value work: +0 and -0 give -100 (`log(-0)` is
/// `-inf` in IEEE arithmetic and in PyTorch; the range check lets -0 through as `-0 >= 0`, and the
/// sign bit would otherwise reach `split` as a huge exponent, so it is cleared first).
#[inline(always)]
pub fn log_clamped(x: V) -> V {
    log_scaled(x.abs()).pmax(V::splat(-100.0))
}

/// `max(log1p(-x), -100)` for `x` in [0, 1] (as `log_clamped`): 1 gives -100.
#[inline(always)]
pub fn log1m_clamped(x: V) -> V {
    // v = 1 - x is exact for x >= 1/2 (and then c = 0); below, c is its rounding error and v >= 1/2,
    // so dividing by max(v, 1/2) changes nothing there and avoids 0 / 0 at x = 1. v is 0 or normal;
    // scaling it by 2^23 as in log_scaled sends 0 to -103.97, which the clamp turns into -100.
    let one = V::splat(1.0);
    let v = one - x;
    let c = ((one - v) - x) / v.pmax(V::splat(0.5));
    let (m, e) = (v * V::splat(8_388_608.0)).split();
    let r = log_poly(m - one, e - V::splat(23.0), c).pmax(V::splat(-100.0));
    // log1p(-x) at x = +-0 is -+0 exactly (PyTorch's sign of a zero loss follows it).
    V::select(x.eq(V::splat(0.0)), x.neg(), r)
}

/// The pieces of the logistic function of `x` that sigmoid, logsigmoid and the logits loss share,
/// from one exponential and one division:
/// `t = exp(-|x|)`, `d = 1 + t` rounded, `err = (1 + t) - d` exactly (t <= 1), `q = 1/d` for
/// `x >= 0` and `t/d` otherwise, and `inv_d`, an approximation of `1/d` good for corrections
/// (`q` itself, or `1 - q`).
pub struct Logistic {
    x: V,
    t: V,
    d: V,
    err: V,
    q: V,
    inv_d: V,
    /// `x >= 0` (false for NaN).
    pub positive: M,
}

impl Logistic {
    #[inline(always)]
    pub fn of(x: V) -> Logistic {
        let one = V::splat(1.0);
        let t = exp_neg_abs(x);
        let d = one + t;
        let err = t - (d - one);
        let positive = x.ge(V::splat(0.0));
        // 1 for x >= 0, else t (t is in [0, 1], or NaN, which pmax keeps): `select(positive, 1, t)`
        // in two operations instead of three.
        let q = t.pmax(one.keep(positive)) / d;
        // q for x >= 0 (q = 1/d is in [1/2, 1], 1 - q exact and not above it), 1 - q below (q = t/d
        // is at most 1/2): `select(positive, q, 1 - q)` as one pmax.
        let inv_d = q.pmax(one - q);
        Logistic { x, t, d, err, q, inv_d, positive }
    }

    /// `sigmoid(x)` (max error 1.97 ulp): the quotient corrected for the rounding of `d`,
    /// `q / (1 + err / d) ~ q - q * err / d`. 0.5 at 0, 1 at +inf, 0 at -inf, subnormal below -87.3.
    #[inline(always)]
    pub fn sigmoid(&self) -> V {
        self.q - self.q * self.err * self.inv_d
    }

    /// `logsigmoid(x) = min(x, 0) - log1p(t)` (max error 1.65 ulp), finite for finite `x`, `-inf` at
    /// `-inf`, 0 at `+inf`. `log1p(t) = log(d) + err / d`, and `d` is in [1, 2]: no special values
    /// (a NaN goes through the arithmetic).
    #[inline(always)]
    pub fn logsigmoid(&self) -> V {
        self.x.pmin(V::splat(0.0)) - self.log1p_t()
    }

    /// `sigmoid(-x) = 1 - sigmoid(x)` from `s = sigmoid(x)` without a second division: `t s` for
    /// x >= 0 (`t / (1 + t)`), `1 - s` below (s <= 1/2 there: no cancellation). No cancellation
    /// where sigmoid(x) is near 1.
    #[inline(always)]
    pub fn sigmoid_neg(&self, s: V) -> V {
        V::select(self.positive, self.t * s, V::splat(1.0) - s)
    }

    /// `log1p(t) = log(d) + err / d`, the shared part of logsigmoid and softplus.
    #[inline(always)]
    pub fn log1p_t(&self) -> V {
        log_split(self.d, self.err * self.inv_d)
    }
}

/// `sigmoid(x) = 1 / (1 + exp(-x))` for every float32 `x`; see `Logistic::sigmoid`.
#[inline(always)]
pub fn sigmoid(x: V) -> V {
    Logistic::of(x).sigmoid()
}

/// `logsigmoid(x) = min(x, 0) - log1p(exp(-|x|))` for every float32 `x`; see `Logistic::logsigmoid`.
#[inline(always)]
pub fn logsigmoid(x: V) -> V {
    Logistic::of(x).logsigmoid()
}
