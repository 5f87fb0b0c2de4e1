//! The adapter: the only place the tests call the exported kernels (whose array arguments are
//! addresses, `usize`). When their signatures change (another ABI, an extra argument), update this
//! file; the tests use the safe functions below.
//!
//! The loss kernels return their float64 sum (NaN when they fail) and leave their status and the
//! first bad index in globals (`bce_status()`, `bce_error_index()`), and cargo runs tests on several
//! threads: every call holds `LOCK` until it has read them.

use bce_wasm_kernels::{bce, bce_with_logits, focal, pass, sigmoid, stream};
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

pub const OK: u32 = stream::OK;
pub const BAD_INPUT: u32 = stream::BAD_INPUT;
pub const BAD_TARGET: u32 = stream::BAD_TARGET;
pub const BAD_MASK: u32 = stream::BAD_MASK;
pub const BAD_WHAT: u32 = pass::BAD_WHAT;

/// The `what` bits of a loss call.
pub const LOSS: u32 = pass::LOSS;
pub const LOSS_STORE: u32 = pass::LOSS_STORE;
pub const GRAD: u32 = pass::GRAD;
/// The five valid combinations.
pub const WHATS: [u32; 5] = [LOSS, LOSS | LOSS_STORE, GRAD, LOSS | GRAD, LOSS | LOSS_STORE | GRAD];

/// A value no kernel computes: unwritten output elements keep it.
pub const SENTINEL: u32 = 0x7fa5_a5a5;
/// Sentinel elements after the `n` output elements: a write past the end changes one.
const GUARD: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    Probabilities,
    Logits,
}

/// The operands of one loss call. `None` means absent (weight 1, no pos_weight, gradient 1).
/// A broadcast operand of length `L` applies `v[i % L]` to element `i`.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    pub x: &'a [f32],
    pub y: &'a [f32],
    pub weight: Option<&'a [f32]>,
    pub pos_weight: Option<&'a [f32]>,
    pub grad_output: Option<&'a [f32]>,
    /// N for the `mean` reduction, else 1.
    pub grad_div: f32,
    /// The index of `weight` / `pos_weight` that element 0 uses (a piece of a longer array that
    /// starts at element `a` passes `a % len`): element `i` uses `v[(phase + i) % len]`.
    pub weight_phase: usize,
    pub pos_weight_phase: usize,
    /// Label smoothing (0: none).
    pub smooth: f32,
    /// A 0/1 byte mask broadcast like the weight, and the index element 0 uses.
    pub mask: Option<&'a [u8]>,
    pub mask_phase: usize,
}

impl<'a> Args<'a> {
    pub fn new(x: &'a [f32], y: &'a [f32]) -> Args<'a> {
        Args {
            x,
            y,
            weight: None,
            pos_weight: None,
            grad_output: None,
            grad_div: 1.0,
            weight_phase: 0,
            pos_weight_phase: 0,
            smooth: 0.0,
            mask: None,
            mask_phase: 0,
        }
    }
}

/// What a call returned.
#[derive(Clone, Debug)]
pub struct Out {
    pub status: u32,
    /// `bce_error_index()` after a `BAD_INPUT` / `BAD_TARGET` status.
    pub error_index: Option<usize>,
    /// What a call with `LOSS` returned (when its status is `OK`).
    pub sum: Option<f64>,
    /// The `n` elements of the loss / gradient output (sentinels where nothing was written).
    pub loss: Vec<f32>,
    pub grad: Vec<f32>,
    /// Whether the elements after the `n` outputs are untouched.
    pub guards_intact: bool,
}

impl Out {
    pub fn untouched(v: &[f32]) -> bool {
        v.iter().all(|a| a.to_bits() == SENTINEL)
    }
}

fn opt(v: Option<&[f32]>) -> (*const f32, usize) {
    match v {
        Some(s) => (s.as_ptr(), s.len()),
        None => (core::ptr::null(), 0),
    }
}

