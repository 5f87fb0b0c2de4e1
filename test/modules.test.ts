import { describe, expect, it } from 'vitest';
import {
  BCELoss,
  BCEWithLogitsLoss,
  binaryCrossEntropy,
  binaryCrossEntropyBackward,
  binaryCrossEntropyWithLogits,
  binaryCrossEntropyWithLogitsBackward,
  Sigmoid,
  sigmoid,
} from 'bce-wasm';
import './setup.js';

const logits = [1.9072, 1.1079, 1.4906, -0.6584, -0.0512, 0.7608, -0.0614, 0.6583, 0.1095];
const target = [0, 1, 1, 1, 1, 1, 0, 0, 0];

describe('torch.nn-style modules', () => {
  it('Sigmoid + BCELoss reproduce the seed: tensor(0.8000)', () => {
    const m = new Sigmoid();
    const loss = new BCELoss();
    const p = m.forward(logits);
    expect(p).toEqual(sigmoid(logits));
    expect(loss.forward(p, target).toFixed(4)).toBe('0.8000');
  });

  it('BCELoss forwards its options to every call', () => {
    const p = sigmoid(logits);
    const weight = [1, 2, 3];
    const l = new BCELoss({ weight, reduction: 'sum' });
    expect(l.forward(p, target)).toBe(binaryCrossEntropy(p, target, { weight, reduction: 'sum' }));
    expect(l.backward(p, target, { gradOutput: 2 })).toEqual(
      binaryCrossEntropyBackward(p, target, { weight, reduction: 'sum', gradOutput: 2 }),
    );
    const none = new BCELoss({ reduction: 'none' });
    const fb = none.forwardBackward(p, target);
    expect(fb.loss).toEqual(binaryCrossEntropy(p, target, { reduction: 'none' }));
    expect(fb.loss).toBeInstanceOf(Float32Array);
  });

  it('BCEWithLogitsLoss with posWeight', () => {
    const posWeight = [3, 1, 0.5];
    const l = new BCEWithLogitsLoss({ posWeight });
    expect(l.forward(logits, target)).toBe(binaryCrossEntropyWithLogits(logits, target, { posWeight }));
    expect(l.forwardBackward(logits, target).grad).toEqual(
      binaryCrossEntropyWithLogitsBackward(logits, target, { posWeight }),
    );
    const out = new Float32Array(9);
    expect(new BCEWithLogitsLoss({ reduction: 'none' }).forward(logits, target, out)).toBe(out);
  });

  it('constructors reject unknown options and reductions', () => {
    // @ts-expect-error unknown option
    expect(() => new BCELoss({ pos_weight: [1] })).toThrowError(/unknown option 'pos_weight'/);
    // @ts-expect-error BCELoss has no posWeight
    expect(() => new BCELoss({ posWeight: [1] })).toThrowError(TypeError);
    // @ts-expect-error not a reduction
    expect(() => new BCEWithLogitsLoss({ reduction: 'avg' })).toThrowError(RangeError);
  });
});
