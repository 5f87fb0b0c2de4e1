// The kernels' loops against their per-block path, bit for bit. Each loss kernel runs sixteen (or
// eight) elements per loop iteration in one scheduled straight line, and the rest, and any iteration
// that holds a special lane (the logits loss's x = -inf, a bad probability, a mask byte to check),
// block by block: the logits loss's loop leaves out PyTorch's values at x = -inf, which only the
// per-block path computes. A one-element call takes the per-block path alone, so every element of a
// long call must equal the one-element call on that element, whatever special values the data holds
// and wherever they sit (alone in an iteration, beside ordinary ones, in the iteration after one, in
// the tail), for every kernel and option that has a loop of its own.
import { describe, expect, it } from 'vitest';
import {
  binaryCrossEntropyForwardBackward,
  binaryCrossEntropyWithLogitsForwardBackward,
  sigmoidFocalLossForwardBackward,
} from 'bce-wasm';
import './setup.js';
import { rng } from './reference.js';

type Fused = (x: Float32Array, y: Float32Array, o?: object) => { loss: number | Float32Array; grad: Float32Array };

const LOGIT_SPECIALS = [-Infinity, Infinity, NaN, -0, 0, 1e-45, -1e-45, 3.4e38, -3.4e38, -104, 104, -88.8, 89];
const PROB_SPECIALS = [0, -0, 1, 1e-45, 1.1754942e-38, 0.99999994, 5.96e-8];
const TARGET_SPECIALS = [0, -0, 1, 0.25, 1e-45, 0.99999994];

/** Length n with ordinary values, and a special value at about one position in `density`. */
function data(seed: number, n: number, ordinary: () => number, specials: number[], density: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() < 1 / density ? specials[Math.floor(r() * specials.length)] : ordinary();
  return a;
}

/** `Object.is` on float32 values, with every NaN equal. */
function sameBits(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

function checkAgainstBlocks(name: string, f: Fused, x: Float32Array, y: Float32Array, opts: Record<string, unknown>, perElement: (i: number) => Record<string, unknown>): void {
  const { loss, grad } = f(x, y, { ...opts, reduction: 'none' });
  const l = loss as Float32Array;
  for (let i = 0; i < x.length; i++) {
    const one = f(x.subarray(i, i + 1), y.subarray(i, i + 1), { ...opts, ...perElement(i), reduction: 'none' });
    const l1 = (one.loss as Float32Array)[0];
    const g1 = one.grad[0];
    if (!sameBits(l[i], l1) || !sameBits(grad[i], g1)) {
      expect.fail(`${name}: element ${i} of ${x.length} (x = ${x[i]}, y = ${y[i]}): loss ${l[i]} / grad ${grad[i]} in the long call, ${l1} / ${g1} alone`);
    }
  }
}

const LENGTHS = [16, 17, 33, 48, 64, 100, 257];

describe('every element of a long call equals the call on that element alone (special values anywhere)', () => {
  it.each(LENGTHS)('the logits loss, n = %i: plain, labelSmoothing, weight, posWeight, mask', (n) => {
    for (const density of [3, 16, 60]) {
      const seed = n * 31 + density;
      const r = rng(seed + 7);
      const x = data(seed, n, () => (r() - 0.5) * 30, LOGIT_SPECIALS, density);
      const y = data(seed + 1, n, () => (r() < 0.3 ? r() : r() < 0.5 ? 0 : 1), TARGET_SPECIALS, density);
      const w = Float32Array.from({ length: n }, () => r() * 2);
      const p = Float32Array.from({ length: n }, () => r() * 3);
      const m = Uint8Array.from({ length: n }, () => (r() < 0.8 ? 1 : 0));
      const f = binaryCrossEntropyWithLogitsForwardBackward as Fused;
      checkAgainstBlocks('plain', f, x, y, {}, () => ({}));
      checkAgainstBlocks('labelSmoothing', f, x, y, { labelSmoothing: 0.1 }, () => ({}));
      checkAgainstBlocks('weight', f, x, y, { weight: w }, (i) => ({ weight: w.subarray(i, i + 1) }));
      checkAgainstBlocks('posWeight', f, x, y, { posWeight: p }, (i) => ({ posWeight: p.subarray(i, i + 1) }));
      checkAgainstBlocks('mask', f, x, y, { mask: m }, (i) => ({ mask: m.subarray(i, i + 1) }));
      checkAgainstBlocks('mask and posWeight', f, x, y, { mask: m, posWeight: p }, (i) => ({ mask: m.subarray(i, i + 1), posWeight: p.subarray(i, i + 1) }));
    }
  });

  it.each(LENGTHS)('the focal loss, n = %i: gamma 2, 0.5, 2.5 and 1.7 (integral, half-integral, general power)', (n) => {
    for (const density of [3, 16]) {
      const seed = n * 37 + density;
      const r = rng(seed + 7);
      const x = data(seed, n, () => (r() - 0.5) * 30, LOGIT_SPECIALS, density);
      const y = data(seed + 1, n, () => (r() < 0.5 ? 0 : 1), TARGET_SPECIALS, density);
      const f = sigmoidFocalLossForwardBackward as Fused;
      checkAgainstBlocks('gamma 2', f, x, y, {}, () => ({}));
      checkAgainstBlocks('gamma 0.5', f, x, y, { gamma: 0.5 }, () => ({}));
      checkAgainstBlocks('gamma 2.5', f, x, y, { gamma: 2.5 }, () => ({}));
      checkAgainstBlocks('gamma 1.7', f, x, y, { gamma: 1.7 }, () => ({}));
    }
  });

  it.each(LENGTHS)('BCE on probabilities, n = %i: plain, weight, mask', (n) => {
    for (const density of [3, 16, 60]) {
      const seed = n * 41 + density;
      const r = rng(seed + 7);
      const x = data(seed, n, () => r(), PROB_SPECIALS, density);
      const y = data(seed + 1, n, () => (r() < 0.3 ? r() : r() < 0.5 ? 0 : 1), TARGET_SPECIALS, density);
      const w = Float32Array.from({ length: n }, () => r() * 2);
      const m = Uint8Array.from({ length: n }, () => (r() < 0.8 ? 1 : 0));
      const f = binaryCrossEntropyForwardBackward as Fused;
      checkAgainstBlocks('plain', f, x, y, {}, () => ({}));
      checkAgainstBlocks('weight', f, x, y, { weight: w }, (i) => ({ weight: w.subarray(i, i + 1) }));
      checkAgainstBlocks('mask', f, x, y, { mask: m }, (i) => ({ mask: m.subarray(i, i + 1) }));
    }
  });
});