/// The kernels' smoothing arguments for `e` as ts/pass.ts computes them: `1 - e` and `e / 2` in
/// float64, each rounded once to float32; `1` and `-0` for no smoothing.
pub fn smooth_ab(e: f32) -> (f32, f32) {
    let e = e as f64;
    ((1.0 - e) as f32, if e == 0.0 { -0.0 } else { (0.5 * e) as f32 })
}

/// The raw call on pointers. # Safety: as the kernels' own.
unsafe fn call(
    loss: Loss,
    a: &Args,
    x: *const f32,
    y: *const f32,
    loss_out: *mut f32,
    grad_out: *mut f32,
    what: u32,
) -> f64 {
    let n = a.x.len();
    let (w, w_len) = opt(a.weight);
    let (p, p_len) = opt(a.pos_weight);
    let (g, g_len) = opt(a.grad_output);
    let mask = expanded_mask(&a, false);
    let m = mask.as_ref().map_or(core::ptr::null(), |m| m.as_ptr());
    let (sa, sb) = smooth_ab(a.smooth);
    if a.mask.is_some() {
        return match loss {
            Loss::Probabilities => bce::bce_binary_cross_entropy_options(
                x as usize, y as usize, n, w as usize, w_len, a.weight_phase, g as usize, g_len, a.grad_div,
                loss_out as usize, grad_out as usize, sa, sb, m as usize, what,
            ),
            Loss::Logits => bce_with_logits::bce_binary_cross_entropy_with_logits_options(
                x as usize, y as usize, n, w as usize, w_len, a.weight_phase, p as usize, p_len, a.pos_weight_phase,
                g as usize, g_len, a.grad_div, loss_out as usize, grad_out as usize, sa, sb, m as usize, what,
            ),
        };
    }
    match loss {
        Loss::Probabilities => {
            assert!(a.pos_weight.is_none(), "no pos_weight on probabilities");
            bce::bce_binary_cross_entropy(
                x as usize,
                y as usize,
                n,
                w as usize,
                w_len,
                a.weight_phase,
                g as usize,
                g_len,
                a.grad_div,
                loss_out as usize,
                grad_out as usize,
                sa,
                sb,
                what,
            )
        }
        Loss::Logits => bce_with_logits::bce_binary_cross_entropy_with_logits(
            x as usize,
            y as usize,
            n,
            w as usize,
            w_len,
            a.weight_phase,
            p as usize,
            p_len,
            a.pos_weight_phase,
            g as usize,
            g_len,
            a.grad_div,
            loss_out as usize,
            grad_out as usize,
            sa,
            sb,
            what,
        ),
    }
}

/// The status, the bad index and the sum of a call that returned `ret`: NaN when it failed, else
/// the sum (0 without `LOSS`), as the facade reads them.
fn read_globals(ret: f64, what: u32) -> (u32, Option<usize>, Option<f64>) {
    let status = stream::bce_status();
    assert!(status == OK || ret.is_nan(), "status {status} but the call returned {ret}, not NaN");
    assert!(status != OK || what & LOSS != 0 || ret == 0.0, "a call without LOSS returned {ret}");
    let index =
        if status == BAD_INPUT || status == BAD_TARGET || status == BAD_MASK { Some(stream::bce_error_index()) } else { None };
    let sum = if status == OK && what & LOSS != 0 { Some(ret) } else { None };
    (status, index, sum)
}

fn check_lengths(a: &Args) {
    let n = a.x.len();
    assert_eq!(a.y.len(), n);
    for v in [a.weight, a.pos_weight, a.grad_output].into_iter().flatten() {
        // The facade requires a length that divides n; a piece of a longer call (a phase) need not.
        assert!(!v.is_empty(), "a broadcast operand has at least one element");
    }
}

