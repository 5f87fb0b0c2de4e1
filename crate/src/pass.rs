//! The one loop behind every loss kernel: forward, backward, or both fused into a single pass over
//! `(input, target)`, with weight and gradient operands broadcast in step and the loss summed in
//! float64. A `Loss` says what one block of four elements computes; `run` does everything else.

use crate::lanes::{Acc, M, V};
use crate::stream::{finish, load, set_error_index, store, Bcast, BAD_INPUT, BAD_TARGET, OK};

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

/// What one block computes. `W` is the weight, `G` the upstream gradient, `D` the divisor of the
/// gradient (N for `mean`, else 1); all already broadcast to four lanes.
pub trait Loss {
    /// Values that a partial block is padded with: they must pass the range check.
    const PAD_INPUT: f32;
    const PAD_TARGET: f32;
    /// Whether input and target are range-checked (and `bad` below is meaningful).
    const CHECKS: bool;
    /// Two blocks per straight line instead of four (see `run`).
    const PAIRS: bool = false;
    /// `(loss, grad)`; only the parts asked for by the const flags need be computed.
    fn block<const L: bool, const G: bool>(&mut self, x: V, y: V, w: V, g: V, d: V) -> (V, V);
    /// Lanes of the input and of the target that are out of range (only when `CHECKS`).
    fn bad(x: V, y: V) -> (M, M);
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
    let store_loss = what & LOSS_STORE != 0;
    let (status, sum) = match what {
        w if w & !LOSS_STORE == LOSS => run::<K, true, false>(loss, pass, store_loss),
        GRAD => run::<K, false, true>(loss, pass, false),
        w if w & !LOSS_STORE == LOSS | GRAD => run::<K, true, true>(loss, pass, store_loss),
        _ => (BAD_WHAT, 0.0),
    };
    finish(status, sum)
}

#[inline(always)]
unsafe fn run<K: Loss, const L: bool, const G: bool>(loss: &mut K, mut p: Pass, store_loss: bool) -> (u32, f64) {
    // Without `store_loss` the element losses go to a scratch block, at index 0 every time: no
    // branch in the loop, which LLVM would unswitch into two copies of it.
    if !store_loss {
        p.loss_out = core::ptr::addr_of_mut!(SCRATCH) as *mut f32;
    }
    let mask = if store_loss { usize::MAX } else { 0 };
    let mut acc = Acc::zero();
    let d = V::splat(p.grad_div);
    let n = p.n;
    let mut i = 0;
    let mut status = OK;
    // Four blocks per iteration (LLVM does not unroll a loop this large): their long dependency
    // chains (exp, log, a division) overlap far better side by side than across loop iterations;
    // measured +30% for the fused logits pass over one block per iteration. A bad element stops
    // it before anything of its four blocks is stored; the loop below then finds and reports it.
    if K::PAIRS {
        while i < (n & !7) && pair::<K, L, G>(loss, &mut p, &mut acc, d, i, mask) {
            i += 8;
        }
    } else {
        while i < (n & !15) && quad::<K, L, G>(loss, &mut p, &mut acc, d, i, mask) {
            i += 16;
        }
    }
    // The rest (fewer than 16 elements, unless a range check failed): blocks of up to four, read
    // and written element by element. One copy of the block's code for all of them keeps the
    // module small (the scheduled quads take the room; see scripts/schedule-loops.mjs).
    while i < n && status == OK {
        let k = if n - i < 4 { n - i } else { 4 };
        status = step::<K, L, G, true>(loss, &mut p, &mut acc, d, i, k, mask);
        i += k;
    }
    (status, if L { acc.total() } else { 0.0 })
}

