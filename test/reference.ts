// A float64 reference of the formulas in docs/semantics.md, evaluated on the float32 values the kernels see,
// and the ulp measure the tests state their tolerances in.

import { expect } from 'vitest';

const f64 = new Float64Array(1);
const hi = new Uint32Array(f64.buffer, 4, 1);

/** The float32 spacing at |r|: 2^(exponent(r) - 23), never below the subnormal spacing 2^-149. */
export function ulp32(r: number): number {
  if (r === 0) return 2 ** -149;
  f64[0] = r;
  const e = Math.max(((hi[0] >>> 20) & 0x7ff) - 1023, -126);
  return 2 ** (e - 23);
}

export const sigmoid = (x: number): number => {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
};

export const logSigmoid = (x: number): number => Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));

/** Element loss of BCELoss, with both logs clamped at -100. */
export function bce(x: number, y: number, w = 1): number {
  return -(y * Math.max(Math.log(x), -100) + (1 - y) * Math.max(Math.log1p(-x), -100)) * w;
}

/** d loss / d x of BCELoss for upstream gradient g and divisor d (N for mean). */
export function bceGrad(x: number, y: number, w = 1, g = 1, d = 1): number {
  return ((g * (x - y)) / Math.max((1 - x) * x, 1e-12)) * w / d;
}

/** `softplus(x) = log(1 + exp(x))`, without overflow or cancellation. */
export const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/**
 * Element loss of BCEWithLogitsLoss and the magnitude of its terms (its f32 error scales with it):
 * PyTorch's `(1 - y) x - lw logsigmoid(x)`, `lw = 1 + (p - 1) y`, evaluated as the equal
 * `(1 - y) softplus(x) + p y softplus(-x)`, which does not cancel for y in [0, 1] and p >= 0 (the
 * scale is then the value itself).
 */
export function logits(x: number, y: number, w = 1, p = 1): { value: number; scale: number } {
  const a = (1 - y) * softplus(x);
  const b = p * y * softplus(-x);
  return { value: (a + b) * w, scale: (Math.abs(a) + Math.abs(b)) * Math.abs(w) };
}

/** d loss / d x of BCEWithLogitsLoss, and the magnitude of its terms. */
export function logitsGrad(x: number, y: number, w = 1, p = 1, g = 1, d = 1): { value: number; scale: number } {
  const lw = 1 + (p - 1) * y;
  const s = sigmoid(x);
  const k = (g * w) / d;
  return { value: (lw * s - p * y) * k, scale: (Math.abs(lw * s) + Math.abs(p * y)) * Math.abs(k) };
}

/** A seeded uniform generator in [0, 1) (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` float32 values from `gen`. */
export function f32s(n: number, gen: (i: number) => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = gen(i);
  return a;
}

/**
 * Expects every `got[i]` within `tol` float32 ulps of `want[i]`; the ulp is taken at `scale[i]`
 * when given (for formulas whose error is relative to the size of their terms, not of the result).
 * Non-finite references must be matched exactly (NaN by NaN).
 */
export function expectUlps(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
  scale?: ArrayLike<number>,
): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (Object.is(Math.fround(w), g) || (Number.isNaN(w) && Number.isNaN(g))) continue;
      throw new Error(`element ${i}: got ${g}, want ${w}`);
    }
    const err = Math.abs(g - w) / ulp32(scale ? scale[i] : w);
    if (err > worst) {
      worst = err;
      at = i;
    }
  }
  const where = at < 0 ? '' : ` at element ${at}: got ${got[at]}, want ${want[at]}`;
  expect(worst, `max error ${worst.toFixed(3)} ulp${where}`).toBeLessThanOrEqual(tol);
}

/** Expects `got` within `tol` of `want`, relative to `scale` (default |want|). */
export function expectRel(got: number, want: number, tol: number, scale = Math.abs(want)): void {
  const err = Math.abs(got - want) / scale;
  expect(err, `got ${got}, want ${want}: relative error ${err.toExponential(2)} > ${tol}`).toBeLessThanOrEqual(tol);
}

// ----------------------------------------------------------------------------- fixture numbers

/** A number as the fixture scripts write it: float32 values as numbers, NaN / Infinity / -Infinity / -0 as strings. */
export type Num = number | string;

/** A fixture number: float32 values as numbers, NaN / Infinity / -Infinity / -0 as strings. */
export function dec(v: Num): number {
  if (typeof v === 'number') return Math.fround(v);
  switch (v) {
    case 'NaN':
      return NaN;
    case 'Infinity':
      return Infinity;
    case '-Infinity':
      return -Infinity;
    case '-0':
      return -0;
  }
  throw new Error(`bad fixture number ${JSON.stringify(v)}`);
}
export const f32 = (a: Num[]): Float32Array => Float32Array.from(a, dec);
export const decAll = (a: Num[]): number[] => a.map(dec);

