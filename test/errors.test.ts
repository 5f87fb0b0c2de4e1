import { describe, expect, it } from 'vitest';
import * as bce from 'bce-wasm';
import './setup.js';

const {
  binaryCrossEntropy: bceLoss,
  binaryCrossEntropyBackward,
  binaryCrossEntropyForwardBackward,
  binaryCrossEntropyWithLogits,
  binaryCrossEntropyWithLogitsForwardBackward,
} = bce;

const x9 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const y9 = [0, 1, 0, 1, 0, 1, 0, 1, 0];

/** Every function that takes (input, target, options) and range-checks probabilities. */
const PROB = [bceLoss, binaryCrossEntropyBackward, binaryCrossEntropyForwardBackward] as const;

describe('range checks of BCELoss, fused into the pass', () => {
  it.each([
    ['above 1', 1.5],
    ['below 0', -0.25],
    ['NaN', NaN],
    ['+inf', Infinity],
    ['-0.0 is fine, -1e-45 is not', -1e-45],
  ])('input %s: RangeError naming input, index and value', (_label, bad) => {
    for (const fn of PROB) {
      const x = x9.slice();
      x[5] = bad;
      expect(() => fn(x, y9)).toThrowError(RangeError);
      expect(() => fn(x, y9)).toThrowError(`input[5] = ${Math.fround(bad)} is outside [0, 1]`);
    }
  });

  it('target out of range or NaN: RangeError naming target', () => {
    for (const fn of PROB) {
      expect(() => fn(x9, [...y9.slice(0, 8), 2])).toThrowError(/target\[8\] = 2 is outside \[0, 1\]/);
      expect(() => fn(x9, [NaN, ...y9.slice(1)])).toThrowError(/target\[0\] = NaN/);
    }
  });

  it('reports the first bad element, in any block or tail, the input before the target at one index', () => {
    for (const n of [1, 3, 4, 5, 8, 63, 64, 1001]) {
      for (const at of [0, n >> 1, n - 1]) {
        const x = new Float32Array(n).fill(0.5);
        const y = new Float32Array(n).fill(1);
        x[at] = 7;
        if (at + 1 < n) x[n - 1] = -1;
        expect(() => bceLoss(x, y)).toThrowError(`input[${at}] = 7`);
        y[at] = NaN;
        expect(() => bceLoss(x, y)).toThrowError(`input[${at}] = 7`);
        x[at] = 0.5;
        expect(() => bceLoss(x, y)).toThrowError(`target[${at}] = NaN`);
      }
    }
  });

  it('-0 and exact 0 and 1 are accepted', () => {
    expect(bceLoss([-0, 0, 1], [0, -0, 1])).toBeGreaterThanOrEqual(0);
  });

  it('an error leaves the module usable (no trap)', () => {
    expect(() => bceLoss([2], [1])).toThrow(RangeError);
    expect(bceLoss([0.5], [1])).toBeCloseTo(Math.LN2, 6);
  });

  it('the logits loss does not check values (PyTorch does not): NaN goes through', () => {
    expect(binaryCrossEntropyWithLogits([NaN, 3], [5, -1])).toBeNaN();
  });
});

describe('argument errors name the argument', () => {
  const ALL = [...PROB, binaryCrossEntropyWithLogits, binaryCrossEntropyWithLogitsForwardBackward];

  it('length mismatch: RangeError', () => {
    for (const fn of ALL) {
      expect(() => fn(x9, y9.slice(1))).toThrowError(
        new RangeError(`${fn.name}: target has length 8 but input has length 9; they must match`),
      );
    }
  });

  it('weight and posWeight that do not broadcast: RangeError naming both lengths', () => {
    for (const fn of ALL) {
      expect(() => fn(x9, y9, { weight: [1, 2, 3, 4] })).toThrowError(
        /weight of length 4 does not broadcast over input of length 9/,
      );
      expect(() => fn(x9, y9, { weight: [] })).toThrowError(/weight of length 0 does not broadcast/);
    }
    expect(() => binaryCrossEntropyWithLogits(x9, y9, { posWeight: [1, 2] })).toThrowError(
      /posWeight of length 2 does not broadcast over input of length 9/,
    );
  });

  it('posWeight given to the probability loss: TypeError', () => {
    // @ts-expect-error posWeight is not an option of binaryCrossEntropy
    expect(() => bceLoss(x9, y9, { posWeight: [2] })).toThrowError(TypeError);
  });

  it("unknown reduction: RangeError (\"'avg' is not a valid value for reduction\"); not a string: TypeError", () => {
    for (const fn of ALL) {
      // @ts-expect-error not a reduction
      expect(() => fn(x9, y9, { reduction: 'avg' })).toThrowError(
        new RangeError(`${fn.name}: 'avg' is not a valid value for reduction (use 'none', 'mean', 'sum', 'weightedMean' or 'rowMean')`),
      );
      // @ts-expect-error not a reduction
      expect(() => fn(x9, y9, { reduction: 1 })).toThrowError(TypeError);
    }
  });

  it('inputs that are not float arrays: TypeError naming input or target', () => {
    for (const fn of ALL) {
      // @ts-expect-error wrong type
      expect(() => fn('0.5', y9)).toThrowError(/input must be a Float32Array, an array of numbers or a WasmBuffer/);
      // @ts-expect-error wrong type
      expect(() => fn(x9, null)).toThrowError(/target must be a Float32Array/);
      // @ts-expect-error wrong type
      expect(() => fn(x9, 3)).toThrowError(TypeError);
    }
    // @ts-expect-error wrong type
    expect(() => bce.sigmoid({})).toThrowError(/sigmoid: input must be/);
  });

  it('gradOutput: an array only for none, and of the input length', () => {
    expect(() => binaryCrossEntropyBackward(x9, y9, { gradOutput: [1, 2] })).toThrowError(
      /gradOutput must be a number for reduction 'mean'/,
    );
    expect(() => binaryCrossEntropyBackward(x9, y9, { reduction: 'none', gradOutput: [1, 2] })).toThrowError(
      /gradOutput has length 2 but input has length 9/,
    );
  });

  it('outputs of the wrong type or length', () => {
    expect(() => bceLoss(x9, y9, { reduction: 'none', out: new Float32Array(8) })).toThrowError(
      /out has length 8 but the result has 9 elements/,
    );
    // @ts-expect-error not a Float32Array
    expect(() => binaryCrossEntropyBackward(x9, y9, { gradOut: new Float64Array(9) })).toThrowError(TypeError);
    expect(() => bce.sigmoid(x9, new Float32Array(2))).toThrowError(RangeError);
  });

  it('createBuffer of a bad length: RangeError', () => {
    expect(() => bce.createBuffer(-1)).toThrowError(RangeError);
    expect(() => bce.createBuffer(1.5)).toThrowError(RangeError);
    expect(() => bce.createBuffer(2 ** 31)).toThrowError(RangeError);
  });

  it('a buffer larger than one allocation can hold: RangeError, not a trap', () => {
    expect(() => bce.createBuffer(2 ** 30 - 1)).toThrowError(/length must be an integer from 0 to 536870908/);
    expect(bce.sigmoid([0])[0]).toBe(0.5);
  });
});
