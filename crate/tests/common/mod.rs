//! Shared helpers of the host tests: a seeded RNG, the ulp measure of README.md ("Accuracy"),
//! float32 special values, the float64 references of PyTorch's formulas and float32 mirrors of
//! PyTorch's evaluation order (for which special values give NaN, an infinity or a signed zero).
//!
//! The kernels themselves are only called through `kernels.rs` (the adapter), so that a change of
//! their signatures needs one file updated.

#![allow(dead_code)]

pub mod kernels;

use bce_wasm_kernels::lanes::V;

/// xorshift64*: seeded, so that every failure reproduces.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [a, b), rounded to float32.
    pub fn range(&mut self, a: f64, b: f64) -> f32 {
        (a + (b - a) * self.unit()) as f32
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

/// The float32 spacing at `|r|` as README.md and `scripts/ulp-sweep.mjs` define it:
/// `2^(exponent(r) - 23)`, never below the subnormal spacing `2^-149` (also for `r = 0`).
pub fn ulp32(r: f64) -> f64 {
    let e = ((r.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    2f64.powi(e.max(-126) - 23)
}

/// `|got - want|` in float32 ulps at `scale` (usually `want` itself).
pub fn ulps(got: f32, want: f64, scale: f64) -> f64 {
    (got as f64 - want).abs() / ulp32(scale)
}

/// Equal as float32 values including the sign of zero; any NaN equals any NaN.
pub fn same(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// `a` printed with its bits, for messages.
pub fn show(a: f32) -> String {
    format!("{:e} ({:#010x})", a, a.to_bits())
}

pub const MIN_SUB: f32 = f32::from_bits(1); // 2^-149
pub const MAX_SUB: f32 = f32::from_bits(0x007f_ffff);
pub const MIN_NORMAL: f32 = f32::MIN_POSITIVE;
pub const BELOW_ONE: f32 = f32::from_bits(0x3f7f_ffff); // 1 - 2^-24
pub const ABOVE_ONE: f32 = f32::from_bits(0x3f80_0001); // 1 + 2^-23
pub const QNAN: f32 = f32::from_bits(0x7fc0_0000);
pub const NEG_QNAN: f32 = f32::from_bits(0xffc0_0000);
pub const SNAN: f32 = f32::from_bits(0x7f80_0001);
pub const NAN_PAYLOAD: f32 = f32::from_bits(0x7fff_ffff);

/// NaNs of both signs, quiet and signalling.
pub const NANS: [f32; 4] = [QNAN, NEG_QNAN, SNAN, NAN_PAYLOAD];

/// The special values every approximation is checked at (NaNs separately): signed zeros, the
/// subnormal and normal limits, 1 and -1 with their neighbours, huge values and infinities.
pub fn special_inputs() -> Vec<f32> {
    let mut v = vec![
        0.0,
        MIN_SUB,
        f32::from_bits(2),
        MAX_SUB,
        MIN_NORMAL,
        f32::from_bits(0x0080_0001),
        1.0,
        BELOW_ONE,
        f32::from_bits(0x3f7f_fffe),
        ABOVE_ONE,
        f32::from_bits(0x3f80_0002),
        0.5,
        2.0,
        core::f32::consts::LN_2,
        1e-7,
        1e-30,
        2f32.powi(-24),
        2f32.powi(-30),
        1e30,
        1e38,
        f32::MAX,
        f32::INFINITY,
    ];
    let neg: Vec<f32> = v.iter().map(|x| -x).collect();
    v.extend(neg);
    v
}

/// `f` on every element of `xs`, four lanes at a time (the last block padded with 0).
pub fn eval(f: fn(V) -> V, xs: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(xs.len() + 3);
    for c in xs.chunks(4) {
        let mut a = [0.0f32; 4];
        a[..c.len()].copy_from_slice(c);
        out.extend_from_slice(&f(V::from_array(a)).to_array()[..c.len()]);
    }
    out
}

/// `f(x)` for one value (in lane 0 of an otherwise different block, and in all four lanes:
/// the two must agree).
pub fn eval1(f: fn(V) -> V, x: f32) -> f32 {
    let splat = f(V::splat(x)).to_array();
    let mixed = f(V::from_array([x, 0.5, -3.0, f32::NAN])).to_array();
    assert!(
        splat.iter().all(|&r| same(r, splat[0])) && same(mixed[0], splat[0]),
        "lanes disagree at x = {}: {:?} / {:?}",
        show(x),
        splat,
        mixed
    );
    splat[0]
}

// ---------------------------------------------------------------------------------------------
// PyTorch's formulas: float64 references (for accuracy) and float32 mirrors in PyTorch's own
// evaluation order (for special values: which results are NaN, infinite, or a signed zero).
// `std::max(a, b)` is `a < b ? b : a` and `std::min(a, b)` is `b < a ? b : a`: a NaN in `a` stays.

pub fn cmax64(a: f64, b: f64) -> f64 {
    if a < b {
        b
    } else {
        a
    }
}
pub fn cmin64(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}
pub fn cmax32(a: f32, b: f32) -> f32 {
    if a < b {
        b
    } else {
        a
    }
}
pub fn cmin32(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// PyTorch's float32 epsilon of the BCE gradient: `1e-12` cast to float.
pub const EPS32: f32 = 1e-12;

pub fn sigmoid64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

pub fn logsigmoid64(x: f64) -> f64 {
    cmin64(x, 0.0) - (-x.abs()).exp().ln_1p()
}

/// The reference of one element.
#[derive(Clone, Copy, Debug)]
pub struct Want {
    /// PyTorch's float32 evaluation of its formula, in its order of operations (std's float32
    /// logs and exp where PyTorch calls them).
    pub mirror: f32,
    /// The float64 value of the formula on the same float32 operands.
    pub exact: f64,
    /// The magnitude of the terms, in whose ulps the error is measured.
    pub scale: f64,
    /// The kernel evaluates exactly PyTorch's float32 operations (no approximation involved):
    /// the result must be `mirror` bit for bit (any NaN for a NaN).
    pub bitwise: bool,
    /// An absolute error allowed per ulp of tolerance besides `ulp32(scale)`: where a float32
    /// intermediate is subnormal (sigmoid(-100) = 3.7e-44), its absolute rounding error, a
    /// fraction of 2^-149, is then multiplied by the later factors (weights, gradients).
    pub floor: f64,
}

/// The subnormal spacing, 2^-149.
pub const SUB_ULP: f64 = 1.401_298_464_324_817e-45;

/// BCELoss element: `((y - 1) * max(log1p(-x), -100) - y * max(log(x), -100)) * w`.
pub fn bce_loss(x: f32, y: f32, w: f32) -> Want {
    let mirror = ((y - 1.0) * cmax32((-x).ln_1p(), -100.0) - y * cmax32(x.ln(), -100.0)) * w;
    let (x, y, w) = (x as f64, y as f64, w as f64);
    let exact = ((y - 1.0) * cmax64((-x).ln_1p(), -100.0) - y * cmax64(x.ln(), -100.0)) * w;
    Want { mirror, exact, scale: exact, bitwise: false, floor: 0.0 }
}

/// BCELoss gradient: `g * (x - y) / max((1 - x) * x, 1e-12) * w / d`. Only float32 arithmetic:
/// the kernel must give PyTorch's float32 result bit for bit (the float64 value can differ by
/// more than a few ulps where a float32 intermediate is subnormal, in PyTorch too).
pub fn bce_grad(x: f32, y: f32, w: f32, g: f32, d: f32) -> Want {
    let mirror = g * (x - y) / cmax32((1.0 - x) * x, EPS32) * w / d;
    let (x, y, w, g, d) = (x as f64, y as f64, w as f64, g as f64, d as f64);
    let exact = g * (x - y) / cmax64((1.0 - x) * x, EPS32 as f64) * w / d;
    Want { mirror, exact, scale: exact, bitwise: true, floor: 0.0 }
}

/// PyTorch's float32 log_sigmoid: `min(x, 0) - log1p(exp(-|x|))`.
pub fn logsigmoid32(x: f32) -> f32 {
    cmin32(x, 0.0) - (-x.abs()).exp().ln_1p()
}

/// PyTorch's float32 sigmoid: `1 / (1 + exp(-x))`.
pub fn sigmoid32(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// BCEWithLogitsLoss element: PyTorch's `((1 - y) * x - lw * logsigmoid(x)) * w`,
/// `lw = 1 + (p - 1) * y`, which equals `((1 - y) * softplus(x) + p * y * softplus(-x)) * w`
/// (`p = 1` without pos_weight). The kernel computes the second form; its float64 value is the
/// reference, and its error is measured relative to the size of those two terms, which is the size
/// of the value itself for targets in [0, 1] and p >= 0 (nothing cancels). `mirror` stays PyTorch's
/// float32 evaluation of its own form.
pub fn logits_loss(x: f32, y: f32, w: f32, p: Option<f32>) -> Want {
    let mirror = match p {
        None => ((1.0 - y) * x - logsigmoid32(x)) * w,
        Some(p) => ((1.0 - y) * x - ((p - 1.0) * y + 1.0) * logsigmoid32(x)) * w,
    };
    let (x, y, w) = (x as f64, y as f64, w as f64);
    let p = p.map_or(1.0, |p| p as f64);
    let a = (1.0 - y) * softplus64(x);
    let b = p * y * softplus64(-x);
    Want {
        mirror,
        exact: (a + b) * w,
        scale: (a.abs() + b.abs()) * w.abs(),
        bitwise: false,
        floor: SUB_ULP * (1.0 + p.abs()) * (1.0 + w.abs()),
    }
}

/// `softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))` in float64.
pub fn softplus64(x: f64) -> f64 {
    cmax64(x, 0.0) + (-x.abs()).exp().ln_1p()
}

/// BCEWithLogitsLoss gradient: `g * (sigmoid(x) - y) * w / d`, or with pos_weight
/// `g * (lw * sigmoid(x) - p * y) * w / d`, which PyTorch (FunctionsManual.cpp) evaluates as
/// `t = p * y; ((t + 1) - y) * sigmoid(x) - t`.
pub fn logits_grad(x: f32, y: f32, w: f32, p: Option<f32>, g: f32, d: f32) -> Want {
    let mirror = match p {
        None => (sigmoid32(x) - y) * g * w / d,
        Some(p) => {
            let t = p * y;
            (((t + 1.0) - y) * sigmoid32(x) - t) * g * w / d
        }
    };
    let (x, y, w, g, d) = (x as f64, y as f64, w as f64, g as f64, d as f64);
    let s = sigmoid64(x);
    // lw = (p y + 1) - y: its float32 rounding is relative to the size of its terms, 1 + |p y| + |y|.
    let (lw, lw_size, py) = match p {
        None => (1.0, 1.0, y),
        Some(p) => {
            let t = p as f64 * y;
            ((t + 1.0) - y, 1.0 + t.abs() + y.abs(), t)
        }
    };
    let k = g * w / d;
    Want {
        mirror,
        exact: (lw * s - py) * k,
        scale: (lw_size * s.abs() + py.abs()) * k.abs(),
        bitwise: false,
        floor: SUB_ULP * lw_size * (1.0 + g.abs()) * (1.0 + w.abs()),
    }
}

/// Checks one kernel result against `want`:
/// - `want.bitwise`: PyTorch's float32 result, bit for bit (a NaN for a NaN);
/// - otherwise either PyTorch's float32 result exactly (a NaN, an infinity, a zero with its sign),
///   or the float64 value: the same NaN / infinity, or a finite result within `tol` ulps of it,
///   measured at `want.scale`. Both are accepted because they differ only where PyTorch's own
///   float32 rounding decides, e.g. `sigmoid(17)` is 1 in PyTorch's float32 (so its gradient at
///   y = 1 is 0, and 0 * inf = NaN with an infinite weight) but 0.99999994 correctly rounded;
///   where the formula itself gives NaN (0 * inf with an exact 0) both agree.
/// - `zero_signs`: a zero result of a zero reference must have the sign of PyTorch's zero (or of
///   the float64 zero, which follows the same order of operations); without it zeros of either
///   sign are equal.
pub fn check(got: f32, want: Want, tol: f64, zero_signs: bool) -> Result<(), String> {
    let (m, e) = (want.mirror, want.exact);
    if same(got, m) {
        return Ok(());
    }
    let msg = || format!("got {}, PyTorch's float32 formula gives {}, float64 {:e}", show(got), show(m), e);
    if want.bitwise {
        if got == 0.0 && m == 0.0 {
            return if zero_signs { Err(format!("{} (sign of zero)", msg())) } else { Ok(()) };
        }
        return Err(msg());
    }
    if e.is_nan() || got.is_nan() {
        return if e.is_nan() && got.is_nan() { Ok(()) } else { Err(msg()) };
    }
    if !got.is_finite() {
        return if got as f64 == e || got == e as f32 { Ok(()) } else { Err(msg()) };
    }
    if got == 0.0 && (m == 0.0 || e == 0.0) {
        let sign_ok = (m == 0.0 && got.is_sign_negative() == m.is_sign_negative())
            || (e == 0.0 && got.is_sign_negative() == e.is_sign_negative());
        if sign_ok || !zero_signs {
            return Ok(());
        }
        return Err(format!("{} (sign of zero)", msg()));
    }
    let u = (got as f64 - e).abs() / ulp32(want.scale).max(want.floor);
    if u <= tol {
        Ok(())
    } else {
        Err(format!("{}: {:.3} ulp > {}", msg(), u, tol))
    }
}
