#!/usr/bin/env python3
"""PyTorch as the test oracle: writes test/fixtures/torch/*.json, checked by test/torch.test.ts.

Every value in the fixtures is what PyTorch itself computes on the CPU in float32 (losses with
reduction 'none', 'mean' and 'sum', and gradients through autograd), or the message it raises:

  seed.json             the seed example (sigmoid, then nn.BCELoss() mean: str(loss), float, grads)
  bce.json              F.binary_cross_entropy on random data, every reduction, weight per element
                        and per class, gradOutput scalar and (for 'none') per element
  bce_with_logits.json  F.binary_cross_entropy_with_logits, the same plus pos_weight per class
  sigmoid.json          torch.sigmoid and F.logsigmoid on random data
  edge.json             the special-value table: for each kernel and each argument (input, target,
                        weight, posWeight, gradOutput) each of +-0, +-smallest subnormal, largest
                        subnormal, smallest normal, 1, 0.99999994, 1.0000001, +-huge, +-inf, NaN
                        (and a few more) with the other arguments at ordinary values: the loss
                        ('none'; 'sum' for a scalar gradOutput) and the gradient, or the error;
                        and each value in the input and in the target at a few positions of a
                        41-element array (the kernels' loops of sixteen elements see it too)

What PyTorch does at the edges (recorded in edge.json): BCELoss accepts -0 as a probability and as
a target (its check is 0 <= v <= 1, which -0 passes), and clamps log(-0) = -inf to -100, so
F.binary_cross_entropy(-0, 1) = 100 exactly as at +0; -1.4e-45, values above 1, +-inf and NaN in the
input or target raise "RuntimeError: all elements of input (target) should be between 0 and 1".
The logits loss checks nothing: NaN / inf anywhere flow into the result.

Data layout: shapes are [rows, C] (row-major), a per-class weight / pos_weight has shape [C], a
per-element one the input's shape; the package sees the flat arrays (weight[i % C]). Random data
has lengths 1, 3, 5, 17, 21, 35 and 1000 (no multiple of 4), hard (0/1) and soft targets.
float32 numbers are written as the shortest decimal that gives the float32 back when parsed as a
double and rounded to float32 (JavaScript: Math.fround(Number(s))), checked here, else the exact
double; NaN, Infinity, -Infinity and -0 as the strings "NaN", "Infinity", "-Infinity", "-0".
Reduced losses also carry `lossF64`: PyTorch's float64 result on the same float32 values, which
shows how far PyTorch's own float32 accumulation is from the exact sum. Each file records
torch.__version__ and numpy.__version__.

Usage:
  python3 scripts/torch_fixtures.py            # (re)writes test/fixtures/torch/*.json
  python3 scripts/torch_fixtures.py --out DIR  # writes them into DIR
  python3 scripts/torch_fixtures.py --check    # writes them into a new temporary directory, then
                                               # runs the package's test against those fresh values:
      BCE_TORCH_FIXTURES=DIR npx vitest run test/torch.test.ts
    (same bounds as against the committed fixtures; --no-test only writes and prints DIR). It exits
    with the test's status, so CI can run it wherever torch imports. The package must be built
    (bash build.sh). It also says how many values differ from the committed fixtures (a different
    torch version may round a few values differently; the test's bounds are what decide).

Installing PyTorch for CPU (what was measured on this project's x86_64 Debian machine, Python
3.11.7, pip 23.2.1, with the Python package index as the only reachable index):
  * torch 2.15.0 (reports 2.15.0+cu132) is the current release; its only x86_64 Linux wheel is the
    CUDA build (a 539 MB wheel, 1.2 GB installed). The CPU-only wheels live on another site, not
    reachable here.
  * `pip install --no-deps torch` alone does NOT work: `import torch` fails with
    "OSError: libcudart.so.13: cannot open shared object file" (libtorch_cpu.so itself links
    libcudart.so.13 and libcupti.so.13, libtorch.so links libtorch_cuda.so, which links cuBLAS,
    cuDNN, cuFFT, cuSPARSE, cuSPARSELt, NCCL, NVRTC and NVSHMEM). The nvidia libraries must be
    installed even though they are never used (no GPU: torch.cuda.is_available() is False).
  * What works: the plain install, about 2.45 GB downloaded, 5.2 GB installed, 65 s here:
        pip install torch==2.15.0 numpy
    Optionally drop what import and autograd do not need (Triton, the CUDA Python bindings;
    verified: import, the losses and autograd still work), leaving 4.2 GB:
        pip uninstall -y triton cuda-bindings cuda-pathfinder
    Result used for the committed fixtures: torch 2.15.0+cu132, numpy 2.4.6.
  The script runs with torch.set_num_threads(1), so PyTorch's reductions are deterministic.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "test" / "fixtures" / "torch"

f32 = np.float32


# ----------------------------------------------------------------------------- encoding

def enc(v) -> int | float | str:
    """A float32 as a JSON value that gives back exactly that float32 (see the header)."""
    v = f32(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0" if math.copysign(1.0, float(v)) < 0 else 0
    short = float(str(v))  # numpy's shortest float32 digits
    if f32(short).tobytes() == v.tobytes():
        return int(short) if short.is_integer() and abs(short) < 1e6 else short
    return float(v)  # the exact double


def enc64(v: float) -> float | str:
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0 and math.copysign(1.0, v) < 0:
        return "-0"
    return v


def encs(a) -> list:
    return [enc(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def enc_value(t: torch.Tensor):
    """A float32 tensor: a number for a scalar, else the flat list."""
    a = t.detach().cpu().numpy()
    return enc(a) if a.ndim == 0 else encs(a)


def error_text(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"


# ----------------------------------------------------------------------------- PyTorch calls

def tensor(values, shape=None, dtype=torch.float32) -> torch.Tensor:
    t = torch.from_numpy(np.asarray(values, dtype=np.float32).copy()).to(dtype)
    return t.reshape(shape) if shape is not None else t


def torch_loss(fn, x, y, shape, weight=None, wshape=None, pos_weight=None, pshape=None,
               reduction="mean", grad_output=None, dtype=torch.float32):
    """Runs the loss and autograd; returns {loss, grad} (float32 values) or {error}."""
    xt = tensor(x, shape, dtype).requires_grad_(True)
    yt = tensor(y, shape, dtype)
    wt = None if weight is None else tensor(weight, wshape, dtype)
    pt = None if pos_weight is None else tensor(pos_weight, pshape, dtype)
    try:
        if fn == "bce":
            loss = F.binary_cross_entropy(xt, yt, weight=wt, reduction=reduction)
        else:
            loss = F.binary_cross_entropy_with_logits(xt, yt, weight=wt, reduction=reduction,
                                                      pos_weight=pt)
    except Exception as e:  # PyTorch's range checks (RuntimeError)
        return {"error": error_text(e)}
    if grad_output is None:
        go = torch.ones_like(loss)
    elif np.ndim(grad_output) == 0:
        go = torch.full_like(loss, float(f32(grad_output)))
    else:
        go = tensor(grad_output, loss.shape, dtype)
    try:
        (gx,) = torch.autograd.grad(loss, xt, grad_outputs=go)
    except Exception as e:
        return {"loss": loss, "error_grad": error_text(e)}
    return {"loss": loss, "grad": gx}


def add_operands(c: dict, weight=None, pos_weight=None, grad_output=None) -> None:
    """The optional operands of a case, as the package takes them (absent ones are left out)."""
    if weight is not None:
        c["weight"] = encs(weight)
    if pos_weight is not None:
        c["posWeight"] = encs(pos_weight)
    if grad_output is not None:
        c["gradOutput"] = enc(grad_output) if np.ndim(grad_output) == 0 else encs(grad_output)


def loss_case(case_id, fn, x, y, shape, reduction, weight=None, wshape=None, pos_weight=None,
              pshape=None, grad_output=None, extra=None) -> dict:
    """One fixture case: the arguments as the package takes them, and PyTorch's answers."""
    c = {"id": case_id, "fn": fn, "shape": list(shape), "reduction": reduction}
    if extra:
        c.update(extra)
    c["input"] = encs(x)
    c["target"] = encs(y)
    add_operands(c, weight, pos_weight, grad_output)
    r = torch_loss(fn, x, y, shape, weight, wshape, pos_weight, pshape, reduction, grad_output)
    if "error" in r:
        c["error"] = r["error"]
        return c
    c["loss"] = enc_value(r["loss"])
    if reduction != "none":
        # The same computation in float64 on the same float32 values: the exact-ish reduced loss.
        r64 = torch_loss(fn, x, y, shape, weight, wshape, pos_weight, pshape, reduction,
                         grad_output, dtype=torch.float64)
        c["lossF64"] = enc64(r64["loss"].item())
        # The scale of that sum: the float64 sum of |element losses| (/ N for 'mean'), which bounds
        # how far two float32-element sums may drift apart.
        rabs = torch_loss(fn, x, y, shape, weight, wshape, pos_weight, pshape, "none", None,
                          dtype=torch.float64)
        scale = rabs["loss"].detach().abs().sum().item()
        c["lossAbsF64"] = enc64(scale / (np.prod(shape) if reduction == "mean" else 1))
    if "grad" in r:
        c["grad"] = enc_value(r["grad"])
    else:
        c["errorGrad"] = r["error_grad"]
    return c


