//! The one loop behind every loss kernel: forward, backward, or both fused into a single pass over
//! `(input, target)`, with weight and gradient operands broadcast in step and the loss summed in
//! float64. A `Loss` says what one block of four elements computes; `run` does everything else.

use crate::lanes::{Acc, MaskBytes, M, V};
use crate::stream::{finish, load, load_mask, set_error_index, store, Bcast, BAD_INPUT, BAD_MASK, BAD_TARGET, OK};

/// `what` bits of a loss call.
/// Sum the element losses in float64; the kernel returns the sum.
pub const LOSS: u32 = 1;
/// Also store every element loss in `loss_out` (reduction `none`). Requires `LOSS`.
pub const LOSS_STORE: u32 = 2;
/// Store the gradient w.r.t. the input in `grad_out`.
pub const GRAD: u32 = 4;
/// Status for a `what` that is not one of the five combinations above.
pub const BAD_WHAT: u32 = 3;

/// Where element losses go when they are not asked for (see `run`).
static mut SCRATCH: [f32; 4] = [0.0; 4];
/// Where the gradient goes when the fused loop of the options runs for the loss alone.
static mut GRAD_SCRATCH: [f32; 4] = [0.0; 4];

/// What one block computes. `W` is the weight, `G` the upstream gradient, `D` the divisor of the
/// gradient (N for `mean`, else 1); all already broadcast to four lanes.
pub trait Loss {
    /// Values that a partial block is padded with: they must pass the range check.
    const PAD_INPUT: f32;
    const PAD_TARGET: f32;
    /// Whether input and target are range-checked (and `bad` below is meaningful).
    const CHECKS: bool;
    /// Whether the loop runs several blocks per iteration (faster, several times the code).
    const QUAD: bool = true;
    /// Two blocks per straight line instead of four (see `run`).
    const PAIRS: bool = false;
    /// Two blocks per straight line in the loop with a mask (`X`; see `run`).
    const MASK_PAIRS: bool = true;
    /// `(loss, grad)`; only the parts asked for by the const flags need be computed.
    fn block<const L: bool, const G: bool>(&mut self, x: V, y: V, w: V, g: V, d: V) -> (V, V);
    /// Whether `block_lean` may be wrong at the lanes `special` finds: `quad` then leaves the
    /// sixteen elements holding one to `step` (see `run`), and computes the others with `block_lean`.
    const SPECIAL: bool = false;
    /// The lanes of an input block that `block_lean` does not handle (only when `SPECIAL`).
    #[inline(always)]
    fn special(_x: V) -> M {
        M::first_lanes(0)
    }
    /// `block` for a block that has no `special` lane.
    #[inline(always)]
    fn block_lean<const L: bool, const G: bool>(&mut self, x: V, y: V, w: V, g: V, d: V) -> (V, V) {
        self.block::<L, G>(x, y, w, g, d)
    }
    /// Lanes of the input and of the target that are out of range (only when `CHECKS`).
    fn bad(x: V, y: V) -> (M, M);
    /// Two blocks, `(x, y, w, g)` each, for `pair`: `block` twice unless the loss overrides it
    /// (the focal loss branches once for both, so that their straight-line parts stay side by side).
    #[inline(always)]
    fn block2<const L: bool, const G: bool>(&mut self, a: (V, V, V, V), b: (V, V, V, V), d: V) -> ((V, V), (V, V)) {
        let r0 = self.block::<L, G>(a.0, a.1, a.2, a.3, d);
        let r1 = self.block::<L, G>(b.0, b.1, b.2, b.3, d);
        (r0, r1)
    }
}

/// Pointers and lengths of one call, as the C ABI receives them.
pub struct Pass {
    pub x: *const f32,
    pub y: *const f32,
    pub n: usize,
    pub w: Bcast,
    pub g: Bcast,
    pub grad_div: f32,
    pub loss_out: *mut f32,
    pub grad_out: *mut f32,
    /// Label smoothing `e` in [0, 1]: the target becomes `y * smooth_a + smooth_b` after its range
    /// check, with `smooth_a = 1 - e` and `smooth_b = e / 2` each computed in float64 by the caller and
    /// rounded once to float32 (PyTorch's and Keras's float32 operations on a Python float `e`); no
    /// smoothing is `1` and `-0`, which leave `y` itself bit for bit (`-0 + -0 = -0`).
    pub smooth_a: f32,
    pub smooth_b: f32,
    /// Which elements count, one 0/1 byte per element (`n` of them, read in step with the data: the
    /// caller expands a broadcast mask, piece by piece); null without a mask, for the plain loops,
    /// which never read it. A masked-out element gives loss 0 and gradient 0 and is not checked.
    pub mask: *const u8,
}