/// One call with separate output buffers (pre-filled with `SENTINEL`, followed by guards).
pub fn run(loss: Loss, a: Args, what: u32) -> Out {
    check_lengths(&a);
    let n = a.x.len();
    let mut lo = vec![f32::from_bits(SENTINEL); n + GUARD];
    let mut gr = vec![f32::from_bits(SENTINEL); n + GUARD];
    let _lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: every pointer covers its length; outputs hold n (+ guards) floats.
    let ret =
        unsafe { call(loss, &a, a.x.as_ptr(), a.y.as_ptr(), lo.as_mut_ptr(), gr.as_mut_ptr(), what) };
    let (status, error_index, sum) = read_globals(ret, what);
    let guards_intact = Out::untouched(&lo[n..]) && Out::untouched(&gr[n..]);
    lo.truncate(n);
    gr.truncate(n);
    Out { status, error_index, sum, loss: lo, grad: gr, guards_intact }
}

/// Where an aliased output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// A separate buffer.
    Own,
    /// Over the input `x`.
    Input,
    /// Over the target `y`.
    Target,
}

/// One call with the loss and/or gradient written over the input or the target (copies of them):
/// the result is read back from wherever it was written.
pub fn run_aliased(loss: Loss, a: Args, what: u32, loss_to: Dest, grad_to: Dest) -> Out {
    check_lengths(&a);
    assert!(loss_to == Dest::Own || loss_to != grad_to, "two outputs in one buffer");
    let n = a.x.len();
    let mut x = a.x.to_vec();
    let mut y = a.y.to_vec();
    x.extend([f32::from_bits(SENTINEL); GUARD]);
    y.extend([f32::from_bits(SENTINEL); GUARD]);
    let mut lo = vec![f32::from_bits(SENTINEL); n + GUARD];
    let mut gr = vec![f32::from_bits(SENTINEL); n + GUARD];
    let _lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let ret;
    // SAFETY: as in `run`; outputs alias an input exactly, which the kernels allow.
    unsafe {
        let xp = x.as_mut_ptr();
        let yp = y.as_mut_ptr();
        let pick = |d: Dest, own: *mut f32| match d {
            Dest::Own => own,
            Dest::Input => xp,
            Dest::Target => yp,
        };
        let lp = pick(loss_to, lo.as_mut_ptr());
        let gp = pick(grad_to, gr.as_mut_ptr());
        ret = call(loss, &a, xp, yp, lp, gp, what);
    }
    let (status, error_index, sum) = read_globals(ret, what);
    let from = |d: Dest, own: &Vec<f32>| match d {
        Dest::Own => own.clone(),
        Dest::Input => x.clone(),
        Dest::Target => y.clone(),
    };
    let mut lo_r = from(loss_to, &lo);
    let mut gr_r = from(grad_to, &gr);
    let guards_intact = [&x, &y, &lo, &gr].iter().all(|v| Out::untouched(&v[n..]));
    lo_r.truncate(n);
    gr_r.truncate(n);
    Out { status, error_index, sum, loss: lo_r, grad: gr_r, guards_intact }
}

/// The elementwise kernels.
#[derive(Clone, Copy, Debug)]
pub enum Map {
    Sigmoid,
    LogSigmoid,
    Exp,
    Log,
    Log1p,
}

pub const MAPS: [Map; 5] = [Map::Sigmoid, Map::LogSigmoid, Map::Exp, Map::Log, Map::Log1p];

unsafe fn call_map(f: Map, x: *const f32, out: *mut f32, n: usize) {
    match f {
        Map::Sigmoid => sigmoid::bce_sigmoid(x as usize, out as usize, n),
        Map::LogSigmoid => sigmoid::bce_logsigmoid(x as usize, out as usize, n),
        Map::Exp => sigmoid::bce_exp(x as usize, out as usize, n),
        Map::Log => sigmoid::bce_log(x as usize, out as usize, n),
        Map::Log1p => sigmoid::bce_log1p(x as usize, out as usize, n),
    }
}

