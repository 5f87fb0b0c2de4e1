//! The loss kernels (BCE on probabilities and on logits) and the elementwise kernels on the host's
//! scalar build, against a float64 evaluation of PyTorch's formulas (README.md "PyTorch
//! semantics", the doc comments of bce.rs and bce_with_logits.rs):
//!
//! BCELoss            loss = ((y - 1) * max(log1p(-x), -100) - y * max(log x, -100)) * w
//!                    grad = g * (x - y) / max((1 - x) * x, 1e-12) * w / d
//! BCEWithLogitsLoss  loss = ((1 - y) * x - lw * logsigmoid(x)) * w,  lw = 1 + (p - 1) * y
//!                    grad = g * (sigmoid(x) - y) * w / d,  or  g * (lw * sigmoid(x) - p * y) * w / d
//!
//! Every element within 4 float32 ulps of the float64 value (for the logits loss, of the size of its
//! terms, which can cancel), as the npm tests require, or exactly PyTorch's own float32 result; a NaN
//! or an infinity as one of the two gives it (`common::check`). The BCE gradient, plain float32
//! arithmetic, must be PyTorch's float32 result bit for bit. Zeros must have PyTorch's sign in
//! `zero_signs_follow_pytorch`. The float64 sum within the sum of the element bounds. The kernels
//! are called through `common::kernels` only.
//!
//! `BCE_TEST_ALL_FAILURES=1 cargo test ... -- --nocapture` prints every failure, not the first 40.

mod common;

use common::kernels::{self as k, Args, Dest, Loss, Out};
use common::*;

const TOL: f64 = 4.0;

/// Element `i` of a broadcast operand whose element 0 uses `v[phase]`.
fn at(v: Option<&[f32]>, phase: usize, i: usize, absent: f32) -> f32 {
    v.map_or(absent, |v| v[(phase + i) % v.len()])
}

/// The reference of element `i` of a call: (loss, grad).
fn want(loss: Loss, a: &Args, i: usize) -> (Want, Want) {
    let (x, y) = (a.x[i], a.y[i]);
    let w = at(a.weight, a.weight_phase, i, 1.0);
    let g = at(a.grad_output, 0, i, 1.0);
    match loss {
        Loss::Probabilities => (bce_loss(x, y, w), bce_grad(x, y, w, g, a.grad_div)),
        Loss::Logits => {
            let p = a.pos_weight.map(|v| v[(a.pos_weight_phase + i) % v.len()]);
            (logits_loss(x, y, w, p), logits_grad(x, y, w, p, g, a.grad_div))
        }
    }
}

/// Describes a call for failure messages.
fn describe(loss: Loss, a: &Args, what: u32) -> String {
    let len = |v: Option<&[f32]>| v.map_or("-".to_string(), |v| v.len().to_string());
    format!(
        "{:?} n={} weight={} (phase {}) pos_weight={} (phase {}) grad_output={} grad_div={} what={}",
        loss,
        a.x.len(),
        len(a.weight),
        a.weight_phase,
        len(a.pos_weight),
        a.pos_weight_phase,
        len(a.grad_output),
        a.grad_div,
        what
    )
}

fn operands(loss: Loss, a: &Args, i: usize) -> String {
    let p = if loss == Loss::Logits {
        format!(" p={}", at(a.pos_weight, a.pos_weight_phase, i, 1.0))
    } else {
        String::new()
    };
    format!(
        "x={} y={} w={}{} g={} d={}",
        show(a.x[i]),
        a.y[i],
        at(a.weight, a.weight_phase, i, 1.0),
        p,
        at(a.grad_output, 0, i, 1.0),
        a.grad_div
    )
}

/// Everything a successful call must satisfy; returns the failures.
fn verify(loss: Loss, a: &Args, what: u32, out: &Out, zero_signs: bool) -> Vec<String> {
    let ctx = describe(loss, a, what);
    let mut bad = Vec::new();
    if out.status != k::OK {
        bad.push(format!("{}: status {} (index {:?})", ctx, out.status, out.error_index));
        return bad;
    }
    if !out.guards_intact {
        bad.push(format!("{}: wrote past the n outputs", ctx));
    }
    let store = what & k::LOSS_STORE != 0;
    let grad = what & k::GRAD != 0;
    if !store && !Out::untouched(&out.loss) {
        bad.push(format!("{}: wrote the loss output without LOSS_STORE", ctx));
    }
    if !grad && !Out::untouched(&out.grad) {
        bad.push(format!("{}: wrote the gradient output without GRAD", ctx));
    }
    let n = a.x.len();
    let (mut mirror_sum, mut exact_sum, mut bound) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        let (wl, wg) = want(loss, a, i);
        if store {
            if let Err(e) = check(out.loss[i], wl, TOL, zero_signs) {
                bad.push(format!("{}: loss[{}] ({}): {}", ctx, i, operands(loss, a, i), e));
            }
        }
        if grad {
            if let Err(e) = check(out.grad[i], wg, TOL, zero_signs) {
                bad.push(format!("{}: grad[{}] ({}): {}", ctx, i, operands(loss, a, i), e));
            }
        }
        mirror_sum += wl.mirror as f64;
        exact_sum += wl.exact;
        bound += TOL * ulp32(wl.scale) + 1e-15 * wl.scale.abs();
    }
    if what & k::LOSS != 0 {
        let s = out.sum.expect("a LOSS call leaves a sum");
        // A NaN or infinite sum as PyTorch's float32 element losses or the float64 ones give it
        // (see `check`), a finite one within the sum of the element bounds of the float64 sum.
        let class = |r: f64| (s.is_nan() && r.is_nan()) || s == r;
        if !s.is_finite() || !exact_sum.is_finite() {
            if !class(mirror_sum) && !class(exact_sum) {
                bad.push(format!("{}: sum {:e}, want {:e} (float64: {:e})", ctx, s, mirror_sum, exact_sum));
            }
        } else if !((s - exact_sum).abs() <= bound) {
            bad.push(format!("{}: sum {:e}, float64 reference {:e}, bound {:e}", ctx, s, exact_sum, bound));
        }
        if store {
            // The stored float32 losses summed in float64: only the order of the additions differs.
            let stored: f64 = out.loss.iter().map(|&l| l as f64).sum();
            let mag: f64 = out.loss.iter().map(|&l| (l as f64).abs()).sum();
            let same_class = (stored.is_nan() && s.is_nan()) || stored == s;
            if !same_class && !((s - stored).abs() <= 1e-15 * (n as f64 + 1.0) * mag) {
                bad.push(format!("{}: sum {:e} but the stored losses sum to {:e}", ctx, s, stored));
            }
        }
    }
    bad
}

