//! The one loop behind every loss kernel: forward, backward, or both fused into a single pass over
//! `(input, target)`, with weight and gradient operands broadcast in step and the loss summed in
//! float64. A `Loss` says what one block of four elements computes; `run` does everything else.

use crate::lanes::{Acc, M, V};
use crate::stream::{load, set_error_index, set_sum, store, Bcast, BAD_INPUT, BAD_TARGET, OK};

/// `what` bits of a loss call.
/// Sum the element losses; the float64 sum is then read with `bce_last_sum()`.
pub const LOSS: u32 = 1;
/// Also store every element loss in `loss_out` (reduction `none`). Requires `LOSS`.
pub const LOSS_STORE: u32 = 2;
/// Store the gradient w.r.t. the input in `grad_out`.
pub const GRAD: u32 = 4;
/// Status for a `what` that is not one of the five combinations above.
pub const BAD_WHAT: u32 = 3;

/// What one block computes. `W` is the weight, `G` the upstream gradient, `D` the divisor of the
/// gradient (N for `mean`, else 1); all already broadcast to four lanes.
pub trait Loss {
    /// Values that a partial block is padded with: they must pass the range check.
    const PAD_INPUT: f32;
    const PAD_TARGET: f32;
    /// Whether input and target are range-checked (and `bad` below is meaningful).
    const CHECKS: bool;
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

/// Runs `loss` over the pass for the combination of outputs in `what`; returns a status.
///
/// # Safety
/// Every pointer of `pass` that `what` uses points to `n` floats (the broadcast operands to
/// their own length); outputs may alias the input or the target exactly, not partially.
#[inline(always)]
pub unsafe fn dispatch<K: Loss>(loss: &mut K, pass: Pass, what: u32) -> u32 {
    match what {
        LOSS => run::<K, true, false, false>(loss, pass),
        w if w == LOSS | LOSS_STORE => run::<K, true, true, false>(loss, pass),
        GRAD => run::<K, false, false, true>(loss, pass),
        w if w == LOSS | GRAD => run::<K, true, false, true>(loss, pass),
        w if w == LOSS | LOSS_STORE | GRAD => run::<K, true, true, true>(loss, pass),
        _ => BAD_WHAT,
    }
}

#[inline(always)]
unsafe fn run<K: Loss, const L: bool, const S: bool, const G: bool>(loss: &mut K, mut p: Pass) -> u32 {
    let mut acc = Acc::zero();
    let d = V::splat(p.grad_div);
    let n = p.n;
    let full = n & !3;
    let mut i = 0;
    let mut status = OK;
    // Four blocks per iteration, written out (LLVM does not unroll a loop this large): their long
    // dependency chains (exp, log, a division) overlap far better side by side than across loop
    // iterations; measured +30% for the fused logits pass over one block per iteration.
    let unrolled = n & !15;
    while i < unrolled && status == OK {
        status = step::<K, L, S, G, false>(loss, &mut p, &mut acc, d, i, 4);
        if status == OK {
            status = step::<K, L, S, G, false>(loss, &mut p, &mut acc, d, i + 4, 4);
        }
        if status == OK {
            status = step::<K, L, S, G, false>(loss, &mut p, &mut acc, d, i + 8, 4);
        }
        if status == OK {
            status = step::<K, L, S, G, false>(loss, &mut p, &mut acc, d, i + 12, 4);
        }
        i += 16;
    }
    while i < full && status == OK {
        status = step::<K, L, S, G, false>(loss, &mut p, &mut acc, d, i, 4);
        i += 4;
    }
    if i < n && status == OK {
        status = step::<K, L, S, G, true>(loss, &mut p, &mut acc, d, i, n - i);
    }
    if L {
        set_sum(acc.total());
    }
    status
}

/// One block of `k` elements from `i` (`k = 4` unless `TAIL`); returns `OK` or a range status.
#[inline(always)]
unsafe fn step<K: Loss, const L: bool, const S: bool, const G: bool, const TAIL: bool>(
    loss: &mut K,
    p: &mut Pass,
    acc: &mut Acc,
    d: V,
    i: usize,
    k: usize,
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
        if S {
            store::<TAIL>(l, p.loss_out, i, k);
        }
    }
    if G {
        store::<TAIL>(gr, p.grad_out, i, k);
    }
    OK
}