def elementwise_case(case_id, fn, x, extra=None) -> dict:
    c = {"id": case_id, "fn": fn}
    if extra:
        c.update(extra)
    xt = tensor(x)
    out = torch.sigmoid(xt) if fn == "sigmoid" else F.logsigmoid(xt)
    c["input"] = encs(x)
    c["output"] = enc_value(out)
    return c


# ----------------------------------------------------------------------------- the cases

# [rows, C]: lengths 1, 3, 5, 17, 21, 35, 1000; per-class operands have length C (C = 1 is
# PyTorch's broadcast of a one-element weight).
SHAPES = [(1, 1), (1, 3), (5, 1), (1, 17), (7, 3), (5, 7), (200, 5)]


def random_data(rng, fn, shape, soft):
    n = shape[0] * shape[1]
    if fn == "bce":
        # probabilities, many close to 0 or 1 (sigmoid of wide logits), a few exact 0 and 1
        x = (1 / (1 + np.exp(-rng.normal(0, 4, n)))).astype(np.float32)
        if n >= 17:
            x[rng.choice(n, 2, replace=False)] = [0.0, 1.0]
    else:
        x = rng.normal(0, 4, n).astype(np.float32)
        if n >= 17:
            x[rng.choice(n, 2, replace=False)] = [-40.0, 40.0]
    y = rng.uniform(0, 1, n) if soft else (rng.uniform(0, 1, n) < 0.5)
    return x, np.asarray(y, dtype=np.float32)