impl Pass {
    /// A call's pointers and lengths as the exports receive them (addresses in linear memory), with
    /// no label smoothing and no mask: `w`/`w_len`/`w_phase` the weight of period `w_len` (0: none)
    /// from `w[w_phase]`, `g`/`g_len` the upstream gradient of period `g_len` (0: 1).
    ///
    /// # Safety
    /// Every address holds as many floats as its length says (as for the exports).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn new(
        x: usize,
        y: usize,
        n: usize,
        (w, w_len, w_phase): (usize, usize, usize),
        (g, g_len): (usize, usize),
        grad_div: f32,
        loss_out: usize,
        grad_out: usize,
    ) -> Pass {
        Pass {
            x: x as *const f32,
            y: y as *const f32,
            n,
            w: Bcast::new(w as *const f32, w_len, w_phase, 1.0),
            g: Bcast::new(g as *const f32, g_len, 0, 1.0),
            grad_div,
            loss_out: loss_out as *mut f32,
            grad_out: grad_out as *mut f32,
            smooth_a: 1.0,
            smooth_b: -0.0,
            mask: core::ptr::null(),
        }
    }

    /// The same pass with label smoothing (`smooth_a`, `smooth_b`; see the fields) and the 0/1 byte
    /// mask at address `m`, one byte per element (0: none).
    ///
    /// # Safety
    /// `m` holds `n` bytes, if not 0.
    #[inline(always)]
    pub unsafe fn with_options(self, smooth_a: f32, smooth_b: f32, m: usize) -> Pass {
        Pass { smooth_a, smooth_b, mask: m as *const u8, ..self }
    }
}

/// `y (1 - e) + e / 2` as `y * a + b`, Keras's float32 operations (see `Pass::smooth_a`).
#[derive(Clone, Copy)]
struct Smooth {
    a: V,
    b: V,
}

impl Smooth {
    #[inline(always)]
    fn of(a: f32, b: f32) -> Smooth {
        Smooth { a: V::splat(a), b: V::splat(b) }
    }
    #[inline(always)]
    fn apply(self, y: V) -> V {
        y * self.a + self.b
    }
}

/// Runs `loss` over the pass for the combination of outputs in `what`; returns the float64 sum of
/// the element losses (0 without `LOSS`), or NaN with the status in `bce_status()` (see
/// `stream::finish`).
///
/// # Safety
/// Every pointer of `pass` that `what` uses points to `n` floats (the broadcast operands to
/// their own length); outputs may alias the input or the target exactly, not partially.
#[inline(always)]
pub unsafe fn dispatch<K: Loss>(loss: &mut K, pass: Pass, what: u32) -> f64 {
    // Storing the element losses is data, not a copy of the loop (see `run`), and each loop is
    // reached from one place only: constant arguments would make LLVM specialise a copy per place.
    // The loss alone runs the fused loop with its gradient into a scratch block: one loop fewer
    // (room in the default entry's size budget for the options' scheduled loops), and on newer V8
    // the fused loop, scheduled by scripts/schedule-loops.mjs, is faster than an unscheduled
    // loss-only one (measured at 1M elements, logits: Node 24 0.61x the time, Node 20 1.13x; at 64
    // elements 0.82x and 0.85x). The gradient alone keeps its own loop: it needs no logarithm, and
    // runs 2-6x as fast as the fused one.
    // Label smoothing is two operations per block here (none: `y * 1 + -0`, which is `y` bit for
    // bit); a mask has a loop of its own, `dispatch_fused`, in exports of their own: the plain
    // loops stay as fast as they were.
    let (status, sum) = match what {
        GRAD => run::<K, false, true, false>(loss, pass, false, true),
        w if w & !(LOSS_STORE | GRAD) == LOSS => run::<K, true, true, false>(loss, pass, what & LOSS_STORE != 0, what & GRAD != 0),
        _ => (BAD_WHAT, 0.0),
    };
    finish(status, sum)
}

