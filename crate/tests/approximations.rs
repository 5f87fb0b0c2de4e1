//! The float32 approximations of `math.rs` (exp, log, log1p, sigmoid, logsigmoid, BCE's clamped
//! logs) against std's float64 functions, through the crate's public Rust API on `lanes::V`.
//!
//! The error is measured as README.md ("Accuracy") and `scripts/ulp-sweep.mjs` define it:
//! `|got - exact| / 2^(max(exponent(exact), -126) - 23)`, the float32 spacing at the exact value.
//! A result equal to the exact value rounded to float32 counts as exact (a zero of either sign); a
//! NaN or infinite exact value, or a NaN or infinite result, must be matched exactly.
//! The bounds are README.md's measured maxima over every float32 input. The README prints them to
//! three decimals, rounded to nearest (`scripts/ulp-results.json`: log1p 0.86222 -> 0.862,
//! logsigmoid 1.64636 -> 1.646), so each bound is the printed value plus half a unit of its last
//! digit, `MARGIN`: the largest value that prints as the README's number.
//!
//! `cargo test --release` samples about 2M inputs per function (special values, thresholds,
//! random bit patterns, random values where the functions vary, the neighbourhoods of the inputs
//! where the README's maxima were measured). `cargo test --release -- --ignored full_sweep`
//! checks every float32 input instead (minutes).

mod common;

use bce_wasm_kernels::lanes::V;
use bce_wasm_kernels::math;
use common::*;

#[derive(Clone, Copy, PartialEq)]
enum Domain {
    /// Every float32.
    All,
    /// [0, 1] (BCE's clamped logs: the range check rejects the rest).
    Unit,
}

#[derive(Clone, Copy)]
struct Approx {
    name: &'static str,
    f: fn(V) -> V,
    reference: fn(f64) -> f64,
    /// README.md's max error, ulp, as printed (`MARGIN` is added).
    bound: f64,
    domain: Domain,
    /// Where the README's maximum was measured (`scripts/ulp-results.json`).
    worst: f32,
    /// An interval where the function varies, sampled uniformly on top of the random bits.
    core: (f64, f64),
}

fn sigmoid_ref(x: f64) -> f64 {
    sigmoid64(x)
}
fn logsigmoid_ref(x: f64) -> f64 {
    logsigmoid64(x)
}
fn sigmoid_neg_ref(x: f64) -> f64 {
    sigmoid64(-x)
}
/// `sigmoid(-x)` as the focal loss forms it, from the same `exp(-|x|)` and `sigmoid(x)`.
fn sigmoid_neg(x: V) -> V {
    let l = math::Logistic::of(x);
    l.sigmoid_neg(l.sigmoid())
}
fn log_clamped_ref(x: f64) -> f64 {
    cmax64(x.ln(), -100.0)
}
fn log1m_clamped_ref(x: f64) -> f64 {
    cmax64((-x).ln_1p(), -100.0)
}

const APPROX: [Approx; 8] = [
    Approx {
        name: "exp",
        f: math::exp,
        reference: f64::exp,
        bound: 0.906,
        domain: Domain::All,
        worst: -5.160_946_846_008_301,
        core: (-104.0, 89.0),
    },
    Approx {
        name: "log",
        f: math::log,
        reference: f64::ln,
        bound: 0.842,
        domain: Domain::All,
        worst: 0.706_229_388_713_836_7,
        core: (0.25, 4.0),
    },
    Approx {
        name: "log1p",
        f: math::log1p,
        reference: f64::ln_1p,
        bound: 0.862,
        domain: Domain::All,
        worst: 0.413_657_635_450_363_16,
        core: (-1.0, 3.0),
    },
    Approx {
        name: "sigmoid",
        f: math::sigmoid,
        reference: sigmoid_ref,
        bound: 1.967,
        domain: Domain::All,
        worst: -6.237_699_031_829_834,
        core: (-40.0, 40.0),
    },
    Approx {
        name: "logsigmoid",
        f: math::logsigmoid,
        reference: logsigmoid_ref,
        bound: 1.646,
        domain: Domain::All,
        worst: 1.262_334_465_980_529_8,
        core: (-40.0, 40.0),
    },
    Approx {
        name: "sigmoid_neg",
        f: sigmoid_neg,
        reference: sigmoid_neg_ref,
        bound: 2.375,
        domain: Domain::All,
        worst: 3.441_828_3,
        core: (-40.0, 40.0),
    },
    Approx {
        name: "log_clamped",
        f: math::log_clamped,
        reference: log_clamped_ref,
        bound: 0.842,
        domain: Domain::Unit,
        worst: 0.706_229_388_713_836_7,
        core: (0.0, 1.0),
    },
    Approx {
        name: "log1m_clamped",
        f: math::log1m_clamped,
        reference: log1m_clamped_ref,
        bound: 0.862,
        domain: Domain::Unit,
        worst: 0.293_620_318_174_362_2,
        core: (0.0, 1.0),
    },
];