const bits = new Float32Array(1);
const ints = new Int32Array(bits.buffer);
/** A float32's place on the number line of float32 values (-0 and +0 both 0). */
export function ordinal(x: number): number {
  bits[0] = x;
  const i = ints[0];
  return i < 0 ? -(i & 0x7fffffff) : i;
}
/** The number of float32 values between two float32 values. */
export function ulps(a: number, b: number): number {
  return Math.abs(ordinal(a) - ordinal(b));
}
export const show = (x: number): string => (Object.is(x, -0) ? '-0' : String(x));

/** A float64 fixture number (an exact value): as {@link dec}, without rounding to float32. */
export function dec64(v: Num): number {
  return typeof v === 'number' ? v : dec(v);
}

// ----------------------------------------------------------------------------- the loss family (issue 10)

/**
 * torchvision's sigmoid focal loss of one element and its derivative in x, evaluated without
 * cancellation: p = sigmoid(x), q = 1 - p = sigmoid(-x), ce = (1-y) softplus(x) + y softplus(-x),
 * m = 1 - p_t = p (1-y) + q y, loss = a w ce m^gamma with a = alpha y + (1-alpha)(1-y) (1 when
 * alpha < 0); d/dx = a w ((p (1-y) - q y) m^gamma + ce gamma m^(gamma-1) p q (1 - 2y)). `gradScale`:
 * the size of the gradient's terms, with p - y counted as |p| + |y| (PyTorch's p - y, from a rounded p,
 * cancels as the logits gradient does); `m`: 1 - p_t.
 */
export function focal(x: number, y: number, alpha: number, gamma: number, w = 1) {
  const p = sigmoid(x);
  const q = sigmoid(-x);
  const ce = (1 - y) * softplus(x) + y * softplus(-x);
  const m = p * (1 - y) + q * y;
  const a = (alpha >= 0 ? alpha * y + (1 - alpha) * (1 - y) : 1) * w;
  const f = gamma === 0 ? 1 : m ** gamma;
  const df = gamma === 0 || m === 0 ? 0 : gamma * m ** (gamma - 1) * p * q * (1 - 2 * y);
  const g1 = a * (p * (1 - y) - q * y) * f; // p - y, without cancellation at y = 1
  const g2 = a * ce * df;
  // The gradient's scale: p - y is computed as PyTorch does, from a rounded p, so it may cancel.
  return { loss: a * ce * f, grad: g1 + g2, gradScale: Math.abs(a * f) * (Math.abs(p) + Math.abs(y)) + Math.abs(g2), m };
}

/**
 * The focal loss's bound against the exact value, in ulps (the README's): 6 (the logits loss's, the
 * alpha factor's and the products' roundings: 5.04 ulps found at gamma 0.01), plus 5 gamma (an
 * error of up to ~5 ulps in m = 1 - p_t, which the rounding of 1 - y in m = p (1 - y) + q y adds to
 * for targets that are not a float32 step from 0 or 1, becomes gamma times that in m^gamma: 4.1 per
 * unit of gamma found at gamma 16, y = 4.2e-8), plus for an integral gamma the roundings of its
 * squarings, 2 log2 gamma, for a half-integral one (squarings and a square root) 2 log2(gamma + 1),
 * and otherwise 3 |gamma ln m| (m^gamma as exp(gamma log m): log m's 0.842 ulp and the product's
 * rounding, up to |gamma ln m| 2^-24 each); gamma = 0: 6. gamma = 2: 18 ulps; gamma = 5.3 at
 * m = 0.05: 6 + 26.5 + 47.6 = 80.1.
 */
export function focalUlps(gamma: number, m: number): number {
  if (gamma === 0) return 6;
  if (Number.isInteger(gamma) && gamma < 2 ** 32) return 6 + 5 * gamma + 2 * Math.log2(gamma);
  if (Number.isInteger(gamma - 0.5)) return 6 + 5 * gamma + 2 * Math.log2(gamma + 1);
  return 6 + 5 * gamma + 3 * (m > 0 ? Math.abs(gamma * Math.log(m)) : 0);
}

/**
 * Label smoothing of one float32 target as Keras computes it on float32 tensors (and the package in
 * its pass): y * (1 - e) + 0.5 * e, each operation rounded to float32, with 1 - e and 0.5 e rounded
 * to float32 first.
 */
export function smoothed(y: number, e: number): number {
  if (!e) return y;
  return Math.fround(Math.fround(y * Math.fround(1 - e)) + Math.fround(0.5 * e));
}
