import { describe, expect, it } from 'vitest';
import * as bce from 'bce-wasm';
import './setup.js';

describe('createAccumulator options', () => {
  it.each([
    [true, 'probabilities'],
    [false, 'logits'],
    [false, 'focal'],
  ] as const)('logits: %s with loss: %s is a TypeError naming both', (logits, loss) => {
    expect(() => bce.createAccumulator({ logits, loss })).toThrowError(TypeError);
    expect(() => bce.createAccumulator({ logits, loss })).toThrowError(
      new RegExp(`createAccumulator: logits: ${logits} and loss: '${loss}' contradict`),
    );
  });

  it.each([
    [true, 'logits'],
    [true, 'focal'],
    [false, 'probabilities'],
  ] as const)('logits: %s with loss: %s agree', (logits, loss) => {
    const acc = bce.createAccumulator({ logits, loss });
    acc.add([0.5], [1]);
    const want = loss === 'probabilities' ? bce.binaryCrossEntropy : loss === 'logits' ? bce.binaryCrossEntropyWithLogits : bce.sigmoidFocalLoss;
    expect(acc.result().sum).toBe(want([0.5], [1], { reduction: 'sum' }));
  });
});

describe('createAccumulator checks its options at construction', () => {
  it.each([
    [{ mask: [1, 2] }, TypeError, /^createAccumulator: mask\[1\] is 2/],
    [{ mask: new Uint8Array([3]) }, TypeError, /^createAccumulator: mask\[0\] is 3/],
    [{ weight: [1, 'a'] }, TypeError, /^createAccumulator: weight\[1\] is the string/],
    [{ logits: true, posWeight: [null] }, TypeError, /^createAccumulator: posWeight\[0\]/],
    [{ weight: [] }, RangeError, /^createAccumulator: weight is empty/],
  ])('%o', (options, type, message) => {
    expect(() => bce.createAccumulator(options as never)).toThrowError(type);
    expect(() => bce.createAccumulator(options as never)).toThrowError(message);
  });
});