/// Half a unit of the README's last printed digit.
const MARGIN: f64 = 0.0005;

fn approx(name: &str) -> Approx {
    *APPROX.iter().find(|a| a.name == name).unwrap()
}

/// Maximum error and failures of one function over a set of inputs.
#[derive(Default)]
struct Stats {
    inputs: u64,
    exact: u64,
    max_ulp: f64,
    worst_x: f32,
    failures: Vec<String>,
    failure_count: u64,
}

impl Stats {
    fn fail(&mut self, msg: String) {
        self.failure_count += 1;
        if self.failures.len() < 12 {
            self.failures.push(msg);
        }
    }

    fn merge(&mut self, o: Stats) {
        self.inputs += o.inputs;
        self.exact += o.exact;
        if o.max_ulp > self.max_ulp {
            self.max_ulp = o.max_ulp;
            self.worst_x = o.worst_x;
        }
        self.failure_count += o.failure_count;
        for f in o.failures {
            if self.failures.len() < 12 {
                self.failures.push(f);
            }
        }
    }

    /// Measures `got = f(x)` for one input (the sweep script's rules).
    fn add(&mut self, a: &Approx, x: f32, got: f32) {
        self.inputs += 1;
        let want = if x.is_nan() { f64::NAN } else { (a.reference)(x as f64) };
        let rounded = want as f32;
        if got == rounded || (got.is_nan() && want.is_nan()) {
            self.exact += 1;
            return;
        }
        if want.is_nan() || !rounded.is_finite() || !got.is_finite() {
            self.fail(format!("{}({}) = {}, want {:e}", a.name, show(x), show(got), want));
            return;
        }
        let e = ulps(got, want, want);
        if e > self.max_ulp {
            self.max_ulp = e;
            self.worst_x = x;
        }
        if e > a.bound + MARGIN {
            self.fail(format!(
                "{}({}) = {}, want {:e}: {:.5} ulp > {} (README) + {}",
                a.name,
                show(x),
                show(got),
                want,
                e,
                a.bound,
                MARGIN
            ));
        }
    }

    fn add_all(&mut self, a: &Approx, xs: &[f32]) {
        let got = eval(a.f, xs);
        for (&x, &g) in xs.iter().zip(&got) {
            self.add(a, x, g);
        }
    }
}

/// `k` float32 neighbours on each side of `c` (in the same sign), and `c`.
fn around(c: f32, k: i64) -> Vec<f32> {
    let b = c.to_bits() as i64;
    let (lo, hi) = if c.is_sign_negative() { (0x8000_0000, 0xff80_0000) } else { (0, 0x7f80_0000) };
    (b - k..=b + k).filter(|&v| v >= lo && v <= hi).map(|v| f32::from_bits(v as u32)).collect()
}

fn in_domain(a: &Approx, x: f32) -> bool {
    a.domain == Domain::All || (0.0..=1.0).contains(&x)
}

/// The sampled sweep of one function: special values, thresholds, the README's worst input and
/// its neighbours, 2^20 random bit patterns and 2^20 random values of its `core` interval.
fn sweep(a: &Approx, extra_centres: &[f32], seed: u64) -> Stats {
    let mut st = Stats::default();
    let mut xs: Vec<f32> = special_inputs().into_iter().filter(|&x| in_domain(a, x)).collect();
    if a.domain == Domain::All {
        xs.extend(NANS);
    }
    for &c in [a.worst].iter().chain(extra_centres) {
        xs.extend(around(c, 4096).into_iter().filter(|&x| in_domain(a, x)));
    }
    let mut rng = Rng::new(seed);
    for _ in 0..1 << 20 {
        let bits = match a.domain {
            Domain::All => rng.next_u32(),
            Domain::Unit => (rng.next_u64() % (1.0f32.to_bits() as u64 + 1)) as u32,
        };
        let x = f32::from_bits(bits);
        if in_domain(a, x) || x.is_nan() {
            xs.push(x);
        }
    }
    for _ in 0..1 << 20 {
        xs.push(rng.range(a.core.0, a.core.1));
    }
    st.add_all(a, &xs);
    st
}

