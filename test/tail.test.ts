// The logits loss in its tails (issue 10, item 5): every element loss of binaryCrossEntropyWithLogits
// within TAIL_ULPS = 4 float32 ulps of the true value, over x in [-104, 104], for y in {0, 1} and
// soft targets, with and without posWeight.
//
// The true value is (1 - y) softplus(x) + p y softplus(-x) (the identity of docs/semantics.md): two
// non-negative terms for y in [0, 1] and p >= 0, so its float64 evaluation (test/reference.ts,
// logitsExact) is within ~1e-15 relative of the exact value, ~1e-8 of a float32 ulp; the first test
// checks that against the committed mpmath table (test/fixtures/reference/tail.json, 50 digits). The
// error is measured as |ours - true| / ulp(true), the float32 ulp at the true value (2^-149 below
// the normal range), so 0.5 is a correctly rounded result.
//
// BCE_TAIL_REPORT=FILE writes the worst error per target and posWeight (with where) as JSON.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { binaryCrossEntropyWithLogits } from 'bce-wasm';
import './setup.js';
import { dec, dec64, decAll, logits, rng, ulp32, type Num } from './reference.js';

/** The true loss: the float64 softplus form (test/reference.ts). */
const logitsExact = (x: number, y: number, w: number, p: number): number => logits(x, y, w, p).value;

const TAIL_ULPS = 4;
const REPORT = process.env.BCE_TAIL_REPORT;
const FIXTURE = fileURLToPath(new URL('./fixtures/reference/tail.json', import.meta.url));

interface TailCase {
  id: string;
  target: Num;
  posWeight?: Num;
  input: Num[];
  exact: Num[];
}

const worst = new Map<string, { ulps: number; x: number; y: number; ours: number; exact: number }>();

/** The worst error of `ours` against the float64 truth, in float32 ulps of the truth; recorded under `key`. */
function measure(key: string, x: Float32Array, y: ArrayLike<number>, p: ArrayLike<number> | undefined, ours: Float32Array): { ulps: number; at: number } {
  let w = 0;
  let at = -1;
  for (let i = 0; i < x.length; i++) {
    const exact = logitsExact(x[i], y[i], 1, p ? p[i % p.length] : 1);
    const e = Math.abs(ours[i] - exact) / ulp32(exact);
    if (!(e <= w)) {
      w = e;
      at = i;
    }
  }
  if (at >= 0) {
    const k = worst.get(key);
    const exact = logitsExact(x[at], y[at], 1, p ? p[at % p.length] : 1);
    if (!k || w > k.ulps) worst.set(key, { ulps: w, x: x[at], y: y[at], ours: ours[at], exact });
  }
  return { ulps: w, at };
}

function expectWithin(key: string, x: Float32Array, y: Float32Array, p?: Float32Array): void {
  const ours = binaryCrossEntropyWithLogits(x, y, { reduction: 'none', ...(p ? { posWeight: p } : {}) });
  const { ulps, at } = measure(key, x, y, p, ours);
  const where = at < 0 ? '' : ` at x = ${x[at]}, y = ${y[at]}${p ? `, posWeight = ${p[at % p.length]}` : ''}: ours ${ours[at]}, true ${logitsExact(x[at], y[at], 1, p ? p[at % p.length] : 1)}`;
  expect(ulps, `${key}: worst ${ulps.toFixed(3)} ulps${where}`).toBeLessThanOrEqual(TAIL_ULPS);
}

/**
 * x from -104 to 104 in steps of 1/64 (13,313 points: every tail, and the cancellation zone of
 * PyTorch's form), and three more where exp(-|x|) changes regime (overflow of exp(x) at 88.72,
 * its subnormal results down to -103.97): 13,316, a multiple of the per-class posWeight's 4.
 */
const grid = Float32Array.from([...Array.from({ length: 208 * 64 + 1 }, (_, i) => -104 + i / 64), -103.97, 88.72, -88.72]);
/** 200,000 random float32 logits: uniform in [-104, 104], and log-uniform magnitudes from 2^-30 to 104 of either sign. */
const random = (() => {
  const r = rng(10);
  return Float32Array.from({ length: 200_000 }, (_, i) =>
    i % 2 ? -104 + 208 * r() : (r() < 0.5 ? -1 : 1) * Math.min(104, 2 ** (-30 + 36.7 * r())));
})();

