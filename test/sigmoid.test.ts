import { describe, expect, it } from 'vitest';
import { approximations, createBuffer, logSigmoid, sigmoid } from 'bce-wasm';
import './setup.js';
import * as ref from './reference.js';

// Tolerances are the documented bounds (README, "Accuracy"), which scripts/ulp-sweep.mjs measures
// over every float32 input: sigmoid, log and log1p within 2 ulps; exp and logsigmoid too.
const TOL = 2;

const EDGES = [
  0, -0, 1, -1, 0.5, -0.5, 1e-45, -1e-45, 1e-40, -1e-40, 1.1754942e-38, -1.1754942e-38, 1e-8, -1e-8, 15, -15,
  16.7, -16.7, 30, -30, 87.3, -87.3, 88.7, -88.7, 89, -89, 103.9, -103.9, 104, -104, 1e4, -1e4, 1e30, -1e30,
  3.4028235e38, -3.4028235e38, Infinity, -Infinity, NaN,
];

/** Random float32 bit patterns (NaNs dropped): every exponent equally likely. */
function randomBits(n: number, seed: number): Float32Array {
  const next = ref.rng(seed);
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) bits[i] = Math.floor(next() * 2 ** 32);
  return new Float32Array(bits.buffer).map((v) => (Number.isNaN(v) ? 0 : v));
}

const CASES: [string, (x: Float32Array) => Float32Array, (x: number) => number][] = [
  ['sigmoid', (x) => sigmoid(x), ref.sigmoid],
  ['logSigmoid', (x) => logSigmoid(x), ref.logSigmoid],
  ['approximations.exp', (x) => approximations.exp(x), Math.exp],
  ['approximations.log', (x) => approximations.log(x), Math.log],
  ['approximations.log1p', (x) => approximations.log1p(x), Math.log1p],
];

describe.each(CASES)('%s', (_name, kernel, reference) => {
  it('edge values: zeros, subnormals, overflow boundaries, infinities, NaN', () => {
    const x = new Float32Array(EDGES);
    expectUlps(kernel(x), Array.from(x, reference));
  });

  it('every length from 0 to 67 (SIMD blocks and tails)', () => {
    const next = ref.rng(7);
    for (let n = 0; n <= 67; n++) {
      const x = ref.f32s(n, () => (next() - 0.5) * 40);
      expectUlps(kernel(x), Array.from(x, reference));
    }
  });

  it('random bit patterns over every exponent', () => {
    const x = randomBits(100_000, 11);
    expectUlps(kernel(x), Array.from(x, reference));
  });
});

function expectUlps(got: Float32Array, want: number[]): void {
  ref.expectUlps(got, want, TOL);
}

describe('sigmoid specifics', () => {
  it('is exact where the answer is exact: 0.5 at 0, 1 and 0 at the infinities, NaN at NaN', () => {
    expect(Array.from(sigmoid([0, -0, Infinity, -Infinity]))).toEqual([0.5, 0.5, 1, 0]);
    expect(sigmoid([NaN])[0]).toBeNaN();
  });

  it('gives subnormal results instead of 0 down to -103.9 and never overflows', () => {
    const s = sigmoid([-100, -103, 100, 1e4]);
    expect(s[0]).toBeGreaterThan(0);
    expect(s[1]).toBeGreaterThan(0);
    expect(Array.from(s.subarray(2))).toEqual([1, 1]);
  });

  it('logSigmoid stays finite for large logits (no log(0))', () => {
    const l = logSigmoid([-1e4, 1e4, -88, 88]);
    expect(Array.from(l)).toEqual([-1e4, 0, -88, Math.fround(-Math.exp(-88))]);
  });

  it('approximations.log1p keeps tiny arguments and the sign of zero', () => {
    const l = approximations.log1p([1e-30, -1e-30, -0, 0, -1]);
    expect(Array.from(l)).toEqual([Math.fround(1e-30), Math.fround(-1e-30), -0, 0, -Infinity]);
  });

  it('writes into a caller Float32Array, and in place into a WasmBuffer', () => {
    const out = new Float32Array(3);
    expect(sigmoid([0, 100, -100], out)).toBe(out);
    expect(out[0]).toBe(0.5);
    const buf = createBuffer([0, 1, 2, 3, 4]);
    const view = sigmoid(buf, buf);
    expectUlps(view, [0, 1, 2, 3, 4].map(ref.sigmoid));
    expect(buf.view[0]).toBe(0.5);
    buf.free();
  });
});