fn report(a: &Approx, st: &Stats) {
    println!(
        "{:<14} max {:.5} ulp at x = {:e} (README: {}); {:.3}% correctly rounded over {} inputs",
        a.name,
        st.max_ulp,
        st.worst_x,
        a.bound,
        100.0 * st.exact as f64 / st.inputs as f64,
        st.inputs
    );
    assert!(
        st.failure_count == 0,
        "{}: {} failures, the first ones:\n  {}",
        a.name,
        st.failure_count,
        st.failures.join("\n  ")
    );
}

/// The largest float32 whose exact `exp` rounds to 0, and the smallest whose exact `exp` rounds to
/// +inf (found from the float64 reference, so the thresholds are not hard-coded).
fn exp_thresholds() -> (f32, f32) {
    let mut under = -100.0f32;
    while ((under as f64).exp() as f32) != 0.0 {
        under = f32::from_bits(under.to_bits() + 1); // more negative
    }
    let mut over = 88.0f32;
    while ((over as f64).exp() as f32).is_finite() {
        over = f32::from_bits(over.to_bits() + 1);
    }
    (under, over)
}

// ---------------------------------------------------------------------------------------------
// Accuracy sweeps (sampled).

#[test]
fn exp_accuracy() {
    let (under, over) = exp_thresholds();
    let a = approx("exp");
    // Thresholds: the result 0, the first subnormal results, the last finite and the first +inf.
    let st = sweep(&a, &[under, -87.336_54, -1.0, 1.0, f32::from_bits(over.to_bits() - 1), over], 1);
    report(&a, &st);
}

#[test]
fn log_accuracy() {
    let a = approx("log");
    let st =
        sweep(&a, &[1.0, MIN_SUB, MAX_SUB, MIN_NORMAL, f32::MAX, 2.0, 0.5, 1.414_213_5, 0.707_106_77], 2);
    report(&a, &st);
}

#[test]
fn log1p_accuracy() {
    let a = approx("log1p");
    let st = sweep(&a, &[-1.0, -0.5, 0.0, -0.0, 1e-7, -1e-7, 1.0, 0.414_213_57, -0.292_893_23], 3);
    report(&a, &st);
}

#[test]
fn sigmoid_accuracy() {
    let a = approx("sigmoid");
    let st =
        sweep(&a, &[0.0, -0.0, -87.336_54, -103.972_08, -88.722_84, 16.635_532, 8.317_766, -16.635_532], 4);
    report(&a, &st);
}

#[test]
fn logsigmoid_accuracy() {
    let a = approx("logsigmoid");
    let st = sweep(&a, &[0.0, -0.0, 16.635_532, -16.635_532, 87.336_54, 103.972_08, 88.722_84, -100.0], 5);
    report(&a, &st);
}

#[test]
fn sigmoid_neg_accuracy() {
    let a = approx("sigmoid_neg");
    let st =
        sweep(&a, &[0.0, -0.0, 87.336_54, 103.972_08, 88.722_84, -16.635_532, -8.317_766, 16.635_532], 8);
    report(&a, &st);
}

#[test]
fn log_clamped_accuracy() {
    let a = approx("log_clamped");
    // Where log(x) = -100 (x = 3.72e-44, a subnormal), the subnormal/normal boundary, 1/2 and 1.
    let st = sweep(&a, &[3.720_076e-44, MAX_SUB, MIN_NORMAL, 0.5, 1.0], 6);
    report(&a, &st);
}

#[test]
fn log1m_clamped_accuracy() {
    let a = approx("log1m_clamped");
    let st = sweep(&a, &[1.0, BELOW_ONE, 0.5, MIN_SUB, 1e-7], 7);
    report(&a, &st);
}

// ---------------------------------------------------------------------------------------------
// Exact results where README.md / math.rs document them (compared bit for bit, the sign of a zero
// included, unless marked `any_zero`; any NaN matches any NaN).

fn expect_exact(name: &str, f: fn(V) -> V, cases: &[(f32, f32)]) -> Vec<String> {
    let mut bad = Vec::new();
    for &(x, want) in cases {
        let got = eval1(f, x);
        if !same(got, want) {
            bad.push(format!("{}({}) = {}, want {}", name, show(x), show(got), show(want)));
        }
    }
    bad
}