/// Four blocks of four elements from `i`: the loads, one range check for all sixteen lanes (false
/// if a lane is bad: then nothing was done), the broadcast operands, the four computations in one
/// straight line with no branch (so that `scripts/schedule-loops.mjs` can interleave them), then
/// the sums and stores.
#[inline(always)]
unsafe fn quad<K: Loss, const L: bool, const G: bool>(
    loss: &mut K,
    p: &mut Pass,
    acc: &mut Acc,
    d: V,
    i: usize,
    mask: usize,
) -> bool {
    // Plain variables, not arrays: LLVM keeps small arrays of v128 on the stack and copies them.
    let ld = |p: *const f32, o: usize| load::<false>(p, i + o, 4, 0.0);
    let (x0, x1, x2, x3) = (ld(p.x, 0), ld(p.x, 4), ld(p.x, 8), ld(p.x, 12));
    let (y0, y1, y2, y3) = (ld(p.y, 0), ld(p.y, 4), ld(p.y, 8), ld(p.y, 12));
    if K::CHECKS {
        let bad = |x: V, y: V| {
            let (bx, by) = K::bad(x, y);
            bx | by
        };
        if (bad(x0, y0) | bad(x1, y1) | bad(x2, y2) | bad(x3, y3)).any() {
            return false;
        }
    }
    let (w0, w1, w2, w3) = p.w.next4();
    let (g0, g1, g2, g3) = if G { p.g.next4() } else { (V::splat(1.0), V::splat(1.0), V::splat(1.0), V::splat(1.0)) };
    let r0 = loss.block::<L, G>(x0, y0, w0, g0, d);
    let r1 = loss.block::<L, G>(x1, y1, w1, g1, d);
    let r2 = loss.block::<L, G>(x2, y2, w2, g2, d);
    let r3 = loss.block::<L, G>(x3, y3, w3, g3, d);
    let mut put = |(l, gr): (V, V), o: usize| {
        if L {
            acc.add(l);
            store::<false>(l, p.loss_out, (i + o) & mask, 4);
        }
        if G {
            store::<false>(gr, p.grad_out, i + o, 4);
        }
    };
    put(r0, 0);
    put(r1, 4);
    put(r2, 8);
    put(r3, 12);
    true
}

#[inline(always)]
unsafe fn pair<K: Loss, const L: bool, const G: bool>(
    loss: &mut K,
    p: &mut Pass,
    acc: &mut Acc,
    d: V,
    i: usize,
    mask: usize,
) -> bool {
    let ld = |p: *const f32, o: usize| load::<false>(p, i + o, 4, 0.0);
    let (x0, x1) = (ld(p.x, 0), ld(p.x, 4));
    let (y0, y1) = (ld(p.y, 0), ld(p.y, 4));
    if K::CHECKS {
        let bad = |x: V, y: V| {
            let (bx, by) = K::bad(x, y);
            bx | by
        };
        if (bad(x0, y0) | bad(x1, y1)).any() {
            return false;
        }
    }
    let w0 = p.w.next();
    let w1 = p.w.next();
    let (g0, g1) = if G { (p.g.next(), p.g.next()) } else { (V::splat(1.0), V::splat(1.0)) };
    let r0 = loss.block::<L, G>(x0, y0, w0, g0, d);
    let r1 = loss.block::<L, G>(x1, y1, w1, g1, d);
    let mut put = |(l, gr): (V, V), o: usize| {
        if L {
            acc.add(l);
            store::<false>(l, p.loss_out, (i + o) & mask, 4);
        }
        if G {
            store::<false>(gr, p.grad_out, i + o, 4);
        }
    };
    put(r0, 0);
    put(r1, 4);
    true
}

/// One block of `k` elements from `i` (`k = 4` unless `TAIL`); returns `OK` or a range status.
#[inline(always)]
unsafe fn step<K: Loss, const L: bool, const G: bool, const TAIL: bool>(
    loss: &mut K,
    p: &mut Pass,
    acc: &mut Acc,
    d: V,
    i: usize,
    k: usize,
    mask: usize,
) -> u32 {
    let x = load::<TAIL>(p.x, i, k, K::PAD_INPUT);
    let y = load::<TAIL>(p.y, i, k, K::PAD_TARGET);
    if K::CHECKS {
        let (bx, by) = K::bad(x, y);
        if (bx | by).any() {
            // The first bad lane; the input is reported before the target at the same index.
            let mut lane = 0;
            while !bx.lane(lane) && !by.lane(lane) {
                lane += 1;
            }
            set_error_index(i + lane);
            return if bx.lane(lane) { BAD_INPUT } else { BAD_TARGET };
        }
    }
    let w = p.w.next();
    let g = if G { p.g.next() } else { V::splat(1.0) };
    let (l, gr) = loss.block::<L, G>(x, y, w, g, d);
    if L {
        acc.add(if TAIL { V::select(M::first_lanes(k), l, V::splat(0.0)) } else { l });
        store::<TAIL>(l, p.loss_out, i & mask, k);
    }
    if G {
        store::<TAIL>(gr, p.grad_out, i, k);
    }
    OK
}
