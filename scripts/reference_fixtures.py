#!/usr/bin/env python3
"""The reference libraries as test oracles for the loss family of issue 10: writes
test/fixtures/reference/*.json, checked by test/references.test.ts.

  smoothing.json  PyTorch F.binary_cross_entropy(_with_logits) on label-smoothed targets
                  (y * (1 - e) + 0.5 * e, computed in float32 as Keras computes it: see SMOOTHING),
                  every reduction, weight per element and per class, pos_weight, gradOutput; autograd
                  gradients
  focal.json      torchvision.ops.sigmoid_focal_loss: alpha 0.25, 0.75, 0 and -1 (off), gamma 0, 0.5,
                  1, 2, 5, every reduction, edge logits (0 to 1e4, both signs), soft targets, label
                  smoothing and weight (torchvision's loss times weight); autograd gradients
  keras.json      Keras 3 (KERAS_BACKEND=torch): BinaryCrossentropy(label_smoothing, from_logits True
                  and False) and BinaryFocalCrossentropy(from_logits=True, apply_class_balancing True
                  and False), with reduction None (one loss per sample: our 'rowMean') and
                  'sum_over_batch_size' (our 'mean'), BinaryCrossentropy also with sample_weight and
                  'mean_with_sample_weight' (our 'weightedMean' with the row's weight on each of its
                  elements); autograd gradients through Keras
  mask.json       masks, 'weightedMean' and 'rowMean' as PyTorch computations: the loss of the kept
                  elements only (masked-out elements hold NaN, infinities or values out of range:
                  padding), sum(w * l) / sum(w), and the per-row mean of the kept elements; autograd
  tail.json       the exact element loss of binaryCrossEntropyWithLogits (mpmath, 50 digits) on a
                  sweep of float32 logits in [-104, 104], y in {0, 1} and soft, with and without
                  pos_weight: the high-precision table test/tail.test.ts checks its float64
                  reference against

Every loss and gradient of focal.json and mask.json also carries `exact`: the same formula evaluated
in mpmath at 50 digits on the same float32 arguments (for focal: p = 1/(1+exp(-x)),
ce = (1-y) softplus(x) + y softplus(-x), 1 - p_t = p (1-y) + (1-p) y, which do not cancel), so the
test can tell PyTorch's float32 rounding (1 - p_t cancels for large |x|; autograd gives NaN where
(1-p_t)^(gamma-1) overflows) from a real difference.

What of Keras we share (see README "Reference libraries" and docs/semantics.md):
  * BinaryCrossentropy(from_logits=True) with the torch backend is F.binary_cross_entropy_with_logits
    on y * (1 - e) + 0.5 * e: our logits loss with labelSmoothing e. Its per-sample loss (reduction
    None) is the mean over the last axis: our 'rowMean' with rowLength = the last dimension.
  * BinaryCrossentropy(from_logits=False) clips the probabilities to [1e-7, 1 - 1e-7] (float32:
    [1e-7, 0.99999988]) before F.binary_cross_entropy; we clamp the log at -100 as PyTorch does. The
    two agree where no probability is outside the clip range, so the fixtures draw p in
    [1e-6, 1 - 1e-6] (the clip never acts there).
  * BinaryFocalCrossentropy(from_logits=True) is sigmoid, then the clipped probability loss, times
    (1 - p_t)^gamma, times alpha y + (1-alpha)(1-y) only with apply_class_balancing=True: torchvision's
    loss with alpha (balancing) or alpha < 0 (no balancing), computed through float32 probabilities.
    That path loses accuracy as |x| grows (log(1 - p) of a rounded p) and is clipped beyond
    |x| ~ 16, so the fixtures use |x| <= 8. BinaryFocalCrossentropy(from_logits=False) (a focal
    loss on probabilities) has no counterpart here.

Usage:
  python3 scripts/reference_fixtures.py            # (re)writes test/fixtures/reference/*.json
  python3 scripts/reference_fixtures.py --out DIR  # writes them into DIR
  python3 scripts/reference_fixtures.py --check    # into a temporary directory, then runs
      BCE_REFERENCE_FIXTURES=DIR npx vitest run test/references.test.ts   (exits with its status)

Installing the references next to PyTorch 2.15 for CPU (see scripts/torch_fixtures.py for torch
itself), measured on this project's machine, Python 3.11.7, pip 23.2.1:
  * torchvision: `pip install torchvision` would re-add Triton and the CUDA Python bindings (torch's
    own dependencies, removed after installing torch); `--no-deps` avoids that, torchvision itself
    needs only torch, numpy and pillow:
        pip install --no-deps torchvision==0.29.2 pillow
    torchvision 0.29.2 (reports 0.29.2+cu132) imports against torch 2.15.0 and loads its C++ ops;
    sigmoid_focal_loss is plain PyTorch code.
  * Keras 3: `pip install keras==3.15.1` (with a constraint file holding torch==2.15.0, pip leaves
    torch alone; Keras does not depend on it): absl-py, h5py, ml-dtypes, namex, optree, rich. With
    KERAS_BACKEND=torch, Keras runs on the installed PyTorch: no TensorFlow or JAX needed, and
    autograd works through its losses (Keras's ops are torch operations on torch tensors).
  17 s for both here. Versions used for the committed fixtures: see each file's header.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_fixtures import add_operands, enc, enc64, enc_value, encs, loss_case, tensor, write  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "test" / "fixtures" / "reference"

f32 = np.float32
mpmath.mp.dps = 50


def versions() -> dict:
    v = {"torch": torch.__version__, "numpy": np.__version__, "mpmath": mpmath.__version__}
    try:
        import torchvision
        v["torchvision"] = torchvision.__version__
    except ImportError:
        pass
    try:
        import keras
        v["keras"] = keras.__version__
        v["kerasBackend"] = keras.backend.backend()
    except ImportError:
        pass
    return v


# ----------------------------------------------------------------------------- shared pieces

def smooth(y, e: float) -> torch.Tensor:
    """SMOOTHING: Keras's y * (1 - e) + 0.5 * e on float32 targets, as its torch backend rounds it
    (the Python scalars 1 - e and 0.5 * e, computed in double, become float32 operands)."""
    yt = tensor(y)
    if not e:
        return yt
    return yt * (1.0 - e) + 0.5 * e


def grad_outputs(loss: torch.Tensor, g) -> torch.Tensor:
    if g is None:
        return torch.ones_like(loss)
    if np.ndim(g) == 0:
        return torch.full_like(loss, float(f32(g)))
    return tensor(g, loss.shape)


def mp_softplus(x):
    return mpmath.log1p(mpmath.exp(x)) if x < 0 else x + mpmath.log1p(mpmath.exp(-x))


def exact_focal(x: float, y: float, alpha: float, gamma: float, w: float = 1.0):
    """The focal loss and its derivative in x, at 50 digits (see the header)."""
    x, y, w = mpmath.mpf(float(x)), mpmath.mpf(float(y)), mpmath.mpf(float(w))
    gamma = mpmath.mpf(float(gamma))
    p = 1 / (1 + mpmath.exp(-x))
    q = 1 / (1 + mpmath.exp(x))  # 1 - p without cancellation
    ce = (1 - y) * mp_softplus(x) + y * mp_softplus(-x)
    m = p * (1 - y) + q * y  # 1 - p_t
    a = (alpha * y + (1 - alpha) * (1 - y)) if alpha >= 0 else 1
    f = m ** gamma if gamma != 0 else mpmath.mpf(1)
    # d m / dx = p q (1 - 2y); d m^g / dx = g m^(g-1) p q (1 - 2y), written so that m = 0 is no issue.
    df = gamma * (m ** (gamma - 1) if m != 0 else 0) * p * q * (1 - 2 * y) if gamma != 0 else 0
    # p - y as p (1-y) - q y: at 50 digits, p - 1 would still lose the digits of q below 1e-50.
    return a * w * ce * f, a * w * ((p * (1 - y) - q * y) * f + ce * df)


# ----------------------------------------------------------------------------- smoothing.json

SMOOTHING_SHAPES = [(1, 5), (5, 7)]
SMOOTHINGS = [0.1, 0.2, 1.0]


def smoothing_cases() -> list:
    rng = np.random.default_rng(10)
    cases = []
    for fn in ("bce", "bce_with_logits"):
        for shape in SMOOTHING_SHAPES:
            n, c = shape[0] * shape[1], shape[1]
            for soft in (False, True):
                if fn == "bce":
                    x = (1 / (1 + np.exp(-rng.normal(0, 4, n)))).astype(np.float32)
                    if n >= 17:
                        x[:2] = [0.0, 1.0]  # the clamped logs
                else:
                    x = rng.normal(0, 4, n).astype(np.float32)
                    if n >= 17:
                        x[:2] = [-40.0, 40.0]
                y = (rng.uniform(0, 1, n) if soft else rng.uniform(0, 1, n) < 0.5).astype(np.float32)
                w_class = rng.uniform(0.25, 2, c).astype(np.float32)
                w_elem = rng.uniform(0.25, 2, n).astype(np.float32)
                pw = rng.uniform(0.5, 4, c).astype(np.float32) if fn == "bce_with_logits" else None
                g_elem = rng.normal(0, 1, n).astype(np.float32)
                for e in SMOOTHINGS:
                    ys = smooth(y, e).numpy()
                    combos = [("none", None, None, None), ("mean", None, None, None), ("sum", None, None, None),
                              ("none", w_class, (c,), g_elem), ("mean", w_elem, shape, f32(0.37)),
                              ("sum", w_class, (c,), None)]
                    for k, (reduction, w, wshape, g) in enumerate(combos):
                        use_pw = pw if (fn == "bce_with_logits" and k >= 3) else None
                        cid = (f"{fn}/{shape[0]}x{c}/{'soft' if soft else 'hard'}/e={e}/{reduction}"
                               f"/{'w=none' if w is None else 'w=class' if len(w) == c else 'w=element'}"
                               f"{'/pw=class' if use_pw is not None else ''}"
                               f"/{'g=1' if g is None else 'g=scalar' if np.ndim(g) == 0 else 'g=element'}")
                        case = loss_case(cid, fn, x, ys, shape, reduction, w, wshape, use_pw,
                                         None if use_pw is None else (c,), g)
                        case["target"] = encs(y)
                        case["labelSmoothing"] = e
                        case["smoothedTarget"] = encs(ys)
                        cases.append(case)
    return cases


# ----------------------------------------------------------------------------- focal.json

ALPHAS = [0.25, 0.75, 0.0, -1.0]
GAMMAS = [0.0, 0.5, 1.0, 2.0, 5.0]
EDGE_LOGITS = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 2, -2, 8, -8, 15, -15, 16.6, -16.6, 17, -17,
               20, -20, 30, -30, 50, -50, 88, -88, 100, -100, 104, -104, 1e4, -1e4]


def torchvision_focal(x, y, alpha, gamma, reduction, w=None, g=None, shape=None):
    from torchvision.ops import sigmoid_focal_loss
    xt = tensor(x, shape).requires_grad_(True)
    yt = tensor(y, shape)
    if w is None:
        loss = sigmoid_focal_loss(xt, yt, alpha=alpha, gamma=gamma, reduction=reduction)
    else:
        # torchvision has no weight: its element losses times the weight, then the reduction.
        el = sigmoid_focal_loss(xt, yt, alpha=alpha, gamma=gamma, reduction="none") * tensor(w)
        loss = {"none": el, "mean": el.mean(), "sum": el.sum()}[reduction]
    (gx,) = torch.autograd.grad(loss, xt, grad_outputs=grad_outputs(loss, g))
    return loss, gx


def focal_case(cid, x, y, alpha, gamma, reduction, e=0.0, w=None, g=None) -> dict:
    n = len(x)
    ys = smooth(y, e).numpy()
    shape = (n,) if w is None else (n // len(w), len(w))  # a weight broadcasts over the last dimension
    loss, gx = torchvision_focal(x, ys, alpha, gamma, reduction, w, g, shape)
    c = {"id": cid, "fn": "focal", "alpha": alpha, "gamma": gamma, "reduction": reduction,
         "input": encs(x), "target": encs(y)}
    if e:
        c["labelSmoothing"] = e
        c["smoothedTarget"] = encs(ys)
    add_operands(c, w, None, g)
    c["loss"] = enc_value(loss.reshape(-1) if reduction == "none" else loss)
    c["grad"] = enc_value(gx.reshape(-1))
    ex = [exact_focal(x[i], ys[i], alpha, gamma, 1.0 if w is None else w[i % len(w)]) for i in range(n)]
    div = n if reduction == "mean" else 1
    gs = [1.0] * n if g is None else ([float(f32(g))] * n if np.ndim(g) == 0 else [float(v) for v in g])
    if reduction == "none":
        c["exactLoss"] = [enc64(float(l)) for l, _ in ex]
    else:
        c["exactLoss"] = enc64(float(mpmath.fsum(l for l, _ in ex) / div))
        c["exactLossAbs"] = enc64(float(mpmath.fsum(abs(l) for l, _ in ex) / div))
    c["exactGrad"] = [enc64(float(d * gs[i] / div)) for i, (_, d) in enumerate(ex)]
    return c


def focal_cases() -> list:
    rng = np.random.default_rng(11)
    cases = []
    edge = np.array(EDGE_LOGITS, dtype=np.float32)
    x_rand = rng.normal(0, 4, 21).astype(np.float32)
    y_hard = (rng.uniform(0, 1, 21) < 0.5).astype(np.float32)
    y_soft = rng.uniform(0, 1, 21).astype(np.float32)
    g_elem = rng.normal(0, 1, 21).astype(np.float32)
    w = rng.uniform(0.25, 2, 3).astype(np.float32)
    for gamma in GAMMAS:
        for alpha in ALPHAS:
            for yv in (0.0, 1.0):
                cases.append(focal_case(f"focal/g={gamma}/a={alpha}/edge/y={int(yv)}", edge,
                                        np.full(len(edge), yv, dtype=np.float32), alpha, gamma, "none"))
            cases.append(focal_case(f"focal/g={gamma}/a={alpha}/hard/none", x_rand, y_hard, alpha, gamma, "none"))
            cases.append(focal_case(f"focal/g={gamma}/a={alpha}/soft/none", x_rand, y_soft, alpha, gamma, "none"))
            cases.append(focal_case(f"focal/g={gamma}/a={alpha}/hard/mean", x_rand, y_hard, alpha, gamma, "mean"))
            cases.append(focal_case(f"focal/g={gamma}/a={alpha}/soft/sum", x_rand, y_soft, alpha, gamma, "sum"))
        cases.append(focal_case(f"focal/g={gamma}/a=0.25/hard/none/e=0.1/w=class/g=element", x_rand, y_hard,
                                0.25, gamma, "none", 0.1, w, g_elem))
        cases.append(focal_case(f"focal/g={gamma}/a=-1/soft/mean/e=0.2/w=class/g=scalar", x_rand, y_soft,
                                -1.0, gamma, "mean", 0.2, w, f32(0.37)))
        cases.append(focal_case(f"focal/g={gamma}/a=0.25/edge/y=1/e=0.1", edge, np.ones(len(edge), np.float32),
                                0.25, gamma, "none", 0.1))
    return cases


# ----------------------------------------------------------------------------- keras.json

def keras_case(cid, kind, x, y, shape, reduction, e, from_logits=True, alpha=None, gamma=None,
               balance=None, sample_weight=None) -> dict:
    import keras
    xt = tensor(x, shape).requires_grad_(True)
    yt = tensor(y, shape)
    if kind == "BinaryCrossentropy":
        fn = keras.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=e, reduction=reduction)
    else:
        fn = keras.losses.BinaryFocalCrossentropy(from_logits=True, label_smoothing=e, reduction=reduction,
                                                  alpha=alpha, gamma=gamma, apply_class_balancing=balance)
    sw = None if sample_weight is None else tensor(sample_weight)
    loss = fn(yt, xt, sample_weight=sw)
    (gx,) = torch.autograd.grad(loss, xt, grad_outputs=torch.ones_like(loss))
    c = {"id": cid, "fn": "keras", "keras": kind, "fromLogits": from_logits, "labelSmoothing": e,
         "kerasReduction": str(reduction), "shape": list(shape), "input": encs(x), "target": encs(y)}
    if kind != "BinaryCrossentropy":
        c.update({"alpha": alpha, "gamma": gamma, "applyClassBalancing": balance})
    if sample_weight is not None:
        c["sampleWeight"] = encs(sample_weight)
    c["loss"] = enc_value(loss)
    c["grad"] = enc_value(gx)
    return c


def keras_cases() -> list:
    rng = np.random.default_rng(12)
    cases = []
    for shape in [(7, 5), (4, 1)]:
        n = shape[0] * shape[1]
        x = rng.normal(0, 3, n).clip(-8, 8).astype(np.float32)
        p = rng.uniform(1e-6, 1 - 1e-6, n).astype(np.float32)
        y = (rng.uniform(0, 1, n) < 0.5).astype(np.float32)
        ysoft = rng.uniform(0, 1, n).astype(np.float32)
        sw = rng.uniform(0.25, 3, shape[0]).astype(np.float32)
        for e in (0.0, 0.1, 0.3):
            for yname, yy in (("hard", y), ("soft", ysoft)):
                base = f"{shape[0]}x{shape[1]}/{yname}/e={e}"
                for reduction in (None, "sum_over_batch_size"):
                    r = "None" if reduction is None else reduction
                    cases.append(keras_case(f"BinaryCrossentropy/logits/{base}/{r}", "BinaryCrossentropy",
                                            x, yy, shape, reduction, e, True))
                    cases.append(keras_case(f"BinaryCrossentropy/probs/{base}/{r}", "BinaryCrossentropy",
                                            p, yy, shape, reduction, e, False))
                cases.append(keras_case(f"BinaryCrossentropy/logits/{base}/mean_with_sample_weight",
                                        "BinaryCrossentropy", x, yy, shape, "mean_with_sample_weight", e, True,
                                        sample_weight=sw))
                if e == 0.1:
                    continue
                for gamma in (0.0, 0.5, 2.0, 5.0):
                    for balance, alpha in ((True, 0.25), (False, 0.25)) if gamma != 2.0 else ((True, 0.8),):
                        for reduction in (None, "sum_over_batch_size"):
                            r = "None" if reduction is None else reduction
                            cases.append(keras_case(
                                f"BinaryFocalCrossentropy/{base}/g={gamma}/balance={balance}/a={alpha}/{r}",
                                "BinaryFocalCrossentropy", x, yy, shape, reduction, e, True, alpha, gamma, balance))
    return cases


# ----------------------------------------------------------------------------- mask.json

def element_losses(fn, xt, yt, alpha=0.25, gamma=2.0, pw=None):
    if fn == "bce":
        return F.binary_cross_entropy(xt, yt, reduction="none")
    if fn == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(xt, yt, reduction="none", pos_weight=pw)
    from torchvision.ops import sigmoid_focal_loss
    return sigmoid_focal_loss(xt, yt, alpha=alpha, gamma=gamma, reduction="none")


def mask_case(cid, fn, x, y, mask, reduction, w=None, pw=None, row_length=None, g=None, e=0.0) -> dict:
    """PyTorch on the kept elements only: the loss, and autograd's gradient w.r.t. the whole input."""
    n = len(x)
    m_full = np.resize(np.asarray(mask, dtype=bool), n)  # broadcast like weight: mask[i % len]
    w_full = None if w is None else np.resize(np.asarray(w, dtype=np.float32), n)
    pw_full = None if pw is None else np.resize(np.asarray(pw, dtype=np.float32), n)
    ys = smooth(y, e)
    xt = tensor(x).requires_grad_(True)
    keep = torch.from_numpy(np.nonzero(m_full)[0])
    el = element_losses(fn, xt[keep], ys[keep], pw=None if pw_full is None else tensor(pw_full)[keep])
    if w_full is not None:
        el = el * tensor(w_full)[keep]
    if reduction == "none":
        loss = torch.zeros(n).index_put((keep,), el)
    elif reduction == "mean":
        loss = el.mean() if len(keep) else el.sum() / 0.0  # an empty mean is NaN
    elif reduction == "sum":
        loss = el.sum()
    elif reduction == "weightedMean":
        wk = torch.ones(len(keep)) if w_full is None else tensor(w_full)[keep]
        loss = el.sum() / wk.sum()
    else:  # rowMean: the mean over the kept elements of each row
        rows = n // row_length
        full = torch.zeros(n).index_put((keep,), el).reshape(rows, row_length)
        kept = torch.from_numpy(m_full.reshape(rows, row_length).sum(1).astype(np.float32))
        loss = full.sum(1) / kept
    go = grad_outputs(loss, g)
    (gx,) = torch.autograd.grad(loss, xt, grad_outputs=go, allow_unused=True)
    if gx is None:
        gx = torch.zeros(n)
    gx = torch.where(torch.from_numpy(m_full), gx, torch.zeros(n))  # no kept element: 0, not NaN
    c = {"id": cid, "fn": fn, "reduction": reduction, "input": encs(x), "target": encs(y),
         "mask": [int(v) for v in np.asarray(mask, dtype=bool)]}
    if e:
        c["labelSmoothing"] = e
    if row_length is not None:
        c["rowLength"] = row_length
    add_operands(c, w, pw, g)
    c["loss"] = enc_value(loss)
    c["grad"] = enc_value(gx)
    # The same on float64 values: the reference for reduced losses (PyTorch sums in float32).
    if reduction != "none":
        el64 = el.detach().double()
        if reduction == "rowMean":
            full = torch.zeros(n, dtype=torch.float64).index_put((keep,), el64).reshape(-1, row_length)
            c["lossAbs"] = encs(full.abs().sum(1) / torch.from_numpy(
                m_full.reshape(-1, row_length).sum(1).astype(np.float64)))
        else:
            div = {"mean": len(keep), "sum": 1}.get(reduction)
            if div is None:
                div = float(len(keep) if w_full is None else np.asarray(w_full, np.float64)[m_full].sum())
            c["lossAbs"] = enc64(el64.abs().sum().item() / div if div else float("nan"))
    return c