fn nan_cases() -> Vec<(f32, f32)> {
    NANS.iter().map(|&n| (n, f32::NAN)).collect()
}

fn assert_none(bad: Vec<String>) {
    assert!(bad.is_empty(), "{} mismatches:\n  {}", bad.len(), bad.join("\n  "));
}

const INF: f32 = f32::INFINITY;

#[test]
fn exp_exact_values() {
    let (under, over) = exp_thresholds();
    let mut c = vec![
        (0.0, 1.0),
        (-0.0, 1.0),
        (MIN_SUB, 1.0),
        (-MIN_SUB, 1.0),
        (MIN_NORMAL, 1.0),
        (-MIN_NORMAL, 1.0),
        (INF, INF),
        (-INF, 0.0),
        (over, INF),
        (100.0, INF),
        (1e30, INF),
        (f32::MAX, INF),
        (-110.0, 0.0),
        (-1e30, 0.0),
        (-f32::MAX, 0.0),
    ];
    // Every input from 8 ulps below the underflow threshold (0) and above the overflow one (+inf).
    c.extend(around(under, 8).into_iter().filter(|&x| x < under).map(|x| (x, 0.0)));
    c.extend(around(over, 8).into_iter().filter(|&x| x > over).map(|x| (x, INF)));
    c.extend(nan_cases());
    let mut bad = expect_exact("exp", math::exp, &c);
    let last = f32::from_bits(over.to_bits() - 1);
    let r = eval1(math::exp, last);
    if !r.is_finite() {
        bad.push(format!("exp({}) = {}: the largest input with a finite result", show(last), show(r)));
    }
    println!("exp thresholds: exact result rounds to 0 at x <= {:e}, to +inf at x >= {:e}", under, over);
    assert_none(bad);
}

#[test]
fn log_exact_values() {
    let mut c = vec![
        (1.0, 0.0),
        (0.0, -INF),
        (-0.0, -INF), // IEEE 754: log(-0) = -inf
        (INF, INF),
        (-INF, f32::NAN),
        (-1.0, f32::NAN),
        (-0.5, f32::NAN),
        (-MIN_SUB, f32::NAN),
        (-MAX_SUB, f32::NAN),
        (-MIN_NORMAL, f32::NAN),
        (-f32::MAX, f32::NAN),
    ];
    c.extend(nan_cases());
    assert_none(expect_exact("log", math::log, &c));
}

#[test]
fn log1p_exact_values() {
    let mut c = vec![
        (0.0, 0.0),
        (-0.0, -0.0), // the sign of zero is kept
        (-1.0, -INF),
        (INF, INF),
        (-INF, f32::NAN),
        (-ABOVE_ONE, f32::NAN),
        (-2.0, f32::NAN),
        (-f32::MAX, f32::NAN),
    ];
    // "tiny x exact": log1p(x) = x for |x| <= 2^-30.
    for t in [MIN_SUB, f32::from_bits(3), MAX_SUB, MIN_NORMAL, 1e-30, 1e-20, 1e-10, 2f32.powi(-30)] {
        c.push((t, t));
        c.push((-t, -t));
    }
    c.extend(nan_cases());
    assert_none(expect_exact("log1p", math::log1p, &c));
}

#[test]
fn sigmoid_exact_values() {
    let mut c = vec![
        (0.0, 0.5),
        (-0.0, 0.5),
        (MIN_SUB, 0.5),
        (-MIN_SUB, 0.5),
        (INF, 1.0),
        (-INF, 0.0),
        (20.0, 1.0),
        (100.0, 1.0),
        (1e30, 1.0),
        (f32::MAX, 1.0),
        (-110.0, 0.0),
        (-1e30, 0.0),
        (-f32::MAX, 0.0),
    ];
    c.extend(nan_cases());
    assert_none(expect_exact("sigmoid", math::sigmoid, &c));
}

#[test]
fn logsigmoid_exact_values() {
    let mut c = vec![
        (INF, 0.0),
        (-INF, -INF),
        (-1e30, -1e30),
        (-f32::MAX, -f32::MAX),
        (-1e4, -1e4),
        (-200.0, -200.0),
    ];
    c.extend(nan_cases());
    let mut bad = expect_exact("logsigmoid", math::logsigmoid, &c);
    // Finite for every finite x, and exp(-|x|) never overflows: a 0 (either sign) for huge x.
    for x in [200.0, 1e4, 1e30, f32::MAX] {
        let r = eval1(math::logsigmoid, x);
        if r != 0.0 {
            bad.push(format!("logsigmoid({}) = {}, want 0", show(x), show(r)));
        }
    }
    assert_none(bad);
}

