import { describe, expect, it } from 'vitest';
import {
  binaryCrossEntropy,
  binaryCrossEntropyBackward,
  binaryCrossEntropyForwardBackward,
  sigmoid,
  type Reduction,
} from 'bce-wasm';
import './setup.js';
import * as ref from './reference.js';

// Element losses and gradients: within 4 float32 ulps of the float64 formula (log/log1p are within
// 0.75 ulp; the rest is a handful of correctly rounded float32 operations). Reduced losses: the sum
// of the element bounds, i.e. a relative error that does not grow with N.
const TOL = 4;
const REL = 4 * 2 ** -23;

const SEED_LOGITS = [1.9072, 1.1079, 1.4906, -0.6584, -0.0512, 0.7608, -0.0614, 0.6583, 0.1095];
const SEED_TARGET = [0, 1, 1, 1, 1, 1, 0, 0, 0];
const SEED_SIGMOID_4 = [0.8707, 0.7517, 0.8162, 0.3411, 0.4872, 0.6815, 0.4847, 0.6589, 0.5273];

interface Case {
  x: Float32Array;
  y: Float32Array;
  w?: Float32Array;
}

function reference({ x, y, w }: Case, reduction: Reduction, g = 1) {
  const n = x.length;
  const wi = (i: number) => (w ? w[i % w.length] : 1);
  const loss = Array.from(x, (xi, i) => ref.bce(xi, y[i], wi(i)));
  const sum = loss.reduce((a, b) => a + b, 0);
  const d = reduction === 'mean' ? n : 1;
  const grad = Array.from(x, (xi, i) => ref.bceGrad(xi, y[i], wi(i), g, d));
  return { loss, sum, value: reduction === 'mean' ? sum / n : sum, grad };
}

function check(c: Case, reduction: Reduction): void {
  const want = reference(c, reduction);
  const opts = { reduction, weight: c.w };
  const loss = binaryCrossEntropy(c.x, c.y, opts);
  if (reduction === 'none') {
    ref.expectUlps(loss as Float32Array, want.loss, TOL);
  } else {
    const scale = reduction === 'mean' ? c.x.length : 1;
    if (c.x.length > 0) ref.expectRel(loss as number, want.value, REL, Math.abs(want.sum) / scale + 1e-300);
  }
  ref.expectUlps(binaryCrossEntropyBackward(c.x, c.y, opts), want.grad, TOL);
}

function randomCase(n: number, seed: number, soft: boolean): Case {
  const next = ref.rng(seed);
  return {
    x: ref.f32s(n, () => next()),
    y: ref.f32s(n, () => (soft ? next() : next() < 0.5 ? 0 : 1)),
  };
}

const REDUCTIONS: Reduction[] = ['mean', 'sum', 'none'];

describe('the seed walk-through', () => {
  const x = new Float32Array(SEED_LOGITS);
  const y = new Float32Array(SEED_TARGET);

  it('sigmoid prints the tutorial matrix to 4 digits', () => {
    expect(Array.from(sigmoid(x), (v) => v.toFixed(4))).toEqual(SEED_SIGMOID_4.map((v) => v.toFixed(4)));
  });

  it('BCELoss of the 4-digit sigmoids is the hand computation 0.8000147727', () => {
    const hand = binaryCrossEntropy(SEED_SIGMOID_4, SEED_TARGET);
    ref.expectRel(hand, 0.8000147727101611, REL);
  });

  it('BCELoss of sigmoid(input) is 0.8000 (PyTorch: tensor(0.8000)), 0.8000068 in float64', () => {
    const loss = binaryCrossEntropy(sigmoid(x), y);
    expect(loss.toFixed(4)).toBe('0.8000');
    const s = sigmoid(x);
    ref.expectRel(loss, reference({ x: s, y }, 'mean').value, REL);
    ref.expectRel(loss, 0.8000068, 1e-6);
  });

  it('the gradient grad_fn promises matches the formula', () => {
    const s = sigmoid(x);
    ref.expectUlps(binaryCrossEntropyBackward(s, y), reference({ x: s, y }, 'mean').grad, TOL);
  });
});