/// The bits of each element, any NaN as one canonical NaN (README.md: a NaN's sign and payload
/// are not specified; separate and fused calls may compile to different operand orders).
fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|a| if a.is_nan() { 0x7fc0_0000 } else { a.to_bits() }).collect()
}

fn sum_bits(s: Option<f64>) -> Option<u64> {
    s.map(|s| if s.is_nan() { 0x7ff8_0000_0000_0000 } else { s.to_bits() })
}

/// Runs every `what` combination, verifies each, and checks that the separate calls give the
/// fused call's results bit for bit.
fn run_all(loss: Loss, a: Args, zero_signs: bool) -> Vec<String> {
    let mut bad = Vec::new();
    let fused = k::run(loss, a, k::LOSS | k::LOSS_STORE | k::GRAD);
    for what in k::WHATS {
        let out =
            if what == k::LOSS | k::LOSS_STORE | k::GRAD { fused.clone() } else { k::run(loss, a, what) };
        bad.extend(verify(loss, &a, what, &out, zero_signs));
        if out.status != k::OK || fused.status != k::OK {
            continue;
        }
        let ctx = describe(loss, &a, what);
        if what & k::LOSS_STORE != 0 && bits(&out.loss) != bits(&fused.loss) {
            bad.push(format!("{}: losses differ from the fused call's", ctx));
        }
        if what & k::GRAD != 0 && bits(&out.grad) != bits(&fused.grad) {
            bad.push(format!("{}: gradients differ from the fused call's", ctx));
        }
        if what & k::LOSS != 0 && sum_bits(out.sum) != sum_bits(fused.sum) {
            bad.push(format!("{}: sum {:?} differs from the fused call's {:?}", ctx, out.sum, fused.sum));
        }
    }
    bad
}

/// Fails with the first 40 failures (all of them on stdout with BCE_TEST_ALL_FAILURES set).
fn assert_none(bad: Vec<String>) {
    if std::env::var_os("BCE_TEST_ALL_FAILURES").is_some() {
        for m in &bad {
            println!("{}", m);
        }
    }
    let shown: Vec<&String> = bad.iter().take(40).collect();
    assert!(
        bad.is_empty(),
        "{} failures{}:\n  {}",
        bad.len(),
        if bad.len() > 40 { " (the first 40)" } else { "" },
        shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Random data.

fn probabilities(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match rng.below(10) {
            0 => rng.pick(&[0.0, 1.0, MIN_SUB, MAX_SUB, MIN_NORMAL, BELOW_ONE, 1e-7, 0.5]),
            _ => rng.unit() as f32,
        })
        .collect()
}

fn logits(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match rng.below(12) {
            0 => rng.pick(&[0.0, -0.0, 100.0, -100.0, 1e4, -1e4, 30.0, -30.0, 17.0, -17.0]),
            _ => rng.range(-20.0, 20.0),
        })
        .collect()
}

fn targets(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match rng.below(3) {
            0 => 0.0,
            1 => 1.0,
            _ => rng.unit() as f32,
        })
        .collect()
}

fn uniform(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    (0..n).map(|_| rng.range(lo, hi)).collect()
}