/// Runs `loss` with a mask (and label smoothing) in its one loop for them: the fused one,
/// whose unwanted outputs go to a scratch block (forward or backward alone then cost about as much
/// as both). Arguments and result as for `dispatch`.
///
/// # Safety
/// As for `dispatch`.
#[inline(always)]
pub unsafe fn dispatch_fused<K: Loss>(loss: &mut K, pass: Pass, what: u32) -> f64 {
    if what & !(LOSS | LOSS_STORE | GRAD) != 0 || what & (LOSS | GRAD) == 0 || what & (LOSS | LOSS_STORE) == LOSS_STORE {
        return finish(BAD_WHAT, 0.0);
    }
    let (status, sum) = run::<K, true, true, true>(loss, pass, what & LOSS_STORE != 0, what & GRAD != 0);
    finish(status, if what & LOSS != 0 { sum } else { 0.0 })
}

#[inline(always)]
unsafe fn run<K: Loss, const L: bool, const G: bool, const X: bool>(
    loss: &mut K,
    mut p: Pass,
    store_loss: bool,
    store_grad: bool,
) -> (u32, f64) {
    // Without `store_loss` the element losses go to a scratch block, at index 0 every time: no
    // branch in the loop, which LLVM would unswitch into two copies of it.
    if !store_loss {
        p.loss_out = core::ptr::addr_of_mut!(SCRATCH) as *mut f32;
    }
    let mask = if store_loss { usize::MAX } else { 0 };
    if !store_grad {
        p.grad_out = core::ptr::addr_of_mut!(GRAD_SCRATCH) as *mut f32;
    }
    let gmask = if store_grad { usize::MAX } else { 0 };
    let mut acc = Acc::zero();
    let d = V::splat(p.grad_div);
    let sm = Smooth::of(p.smooth_a, p.smooth_b);
    let n = p.n;
    let mut i = 0;
    let mut status = OK;
    // Four blocks per iteration (LLVM does not unroll a loop this large): their long dependency
    // chains (exp, log, a division) overlap far better side by side than across loop iterations;
    // measured +30% for the fused logits pass over one block per iteration. A bad element stops
    // it before anything of its four blocks is stored; the loop below then finds and reports it.
    // (`QUAD = false`: none of it, every block through the loop below.) The loops with a mask take
    // two blocks per line (`MASK_PAIRS`), in half the code, except the logits loss without
    // pos_weight: four there made its cost over the plain pass at 1M elements +33% instead of +53%
    // on Node 20 (+27% either way on Node 24).
    // The blocks that the quads and pairs leave (fewer than 16 elements at the end, or the 16 where
    // a quad found a bad element or a special lane: see `Loss::SPECIAL`), one by one, read and
    // written element by element; after a special lane's sixteen, the quads again. One copy of the
    // block's code for all of them keeps the module small (the scheduled quads take the room; see
    // scripts/schedule-loops.mjs).
    let pairs = K::QUAD && (K::PAIRS || (X && K::MASK_PAIRS));
    loop {
        if pairs {
            while i < (n & !7) && pair::<K, L, G, X>(loss, &mut p, &mut acc, d, sm, i, mask, gmask) {
                i += 8;
            }
        } else if K::QUAD {
            while i < (n & !15) && quad::<K, L, G, X>(loss, &mut p, &mut acc, d, sm, i, mask, gmask) {
                i += 16;
            }
        }
        let end = if K::SPECIAL && L && !pairs && i < (n & !15) { i + 16 } else { n };
        while i < end && status == OK {
            let k = if end - i < 4 { end - i } else { 4 };
            status = step::<K, L, G, X, true>(loss, &mut p, &mut acc, d, sm, i, k, mask, gmask);
            i += k;
        }
        if i >= n || status != OK {
            break;
        }
    }
    (status, if L { acc.total() } else { 0.0 })
}