const TARGETS: [string, (i: number) => number][] = [
  ['y=0', () => 0],
  ['y=1', () => 1],
  ['y=0.5', () => 0.5],
  ['y=1e-6', () => 1e-6],
  ['y=0.999', () => 0.999],
  ['y soft (random in [0, 1])', (() => {
    const r = rng(11);
    return () => r();
  })()],
];
const POS_WEIGHTS: [string, Float32Array | undefined][] = [
  ['no posWeight', undefined],
  ['posWeight 3', Float32Array.of(3)],
  ['posWeight 0.25', Float32Array.of(0.25)],
  ['posWeight per class [0.5, 1, 2, 7]', Float32Array.of(0.5, 1, 2, 7)],
];

describe('binaryCrossEntropyWithLogits in its tails', () => {
  it('the float64 truth agrees with the mpmath table to 1e-14 relative', () => {
    const cases = JSON.parse(readFileSync(FIXTURE, 'utf8')).cases as TailCase[];
    let worstRel = 0;
    let n = 0;
    for (const c of cases) {
      const y = dec(c.target);
      const p = c.posWeight === undefined ? 1 : dec(c.posWeight);
      decAll(c.input).forEach((x, i) => {
        const want = dec64(c.exact[i]);
        const got = logitsExact(x, y, 1, p);
        worstRel = Math.max(worstRel, Math.abs(got - want) / want);
        n++;
      });
    }
    expect(n).toBeGreaterThan(5000);
    expect(worstRel).toBeLessThan(1e-14);
  });

  it(`the mpmath table: every element within ${TAIL_ULPS} ulps`, () => {
    const cases = JSON.parse(readFileSync(FIXTURE, 'utf8')).cases as TailCase[];
    for (const c of cases) {
      const x = Float32Array.from(decAll(c.input));
      const y = new Float32Array(x.length).fill(dec(c.target));
      const p = c.posWeight === undefined ? undefined : Float32Array.of(dec(c.posWeight));
      const ours = binaryCrossEntropyWithLogits(x, y, { reduction: 'none', ...(p ? { posWeight: p } : {}) });
      let w = 0;
      c.exact.forEach((v, i) => {
        const exact = dec64(v);
        w = Math.max(w, Math.abs(ours[i] - exact) / ulp32(exact));
      });
      expect(w, c.id).toBeLessThanOrEqual(TAIL_ULPS);
    }
  });

  it('x = -25, y = 0: the true 1.39e-11, where float32 PyTorch gives 0', () => {
    const [l] = binaryCrossEntropyWithLogits([-25], [0], { reduction: 'none' });
    const exact = Math.log1p(Math.exp(-25)); // 1.3887943864771144e-11
    expect(Math.abs(l - exact) / ulp32(exact)).toBeLessThanOrEqual(TAIL_ULPS);
    // PyTorch's float32 form, (1 - y) x - logsigmoid(x) = -25 - (-25.0000000000139): logsigmoid rounds to
    // -25 in float32 and the terms cancel to 0 (test/fixtures/torch/edge.json has PyTorch's own values).
  });

  for (const [yName, yOf] of TARGETS) {
    for (const [pName, p] of POS_WEIGHTS) {
      it(`${yName}, ${pName}: the grid and 200,000 random logits within ${TAIL_ULPS} ulps`, () => {
        for (const x of [grid, random]) {
          const y = Float32Array.from(x, (_, i) => yOf(i));
          expectWithin(`${yName}, ${pName}`, x, y, p);
        }
      });
    }
  }
});

afterAll(() => {
  if (!REPORT) return;
  const all = [...worst.entries()].sort(([, a], [, b]) => b.ulps - a.ulps);
  writeFileSync(REPORT, JSON.stringify({ tailUlps: TAIL_ULPS, worst: Object.fromEntries(all) }, null, 1));
});