/// `out[i] = f(x[i])` into a separate buffer (or, with `in_place`, over a copy of `x`); returns the
/// `n` results and whether the guards after them are intact.
pub fn map(f: Map, x: &[f32], in_place: bool) -> (Vec<f32>, bool) {
    let n = x.len();
    let mut buf = x.to_vec();
    buf.extend([f32::from_bits(SENTINEL); GUARD]);
    let mut out = vec![f32::from_bits(SENTINEL); n + GUARD];
    // SAFETY: both buffers hold n floats (plus guards).
    unsafe {
        let src = buf.as_mut_ptr();
        let dst = if in_place { src } else { out.as_mut_ptr() };
        call_map(f, src, dst, n);
    }
    let r = if in_place { buf } else { out };
    let intact = Out::untouched(&r[n..]);
    (r[..n].to_vec(), intact)
}

/// `bce_kept_weight`: (status, the float64 sum of the kept weights, the bad index).
pub fn kept_weight(weight: Option<&[f32]>, weight_phase: usize, mask: Option<&[u8]>, mask_phase: usize, n: usize) -> (u32, f64, Option<usize>) {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (w, w_len) = opt(weight);
    // The mask as the facade passes it: one byte per element, from its phase.
    let m = mask.map(|m| expand(m, mask_phase, n));
    let m = m.as_ref().map_or(core::ptr::null(), |m| m.as_ptr());
    // SAFETY: the operands are slices of their stated lengths (the mask of n bytes).
    let sum = unsafe { stream::bce_kept_weight(w as usize, w_len, weight_phase, m as usize, n) };
    let status = stream::bce_status();
    let index = if status == BAD_MASK { Some(stream::bce_error_index()) } else { None };
    (status, sum, index)
}

/// `n` bytes of the broadcast mask `m` from index `phase`, one per element (as ts/pass.ts expands it).
fn expand(m: &[u8], phase: usize, n: usize) -> Vec<u8> {
    (0..n).map(|i| m[(phase + i) % m.len()]).collect()
}

/// The mask as the loss kernels read it, one byte per element (as ts/pass.ts expands a broadcast
/// one from its phase); all 1 for none when `always` (the focal kernel), else None.
fn expanded_mask(a: &Args, always: bool) -> Option<Vec<u8>> {
    let n = a.x.len();
    match a.mask {
        Some(m) => Some(expand(m, a.mask_phase, n)),
        None if always => Some(vec![1; n]),
        None => None,
    }
}

/// `bce_sigmoid_focal_loss` on `a` (its x, y, weight, grad_output, grad_div, smooth, mask) with
/// `alpha`, `gamma` (and `1 - alpha` in float64, rounded once, as the facade passes it): the outputs
/// as `run` gives them.
pub fn focal(a: Args, alpha: f32, gamma: f32, what: u32) -> Out {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let n = a.x.len();
    let mut lo = vec![f32::from_bits(SENTINEL); n];
    let mut gr = vec![f32::from_bits(SENTINEL); n];
    let (w, w_len) = opt(a.weight);
    let (g, g_len) = opt(a.grad_output);
    let mask = expanded_mask(&a, true).unwrap();
    let (sa, sb) = smooth_ab(a.smooth);
    // SAFETY: every operand is a slice of its stated length; the outputs have n elements.
    let ret = unsafe {
        focal::bce_sigmoid_focal_loss(
            a.x.as_ptr() as usize, a.y.as_ptr() as usize, n, w as usize, w_len, a.weight_phase, g as usize, g_len,
            a.grad_div, lo.as_mut_ptr() as usize, gr.as_mut_ptr() as usize, sa, sb, mask.as_ptr() as usize, alpha,
            (1.0 - alpha as f64) as f32, gamma, what,
        )
    };
    let (status, error_index, sum) = read_globals(ret, what);
    Out { status, error_index, sum, loss: lo, grad: gr, guards_intact: true }
}