def random_cases(fn, seed) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for shape in SHAPES:
        n, c = shape[0] * shape[1], shape[1]
        for soft in (False, True):
            x, y = random_data(rng, fn, shape, soft)
            w_elem = rng.uniform(0.25, 2, n).astype(np.float32)
            w_class = rng.uniform(0.25, 2, c).astype(np.float32)
            pw_class = rng.uniform(0.5, 4, c).astype(np.float32)
            g_elem = rng.normal(0, 1, n).astype(np.float32)
            g_scalar = f32(0.37)
            weights = [("w=none", None, None), ("w=element", w_elem, shape), ("w=class", w_class, (c,))]
            pws = [("pw=none", None)] + ([("pw=class", pw_class)] if fn == "bce_with_logits" else [])
            pw_class_or_none = pw_class if fn == "bce_with_logits" else None
            if n >= 1000:
                # Three long cases (fixture size): every operand at once, each reduction once.
                combos = {
                    False: [("none", "w=class", "pw=class", "g=element")],
                    True: [("mean", "w=class", "pw=class", "g=scalar"), ("sum", "w=none", "pw=none", "g=1")],
                }[soft]
            else:
                # Every reduction x weight x pos_weight with gradOutput 1, and the other gradOutputs
                # with per-class weight and pos_weight.
                combos = [(r, wn, pn, "g=1") for r in ("none", "mean", "sum") for wn, _, _ in weights
                          for pn, _ in pws]
                combos += [("none", "w=class", pws[-1][0], "g=scalar"), ("none", "w=class", pws[-1][0], "g=element"),
                           ("mean", "w=class", pws[-1][0], "g=scalar"), ("sum", "w=class", pws[-1][0], "g=scalar")]
            wmap = {name: (w, ws) for name, w, ws in weights}
            gmap = {"g=1": None, "g=scalar": g_scalar, "g=element": g_elem}
            for reduction, wname, pname, gname in combos:
                if fn == "bce":
                    pname = "pw=none"
                w, wshape = wmap[wname]
                case_id = (f"{fn}/n={n}[{shape[0]}x{c}]/{'soft' if soft else 'hard'}/{reduction}/{wname}/"
                           + (f"{pname}/" if fn != "bce" else "") + gname)
                cases.append(loss_case(case_id, fn, x, y, shape, reduction, w, wshape,
                                       pw_class_or_none if pname == "pw=class" else None, (c,), gmap[gname]))
    return cases