def mask_cases() -> list:
    rng = np.random.default_rng(13)
    cases = []
    rows, cols = 6, 5
    n = rows * cols
    for fn in ("bce", "bce_with_logits", "focal"):
        for soft in (False, True):
            if fn == "bce":
                x = (1 / (1 + np.exp(-rng.normal(0, 3, n)))).astype(np.float32)
            else:
                x = rng.normal(0, 3, n).astype(np.float32)
            y = (rng.uniform(0, 1, n) if soft else rng.uniform(0, 1, n) < 0.5).astype(np.float32)
            mask = rng.uniform(0, 1, n) < 0.7
            mask[cols:2 * cols] = False  # row 1: nothing kept
            mask[2 * cols:3 * cols] = True  # row 2: everything kept
            # Padding where masked out: NaN, infinities, values outside [0, 1]; never checked.
            pad = np.array([np.nan, np.inf, -np.inf, 7.5, -3.0], dtype=np.float32)
            xp, yp = x.copy(), y.copy()
            xp[~mask] = pad[np.arange((~mask).sum()) % len(pad)]
            yp[~mask] = pad[(np.arange((~mask).sum()) + 2) % len(pad)]
            w = rng.uniform(0.25, 2, cols).astype(np.float32)
            w_elem = rng.uniform(0.25, 2, n).astype(np.float32)
            pw = rng.uniform(0.5, 4, cols).astype(np.float32) if fn == "bce_with_logits" else None
            g_rows = rng.normal(0, 1, rows).astype(np.float32)
            g_elem = rng.normal(0, 1, n).astype(np.float32)
            t = "soft" if soft else "hard"
            for reduction in ("none", "mean", "sum", "weightedMean"):
                cases.append(mask_case(f"{fn}/{t}/mask/{reduction}", fn, xp, yp, mask, reduction))
            cases.append(mask_case(f"{fn}/{t}/mask/none/w=class/g=element", fn, xp, yp, mask, "none", w, pw,
                                   g=g_elem))
            cases.append(mask_case(f"{fn}/{t}/mask/weightedMean/w=class", fn, xp, yp, mask, "weightedMean", w, pw))
            cases.append(mask_case(f"{fn}/{t}/mask/weightedMean/w=element/g=scalar", fn, xp, yp, mask,
                                   "weightedMean", w_elem, pw, g=f32(0.37)))
            cases.append(mask_case(f"{fn}/{t}/weightedMean/w=class", fn, x, y, np.ones(n, bool), "weightedMean", w, pw))
            cases.append(mask_case(f"{fn}/{t}/mask/rowMean", fn, xp, yp, mask, "rowMean", row_length=cols))
            cases.append(mask_case(f"{fn}/{t}/rowMean/w=class/g=row", fn, x, y, np.ones(n, bool), "rowMean", w, pw,
                                   row_length=cols, g=g_rows))
            cases.append(mask_case(f"{fn}/{t}/mask/rowMean/g=scalar/e=0.1", fn, xp, yp, mask, "rowMean",
                                   row_length=cols, g=f32(0.37), e=0.1))
            # A mask of length C, broadcast over the rows like weight (class 1 and 3 left out).
            cmask = np.array([1, 0, 1, 0, 1], dtype=bool)
            xc, yc = x.copy(), y.copy()
            xc[~np.resize(cmask, n)] = np.nan
            cases.append(mask_case(f"{fn}/{t}/mask=class/mean", fn, xc, yc, cmask, "mean"))
            cases.append(mask_case(f"{fn}/{t}/mask=class/none/e=0.2", fn, xc, yc, cmask, "none", e=0.2))
    return cases


