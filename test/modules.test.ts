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
  SigmoidFocalLoss,
  sigmoidFocalLoss,
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

  it('an options object where forward takes out is named as a wrong out, not as a reduction problem', () => {
    const x = [0.5, 0.25];
    const y = [1, 0];
    const wrongOut = 'BCELoss.forward: out must be a Float32Array or a WasmBuffer, got Object';
    expect(() => new BCELoss().forward(x, y, { reduction: 'sum' } as never)).toThrowError(wrongOut);
    expect(() => new BCELoss({ reduction: 'none' }).forward(x, y, { reduction: 'sum' } as never)).toThrowError(wrongOut);
    expect(() => binaryCrossEntropy(x, y, { out: [0, 0] as never })).toThrowError(
      new TypeError('binaryCrossEntropy: out must be a Float32Array or a WasmBuffer, got Array'),
    );
    // A real out with a reduced loss is still refused for its reduction.
    expect(() => new BCELoss().forward(x, y, new Float32Array(2))).toThrowError(
      "BCELoss.forward: out receives element losses, so it needs reduction 'none' (got 'mean')",
    );
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
    expect(() => new BCEWithLogitsLoss({ pos_weight: [1] })).toThrowError(/unknown option 'pos_weight' \(did you mean 'posWeight'\?\)/);
    // BCELoss has no posWeight: the hint the function gives, naming the class that has it.
    for (const key of ['posWeight', 'pos_weight']) {
      const hint = `BCELoss: posWeight${key === 'posWeight' ? '' : ` ('${key}')`} exists only for the logits loss (as in PyTorch, pos_weight); use binaryCrossEntropyWithLogits or BCEWithLogitsLoss`;
      expect(() => new BCELoss({ [key]: [1] } as never)).toThrowError(new TypeError(hint));
      expect(() => binaryCrossEntropy([0.5], [1], { [key]: [1] } as never)).toThrowError(hint.replace('BCELoss', 'binaryCrossEntropy'));
    }
    // @ts-expect-error not a reduction
    expect(() => new BCEWithLogitsLoss({ reduction: 'avg' })).toThrowError(RangeError);
  });
});

describe('module options', () => {
  const classes = [
    ['BCELoss', BCELoss, [0.8, 0.3, 0.6], binaryCrossEntropy],
    ['BCEWithLogitsLoss', BCEWithLogitsLoss, [1, -2, 0.5], binaryCrossEntropyWithLogits],
    ['SigmoidFocalLoss', SigmoidFocalLoss, [1, -2, 0.5], sigmoidFocalLoss],
  ] as const;
  const y = [1, 0, 1];

  it.each(classes)('%s uses inherited and getter options as the functions do', (_, Module, x, fn) => {
    const inherited = Object.create({ reduction: 'sum', weight: [2] });
    class Getters {
      get reduction() {
        return 'sum' as const;
      }
      get labelSmoothing() {
        return 0.1;
      }
    }
    for (const options of [inherited, new Getters()]) {
      const m = new Module(options);
      const want = (fn as (x: unknown, y: unknown, o: unknown) => number)(x, y, options);
      expect(typeof want).toBe('number');
      expect(m.forward(x, y)).toBe(want);
      expect(m.options).toEqual({ ...(options === inherited ? { reduction: 'sum', weight: [2] } : { reduction: 'sum', labelSmoothing: 0.1 }) });
    }
    // Each option is read once, at construction.
    let reads = 0;
    const counted = {
      get reduction() {
        reads++;
        return reads === 1 ? 'sum' : 'none';
      },
    };
    const m = new Module(counted as { reduction: 'sum' });
    expect(reads).toBe(1);
    expect(typeof m.forward(x, y)).toBe('number');
  });

  it.each([
    [{ gamma: -1 }, RangeError, /SigmoidFocalLoss: gamma/],
    [{ gamma: 'x' }, TypeError, /SigmoidFocalLoss: gamma/],
    [{ alpha: Number.NaN }, RangeError, /SigmoidFocalLoss: alpha/],
    [{ labelSmoothing: 5 }, RangeError, /SigmoidFocalLoss: labelSmoothing/],
    [{ reduction: 'rowMean' }, TypeError, /SigmoidFocalLoss: reduction 'rowMean' and rowLength/],
    [{ rowLength: 3 }, TypeError, /SigmoidFocalLoss: reduction 'rowMean' and rowLength/],
    [{ reduction: 'rowMean', rowLength: 2.5 }, RangeError, /SigmoidFocalLoss: rowLength/],
    [{ mask: [1, 2] }, TypeError, /SigmoidFocalLoss: mask\[1\] is 2/],
    [{ mask: new Uint8Array([0, 1, 7]) }, TypeError, /SigmoidFocalLoss: mask\[2\] is 7/],
    [{ mask: [] }, RangeError, /SigmoidFocalLoss: mask is empty/],
    [{ weight: [1, 'a'] }, TypeError, /SigmoidFocalLoss: weight\[1\] is the string/],
    [{ weight: [] }, RangeError, /SigmoidFocalLoss: weight is empty/],
    [{ weight: 'abc' }, TypeError, /SigmoidFocalLoss: weight must be/],
  ])('new SigmoidFocalLoss(%o) throws at construction, naming the class', (options, type, message) => {
    expect(() => new SigmoidFocalLoss(options as never)).toThrowError(type);
    expect(() => new SigmoidFocalLoss(options as never)).toThrowError(message);
  });

  it('the other classes check their options at construction too', () => {
    expect(() => new BCELoss({ labelSmoothing: 5 })).toThrowError(/^BCELoss: labelSmoothing/);
    expect(() => new BCELoss({ mask: [2] })).toThrowError(/^BCELoss: mask\[0\] is 2/);
    expect(() => new BCEWithLogitsLoss({ posWeight: [1, null as never] })).toThrowError(/^BCEWithLogitsLoss: posWeight\[1\]/);
    expect(() => new BCEWithLogitsLoss({ reduction: 'rowMean' })).toThrowError(/^BCEWithLogitsLoss: reduction 'rowMean'/);
  });

  it('per-call options are read once each and errors name the method', () => {
    const m = new BCELoss({ reduction: 'none' });
    expect(() => m.backward([0.5, 0.5], [1, 0], { gradOutput: [1] })).toThrowError(/^BCELoss\.backward: gradOutput has length 1/);
    expect(() => m.forwardBackward([0.5], [1], { gradOut: [1] as never })).toThrowError(/^BCELoss\.forwardBackward: gradOut/);
    expect(() => m.forward([2], [1])).toThrowError(/^BCELoss\.forward: input\[0\]/);
    const inherited = Object.create({ gradOutput: [3, 3] });
    expect(m.backward([0.5, 0.5], [1, 0], inherited)).toEqual(binaryCrossEntropyBackward([0.5, 0.5], [1, 0], { reduction: 'none', gradOutput: [3, 3] }));
  });
});