/// Four blocks of four elements from `i`: the loads, one range check for all sixteen lanes and one
/// test for a `Loss::special` lane (false if a lane is bad or special: then nothing was done), the
/// broadcast operands, the four computations in one straight line with no branch (so that
/// `scripts/schedule-loops.mjs` can interleave them), then the sums and stores.
#[inline(always)]
unsafe fn quad<K: Loss, const L: bool, const G: bool, const X: bool>(
    loss: &mut K,
    p: &mut Pass,
    acc: &mut Acc,
    d: V,
    sm: Smooth,
    i: usize,
    mask: usize,
    gmask: usize,
) -> bool {
    // Plain variables, not arrays: LLVM keeps small arrays of v128 on the stack and copies them.
    let ld = |p: *const f32, o: usize| load::<false>(p, i + o, 4, 0.0);
    let (x0, x1, x2, x3) = (ld(p.x, 0), ld(p.x, 4), ld(p.x, 8), ld(p.x, 12));
    let (y0, y1, y2, y3) = (ld(p.y, 0), ld(p.y, 4), ld(p.y, 8), ld(p.y, 12));
    // The iteration's mask bytes, for the test below (their kept lanes are loaded again later).
    let all = M::first_lanes(4);
    let mb = if X { MaskBytes::load::<16>(p.mask.add(i)) } else { MaskBytes::zero() };
    // What sends the quad to `step`: a mask byte above 1, a bad input or target where the mask
    // keeps the element, or a `Loss::special` lane. One test and one branch for all of them in the
    // common case: with a test of the mask bytes and one of the special lanes, two branches,
    // Turboshaft (Node 24, 26) ran the logits loss's raw masked kernel 1.15-1.18x the time of the
    // plain one at 1M elements, about 1.10x with one (Node 20 1.0x either way).
    let none = M::first_lanes(0);
    let above = if X { mb.above_one() } else { none };
    let special = if K::SPECIAL && L { K::special(x0) | K::special(x1) | K::special(x2) | K::special(x3) } else { none };
    if K::CHECKS {
        let bad = |x: V, y: V| {
            let (bx, by) = K::bad(x, y);
            bx | by
        };
        let (b0, b1, b2, b3) = (bad(x0, y0), bad(x1, y1), bad(x2, y2), bad(x3, y3));
        if (b0 | b1 | b2 | b3 | above | special).any()
            && (!X || {
                let (m0, m1, m2, m3) = mb.kept4();
                (above | special | (b0 & m0) | (b1 & m1) | (b2 & m2) | (b3 & m3)).any()
            })
        {
            return false;
        }
    } else if (above | special).any() {
        return false;
    }
    let (w0, w1, w2, w3) = p.w.next4();
    let (g0, g1, g2, g3) = if G { p.g.next4() } else { (V::splat(1.0), V::splat(1.0), V::splat(1.0), V::splat(1.0)) };
    // Each block's kept lanes from a load of its own four mask bytes, which the scheduler places
    // where they are used, instead of from `mb`, which then lived through the four blocks: the
    // logits loss's raw masked kernel at 1M elements ran 1.10x the plain one's time on Node 24
    // that way, 1.06-1.07x this way (the fastest of 6 interleaved processes; Node 20 1.0x either way).
    let kept = |o: usize| if X { MaskBytes::kept_at(p.mask.add(i + o)) } else { all };
    let (m0, m1, m2, m3) = (kept(0), kept(4), kept(8), kept(12));
    let sy = |y: V| sm.apply(y);
    let r0 = loss.block_lean::<L, G>(x0, sy(y0), w0, g0, d);
    let r1 = loss.block_lean::<L, G>(x1, sy(y1), w1, g1, d);
    let r2 = loss.block_lean::<L, G>(x2, sy(y2), w2, g2, d);
    let r3 = loss.block_lean::<L, G>(x3, sy(y3), w3, g3, d);
    put::<L, G, X, false>(p, acc, r0, m0, i + 0, 4, mask, gmask);
    put::<L, G, X, false>(p, acc, r1, m1, i + 4, 4, mask, gmask);
    put::<L, G, X, false>(p, acc, r2, m2, i + 8, 4, mask, gmask);
    put::<L, G, X, false>(p, acc, r3, m3, i + 12, 4, mask, gmask);
    true
}