# ----------------------------------------------------------------------------- tail.json

def exact_logits_loss(x: float, y: float, p: float = 1.0):
    x, y, p = mpmath.mpf(float(x)), mpmath.mpf(float(y)), mpmath.mpf(float(p))
    return (1 - y) * mp_softplus(x) + p * y * mp_softplus(-x)


def tail_cases() -> list:
    rng = np.random.default_rng(14)
    xs = np.concatenate([np.linspace(-104, 104, 209), rng.uniform(-104, 104, 120),
                         np.array([-25, 25, -16.6, 16.6, -88.7, 88.7, -103.9, 1e-8, -1e-8, 0])]).astype(np.float32)
    ys = np.array([0, 1, 0.25, 0.5, 0.9, 0.999, 1e-6], dtype=np.float32)
    cases = []
    for p in (None, 3.0, 0.25):
        for y in ys:
            pv = 1.0 if p is None else p
            c = {"id": f"tail/y={y}/pw={'none' if p is None else p}", "fn": "tail", "target": enc(y),
                 "input": encs(xs), "exact": [enc64(float(exact_logits_loss(x, y, pv))) for x in xs]}
            if p is not None:
                c["posWeight"] = enc(p)
            cases.append(c)
    return cases


# ----------------------------------------------------------------------------- writing