def elementwise_random_cases(seed) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for fn in ("sigmoid", "logsigmoid"):
        for n in (1, 3, 5, 17, 1000):
            x = rng.normal(0, 6, n).astype(np.float32)
            if n == 1000:
                x[:40] = np.linspace(-110, 110, 40, dtype=np.float32)  # the exp overflow/underflow zone
            cases.append(elementwise_case(f"{fn}/n={n}", fn, x))
    return cases


# The special values: (label, float32 value).
EDGE_VALUES = [
    ("+0", 0.0),
    ("-0", -0.0),
    ("min subnormal 1.4e-45", 1.4e-45),
    ("-min subnormal -1.4e-45", -1.4e-45),
    ("max subnormal 1.1754942e-38", 1.1754942e-38),
    ("min normal 1.1754944e-38", 1.1754944e-38),
    ("5.9604645e-8", 5.9604645e-08),
    ("0.5", 0.5),
    ("0.99999994", 0.99999994),
    ("1", 1.0),
    ("1.0000001", 1.0000001),
    ("-1", -1.0),
    ("17", 17.0),
    ("-17", -17.0),
    ("88.8", 88.8),
    ("-88.8", -88.8),
    ("100", 100.0),
    ("-100", -100.0),
    ("-104", -104.0),
    ("1e4", 1e4),
    ("-1e4", -1e4),
    ("1e30", 1e30),
    ("-1e30", -1e30),
    ("3.4e38", 3.4e38),
    ("-3.4e38", -3.4e38),
    ("+inf", math.inf),
    ("-inf", -math.inf),
    ("NaN", math.nan),
]

# Ordinary partners, one per position: six elements, so lanes 0-3 of the package's 4-lane blocks
# and the partial block (4, 5) both see the special value, against hard and soft targets.
ORDINARY = {
    "bce": {"input": [0.25, 0.5, 0.75, 0.9, 0.25, 0.6], "target": [0, 1, 0.25, 1, 1, 0]},
    "bce_with_logits": {"input": [-1.5, 0.5, 2, -0.25, 3, -3], "target": [0, 1, 0.25, 1, 1, 0]},
}
EDGE_N = 6
# ... and the longer arrays: 41 elements (two loop iterations of sixteen, then nine), the value at
# these positions.
EDGE_LONG_N = 41
EDGE_LONG_AT = [2, 13, 35, 40]