#[test]
fn log_clamped_exact_values() {
    // max(log x, -100) on [0, 1]. -0 passes BCE's range check (-0 >= 0), and log(-0) = -inf:
    // BCELoss(x = -0, y = 1) must be 100, as for +0.
    let c = [(0.0, -100.0), (-0.0, -100.0), (MIN_SUB, -100.0), (f32::from_bits(26), -100.0)];
    let mut bad = expect_exact("log_clamped", math::log_clamped, &c);
    let r = eval1(math::log_clamped, 1.0);
    if r != 0.0 {
        bad.push(format!("log_clamped(1) = {}, want 0", show(r)));
    }
    assert_none(bad);
}

#[test]
fn log1m_clamped_exact_values() {
    // max(log1p(-x), -100) on [0, 1]: 1 gives -100, 0 (either sign) gives 0.
    let mut bad = expect_exact("log1m_clamped", math::log1m_clamped, &[(1.0, -100.0)]);
    for x in [0.0f32, -0.0] {
        let r = eval1(math::log1m_clamped, x);
        if r != 0.0 {
            bad.push(format!("log1m_clamped({}) = {}, want 0", show(x), show(r)));
        }
    }
    assert_none(bad);
}

/// `Logistic` shares one exponential between sigmoid and logsigmoid: the same results as the
/// standalone functions.
#[test]
fn logistic_matches_the_standalone_functions() {
    let mut rng = Rng::new(11);
    let mut xs: Vec<f32> = special_inputs();
    xs.extend(NANS);
    xs.extend((0..1 << 16).map(|_| f32::from_bits(rng.next_u32())));
    xs.extend((0..1 << 16).map(|_| rng.range(-30.0, 30.0)));
    let s = eval(math::sigmoid, &xs);
    let l = eval(math::logsigmoid, &xs);
    for (i, c) in xs.chunks(4).enumerate() {
        let mut a = [0.0f32; 4];
        a[..c.len()].copy_from_slice(c);
        let lg = math::Logistic::of(V::from_array(a));
        let (ss, ll) = (lg.sigmoid().to_array(), lg.logsigmoid().to_array());
        for k in 0..c.len() {
            assert!(same(ss[k], s[4 * i + k]) && same(ll[k], l[4 * i + k]), "x = {}", show(c[k]));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Every float32 input (`cargo test --release -- --ignored full_sweep`, a few minutes).

fn full(a: &Approx) -> Stats {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let end: u64 = match a.domain {
        Domain::All => 1 << 32,
        Domain::Unit => 1.0f32.to_bits() as u64 + 1,
    };
    const CHUNK: u64 = 1 << 16;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let a = *a;
            std::thread::spawn(move || {
                let mut st = Stats::default();
                let mut xs = Vec::with_capacity(CHUNK as usize);
                let mut c = t * CHUNK;
                while c < end {
                    xs.clear();
                    xs.extend((c..(c + CHUNK).min(end)).map(|b| f32::from_bits(b as u32)));
                    st.add_all(&a, &xs);
                    c += threads * CHUNK;
                }
                st
            })
        })
        .collect();
    let mut st = Stats::default();
    for h in handles {
        st.merge(h.join().unwrap());
    }
    if a.domain == Domain::Unit {
        st.add_all(a, &[-0.0]); // in [0, 1] for the range check, outside the bit patterns above
    }
    st
}

#[test]
#[ignore]
fn full_sweep() {
    let mut failed = Vec::new();
    // BCE_SWEEP=name1,name2: only those.
    let only = std::env::var("BCE_SWEEP").ok();
    for a in APPROX.iter().filter(|a| only.as_ref().map_or(true, |o| o.split(',').any(|n| n == a.name))) {
        let t = std::time::Instant::now();
        let st = full(a);
        println!(
            "{:<14} max {:.5} ulp at x = {:e} (README: {}); {:.3}% correctly rounded; {} inputs in {:.0} s",
            a.name,
            st.max_ulp,
            st.worst_x,
            a.bound,
            100.0 * st.exact as f64 / st.inputs as f64,
            st.inputs,
            t.elapsed().as_secs_f64()
        );
        if st.failure_count > 0 {
            println!("  {} failures:\n    {}", st.failure_count, st.failures.join("\n    "));
            failed.push(a.name);
        }
    }
    assert!(failed.is_empty(), "failures in {:?}", failed);
}