/// The broadcast periods that apply to length `n`: absent, 1, 2, 3, 5, 7 and `n` (per element).
fn periods(n: usize) -> Vec<Option<usize>> {
    let mut v = vec![None];
    for l in [1, 2, 3, 5, 7, n] {
        if l > 0 && n % l == 0 && !v.contains(&Some(l)) {
            v.push(Some(l));
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Every length 0..=40 (full blocks, the four-block unrolled loop, tails of 1-3) with every
// broadcast period.

#[test]
fn probabilities_every_length_and_period() {
    let mut rng = Rng::new(21);
    let mut bad = Vec::new();
    for n in 0..=40usize {
        let x = probabilities(&mut rng, n);
        let y = targets(&mut rng, n);
        for wp in periods(n) {
            let w = wp.map(|l| uniform(&mut rng, l, 0.0, 3.0));
            for gp in periods(n) {
                let g = gp.map(|l| uniform(&mut rng, l, -2.0, 2.0));
                for d in [1.0, n.max(1) as f32] {
                    let a = Args {
                        weight: w.as_deref(),
                        grad_output: g.as_deref(),
                        grad_div: d,
                        ..Args::new(&x, &y)
                    };
                    bad.extend(run_all(Loss::Probabilities, a, false));
                }
            }
        }
    }
    assert_none(bad);
}

#[test]
fn logits_every_length_and_period() {
    let mut rng = Rng::new(22);
    let mut bad = Vec::new();
    for n in 0..=40usize {
        let x = logits(&mut rng, n);
        let y = targets(&mut rng, n);
        for wp in periods(n) {
            let w = wp.map(|l| uniform(&mut rng, l, 0.0, 3.0));
            for pp in periods(n) {
                let p = pp.map(|l| uniform(&mut rng, l, 0.0, 5.0));
                // The upstream gradient: absent, a scalar, or per element.
                for g in
                    [None, Some(vec![rng.range(-2.0, 2.0)]), (n > 0).then(|| uniform(&mut rng, n, -2.0, 2.0))]
                {
                    let d = if rng.below(2) == 0 { 1.0 } else { n.max(1) as f32 };
                    let a = Args {
                        weight: w.as_deref(),
                        pos_weight: p.as_deref(),
                        grad_output: g.as_deref(),
                        grad_div: d,
                        ..Args::new(&x, &y)
                    };
                    bad.extend(run_all(Loss::Logits, a, false));
                }
            }
        }
    }
    assert_none(bad);
}

/// A piece of a longer call (the facade streams long arrays in pieces; the pool splits them across
/// workers): with the phases of its first element, every piece gives the whole call's results for
/// its elements bit for bit, and the pieces' float64 sums add up to the whole sum.
#[test]
fn pieces_with_phases_equal_the_whole_call() {
    let mut rng = Rng::new(24);
    let n = 420; // divisible by 1, 2, 3, 4, 5, 6, 7 and 12
    let all = k::LOSS | k::LOSS_STORE | k::GRAD;
    let mut bad = Vec::new();
    for loss in [Loss::Probabilities, Loss::Logits] {
        let x = if loss == Loss::Logits { logits(&mut rng, n) } else { probabilities(&mut rng, n) };
        let y = targets(&mut rng, n);
        for (wl, pl) in [(1, 1), (2, 3), (3, 7), (5, 2), (7, 5), (12, 4), (n, 6), (6, n)] {
            let w = uniform(&mut rng, wl, 0.0, 3.0);
            let p = uniform(&mut rng, pl, 0.0, 5.0);
            let pos = (loss == Loss::Logits).then_some(&p[..]);
            let whole = Args { weight: Some(&w), pos_weight: pos, grad_div: n as f32, ..Args::new(&x, &y) };
            let full = k::run(loss, whole, all);
            bad.extend(verify(loss, &whole, all, &full, false));
            // Cuts at every offset mod 4 and mod the periods, pieces of every length 1..=40.
            let mut start = 0;
            let mut sum = 0.0f64;
            while start < n {
                let end = (start + 1 + rng.below(40)).min(n);
                let piece = Args {
                    x: &x[start..end],
                    y: &y[start..end],
                    weight_phase: start % wl,
                    pos_weight_phase: start % pl,
                    ..whole
                };
                let out = k::run(loss, piece, all);
                let ctx = format!("{:?} weight {} pos_weight {} piece {}..{}", loss, wl, pl, start, end);
                if out.status != k::OK || !out.guards_intact {
                    bad.push(format!("{}: status {}", ctx, out.status));
                }
                if bits(&out.loss) != bits(&full.loss[start..end])
                    || bits(&out.grad) != bits(&full.grad[start..end])
                {
                    bad.push(format!("{}: results differ from the whole call's", ctx));
                }
                sum += out.sum.unwrap_or(f64::NAN);
                start = end;
            }
            let whole_sum = full.sum.unwrap();
            if !((sum - whole_sum).abs() <= 1e-12 * whole_sum.abs()) {
                bad.push(format!(
                    "{:?} weight {} pos_weight {}: pieces sum to {:e}, whole {:e}",
                    loss, wl, pl, sum, whole_sum
                ));
            }
        }
    }
    assert_none(bad);
}

#[test]
fn empty_input() {
    for loss in [Loss::Probabilities, Loss::Logits] {
        for what in k::WHATS {
            let out = k::run(loss, Args::new(&[], &[]), what);
            assert_eq!(out.status, k::OK);
            assert!(out.guards_intact);
            if what & k::LOSS != 0 {
                assert_eq!(
                    out.sum.map(f64::to_bits),
                    Some(0f64.to_bits()),
                    "{:?}: the sum of nothing is +0",
                    loss
                );
            }
        }
    }
}

/// Large random batches: the float64 sum against the float64 reference sum (4 ulps of float32 per
/// element at most; in practice far less), and the mean to README's 1e-6 relative.
#[test]
fn float64_sum_of_a_large_batch() {
    let mut rng = Rng::new(23);
    let n = (1 << 20) + 2; // a tail of 2, and a multiple of the weight's period 3
    let x = uniform(&mut rng, n, 0.001, 0.999);
    let y = uniform(&mut rng, n, 0.0, 1.0);
    let w = uniform(&mut rng, 3, 0.5, 2.0);
    let z = uniform(&mut rng, n, -12.0, 12.0);
    let mut bad = Vec::new();
    for (loss, xs) in [(Loss::Probabilities, &x), (Loss::Logits, &z)] {
        let a = Args { weight: Some(&w), ..Args::new(xs, &y) };
        let out = k::run(loss, a, k::LOSS);
        bad.extend(verify(loss, &a, k::LOSS, &out, true));
        let exact: f64 = (0..n).map(|i| want(loss, &a, i).0.exact).sum();
        let rel = (out.sum.unwrap() - exact).abs() / exact.abs();
        println!("{:?}: float64 sum of {} losses: relative error {:.2e} against float64", loss, n, rel);
        if !(rel <= 1e-6) {
            bad.push(format!("{:?}: sum relative error {:e} > 1e-6", loss, rel));
        }
    }
    assert_none(bad);
}

// ---------------------------------------------------------------------------------------------
// Special values in every argument, as one element per combination (a per-element weight and
// upstream gradient), so every combination also passes through every lane and the tail.

/// The cartesian product of the value lists, as columns.
fn grid(lists: &[&[f32]]) -> Vec<Vec<f32>> {
    let total: usize = lists.iter().map(|l| l.len()).product();
    let mut cols = vec![Vec::with_capacity(total); lists.len()];
    for mut idx in 0..total {
        for (c, l) in lists.iter().enumerate().rev() {
            cols[c].push(l[idx % l.len()]);
            idx /= l.len();
        }
    }
    cols
}

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;

#[rustfmt::skip]
const PROB_XS: [f32; 15] = [
    0.0, -0.0, 1.0, MIN_SUB, MAX_SUB, MIN_NORMAL, 3.7e-44, 1e-30, 1e-7, 5.960_464_5e-8, 0.25, 0.5, 0.75,
    BELOW_ONE, 0.9999999,
];
const PROB_YS: [f32; 7] = [0.0, -0.0, 1.0, 0.5, 0.3, MIN_SUB, BELOW_ONE];

fn probabilities_special(zero_signs: bool, ys: &[f32]) -> Vec<String> {
    let xs = PROB_XS;
    let ws = [1.0, 0.0, -0.0, INF, NAN, 2.5, -1.5, MIN_SUB, 1e30];
    let gs = [1.0, 0.0, INF, NAN, -2.0];
    let c = grid(&[&xs, ys, &ws, &gs]);
    let n = c[0].len();
    let mut bad = Vec::new();
    for d in [1.0, n as f32] {
        let a =
            Args { weight: Some(&c[2]), grad_output: Some(&c[3]), grad_div: d, ..Args::new(&c[0], &c[1]) };
        bad.extend(run_all(Loss::Probabilities, a, zero_signs));
    }
    // Without weight and with scalar special weights / gradients.
    let c = grid(&[&xs, ys]);
    for w in [None, Some(0.0), Some(INF), Some(NAN)] {
        for g in [None, Some(INF), Some(NAN), Some(0.0)] {
            let (wv, gv) = (w.map(|v| vec![v]), g.map(|v| vec![v]));
            let a = Args { weight: wv.as_deref(), grad_output: gv.as_deref(), ..Args::new(&c[0], &c[1]) };
            bad.extend(run_all(Loss::Probabilities, a, zero_signs));
        }
    }
    bad
}

#[test]
fn probabilities_special_values() {
    assert_none(probabilities_special(false, &PROB_YS));
}

#[rustfmt::skip]
const LOGITS: [f32; 28] = [
    0.0, -0.0, MIN_SUB, -MIN_SUB, MAX_SUB, -MAX_SUB, MIN_NORMAL, -MIN_NORMAL, 1.0, -1.0, 17.0, -17.0, 88.7,
    -88.7, 100.0, -100.0, 1e4, -1e4, 1e30, -1e30, f32::MAX, -f32::MAX, INF, -INF, NAN, 0.5, -0.5, 104.0,
];

fn logits_special(zero_signs: bool) -> Vec<String> {
    let ys = [0.0, -0.0, 1.0, 0.5, 0.3, NAN, 2.0, -1.0];
    let ws = [1.0, 0.0, INF, NAN, 2.5];
    let ps = [1.0, 0.0, 3.0, 0.25, INF, NAN];
    let gs = [1.0, 0.0, INF, NAN, -2.0];
    let mut bad = Vec::new();
    // Without pos_weight.
    let c = grid(&[&LOGITS, &ys, &ws, &gs]);
    let n = c[0].len() as f32;
    for d in [1.0, n] {
        let a =
            Args { weight: Some(&c[2]), grad_output: Some(&c[3]), grad_div: d, ..Args::new(&c[0], &c[1]) };
        bad.extend(run_all(Loss::Logits, a, zero_signs));
    }
    // With pos_weight.
    let c = grid(&[&LOGITS, &ys, &ws, &ps, &gs]);
    let a = Args {
        weight: Some(&c[2]),
        pos_weight: Some(&c[3]),
        grad_output: Some(&c[4]),
        ..Args::new(&c[0], &c[1])
    };
    bad.extend(run_all(Loss::Logits, a, zero_signs));
    // No weight, scalar pos_weight.
    let c = grid(&[&LOGITS, &ys]);
    for p in [None, Some(1.0), Some(3.0), Some(INF)] {
        let pv = p.map(|v| vec![v]);
        bad.extend(run_all(
            Loss::Logits,
            Args { pos_weight: pv.as_deref(), ..Args::new(&c[0], &c[1]) },
            zero_signs,
        ));
    }
    bad
}

#[test]
fn logits_special_values() {
    assert_none(logits_special(false));
}

/// Zeros: the sign PyTorch's float32 formula gives (the special-value grids above accept a zero
/// of either sign; README.md documents the -0 of BCE at x = y = 1, as PyTorch's formula gives).
/// A target of -0 is left to the next test.
#[test]
fn zero_signs_follow_pytorch() {
    let ys: Vec<f32> = PROB_YS.iter().copied().filter(|y| y.to_bits() != (-0.0f32).to_bits()).collect();
    let mut bad = probabilities_special(true, &ys);
    bad.extend(logits_special(true));
    bad.retain(|m| m.contains("(sign of zero)"));
    assert_none(bad);
}

/// BCE at input +0 and target -0: PyTorch's `(y - 1) * max(log1p(-x), -100)` has
/// `log1p(-0) = -0`, so `-1 * -0 = +0`, and `y * max(log x, -100) = -0 * -100 = +0`: the loss is
/// `+0 - +0 = +0` (then times the weight). `log1m_clamped(+-0)` is therefore `-+0`, as log1p's.
#[test]
fn zero_sign_at_target_minus_zero() {
    let mut bad = probabilities_special(true, &[-0.0]);
    bad.retain(|m| m.contains("(sign of zero)"));
    assert_none(bad);
}

/// Values stated in README.md and the npm tests, bit for bit (and PyTorch's, at the -0 input).
#[test]
fn probabilities_documented_values() {
    let mut bad = Vec::new();
    let mut expect = |what: &str, got: &[f32], want: &[f32], x: &[f32], y: &[f32]| {
        for i in 0..want.len() {
            if !same(got[i], want[i]) {
                bad.push(format!(
                    "BCE {} at x={}, y={}: got {}, want {}",
                    what,
                    show(x[i]),
                    y[i],
                    show(got[i]),
                    show(want[i])
                ));
            }
        }
    };
    let x = [0.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let y = [0.0, 1.0, 1.0, 0.0, 0.5, 0.5];
    let out = k::run(Loss::Probabilities, Args::new(&x, &y), k::LOSS | k::LOSS_STORE | k::GRAD);
    assert_eq!(out.status, k::OK);
    expect("loss", &out.loss, &[0.0, 100.0, -0.0, 100.0, 50.0, 50.0], &x, &y);
    expect("grad", &out.grad, &[0.0, -1e12, 0.0, 1e12, -0.5e12, 0.5e12], &x, &y);
    assert_eq!(out.sum, Some(300.0));

    // Input -0 passes the range check and, as log(-0) = -inf, gives what +0 gives:
    // loss 100 for target 1 (PyTorch: 100; the clamp of -inf), 0 for target 0.
    let x = [-0.0, -0.0, -0.0, MIN_SUB, MIN_SUB, -0.0];
    let y = [1.0, 0.0, 0.5, 1.0, 0.0, -0.0];
    let out = k::run(Loss::Probabilities, Args::new(&x, &y), k::LOSS | k::LOSS_STORE | k::GRAD);
    assert_eq!(out.status, k::OK, "-0 is in [0, 1]");
    let want_loss: Vec<f32> = (0..6).map(|i| bce_loss(x[i], y[i], 1.0).mirror).collect();
    let want_grad: Vec<f32> = (0..6).map(|i| bce_grad(x[i], y[i], 1.0, 1.0, 1.0).mirror).collect();
    assert_eq!(&want_loss[..3], &[100.0, 0.0, 50.0]);
    expect("loss", &out.loss, &want_loss, &x, &y);
    expect("grad", &out.grad, &want_grad, &x, &y);
    assert_none(bad);
}

#[test]
fn logits_documented_values() {
    // (x, y, loss, grad) without weights: infinite logits give PyTorch's NaN where its formula has
    // 0 * inf or inf - inf; every finite logit gives a finite loss.
    let table: [(f32, f32, f32, f32); 14] = [
        (INF, 1.0, NAN, 0.0),
        (INF, 0.0, INF, 1.0),
        (-INF, 0.0, NAN, 0.0),
        (-INF, 1.0, NAN, -1.0),
        (INF, 0.5, INF, 0.5),
        (-INF, 0.5, NAN, -0.5),
        (1e4, 1.0, 0.0, 0.0),
        (1e4, 0.0, 1e4, 1.0),
        (-1e4, 0.0, 0.0, 0.0),
        (-1e4, 1.0, 1e4, -1.0),
        (100.0, 1.0, 3.720_076e-44, 0.0),
        (-100.0, 1.0, 100.0, -1.0),
        (-100.0, 0.0, 0.0, 0.0),
        (0.0, 1.0, core::f32::consts::LN_2, -0.5),
    ];
    let x: Vec<f32> = table.iter().map(|t| t.0).collect();
    let y: Vec<f32> = table.iter().map(|t| t.1).collect();
    let out = k::run(Loss::Logits, Args::new(&x, &y), k::LOSS | k::LOSS_STORE | k::GRAD);
    assert_eq!(out.status, k::OK);
    let mut bad = Vec::new();
    for (i, &(x, y, loss, grad)) in table.iter().enumerate() {
        let (wl, wg) = (logits_loss(x, y, 1.0, None), logits_grad(x, y, 1.0, None, 1.0, 1.0));
        // The table agrees with the reference (a sanity check of both) ...
        for (lit, w) in [(loss, wl), (grad, wg)] {
            let agrees = same(lit, w.mirror) || (lit.is_finite() && ulps(lit, w.exact, w.exact) <= 0.5);
            assert!(agrees, "table entry x={} y={}: {} against {:?}", x, y, lit, w);
        }
        // ... and the kernel with the reference.
        if let Err(e) = check(out.loss[i], wl, TOL, true) {
            bad.push(format!("logits loss at x={}, y={}: {}", x, y, e));
        }
        if let Err(e) = check(out.grad[i], wg, TOL, true) {
            bad.push(format!("logits grad at x={}, y={}: {}", x, y, e));
        }
    }
    assert!(out.sum.unwrap().is_nan());
    assert_none(bad);
}

// ---------------------------------------------------------------------------------------------
// The range check of BCE on probabilities.

const BAD_VALUES: [f32; 10] = [NAN, NEG_QNAN, SNAN, -MIN_SUB, -1.0, ABOVE_ONE, 2.0, INF, -INF, -f32::MAX];

#[test]
fn range_check_reports_the_first_bad_index() {
    let mut rng = Rng::new(31);
    let mut bad = Vec::new();
    for n in 1..=40usize {
        let x = probabilities(&mut rng, n);
        let y = targets(&mut rng, n);
        let w = uniform(&mut rng, n, 0.0, 2.0);
        for i in 0..n {
            for &v in &BAD_VALUES {
                for what in k::WHATS {
                    // Only the input, only the target, or both at the same index: input first.
                    for (in_x, in_y, status) in [
                        (true, false, k::BAD_INPUT),
                        (false, true, k::BAD_TARGET),
                        (true, true, k::BAD_INPUT),
                    ] {
                        let (mut xb, mut yb) = (x.clone(), y.clone());
                        if in_x {
                            xb[i] = v;
                        }
                        if in_y {
                            yb[i] = v;
                        }
                        let out = k::run(
                            Loss::Probabilities,
                            Args { weight: Some(&w), ..Args::new(&xb, &yb) },
                            what,
                        );
                        if out.status != status || out.error_index != Some(i) || !out.guards_intact {
                            bad.push(format!(
                                "n={} what={} value {} at {} in {}: status {} index {:?}, want {} index {}",
                                n,
                                what,
                                show(v),
                                i,
                                match (in_x, in_y) {
                                    (true, false) => "input",
                                    (false, true) => "target",
                                    _ => "both",
                                },
                                out.status,
                                out.error_index,
                                status,
                                i
                            ));
                        }
                    }
                }
            }
            // A bad target before a bad input: the target's index; after it: the input's.
            for j in 0..n {
                if j == i {
                    continue;
                }
                let (mut xb, mut yb) = (x.clone(), y.clone());
                xb[i] = rng.pick(&BAD_VALUES);
                yb[j] = rng.pick(&BAD_VALUES);
                let out = k::run(Loss::Probabilities, Args::new(&xb, &yb), k::LOSS | k::GRAD);
                let want = if i < j { (k::BAD_INPUT, i) } else { (k::BAD_TARGET, j) };
                if (out.status, out.error_index) != (want.0, Some(want.1)) {
                    bad.push(format!(
                        "n={} bad input at {}, bad target at {}: status {} index {:?}, want {} index {}",
                        n, i, j, out.status, out.error_index, want.0, want.1
                    ));
                }
            }
        }
    }
    assert_none(bad);
}

#[test]
fn range_check_accepts_the_closed_interval() {
    let edges = [0.0, -0.0, 1.0, MIN_SUB, MAX_SUB, MIN_NORMAL, BELOW_ONE, 0.5];
    let c = grid(&[&edges, &edges]);
    for what in k::WHATS {
        let out = k::run(Loss::Probabilities, Args::new(&c[0], &c[1]), what);
        assert_eq!(out.status, k::OK, "what={}: index {:?}", what, out.error_index);
    }
}

#[test]
fn logits_check_no_values() {
    let x = [NAN, INF, -INF, 0.5, 1e30, 2.0, -3.0];
    let y = [0.5, 0.5, 0.5, NAN, 2.0, -1.0, INF];
    let out = k::run(Loss::Logits, Args::new(&x, &y), k::LOSS | k::LOSS_STORE | k::GRAD);
    assert_eq!(out.status, k::OK);
    assert!(out.loss[0].is_nan() && out.grad[0].is_nan() && out.loss[3].is_nan() && out.grad[3].is_nan());
    assert!(out.sum.unwrap().is_nan());
}

#[test]
fn bad_what_is_rejected_without_writing() {
    let x = [0.5f32; 9];
    let y = [1.0f32; 9];
    for loss in [Loss::Probabilities, Loss::Logits] {
        for what in [0, k::LOSS_STORE, k::LOSS_STORE | k::GRAD, 8, 9, 16, u32::MAX] {
            let out = k::run(loss, Args::new(&x, &y), what);
            assert_eq!(out.status, k::BAD_WHAT, "{:?} what={}", loss, what);
            assert!(Out::untouched(&out.loss) && Out::untouched(&out.grad) && out.guards_intact);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outputs over the input or the target (the facade's in-place calls): the same bits.

#[test]
fn outputs_may_alias_the_input_or_the_target() {
    let mut rng = Rng::new(41);
    let mut bad = Vec::new();
    let all = k::LOSS | k::LOSS_STORE | k::GRAD;
    let layouts = [
        (all, Dest::Input, Dest::Own),
        (all, Dest::Own, Dest::Input),
        (all, Dest::Input, Dest::Target),
        (all, Dest::Target, Dest::Input),
        (all, Dest::Target, Dest::Own),
        (all, Dest::Own, Dest::Target),
        (k::LOSS | k::LOSS_STORE, Dest::Input, Dest::Own),
        (k::GRAD, Dest::Own, Dest::Input),
        (k::LOSS | k::GRAD, Dest::Own, Dest::Input),
    ];
    for n in 0..=40usize {
        for loss in [Loss::Probabilities, Loss::Logits] {
            let x = if loss == Loss::Logits { logits(&mut rng, n) } else { probabilities(&mut rng, n) };
            let y = targets(&mut rng, n);
            let w: Vec<f32> = uniform(&mut rng, if n % 3 == 0 && n > 0 { 3 } else { 1 }, 0.5, 2.0);
            let p = (loss == Loss::Logits).then(|| uniform(&mut rng, 1, 0.5, 3.0));
            let a = Args {
                weight: Some(&w),
                pos_weight: p.as_deref(),
                grad_div: n.max(1) as f32,
                ..Args::new(&x, &y)
            };
            let plain = k::run(loss, a, all);
            for &(what, lt, gt) in &layouts {
                let out = k::run_aliased(loss, a, what, lt, gt);
                let ctx = format!("{:?} n={} what={} loss->{:?} grad->{:?}", loss, n, what, lt, gt);
                if out.status != k::OK || !out.guards_intact {
                    bad.push(format!("{}: status {}, guards intact {}", ctx, out.status, out.guards_intact));
                    continue;
                }
                if what & k::LOSS_STORE != 0 && bits(&out.loss) != bits(&plain.loss) {
                    bad.push(format!("{}: losses differ from separate buffers", ctx));
                }
                if what & k::GRAD != 0 && bits(&out.grad) != bits(&plain.grad) {
                    bad.push(format!("{}: gradients differ from separate buffers", ctx));
                }
                if what & k::LOSS != 0 && sum_bits(out.sum) != sum_bits(plain.sum) {
                    bad.push(format!("{}: sum differs from separate buffers", ctx));
                }
            }
        }
    }
    assert_none(bad);
}

// ---------------------------------------------------------------------------------------------
// The elementwise kernels: the math functions element by element, for every length, in place too.

#[test]
fn elementwise_kernels_apply_the_math_functions() {
    use bce_wasm_kernels::lanes::V;
    use bce_wasm_kernels::math;
    let f = |m: k::Map| -> fn(V) -> V {
        match m {
            k::Map::Sigmoid => math::sigmoid,
            k::Map::LogSigmoid => math::logsigmoid,
            k::Map::Exp => math::exp,
            k::Map::Log => math::log,
            k::Map::Log1p => math::log1p,
        }
    };
    let mut rng = Rng::new(51);
    let mut specials = special_inputs();
    specials.extend(NANS);
    for m in k::MAPS {
        for n in (0..=40usize).chain([1000, 4099]) {
            let x: Vec<f32> = (0..n)
                .map(|_| if rng.below(4) == 0 { rng.pick(&specials) } else { f32::from_bits(rng.next_u32()) })
                .collect();
            let want = eval(f(m), &x);
            for in_place in [false, true] {
                let (got, intact) = k::map(m, &x, in_place);
                assert!(intact, "{:?} n={} in_place={}: wrote past n", m, n, in_place);
                for i in 0..n {
                    assert!(
                        same(got[i], want[i]),
                        "{:?} n={} in_place={} x[{}]={}: got {}, want {}",
                        m,
                        n,
                        in_place,
                        i,
                        show(x[i]),
                        show(got[i]),
                        show(want[i])
                    );
                }
            }
        }
    }
}

/// The logits loss in its tails: within 4 ulps of the true (float64) value, not of PyTorch's
/// float32 one, for x in [-104, 104] and targets 0, 1 and soft ones, with and without pos_weight.
/// PyTorch's `(1 - y) x - logsigmoid(x)` cancels (at x = -25, y = 0 its float32 value is 0 for a
/// true loss of 1.39e-11); the softplus form does not.
#[test]
fn logits_loss_is_accurate_in_its_tails() {
    let mut x = Vec::new();
    let mut v = -104.0f32;
    while v <= 104.0 {
        x.push(v);
        v += 0.0625;
    }
    x.push(-25.0);
    let mut bad = Vec::new();
    for &target in &[0.0f32, 1.0, 0.25, 1e-6, 0.999_999] {
        for pos in [None, Some(3.0f32), Some(0.5)] {
            let y = vec![target; x.len()];
            let pw = pos.map(|p| vec![p]);
            let mut args = Args::new(&x, &y);
            args.pos_weight = pw.as_deref();
            let out = k::run(Loss::Logits, args, k::LOSS | k::LOSS_STORE);
            for (i, &xi) in x.iter().enumerate() {
                let want = logits_loss(xi, target, 1.0, pos);
                let got = out.loss[i] as f64;
                let err = (got - want.exact).abs() / ulp32(want.exact);
                if !(err <= TOL) && !(want.exact.abs() < 2.0 * SUB_ULP && err <= 2.0 * TOL) {
                    bad.push(format!("x={} y={} p={:?}: {} vs {} ({:.1} ulps)", xi, target, pos, got, want.exact, err));
                }
            }
        }
    }
    // The README's example.
    let out = k::run(Loss::Logits, Args::new(&[-25.0], &[0.0]), k::LOSS | k::LOSS_STORE);
    assert!((out.loss[0] as f64 - 1.388_794_386_496_402e-11).abs() < 4.0 * ulp32(1.39e-11), "{}", out.loss[0]);
    assert_none(bad);
}

// ---------------------------------------------------------------------------------------------
// Options: label smoothing and the mask.

fn hard_soft_targets(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.pick(&[0.0, 1.0, -0.0, 0.25, 0.7, 1.0, 0.0])).collect()
}

/// Smoothing `e` is the call on targets smoothed beforehand in float32 (`y * (1 - e) + 0.5 * e`,
/// Keras's operations), bit for bit, for both losses and every output; `e = 0` is no smoothing at
/// all, bit for bit, -0 targets included (it is not routed through the arithmetic: -0 + 0 = +0).
#[test]
fn label_smoothing_is_the_call_on_smoothed_targets() {
    let mut rng = Rng::new(77);
    let mut bad = Vec::new();
    for n in [1usize, 3, 4, 15, 16, 17, 33, 100] {
        for loss in [Loss::Probabilities, Loss::Logits] {
            let x = if loss == Loss::Logits { logits(&mut rng, n) } else { probabilities(&mut rng, n) };
            let y = hard_soft_targets(&mut rng, n);
            for e in [0.0f32, 0.1, 0.3, 0.6, 0.9, 1.0] {
                // Keras's float32 operations on the Python float e: 1 - e and 0.5 * e rounded once.
                let (ea, eb) = ((1.0 - e as f64) as f32, (0.5 * e as f64) as f32);
                let ys: Vec<f32> = y.iter().map(|&v| if e == 0.0 { v } else { v * ea + eb }).collect();
                for &what in &k::WHATS {
                    let mut a = Args::new(&x, &y);
                    a.smooth = e;
                    let got = k::run(loss, a, what);
                    let want = k::run(loss, Args::new(&x, &ys), what);
                    let same_all = |p: &[f32], q: &[f32]| p.iter().zip(q).all(|(a, b)| same(*a, *b));
                    if got.status != want.status || !same_all(&got.loss, &want.loss) || !same_all(&got.grad, &want.grad)
                        || got.sum.map(f64::to_bits) != want.sum.map(f64::to_bits)
                    {
                        bad.push(format!("{:?} n={} e={} what={}", loss, n, e, what));
                    }
                }
            }
        }
    }
    assert_none(bad);
}

/// A masked-out element gives loss 0 and gradient 0 whatever it holds (NaN, out of range: not
/// checked); a kept one is exactly what the call without a mask gives; the sum is the sum over the
/// kept elements; broadcast masks of every period and phase; a byte above 1 is k::BAD_MASK at its
/// index, reported before the input and target of the same index.
#[test]
fn mask_keeps_exactly_its_elements() {
    let mut rng = Rng::new(78);
    let mut bad = Vec::new();
    for n in [1usize, 2, 4, 7, 16, 17, 31, 64, 70] {
        for loss in [Loss::Probabilities, Loss::Logits] {
            let x = if loss == Loss::Logits { logits(&mut rng, n) } else { probabilities(&mut rng, n) };
            let y = hard_soft_targets(&mut rng, n);
            for period in [1usize, 2, 3, 4, 5, 8, n] {
                if n % period != 0 {
                    continue;
                }
                let m: Vec<u8> = (0..period).map(|_| (rng.below(3) != 0) as u8).collect();
                let phase = rng.below(period);
                let keep = |i: usize| m[(phase + i) % period] == 1;
                // Masked-out elements hold garbage.
                let xg: Vec<f32> = (0..n).map(|i| if keep(i) { x[i] } else { rng.pick(&[f32::NAN, 7.0, -3.0]) }).collect();
                let yg: Vec<f32> = (0..n).map(|i| if keep(i) { y[i] } else { rng.pick(&[f32::NAN, 2.0]) }).collect();
                for &what in &k::WHATS {
                    let mut a = Args::new(&xg, &yg);
                    a.mask = Some(&m);
                    a.mask_phase = phase;
                    let got = k::run(loss, a, what);
                    let plain = k::run(loss, Args::new(&x, &y), what);
                    let mut sum = 0.0f64;
                    let mut ok = got.status == k::OK;
                    for i in 0..n {
                        if what & k::LOSS_STORE != 0 {
                            let want = if keep(i) { plain.loss[i] } else { 0.0 };
                            ok &= same(got.loss[i], want);
                        }
                        if what & k::GRAD != 0 {
                            let want = if keep(i) { plain.grad[i] } else { 0.0 };
                            ok &= same(got.grad[i], want);
                        }
                        if keep(i) {
                            sum += plain.loss.get(i).copied().unwrap_or(0.0) as f64;
                        }
                    }
                    if what & k::LOSS_STORE != 0 {
                        let s = got.sum.unwrap();
                        ok &= (s - sum).abs() <= 1e-12 * sum.abs().max(1.0) || (s.is_nan() && sum.is_nan());
                    }
                    if !ok {
                        bad.push(format!("{:?} n={} period={} phase={} what={}", loss, n, period, phase, what));
                    }
                }
                // The divisor of a masked mean: the count of kept elements (and the kept weight sum).
                let (status, count, _) = k::kept_weight(None, 0, Some(&m), phase, n);
                let want = (0..n).filter(|&i| keep(i)).count() as f64;
                if status != k::OK || count != want {
                    bad.push(format!("kept count n={} period={}: {} vs {}", n, period, count, want));
                }
                let w: Vec<f32> = (0..period).map(|_| rng.unit() as f32).collect();
                let (_, ws, _) = k::kept_weight(Some(&w), phase, Some(&m), phase, n);
                let want: f64 = (0..n).filter(|&i| keep(i)).map(|i| w[(phase + i) % period] as f64).sum();
                if (ws - want).abs() > 1e-12 * want.max(1.0) {
                    bad.push(format!("kept weight n={} period={}: {} vs {}", n, period, ws, want));
                }
            }
        }
    }
    // A byte above 1: k::BAD_MASK at the first such index, before a bad input at the same index.
    for n in [1usize, 5, 16, 21, 40] {
        for at in [0, n / 2, n - 1] {
            let x = vec![0.5f32; n];
            let mut xb = x.clone();
            xb[at] = 2.0;
            let mut m = vec![1u8; n];
            m[at] = 2;
            for &what in &k::WHATS {
                let mut a = Args::new(&xb, &x);
                a.mask = Some(&m);
                let got = k::run(Loss::Probabilities, a, what);
                if got.status != k::BAD_MASK || got.error_index != Some(at) {
                    bad.push(format!("bad mask byte n={} at={}: {:?} {:?}", n, at, got.status, got.error_index));
                }
                let mut a = Args::new(&x, &x);
                a.mask = Some(&m);
                let got = k::run(Loss::Logits, a, what);
                if got.status != k::BAD_MASK || got.error_index != Some(at) {
                    bad.push(format!("bad mask byte (logits) n={} at={}", n, at));
                }
            }
            let (status, _, index) = k::kept_weight(None, 0, Some(&m), 0, n);
            if status != k::BAD_MASK || index != Some(at) {
                bad.push(format!("kept_weight bad byte n={} at={}", n, at));
            }
        }
    }
    assert_none(bad);
}

// ---------------------------------------------------------------------------------------------
// The focal loss (torchvision's sigmoid_focal_loss).

/// float64 focal loss and its gradient (autograd of torchvision's formula), `ce` in the softplus form.
fn focal64(x: f64, y: f64, alpha: f64, gamma: f64) -> (f64, f64) {
    let s = sigmoid64(x);
    let sc = sigmoid64(-x);
    let ce = (1.0 - y) * softplus64(x) + y * softplus64(-x);
    let u = s * (1.0 - y) + sc * y;
    let a = if alpha >= 0.0 { alpha * y + (1.0 - alpha) * (1.0 - y) } else { 1.0 };
    let f = if gamma == 0.0 { 1.0 } else { u.powf(gamma) };
    let du = s * sc * (1.0 - 2.0 * y);
    let term = if u == 0.0 || gamma == 0.0 { 0.0 } else { gamma * ce * u.powf(gamma - 1.0) * du };
    (ce * f * a, a * (f * (s - y) + term))
}

/// Loss and gradient within a few ulps of float64 (the worst is printed), for gamma in
/// {0, 0.5, 1, 2, 2.5, 5}, alpha in {0.25, -1}, hard and soft targets; gamma = 0 with alpha < 0 is
/// the logits loss bit for bit.
#[test]
fn focal_loss_against_float64() {
    let mut rng = Rng::new(90);
    let n = 3000;
    let mut x: Vec<f32> = (0..n).map(|_| rng.range(-30.0, 30.0)).collect();
    x.extend_from_slice(&[0.0, -0.0, 100.0, -100.0, 17.0, -17.0, 1e-8, 5.0]);
    let n = x.len();
    let y: Vec<f32> = (0..n).map(|_| rng.pick(&[0.0, 1.0, 0.25, 0.9])).collect();
    let mut bad = Vec::new();
    let mut worst = (0.0f64, 0.0f64);
    for gamma in [0.0f32, 0.5, 1.0, 2.0, 2.5, 5.0] {
        for alpha in [0.25f32, -1.0] {
            let out = k::focal(Args::new(&x, &y), alpha, gamma, k::LOSS | k::LOSS_STORE | k::GRAD);
            assert_eq!(out.status, k::OK);
            for i in 0..n {
                let (wl, wg) = focal64(x[i] as f64, y[i] as f64, alpha as f64, gamma as f64);
                let el = ulps(out.loss[i], wl, wl.abs().max(1e-38));
                // The gradient's two terms can cancel (s - y, 1 - 2y): its error is relative to them.
                let s = sigmoid64(x[i] as f64);
                let scale = (s.abs() + (y[i] as f64).abs()).max(wg.abs());
                let eg = ulps(out.grad[i], wg, scale);
                worst = (worst.0.max(el), worst.1.max(eg));
                if !(el <= 16.0) || !(eg <= 16.0) {
                    bad.push(format!("gamma={} alpha={} x={} y={}: loss {} vs {} ({:.1} ulps), grad {} vs {} ({:.1})", gamma, alpha, x[i], y[i], out.loss[i], wl, el, out.grad[i], wg, eg));
                }
            }
            if gamma == 0.0 && alpha < 0.0 {
                let plain = k::run(Loss::Logits, Args::new(&x, &y), k::LOSS | k::LOSS_STORE | k::GRAD);
                for i in 0..n {
                    if !same(out.loss[i], plain.loss[i]) || !same(out.grad[i], plain.grad[i]) {
                        bad.push(format!("gamma 0, alpha < 0 is not the logits loss at x={} y={}", x[i], y[i]));
                    }
                }
            }
        }
    }
    println!("focal: worst loss {:.2} ulps, worst gradient {:.2} ulps (of its terms)", worst.0, worst.1);
    assert_none(bad);
}

/// Where the gradient's second factor `du = s (1 - s)(1 - 2y)` is 0 (|x| huge, or y = 1/2) it is 0
/// before a huge `ce` or `gamma` meets it: finite where torchvision's autograd is finite (the values
/// are torchvision 0.29's autograd in float32), not inf * 0 = NaN.
#[test]
fn focal_gradient_is_finite_where_autograd_is() {
    // (x, y, alpha, gamma, torchvision's gradient)
    let cases: [(f32, f32, f32, f32, f32); 5] = [
        (-2e38, 1.0, 0.25, 2.0, -0.25),
        (3e38, 0.25, 0.25, 2.0, 0.263671875),
        (3e38, 0.0, 0.25, 1.5, 0.75),
        (-3e38, 0.5, -1.0, 5.0, -0.015625),
        (5.0, 0.0, 0.25, 1e38, 0.0),
    ];
    let mut bad = Vec::new();
    for (x, y, alpha, gamma, want) in cases {
        let (xs, ys) = ([x], [y]);
        let out = k::focal(Args::new(&xs, &ys), alpha, gamma, k::GRAD);
        if out.grad[0] != want {
            bad.push(format!("x={} y={} alpha={} gamma={}: {} (torchvision {})", x, y, alpha, gamma, out.grad[0], want));
        }
    }
    assert_none(bad);
}
