// The lean path of small calls (ts/pass.ts, leanPass): input and target both WasmBuffers or both
// Float32Arrays, options at most reduction/out/gradOut. It must give the general path's results bit
// for bit and its errors, word for word; plain arrays always take the general path, so they are the
// reference here.
import { describe, expect, it } from 'vitest';
import * as bce from 'bce-wasm';
import './setup.js';

type Fn = (x: bce.FloatInput, y: bce.FloatInput, o?: object) => unknown;
const OPS: [string, Fn, boolean, boolean][] = [
  // name, function, computes the loss, computes the gradient
  ['binaryCrossEntropy', bce.binaryCrossEntropy as Fn, true, false],
  ['binaryCrossEntropyBackward', bce.binaryCrossEntropyBackward as Fn, false, true],
  ['binaryCrossEntropyForwardBackward', bce.binaryCrossEntropyForwardBackward as Fn, true, true],
  ['binaryCrossEntropyWithLogits', bce.binaryCrossEntropyWithLogits as Fn, true, false],
  ['binaryCrossEntropyWithLogitsBackward', bce.binaryCrossEntropyWithLogitsBackward as Fn, false, true],
  ['binaryCrossEntropyWithLogitsForwardBackward', bce.binaryCrossEntropyWithLogitsForwardBackward as Fn, true, true],
];

/** Bit patterns, so that NaN and -0 compare exactly. */
const bits = (v: unknown): unknown => {
  if (typeof v === 'number') return Array.from(new Uint32Array(new Float64Array([v]).buffer));
  if (v instanceof Float32Array) return Array.from(new Uint32Array(v.slice().buffer));
  const r = v as { loss: unknown; grad: unknown };
  return { loss: bits(r.loss), grad: bits(r.grad) };
};

function data(n: number, logits: boolean): [Float32Array, Float32Array] {
  const x = Float32Array.from({ length: n }, (_, i) => (logits ? Math.sin(i * 12.9898) * 6 : (Math.sin(i * 12.9898) + 1) / 2));
  const y = Float32Array.from({ length: n }, (_, i) => ((i * 7) % 3 === 0 ? 1 : (i % 5) / 4));
  if (n > 2) x[2] = logits ? -0 : 0; // and a special value or two
  if (n > 5) x[5] = logits ? 80 : 1;
  return [x, y];
}

