import { describe, expect, it } from 'vitest';
import {
  binaryCrossEntropyWithLogits,
  binaryCrossEntropyWithLogitsBackward,
  binaryCrossEntropyWithLogitsForwardBackward,
  type Reduction,
} from 'bce-wasm';
import './setup.js';
import * as ref from './reference.js';

// (1 - y) x - lw logsigmoid(x) and lw s - p y can cancel; in float32 (PyTorch's too) their error is
// relative to the size of the terms, not of the result. So element results must be within 4 ulps
// taken at the terms' magnitude; reduced results within the sum of those bounds.
const TOL = 4;

interface Case {
  x: Float32Array;
  y: Float32Array;
  w?: Float32Array;
  p?: Float32Array;
}

function reference({ x, y, w, p }: Case, reduction: Reduction, g = 1) {
  const n = x.length;
  const at = (a: Float32Array | undefined, i: number) => (a ? a[i % a.length] : 1);
  const d = reduction === 'mean' ? n : 1;
  const loss = Array.from(x, (xi, i) => ref.logits(xi, y[i], at(w, i), at(p, i)));
  const grad = Array.from(x, (xi, i) => ref.logitsGrad(xi, y[i], at(w, i), at(p, i), g, d));
  const sum = loss.reduce((a, b) => a + b.value, 0);
  const bound = loss.reduce((a, b) => a + TOL * ref.ulp32(b.scale), 0);
  return { loss, grad, value: reduction === 'mean' ? sum / n : sum, bound: reduction === 'mean' ? bound / n : bound };
}

function check(c: Case, reduction: Reduction): void {
  const want = reference(c, reduction);
  const opts = { reduction, weight: c.w, posWeight: c.p };
  const loss = binaryCrossEntropyWithLogits(c.x, c.y, opts);
  if (reduction === 'none') {
    ref.expectUlps(loss as Float32Array, want.loss.map((l) => l.value), TOL, want.loss.map((l) => l.scale));
  } else if (c.x.length > 0) {
    const err = Math.abs((loss as number) - want.value);
    expect(err, `loss ${loss}, want ${want.value}`).toBeLessThanOrEqual(want.bound);
  }
  const grad = binaryCrossEntropyWithLogitsBackward(c.x, c.y, opts);
  ref.expectUlps(grad, want.grad.map((g) => g.value), TOL, want.grad.map((g) => g.scale));
}

function randomCase(n: number, seed: number, spread = 20): Case {
  const next = ref.rng(seed);
  return { x: ref.f32s(n, () => (next() - 0.5) * spread), y: ref.f32s(n, () => (next() < 0.3 ? next() : next() < 0.5 ? 0 : 1)) };
}

const REDUCTIONS: Reduction[] = ['mean', 'sum', 'none'];

describe.each(REDUCTIONS)("reduction '%s'", (reduction) => {
  it('the seed logits', () => {
    check(
      {
        x: new Float32Array([1.9072, 1.1079, 1.4906, -0.6584, -0.0512, 0.7608, -0.0614, 0.6583, 0.1095]),
        y: new Float32Array([0, 1, 1, 1, 1, 1, 0, 0, 0]),
      },
      reduction,
    );
  });

  it('huge logits (+-1e4, +-88, +-1e30) give finite losses and exact saturated gradients', () => {
    const x = new Float32Array([1e4, -1e4, 1e4, -1e4, 88, -88, 1e30, -1e30, 0, -0]);
    const y = new Float32Array([1, 0, 0, 1, 1, 0, 0.5, 0.5, 1, 0]);
    check({ x, y }, reduction);
    const none = binaryCrossEntropyWithLogits(x, y, { reduction: 'none' });
    expect(Array.from(none.subarray(0, 4))).toEqual([0, 0, 1e4, 1e4]);
    expect(none.every(Number.isFinite)).toBe(true);
  });

  it('subnormal logits', () => {
    check({ x: new Float32Array([1e-45, -1e-45, 1e-40, -1e-38]), y: new Float32Array([1, 0, 0.5, 1]) }, reduction);
  });

  it('random logits with hard and soft targets', () => check(randomCase(2000, 21), reduction));

  it('weight and posWeight per class and per element', () => {
    const c = randomCase(12, 22);
    for (const classes of [1, 2, 3, 4, 6, 12]) {
      const w = ref.f32s(classes, (i) => 0.5 + i);
      const p = ref.f32s(classes, (i) => 3 - 0.4 * i);
      check({ ...c, w }, reduction);
      check({ ...c, p }, reduction);
      check({ ...c, w, p }, reduction);
    }
    const big = randomCase(300 * 7, 23);
    check({ ...big, p: ref.f32s(7, (i) => i + 0.5), w: ref.f32s(300 * 7, (i) => (i % 5) * 0.3) }, reduction);
  });

  it('posWeight of 1 gives the same loss as none', () => {
    const c = randomCase(50, 24);
    const a = binaryCrossEntropyWithLogits(c.x, c.y, { reduction });
    expect(binaryCrossEntropyWithLogits(c.x, c.y, { reduction, posWeight: [1] })).toEqual(a);
  });

  it('every length from 0 to 67 and a few large ones (SIMD tails)', () => {
    for (let n = 0; n <= 67; n++) check(randomCase(n, 200 + n), reduction);
    for (const n of [1021, 4099, 65_537]) check(randomCase(n, n, 60), reduction);
  });
});