def generate(out: Path, only: set | None = None) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    head = {"generator": "scripts/reference_fixtures.py", **versions(),
            "python": sys.version.split()[0], "dtype": "float32", "device": "cpu"}
    files = [
        ("smoothing", "F.binary_cross_entropy(_with_logits) on label-smoothed targets: loss and autograd gradient",
         smoothing_cases),
        ("focal", "torchvision.ops.sigmoid_focal_loss (times weight where given): loss, autograd gradient, "
         "and the exact (mpmath) values", focal_cases),
        ("keras", "Keras 3 BinaryCrossentropy and BinaryFocalCrossentropy (torch backend): loss and autograd "
         "gradient through Keras", keras_cases),
        ("mask", "Masks, weightedMean and rowMean as PyTorch computations on the kept elements: loss and "
         "autograd gradient", mask_cases),
        ("tail", "The exact (mpmath, 50 digits) element loss of the logits loss over x in [-104, 104]", tail_cases),
    ]
    for name, description, make in files:
        if only and name not in only:
            continue
        write(out, name, description, make(), {**head, "file": name, "description": description})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--only", nargs="*", help="only these files (smoothing, focal, keras, mask, tail)")
    ap.add_argument("--check", action="store_true",
                    help="write into a temporary directory and run test/references.test.ts against it")
    args = ap.parse_args()
    out = args.out or (Path(tempfile.mkdtemp(prefix="bce-reference-fixtures-")) if args.check else DEFAULT_OUT)
    generate(out, set(args.only) if args.only else None)
    total = sum(p.stat().st_size for p in out.glob("*.json"))
    print(f"reference_fixtures: wrote {out} ({total} bytes) with {versions()}")
    if not args.check:
        return 0
    npx = shutil.which("npx")
    if npx is None:
        print(f"reference_fixtures: npx not found; run BCE_REFERENCE_FIXTURES={out} npx vitest run "
              "test/references.test.ts", file=sys.stderr)
        return 2
    env = dict(os.environ, BCE_REFERENCE_FIXTURES=str(out))
    return subprocess.call([npx, "vitest", "run", "test/references.test.ts"], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