describe('small calls: the lean path agrees with the general path', () => {
  const PIECE = 1 << 14;
  it.each(OPS)('%s: every reduction, with and without outputs, WasmBuffers and Float32Arrays', (name, fn, wantLoss, wantGrad) => {
    const logits = name.includes('Logits');
    for (const n of [1, 3, 4, 15, 16, 17, 64, 1000, PIECE, PIECE + 1]) {
      const [x, y] = data(n, logits);
      for (const reduction of [undefined, 'mean', 'sum', 'none'] as const) {
        for (const outputs of [false, true]) {
          const general = (o: object) => fn(Array.from(x), Array.from(y), o);
          const opts = (out: () => bce.FloatOutput): Record<string, unknown> => {
            const o: Record<string, unknown> = reduction === undefined ? {} : { reduction };
            if (outputs && wantLoss && reduction === 'none') o.out = out();
            if (outputs && wantGrad) o.gradOut = out();
            return o;
          };
          const want = bits(general(opts(() => new Float32Array(n))));
          const ctx = `${name} n=${n} reduction=${reduction} outputs=${outputs}`;
          // Float32Arrays, and no options object at all for the default.
          expect(bits(fn(x.slice(), y.slice(), opts(() => new Float32Array(n)))), ctx).toEqual(want);
          if (reduction === undefined && !outputs) expect(bits(fn(x.slice(), y.slice())), ctx).toEqual(want);
          // WasmBuffers (and outputs in WebAssembly memory).
          const made: bce.WasmBuffer[] = [];
          const buffer = (v: Float32Array | number) => {
            const b = bce.createBuffer(v);
            made.push(b);
            return b;
          };
          expect(bits(fn(buffer(x), buffer(y), opts(() => buffer(n)))), ctx).toEqual(want);
          for (const b of made) b.free();
        }
      }
    }
  });

  it('in place: an output that is exactly the input or the target', () => {
    const [x, y] = data(64, true);
    const want = bce.binaryCrossEntropyWithLogitsForwardBackward(Array.from(x), Array.from(y), { reduction: 'none' });
    const X = bce.createBuffer(x);
    const Y = bce.createBuffer(y);
    const r = bce.binaryCrossEntropyWithLogitsForwardBackward(X, Y, { reduction: 'none', out: Y, gradOut: X });
    expect(r.loss).toBe(Y.view);
    expect(r.grad).toBe(X.view);
    expect(bits(r)).toEqual(bits(want));
    const x2 = x.slice();
    const y2 = y.slice();
    const r2 = bce.binaryCrossEntropyWithLogitsForwardBackward(x2, y2, { reduction: 'none', out: y2, gradOut: x2 });
    expect(r2.loss).toBe(y2);
    expect(r2.grad).toBe(x2);
    expect(bits(r2)).toEqual(bits(want));
    X.free();
    Y.free();
  });

  it('NaN data gives NaN, not an error; an element outside [0, 1] gives the OutOfRangeError', () => {
    for (const input of [new Float32Array([0.5, NaN, 1]), bce.createBuffer([0.5, NaN, 1])]) {
      expect(bce.binaryCrossEntropyWithLogits(input, new Float32Array([1, 0, 1]))).toBeNaN();
      // On probabilities NaN is out of range, as in PyTorch.
      expect(() => bce.binaryCrossEntropy(input, new Float32Array([1, 0, 1]))).toThrowError(
        'binaryCrossEntropy: input[1] = NaN is outside [0, 1]; all elements of input should be between 0 and 1',
      );
    }
    const t = bce.createBuffer([0, 2, 1]);
    let err: unknown;
    try {
      bce.binaryCrossEntropyForwardBackward(new Float32Array(3).fill(0.5), t, { reduction: 'sum' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(bce.OutOfRangeError);
    expect(err).toMatchObject({ argument: 'target', index: 1, value: 2 });
    // A NaN loss that is no error (a NaN weight): the call goes on.
    expect(bce.binaryCrossEntropy(new Float32Array([0.5, 0.5]), new Float32Array([1, 1]), { weight: [NaN] })).toBeNaN();
    t.free();
  });
});

describe('small calls: the lean shapes get the general errors', () => {
  const fb = bce.binaryCrossEntropyWithLogitsForwardBackward as Fn;
  const x = new Float32Array(8).fill(0.5);
  const y = new Float32Array(8).fill(1);

  it('the same message for a typed or WasmBuffer call as for a plain array', () => {
    const X = bce.createBuffer(x);
    const Y = bce.createBuffer(y);
    const freed = bce.createBuffer(8);
    freed.free();
    const shared = new Float32Array(24);
    const cases: [string, () => unknown][] = [
      ['gradOut of the wrong length', () => fb(x, y, { gradOut: new Float32Array(7) })],
      ['gradOut of the wrong length (WasmBuffers)', () => fb(X, Y, { gradOut: bce.createBuffer(9) })],
      ['out without reduction none', () => fb(X, Y, { out: new Float32Array(8) })],
      ['out and gradOut the same WasmBuffer', () => fb(X, Y, { reduction: 'none', out: X, gradOut: X })],
      ['a freed target', () => fb(X, freed)],
      ['a freed gradOut', () => fb(X, Y, { gradOut: freed })],
      ['a target of another length', () => fb(x, y.subarray(1))],
      ['a shifted view as gradOut', () => fb(shared.subarray(0, 8), y, { gradOut: shared.subarray(1, 9) })],
      ['a bad reduction', () => fb(x, y, { reduction: 'avg' })],
      ['a typo', () => fb(X, Y, { gradout: Y })],
      ['gradOut on the forward', () => (bce.binaryCrossEntropyWithLogits as Fn)(x, y, { gradOut: new Float32Array(8) })],
      ['a Float64Array gradOut', () => fb(x, y, { gradOut: new Float64Array(8) })],
    ];
    for (const [what, call] of cases) {
      expect(call, what).toThrow();
      let message = '';
      try {
        call();
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message, what).toMatch(/^binaryCrossEntropyWithLogits(ForwardBackward)?: /);
    }
    expect(() => fb(shared.subarray(0, 8), y, { gradOut: shared.subarray(1, 9) })).toThrowError(/gradOut overlaps input without being the same elements/);
    expect(() => fb(X, Y, { reduction: 'none', out: X, gradOut: X })).toThrowError(/out and gradOut share memory/);
    expect(() => fb(X, freed)).toThrowError('binaryCrossEntropyWithLogitsForwardBackward: target: this WasmBuffer was freed and cannot be used again');
    X.free();
    Y.free();
  });

  it('options from a class, with getters on its prototype, are all read', () => {
    class Weighted {
      get weight() {
        return [2];
      }
    }
    const want = bce.binaryCrossEntropyWithLogits(Array.from(x), Array.from(y), { weight: [2] });
    expect(bce.binaryCrossEntropyWithLogits(x, y, new Weighted())).toBe(want);
    expect(bce.binaryCrossEntropyWithLogits(x, y)).toBe(want / 2);
  });

  it('each option is read once, in the lean shapes too', () => {
    for (const input of [x, bce.createBuffer(x)]) {
      const target = input instanceof Float32Array ? y : bce.createBuffer(y);
      const good = input instanceof Float32Array ? new Float32Array(8) : bce.createBuffer(8);
      let reads = 0;
      const opts = {
        get gradOut() {
          reads++;
          return reads === 1 ? good : new Float32Array(2);
        },
      };
      const r = fb(input, target, opts) as bce.ForwardBackward;
      expect(reads).toBe(1);
      expect(r.grad).toBe(good instanceof Float32Array ? good : good.view);
    }
  });
});