/// Two blocks of four elements from `i`, as `quad` does four (see `Loss::PAIRS`).
#[inline(always)]
unsafe fn pair<K: Loss, const L: bool, const G: bool, const X: bool>(
    loss: &mut K,
    p: &mut Pass,
    acc: &mut Acc,
    d: V,
    sm: Smooth,
    i: usize,
    mask: usize,
    gmask: usize,
) -> bool {
    let ld = |p: *const f32, o: usize| load::<false>(p, i + o, 4, 0.0);
    let (x0, x1) = (ld(p.x, 0), ld(p.x, 4));
    let (y0, y1) = (ld(p.y, 0), ld(p.y, 4));
    let all = M::first_lanes(4);
    let mb = if X { MaskBytes::load::<8>(p.mask.add(i)) } else { MaskBytes::zero() };
    if K::CHECKS || X {
        let bad = |x: V, y: V| {
            let (bx, by) = K::bad(x, y);
            bx | by
        };
        let (b0, b1) = (bad(x0, y0), bad(x1, y1));
        let above = if X { mb.above_one() } else { M::first_lanes(0) };
        if (b0 | b1 | above).any() && (!X || {
            let (m0, m1) = mb.kept2();
            (above | (b0 & m0) | (b1 & m1)).any()
        }) {
            return false;
        }
    }
    // The kept lanes from a second load of the same bytes, after the test: the first load's value
    // then dies at the test instead of living through the two blocks (Node 24 and 26 spilled for
    // it: the raw probabilities kernel with a mask ran 0.88-0.93x the time with this).
    let (m0, m1) = if X { MaskBytes::reload8(p.mask.add(i)).kept2() } else { (all, all) };
    let w0 = p.w.next();
    let w1 = p.w.next();
    let (g0, g1) = if G { (p.g.next(), p.g.next()) } else { (V::splat(1.0), V::splat(1.0)) };
    let sy = |y: V| sm.apply(y);
    let (r0, r1) = loss.block2::<L, G>((x0, sy(y0), w0, g0), (x1, sy(y1), w1, g1), d);
    put::<L, G, X, false>(p, acc, r0, m0, i + 0, 4, mask, gmask);
    put::<L, G, X, false>(p, acc, r1, m1, i + 4, 4, mask, gmask);
    true
}

/// One block of `k` elements from `i` (`k = 4` unless `TAIL`); returns `OK` or a range status.
#[inline(always)]
unsafe fn step<K: Loss, const L: bool, const G: bool, const X: bool, const TAIL: bool>(
    loss: &mut K,
    p: &mut Pass,
    acc: &mut Acc,
    d: V,
    sm: Smooth,
    i: usize,
    k: usize,
    mask: usize,
    gmask: usize,
) -> u32 {
    let x = load::<TAIL>(p.x, i, k, K::PAD_INPUT);
    let y = load::<TAIL>(p.y, i, k, K::PAD_TARGET);
    let (keep, mb) = if X { load_mask::<TAIL>(p.mask, i, k) } else { (M::first_lanes(4), M::first_lanes(0)) };
    let mb = if TAIL { mb & M::first_lanes(k) } else { mb };
    let (bx, by) = if K::CHECKS {
        let (bx, by) = K::bad(x, y);
        (bx & keep, by & keep)
    } else {
        (M::first_lanes(0), M::first_lanes(0))
    };
    if (bx | by | mb).any() {
        // The first bad lane; at one index the mask is reported first (it decides whether the
        // input and target are checked), then the input, then the target.
        let mut lane = 0;
        while !mb.lane(lane) && !bx.lane(lane) && !by.lane(lane) {
            lane += 1;
        }
        set_error_index(i + lane);
        return if mb.lane(lane) {
            BAD_MASK
        } else if bx.lane(lane) {
            BAD_INPUT
        } else {
            BAD_TARGET
        };
    }
    let w = p.w.next();
    let g = if G { p.g.next() } else { V::splat(1.0) };
    put::<L, G, X, TAIL>(p, acc, loss.block::<L, G>(x, sm.apply(y), w, g, d), keep, i, k, mask, gmask);
    OK
}

/// The results `(loss, grad)` of the block of `k` elements at `i` (`k = 4` unless `TAIL`): the loss
/// added to the sum and stored, the gradient stored, each where asked for (`L`, `G`) and zero where
/// the mask (`X`) does not `keep` the element. `mask`/`gmask` send an output not asked for to its
/// scratch block (see `run`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn put<const L: bool, const G: bool, const X: bool, const TAIL: bool>(
    p: &Pass,
    acc: &mut Acc,
    (l, gr): (V, V),
    keep: M,
    i: usize,
    k: usize,
    mask: usize,
    gmask: usize,
) {
    if L {
        let l = if X { l.keep(keep) } else { l };
        acc.add(if TAIL { l.keep(M::first_lanes(k)) } else { l });
        store::<TAIL>(l, p.loss_out, i & mask, k);
    }
    if G {
        store::<TAIL>(if X { gr.keep(keep) } else { gr }, p.grad_out, i & gmask, k);
    }
}