describe.each(REDUCTIONS)("reduction '%s'", (reduction) => {
  it('exact 0 and 1 with matching and mismatched targets: losses clamp at 100, gradients at 1e12', () => {
    const c = { x: new Float32Array([0, 0, 1, 1, 0, 1]), y: new Float32Array([0, 1, 1, 0, 0.5, 0.5]) };
    check(c, reduction);
    const none = binaryCrossEntropy(c.x, c.y, { reduction: 'none' });
    // -0 at x = y = 1, as PyTorch's (y - 1) * log1p(-x) - y * log(x) gives.
    expect(Array.from(none)).toEqual([0, 100, -0, 100, 50, 50]);
    const grad = binaryCrossEntropyBackward(c.x, c.y, { reduction: 'sum' });
    expect(Array.from(grad)).toEqual([0, -1e12, 0, 1e12, -0.5e12, 0.5e12].map(Math.fround));
  });

  it('subnormal and near-1 probabilities', () => {
    const x = new Float32Array([1e-45, 1e-40, 1.1754942e-38, 1e-30, 1e-7, 0.99999994, 0.9999999, 0.5]);
    check({ x, y: new Float32Array([1, 0, 1, 1, 0, 0, 1, 0.3]) }, reduction);
  });

  it('soft targets', () => check(randomCase(1000, 3, true), reduction));
  it('hard targets', () => check(randomCase(1000, 4, false), reduction));

  it('weight per element and per class (broadcast over the trailing dimension)', () => {
    const c = randomCase(12, 5, true);
    check({ ...c, w: ref.f32s(12, (i) => 0.25 + i) }, reduction);
    for (const classes of [1, 2, 3, 4, 6]) check({ ...c, w: ref.f32s(classes, (i) => 2 - i * 0.3) }, reduction);
    const big = randomCase(4096 * 3, 6, true);
    check({ ...big, w: ref.f32s(3, (i) => i + 0.5) }, reduction);
    check({ ...big, w: ref.f32s(4096, (i) => i / 4096) }, reduction);
  });

  it('every length from 0 to 67 and a few large ones (SIMD tails)', () => {
    for (let n = 0; n <= 67; n++) check(randomCase(n, 100 + n, true), reduction);
    for (const n of [1023, 4097, 65_539]) check(randomCase(n, n, true), reduction);
  });
});

describe('reductions', () => {
  it('empty input: mean is NaN, sum is 0, none is empty', () => {
    expect(binaryCrossEntropy([], [])).toBeNaN();
    expect(binaryCrossEntropy([], [], { reduction: 'sum' })).toBe(0);
    expect(binaryCrossEntropy([], [], { reduction: 'none' })).toEqual(new Float32Array(0));
    expect(binaryCrossEntropyBackward([], [])).toEqual(new Float32Array(0));
  });

  it('mean divides by the element count, not by the sum of weights', () => {
    const x = [0.2, 0.7, 0.9];
    const y = [0, 1, 1];
    const sum = binaryCrossEntropy(x, y, { reduction: 'sum', weight: [3] });
    expect(binaryCrossEntropy(x, y, { weight: [3] })).toBeCloseTo(sum / 3, 15);
  });

  it('a mean over 10 million elements agrees with float64 to 1e-6 relative', () => {
    const n = 10_000_000;
    const next = ref.rng(42);
    const x = ref.f32s(n, () => 0.001 + 0.998 * next());
    const y = ref.f32s(n, () => next());
    let sum = 0;
    for (let i = 0; i < n; i++) sum += ref.bce(x[i], y[i]);
    const got = binaryCrossEntropy(x, y);
    ref.expectRel(got, sum / n, 1e-6);
    ref.expectRel(got, sum / n, REL);
  });
});

describe('backward and forward+backward', () => {
  it('gradOutput scales the gradient: a number for mean/sum, per element for none', () => {
    const c = randomCase(37, 8, true);
    ref.expectUlps(
      binaryCrossEntropyBackward(c.x, c.y, { gradOutput: 2.5 }),
      reference(c, 'mean', 2.5).grad,
      TOL,
    );
    const g = ref.f32s(37, (i) => i - 18);
    ref.expectUlps(
      binaryCrossEntropyBackward(c.x, c.y, { reduction: 'none', gradOutput: g }),
      Array.from(c.x, (xi, i) => ref.bceGrad(xi, c.y[i], 1, g[i])),
      TOL,
    );
  });

  it.each(REDUCTIONS)("forward+backward equals forward and backward called separately ('%s')", (reduction) => {
    const c = randomCase(1001, 9, true);
    const w = ref.f32s(7, (i) => i + 1);
    const fused = binaryCrossEntropyForwardBackward(c.x, c.y, { reduction, weight: w, gradOutput: 0.5 });
    expect(fused.loss).toEqual(binaryCrossEntropy(c.x, c.y, { reduction, weight: w }));
    expect(fused.grad).toEqual(binaryCrossEntropyBackward(c.x, c.y, { reduction, weight: w, gradOutput: 0.5 }));
  });

  it('accepts plain arrays, Float32Arrays and Float64Arrays alike', () => {
    const x = [0.1, 0.5, 0.9, 0.3, 0.7];
    const y = [0, 1, 1, 0, 1];
    const a = binaryCrossEntropy(x, y);
    expect(binaryCrossEntropy(new Float32Array(x), new Float32Array(y))).toBe(a);
    expect(binaryCrossEntropy(new Float64Array(x), new Float64Array(y))).toBe(a);
  });
});