describe('logits specifics', () => {
  it('the loss is accurate in its tails (no cancellation, unlike PyTorch float32): within 4 ulps of the true value', () => {
    // x = -25, y = 0: PyTorch's float32 (1 - y) x - logsigmoid(x) is 0; the true loss is log1p(exp(-25)).
    const [l] = binaryCrossEntropyWithLogits([-25], [0], { reduction: 'none' });
    expect(Math.abs(l - Math.log1p(Math.exp(-25)))).toBeLessThanOrEqual(4 * ref.ulp32(1.39e-11));
    const x: number[] = [];
    for (let v = -104; v <= 104; v += 0.125) x.push(v);
    for (const y of [0, 1, 0.25, 1e-5]) {
      for (const p of [1, 3, 0.5]) {
        const got = binaryCrossEntropyWithLogits(x, x.map(() => y), { reduction: 'none', posWeight: [p] });
        x.forEach((xi, i) => {
          const want = ref.logits(Math.fround(xi), Math.fround(y), 1, p).value;
          expect(Math.abs(got[i] - want), `x=${xi} y=${y} p=${p}`).toBeLessThanOrEqual(4 * ref.ulp32(want));
        });
      }
    }
  });
  it('NaN propagates (no value check, as in PyTorch)', () => {
    const loss = binaryCrossEntropyWithLogits([0.5, NaN, 1], [1, 0, 0], { reduction: 'none' });
    expect(loss[1]).toBeNaN();
    expect(Number.isFinite(loss[0]) && Number.isFinite(loss[2])).toBe(true);
    expect(binaryCrossEntropyWithLogits([0.5, 1], [NaN, 0])).toBeNaN();
    expect(binaryCrossEntropyWithLogitsBackward([NaN], [1])[0]).toBeNaN();
  });

  it('empty input: mean is NaN, sum is 0, none is empty', () => {
    expect(binaryCrossEntropyWithLogits([], [])).toBeNaN();
    expect(binaryCrossEntropyWithLogits([], [], { reduction: 'sum' })).toBe(0);
    expect(binaryCrossEntropyWithLogits([], [], { reduction: 'none' }).length).toBe(0);
  });

  it('a mean over 10 million logits agrees with float64 to 1e-6 relative', () => {
    const n = 10_000_000;
    const c = randomCase(n, 77, 16);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += ref.logits(c.x[i], c.y[i]).value;
    ref.expectRel(binaryCrossEntropyWithLogits(c.x, c.y), sum / n, 1e-6);
  });

  it('gradOutput scales the gradient, per element for none', () => {
    const c = randomCase(41, 25);
    const g = ref.f32s(41, (i) => i * 0.1 - 2);
    const got = binaryCrossEntropyWithLogitsBackward(c.x, c.y, { reduction: 'none', gradOutput: g, posWeight: [2] });
    const want = Array.from(c.x, (xi, i) => ref.logitsGrad(xi, c.y[i], 1, 2, g[i]));
    ref.expectUlps(got, want.map((v) => v.value), TOL, want.map((v) => v.scale));
  });

  it.each(REDUCTIONS)("forward+backward equals forward and backward called separately ('%s')", (reduction) => {
    const c = randomCase(1003, 26);
    for (const extra of [{}, { posWeight: [2, 0.5, 1] }, { weight: [1, 2, 3], posWeight: [4] }]) {
      const opts = { reduction, ...extra };
      const fused = binaryCrossEntropyWithLogitsForwardBackward(c.x.subarray(0, 999), c.y.subarray(0, 999), {
        ...opts,
        gradOutput: 3,
      });
      expect(fused.loss).toEqual(binaryCrossEntropyWithLogits(c.x.subarray(0, 999), c.y.subarray(0, 999), opts));
      expect(fused.grad).toEqual(
        binaryCrossEntropyWithLogitsBackward(c.x.subarray(0, 999), c.y.subarray(0, 999), { ...opts, gradOutput: 3 }),
      );
    }
  });
});
