// A library call made while another call reads its arguments (from an element getter or Proxy of a
// plain-array argument, or an options getter) is refused with an Error; the outer call is unharmed.
import { describe, expect, it } from 'vitest';
import * as bce from 'bce-wasm';
import { createPool } from 'bce-wasm/pool';
import './setup.js';

const REFUSED = /cannot be called while another call is reading its arguments/;
// More than one piece (16,384 elements), the getter in the second piece.
const N = 20_000;
const AT = 16_384;

/** A plain array of `n` copies of `v` whose element `at` runs `hook` when read. */
function hooked(n: number, v: number, hook?: () => void, at = AT): number[] {
  const a = new Array<number>(n).fill(v);
  Object.defineProperty(a, at, { get: () => (hook?.(), v), enumerable: true });
  return a;
}

/** Runs `outer(hook)`: `hook` makes `nested` calls and records how each ended. */
function withNested(outer: (hook: () => void) => unknown, nested: (() => unknown)[]): { result: unknown; errors: unknown[] } {
  const errors: unknown[] = [];
  const hook = () => {
    for (const f of nested) {
      try {
        f();
        errors.push(undefined);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  return { result: outer(hook), errors };
}

// Nested calls that would overwrite every scratch slot (weight, posWeight, mask, gradOutput, input).
const NESTED = [
  () => bce.binaryCrossEntropyWithLogits([0, 0, 0], [0, 0, 0], { weight: [5], mask: [1, 1, 1] }),
  () => bce.binaryCrossEntropyWithLogitsBackward([0], [0], { gradOutput: 7, reduction: 'sum', posWeight: [9] }),
  () => bce.sigmoidFocalLoss(new Array(N).fill(3), new Array(N).fill(0), { reduction: 'sum' }),
  () => bce.sigmoid([1, 2, 3]),
  () => bce.createBuffer([1, 2]),
  () => new bce.BCELoss({ weight: [3] }).forward([0.5], [1]),
  () => bce.createAccumulator().add([0.5], [1]),
];

const checkRefused = (errors: unknown[]) => {
  expect(errors.length).toBeGreaterThan(0);
  expect(errors.length % NESTED.length).toBe(0);
  for (const e of errors) {
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(REFUSED);
  }
};

describe('re-entrant calls', () => {
  const y = new Array(N).fill(1);
  const opts = { weight: [2], posWeight: [3], reduction: 'sum' as const, mask: [1, 0] };
  const cases: [string, (hook?: () => void) => unknown][] = [
    ['binaryCrossEntropyWithLogits (input getter)', (h) => bce.binaryCrossEntropyWithLogits(hooked(N, 0.5, h), y, opts)],
    ['binaryCrossEntropyWithLogitsBackward (target getter, scalar gradOutput)', (h) =>
      bce.binaryCrossEntropyWithLogitsBackward(new Array(N).fill(0.5), hooked(N, 1, h), { ...opts, gradOutput: 3 })],
    ['binaryCrossEntropyForwardBackward (weight getter)', (h) =>
      bce.binaryCrossEntropyForwardBackward(new Array(N).fill(0.3), y, { weight: hooked(N, 2, h), mask: [1, 1, 0, 1] })],
    ['sigmoidFocalLossForwardBackward (mask getter)', (h) =>
      bce.sigmoidFocalLossForwardBackward(new Array(N).fill(0.5), y, { reduction: 'mean', weight: [2], mask: hooked(N, 1, h) })],
    ['an options getter', (h) =>
      bce.binaryCrossEntropy(new Array(N).fill(0.3), y, {
        get weight() {
          h?.();
          return [2];
        },
        reduction: 'sum',
      })],
    ['sigmoid', (h) => bce.sigmoid(hooked(N, 0.5, h))],
    ['logSigmoid', (h) => bce.logSigmoid(hooked(N, 0.5, h))],
    ['createBuffer', (h) => bce.createBuffer(hooked(N, 0.5, h)).view.slice()],
    ['BCEWithLogitsLoss.forwardBackward', (h) =>
      new bce.BCEWithLogitsLoss({ weight: [2], reduction: 'sum' }).forwardBackward(hooked(N, 0.5, h), y, { gradOutput: 3 })],
    ['accumulator.add', (h) => {
      const acc = bce.createAccumulator({ logits: true, weight: [2], mask: [1, 0] });
      acc.add(hooked(N, 0.5, h), y);
      acc.add(hooked(N, -1, h), y);
      return acc.result();
    }],
  ];
  it.each(cases)('%s: the nested calls are refused, the outer result is unchanged', (_, outer) => {
    const want = outer();
    const { result, errors } = withNested(outer, NESTED);
    checkRefused(errors);
    expect(result).toEqual(want);
    // The library is usable again afterwards.
    expect(bce.binaryCrossEntropy([0.5], [1])).toBeCloseTo(Math.LN2, 6);
  });

  it('a nested call that is not caught fails the outer call with its error; later calls work', () => {
    expect(() => bce.binaryCrossEntropy(hooked(N, 0.5, () => bce.sigmoid([1])), y)).toThrowError(REFUSED);
    expect(bce.binaryCrossEntropy(new Array(N).fill(0.5), y)).toBeCloseTo(Math.LN2, 6);
    expect(bce.sigmoid([0])[0]).toBe(0.5);
  });

  it('pool calls: a nested call while a pool call copies its arguments is refused', async () => {
    const pool = createPool({ threads: 2, threshold: 1000 });
    try {
      for (const n of [10, N]) {
        const x = () => hooked(n, 0.5, undefined, n - 1);
        const want = await pool.binaryCrossEntropyWithLogits(x(), y.slice(0, n), opts);
        const nestedPool: Promise<unknown>[] = [];
        const { result, errors } = withNested(
          (h) => pool.binaryCrossEntropyWithLogits(hooked(n, 0.5, () => (h(), nestedPool.push(pool.sigmoid([1]).then(() => undefined, (e: unknown) => e))), n - 1), y.slice(0, n), opts),
          NESTED,
        );
        checkRefused(errors);
        expect(await result).toBeCloseTo(want as number, 9);
        expect(nestedPool).toHaveLength(1);
        const nestedError = await nestedPool[0];
        expect(nestedError).toBeInstanceOf(Error);
        expect((nestedError as Error).message).toMatch(REFUSED);
        const sig = hooked(n, 0.5, () => bce.sigmoid([1]), n - 1);
        await expect(pool.sigmoid(sig)).rejects.toThrowError(REFUSED);
      }
    } finally {
      await pool.close();
    }
  });
});
