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