def edge_cases() -> list:
    cases = []
    for fn in ("bce", "bce_with_logits"):
        args = ["input", "target", "weight"] + (["posWeight"] if fn == "bce_with_logits" else [])
        args += ["gradOutput", "gradOutput(scalar)"]
        for arg in args:
            for label, v in EDGE_VALUES:
                v = f32(v)
                x = np.array(ORDINARY[fn]["input"], dtype=np.float32)
                y = np.array(ORDINARY[fn]["target"], dtype=np.float32)
                w = pw = g = None
                reduction = "none"
                full = np.full(EDGE_N, v, dtype=np.float32)
                if arg == "input":
                    x = full
                elif arg == "target":
                    y = full
                elif arg == "weight":
                    w = full
                elif arg == "posWeight":
                    pw = full
                elif arg == "gradOutput":
                    g = full
                else:  # one scalar upstream gradient of the summed loss
                    g = v
                    reduction = "sum"
                extra = {"edge": {"argument": arg.replace("(scalar)", ""), "label": label, "value": enc(v)}}
                cases.append(loss_case(f"{fn}/edge/{arg}={label}", fn, x, y, (EDGE_N,), reduction,
                                       w, (EDGE_N,), pw, (EDGE_N,), g, extra))
        # The same values in longer arrays, among ordinary ones: the kernels' loops of four blocks
        # (pairs of two for BCE) see them too, in a loop iteration of their own, in one with an
        # ordinary neighbour, and in the tail; the loop iteration after them is ordinary.
        for arg in ("input", "target"):
            for label, v in EDGE_VALUES:
                v = f32(v)
                x = np.resize(np.array(ORDINARY[fn]["input"], dtype=np.float32), EDGE_LONG_N)
                y = np.resize(np.array(ORDINARY[fn]["target"], dtype=np.float32), EDGE_LONG_N)
                (x if arg == "input" else y)[EDGE_LONG_AT] = v
                extra = {"edge": {"argument": arg, "label": label, "value": enc(v), "at": EDGE_LONG_AT}}
                cases.append(loss_case(f"{fn}/edge-long/{arg}={label}", fn, x, y, (EDGE_LONG_N,), "none",
                                       extra=extra))
    for fn in ("sigmoid", "logsigmoid"):
        for label, v in EDGE_VALUES:
            extra = {"edge": {"argument": "input", "label": label, "value": enc(f32(v))}}
            cases.append(elementwise_case(f"{fn}/edge/input={label}", fn,
                                          np.full(EDGE_N, f32(v), dtype=np.float32), extra))
    return cases


SEED_LOGITS = [[1.9072, 1.1079, 1.4906], [-0.6584, -0.0512, 0.7608], [-0.0614, 0.6583, 0.1095]]
SEED_TARGET = [[0, 1, 1], [1, 1, 1], [0, 0, 0]]


def seed_cases() -> list:
    logits = torch.tensor(SEED_LOGITS, requires_grad=True)
    target = torch.tensor(SEED_TARGET, dtype=torch.float32)
    probs = torch.sigmoid(logits)
    probs.retain_grad()
    loss = torch.nn.BCELoss()(probs, target)
    loss.backward()
    seed = {
        "id": "seed/sigmoid+BCELoss()",
        "fn": "seed",
        "logits": encs(logits.detach()),
        "target": encs(target),
        "sigmoid": enc_value(probs),
        "str": str(loss.detach()),
        "strWithGrad": str(loss),
        "loss": enc(loss.item()),
        "lossPython": loss.item(),
        "gradProbs": enc_value(probs.grad),
        "gradLogits": enc_value(logits.grad),
    }
    logits2 = torch.tensor(SEED_LOGITS, requires_grad=True)
    loss2 = torch.nn.BCEWithLogitsLoss()(logits2, target)
    loss2.backward()
    seed["logitsLoss"] = {"str": str(loss2.detach()), "loss": enc(loss2.item()),
                          "grad": enc_value(logits2.grad)}
    # The same data through the package's loss functions, every reduction, on PyTorch's probabilities.
    flat_p = probs.detach().numpy().reshape(-1)
    flat_x = logits.detach().numpy().reshape(-1)
    flat_y = target.numpy().reshape(-1)
    out = [seed]
    for reduction in ("none", "mean", "sum"):
        out.append(loss_case(f"seed/bce/{reduction}", "bce", flat_p, flat_y, (3, 3), reduction))
        out.append(loss_case(f"seed/bce_with_logits/{reduction}", "bce_with_logits", flat_x, flat_y,
                             (3, 3), reduction))
    return out


# ----------------------------------------------------------------------------- writing

def header(name: str, description: str) -> dict:
    return {
        "generator": "scripts/torch_fixtures.py",
        "file": name,
        "description": description,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "dtype": "float32",
        "device": "cpu",
        "threads": torch.get_num_threads(),
    }


def write(out: Path, name: str, description: str, cases: list, head: dict | None = None) -> None:
    """One fixture file: the header (this script's by default), then one case per line."""
    head = json.dumps(head or header(name, description), separators=(",", ":"))
    lines = ",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c in cases)
    (out / f"{name}.json").write_text(head[:-1] + ',"cases":[\n' + lines + "\n]}\n")


def generate(out: Path) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    write(out, "seed", "The seed example: torch.sigmoid then nn.BCELoss() (mean), str(loss), grads", seed_cases())
    write(out, "bce", "F.binary_cross_entropy on random data: loss and autograd gradient",
          random_cases("bce", 1))
    write(out, "bce_with_logits", "F.binary_cross_entropy_with_logits on random data: loss and autograd gradient",
          random_cases("bce_with_logits", 2))
    write(out, "sigmoid", "torch.sigmoid and F.logsigmoid on random data", elementwise_random_cases(3))
    write(out, "edge", "Special values per kernel and argument, others ordinary: loss ('none'; 'sum' for a "
          "scalar gradOutput) and autograd gradient, or PyTorch's error", edge_cases())


def count_differences(fresh: Path, committed: Path) -> int:
    """Values that differ between two fixture sets (informational: the test's bounds decide)."""
    diff = 0
    for f in sorted(fresh.glob("*.json")):
        g = committed / f.name
        if not g.exists():
            print(f"torch_fixtures: {f.name} is not among the committed fixtures")
            continue
        a, b = json.loads(f.read_text())["cases"], json.loads(g.read_text())["cases"]
        if len(a) != len(b):
            print(f"torch_fixtures: {f.name}: {len(a)} cases, committed {len(b)}")
        for ca, cb in zip(a, b):
            for k in ("loss", "grad", "output", "error"):
                va, vb = ca.get(k), cb.get(k)
                if isinstance(va, list) and isinstance(vb, list):
                    diff += sum(1 for p, q in zip(va, vb) if p != q)
                elif va != vb:
                    diff += 1
    return diff


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--check", action="store_true",
                    help="write into a temporary directory and run test/torch.test.ts against it")
    ap.add_argument("--no-test", action="store_true", help="with --check: only write and print the directory")
    args = ap.parse_args()
    if not args.check:
        out = args.out or DEFAULT_OUT
        generate(out)
        total = sum(p.stat().st_size for p in out.glob("*.json"))
        print(f"torch_fixtures: wrote {out} ({total} bytes) with torch {torch.__version__}, numpy {np.__version__}")
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="bce-torch-fixtures-"))
    generate(out)
    print(f"torch_fixtures: fresh fixtures in {out} (torch {torch.__version__}, numpy {np.__version__})")
    if DEFAULT_OUT.exists():
        print(f"torch_fixtures: {count_differences(out, DEFAULT_OUT)} values differ from the committed fixtures")
    if args.no_test:
        print(f"torch_fixtures: run: BCE_TORCH_FIXTURES={out} npx vitest run test/torch.test.ts")
        return 0
    npx = shutil.which("npx")
    if npx is None:
        print("torch_fixtures: npx not found; run the test yourself:", file=sys.stderr)
        print(f"  BCE_TORCH_FIXTURES={out} npx vitest run test/torch.test.ts", file=sys.stderr)
        return 2
    env = dict(os.environ, BCE_TORCH_FIXTURES=str(out))
    return subprocess.call([npx, "vitest", "run", "test/torch.test.ts"], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
