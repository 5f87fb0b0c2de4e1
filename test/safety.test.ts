// Defects an outside test found (issue 8), each with its class: wrong numbers from special values
// and coerced elements, ignored option typos, and memory corrupted or detached by large or failing
// calls. Every test here failed before its fix.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import * as bce from 'bce-wasm';
import './setup.js';

const require = createRequire(import.meta.url);
type Bce = typeof import('bce-wasm');

/** Every loss function, with a valid (input, target) pair for it. */
const LOSSES = [
  ['binaryCrossEntropy', [0.2, 0.4, 0.6, 0.8, 0.9], [0, 1, 1, 0, 1]],
  ['binaryCrossEntropyBackward', [0.2, 0.4, 0.6, 0.8, 0.9], [0, 1, 1, 0, 1]],
  ['binaryCrossEntropyForwardBackward', [0.2, 0.4, 0.6, 0.8, 0.9], [0, 1, 1, 0, 1]],
  ['binaryCrossEntropyWithLogits', [-2, -1, 0, 1, 2], [0, 1, 1, 0, 1]],
  ['binaryCrossEntropyWithLogitsBackward', [-2, -1, 0, 1, 2], [0, 1, 1, 0, 1]],
  ['binaryCrossEntropyWithLogitsForwardBackward', [-2, -1, 0, 1, 2], [0, 1, 1, 0, 1]],
] as const;
type LossName = (typeof LOSSES)[number][0];
const call = (name: LossName, ...args: unknown[]) => (bce[name] as (...a: unknown[]) => unknown)(...args);

describe('-0 and values that round to -0 as probabilities (PyTorch: log(-0) = -inf, clamped to -100)', () => {
  async function both(): Promise<Bce[]> {
    vi.resetModules();
    const scalar = await import('bce-wasm');
    scalar.initSync(readFileSync(require.resolve('bce-wasm/bce_wasm_scalar.wasm')));
    return [bce, scalar];
  }

  it('binaryCrossEntropy([-0], [1]) is 100 in both builds, in every lane position and tail', async () => {
    for (const m of await both()) {
      expect(m.binaryCrossEntropy([-0], [1])).toBe(100);
      for (const n of [1, 3, 4, 5, 16, 17, 33]) {
        for (const at of [0, n - 1, n >> 1]) {
          const x = new Float32Array(n).fill(0.5);
          const y = new Float32Array(n).fill(0);
          x[at] = -0;
          y[at] = 1;
          const l = m.binaryCrossEntropy(x, y, { reduction: 'none' });
          expect(l[at]).toBe(100);
          expect(m.binaryCrossEntropy(x, y, { reduction: 'sum' })).toBeCloseTo(100 + (n - 1) * Math.log(2), 4);
          // The gradient is PyTorch's: (x - y) / max((1 - x) x, 1e-12) = -1e12.
          expect(m.binaryCrossEntropyBackward(x, y, { reduction: 'none' })[at]).toBe(Math.fround(-1e12));
        }
      }
    }
  });

  it('a float64 -1e-300 rounds to -0 on the way in: still 100, never negative', () => {
    expect(bce.binaryCrossEntropy(new Float64Array([-1e-300]), [1])).toBe(100);
    expect(bce.binaryCrossEntropy([-1e-300, 0.5], [1, 1], { reduction: 'none' })[0]).toBe(100);
    // ... and -0 with target 0 is an exact 0 loss, like +0.
    expect(bce.binaryCrossEntropy([-0], [0])).toBe(0);
    expect(bce.binaryCrossEntropy([-0], [-0])).toBe(0);
  });
});

describe('elements that are not numbers: TypeError naming the argument and the index', () => {
  const BAD: [string, unknown][] = [
    ['null', null],
    ['a numeric string', '0.5'],
    ['true', true],
    ['undefined', undefined],
    ['an object', {}],
    ['a BigInt', 1n],
  ];

  it.each(BAD)('%s in input, target, weight, posWeight, gradOutput of every loss', (_label, bad) => {
    for (const [name, x, y] of LOSSES) {
      const logits = name.includes('Logits');
      const backward = name.includes('Backward');
      const args: [string, (v: unknown[]) => unknown[]][] = [
        ['input', (v) => [v, y]],
        ['target', (v) => [x, v]],
        ['weight', (v) => [x, y, { weight: v }]],
      ];
      if (logits) args.push(['posWeight', (v) => [x, y, { posWeight: v }]]);
      if (backward) args.push(['gradOutput', (v) => [x, y, { reduction: 'none', gradOutput: v }]]);
      for (const [arg, make] of args) {
        const v: unknown[] = [...(arg === 'input' ? x : arg === 'target' ? y : [1, 1, 1, 1, 1])];
        v[3] = bad;
        expect(() => call(name, ...make(v)), `${name} ${arg}`).toThrowError(TypeError);
        expect(() => call(name, ...make(v)), `${name} ${arg}`).toThrowError(`${name}: ${arg}[3] is `);
      }
    }
  });

  it('a hole in a sparse array', () => {
    const x = [0.5, 0.5, 0.5];
    delete (x as unknown[])[1];
    expect(() => bce.binaryCrossEntropy(x, [1, 1, 1])).toThrowError(/input\[1\] is undefined/);
    expect(() => bce.sigmoid(x)).toThrowError(/sigmoid: input\[1\] is undefined/);
    expect(() => bce.createBuffer(x)).toThrowError(/createBuffer: values\[1\] is undefined/);
  });

  it('far into a long plain array (a later piece), with the index in the whole array', () => {
    const x: unknown[] = new Array(100_000).fill(0.5);
    x[70_001] = '0.5';
    expect(() => bce.binaryCrossEntropy(x as number[], new Float32Array(100_000))).toThrowError(
      "binaryCrossEntropy: input[70001] is the string '0.5', not a number",
    );
  });

  it('BigInt typed arrays are refused by name; other typed arrays convert', () => {
    expect(() => bce.sigmoid(new BigInt64Array(3) as unknown as Float32Array)).toThrowError(/sigmoid: input must hold numbers, got a BigInt64Array \(convert it to Float32Array\)/);
    // A mask is bytes: the hint says so (it said Float32Array).
    expect(() => bce.binaryCrossEntropy([0.5], [1], { mask: new BigUint64Array(1) as unknown as Uint8Array })).toThrowError(/mask must hold numbers, got a BigUint64Array \(convert it to Uint8Array\)/);
    expect(bce.binaryCrossEntropy(new Uint8Array([1, 0]), new Uint8Array([1, 0]))).toBe(0);
    expect(bce.sigmoid(new Int16Array([0]))[0]).toBe(0.5);
  });
});

describe('unknown option keys: TypeError naming the key and the likely one', () => {
  it.each([
    [{ reductions: 'sum' }, 'reductions', 'reduction'],
    [{ Reduction: 'sum' }, 'Reduction', 'reduction'],
    [{ weights: [1] }, 'weights', 'weight'],
  ])('%j in every loss', (opts, key, guess) => {
    for (const [name, x, y] of LOSSES) {
      expect(() => call(name, x, y, opts)).toThrowError(new RegExp(`${name}: unknown option '${key}' \\(did you mean '${guess}'\\?\\)`));
    }
  });

  it.each(['posweight', 'pos_weight', 'posWeights'])('%s in the logits losses', (key) => {
    for (const [name, x, y] of LOSSES.filter(([n]) => n.includes('Logits'))) {
      expect(() => call(name, x, y, { [key]: [100] })).toThrowError(`unknown option '${key}' (did you mean 'posWeight'?)`);
    }
  });

  it('options of another variant are refused too, and a key with nothing close gets the list', () => {
    expect(() => bce.binaryCrossEntropy([0.5], [1], { gradOutput: 2 } as object)).toThrowError(/unknown option 'gradOutput'/);
    expect(() => bce.binaryCrossEntropyBackward([0.5], [1], { out: new Float32Array(1) } as object)).toThrowError(/unknown option 'out'/);
    expect(() => bce.binaryCrossEntropy([0.5], [1], { foo: 1 } as object)).toThrowError(/unknown option 'foo'; valid options: weight, reduction, labelSmoothing, mask, rowLength, out/);
  });

  it('out with a reduction that returns a number is an error, not ignored', () => {
    expect(() => bce.binaryCrossEntropy([0.5], [1], { out: new Float32Array(1) })).toThrowError(/out receives element losses/);
  });

  it('the accumulator, the module classes and their per-call overrides', () => {
    expect(() => bce.createAccumulator({ logit: true } as object)).toThrowError("createAccumulator: unknown option 'logit' (did you mean 'logits'?)");
    expect(() => bce.createAccumulator({ logits: 'yes' } as object)).toThrowError(/logits must be a boolean/);
    expect(() => bce.createAccumulator({ posWeight: [2] })).toThrowError(/posWeight exists only for the logits loss/);
    expect(() => new bce.BCELoss({ reductions: 'sum' } as object)).toThrowError(/did you mean 'reduction'/);
    const m = new bce.BCEWithLogitsLoss();
    expect(() => m.backward([1], [1], { gradOutputs: 2 } as object)).toThrowError(
      "BCEWithLogitsLoss.backward: unknown option 'gradOutputs' (did you mean 'gradOutput'?)",
    );
    expect(() => m.forwardBackward([1], [1], { reduction: 'sum' } as object)).toThrowError(/unknown option 'reduction'/);
  });

  it('each option is read once: a getter cannot swap a checked output for an unchecked one', () => {
    let reads = 0;
    const good = new Float32Array(5);
    const opts = {
      reduction: 'none' as const,
      get out() {
        reads++;
        return reads === 1 ? good : new Float32Array(2);
      },
    };
    const r = bce.binaryCrossEntropy([0.2, 0.4, 0.6, 0.8, 0.9], [0, 1, 1, 0, 1], opts);
    expect(r).toBe(good);
    expect(reads).toBe(1);
    expect(good[4]).toBeCloseTo(-Math.log(0.9), 6);
  });

  it('posWeight (or a misspelling of it) on the probability loss says where it belongs', () => {
    for (const key of ['posWeight', 'pos_weight']) {
      expect(() => bce.binaryCrossEntropy([0.5], [1], { [key]: [2] } as object)).toThrowError(
        `binaryCrossEntropy: posWeight${key === 'posWeight' ? '' : ` ('${key}')`} exists only for the logits loss`,
      );
    }
  });

  it('keys whose value is undefined are ignored', () => {
    expect(bce.binaryCrossEntropy([0.5], [1], { reductions: undefined } as object)).toBeCloseTo(Math.LN2, 6);
  });
});

describe('memory: sizes, failed calls, views of WebAssembly memory', () => {
  const memBytes = () => bce.wasmMemory().buffer.byteLength;

  it('createBuffer beyond what one block can hold: RangeError naming the limit; nothing changes', () => {
    const keep = bce.createBuffer(new Float32Array(1000).fill(0.25));
    const before = memBytes();
    for (const n of [2 ** 29, 2 ** 30 - 1, 2 ** 32, 2 ** 32 + 4, 2 ** 53]) {
      expect(() => bce.createBuffer(n)).toThrowError(/createBuffer: length must be an integer from 0 to 536870908/);
    }
    expect(memBytes()).toBe(before);
    bce.sigmoid(new Float32Array(1000).fill(9));
    expect(keep.view[0]).toBe(0.25);
    keep.free();
  });

  it('a call on more than 2^29 elements works (streamed) and corrupts nothing', () => {
    const big = new Float32Array(2 ** 29 + 4);
    big[2 ** 29 + 3] = 40;
    const before = memBytes();
    const s = bce.sigmoid(big);
    expect(s.length).toBe(2 ** 29 + 4);
    expect(s[0]).toBe(0.5);
    expect(s[2 ** 29 + 3]).toBe(1);
    expect(memBytes()).toBe(before);
    const keep = bce.createBuffer(new Float32Array(1000).fill(0.25));
    bce.sigmoid(new Float32Array(1000).fill(9));
    expect(keep.view[0]).toBe(0.25);
    keep.free();
  }, 120_000);

  it('scratch is bounded: plain-array calls of any size never grow memory', () => {
    bce.sigmoid([0]);
    const before = memBytes();
    for (const n of [1, 1000, 100_000, 3_000_001]) {
      const x = new Float32Array(n).fill(0.3);
      bce.binaryCrossEntropyForwardBackward(x, x, { reduction: 'none', weight: x });
      bce.binaryCrossEntropyWithLogitsForwardBackward(Array.from(x.subarray(0, 50_000)), x.subarray(0, 50_000), { posWeight: x.subarray(0, 50_000) });
      bce.sigmoid(x);
    }
    expect(memBytes()).toBe(before);
  });

  it('a failed call of any kind leaves every buffer and every later call as if it had never been made', () => {
    const a = bce.createBuffer(Float32Array.from({ length: 4095 }, (_, i) => (i % 100) / 100));
    const b = bce.createBuffer(Float32Array.from({ length: 4095 }, (_, i) => ((i * 7) % 100) / 100));
    const freed = bce.createBuffer(3);
    freed.free();
    const snapshot = () => [Array.from(a.view), Array.from(b.view), memBytes()];
    const reference = () => [
      bce.binaryCrossEntropyForwardBackward(a, b, { reduction: 'none' }),
      bce.binaryCrossEntropyWithLogitsForwardBackward(Array.from(a.view), b, { weight: [1, 2, 3, 4, 5, 6, 7], posWeight: [2] }),
      bce.sigmoid(Array.from(b.view)),
    ];
    const before = snapshot();
    const expected = JSON.stringify(reference());
    const failing: (() => unknown)[] = [
      () => bce.sigmoid(new Float32Array(2 ** 29 + 4), new Float32Array(3)),
      () => bce.binaryCrossEntropy(a, b, { reduction: 'none', out: new Float32Array(4094) }),
      () => bce.binaryCrossEntropy(a, [...b.view.subarray(0, 4094), 2]),
      () => bce.binaryCrossEntropy([...a.view.subarray(0, 4094), NaN], b),
      () => bce.binaryCrossEntropyWithLogits(a, b, { weight: new Float32Array(4094) }),
      () => bce.binaryCrossEntropyWithLogits(a, freed),
      () => bce.binaryCrossEntropyWithLogits(a, b, { reductions: 'sum' } as object),
      () => bce.binaryCrossEntropyWithLogits([...a.view, null] as number[], [...b.view, 1]),
      () => bce.createBuffer(2 ** 32),
      () => bce.createBuffer(freed),
      () => bce.sigmoid({ length: 2 ** 60 } as ArrayLike<number>),
    ];
    for (const f of failing) {
      expect(f).toThrow();
      expect(snapshot()).toEqual(before);
      expect(JSON.stringify(reference())).toBe(expected);
    }
    a.free();
    b.free();
  });

  it('a Float32Array over WebAssembly memory is used in place (input, target, out, gradOut), and is not detached', () => {
    const n = 2 ** 20 + 3;
    const X = bce.createBuffer(n);
    X.view.fill(0.25);
    const O = bce.createBuffer(n);
    const G = bce.createBuffer(n);
    const o = O.view;
    const r = bce.binaryCrossEntropyForwardBackward(X.view, X.view, { reduction: 'none', out: o, gradOut: G.view });
    expect(r.loss).toBe(o);
    expect(o.length).toBe(n);
    expect(o[n - 1]).toBeCloseTo(-(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75)), 6);
    expect(r.grad[0]).toBe(0);
    // A view of part of a buffer works by its offset too.
    const part = X.view.subarray(5, 13);
    const l = bce.binaryCrossEntropyWithLogits(part, part, { reduction: 'none', out: O.view.subarray(100, 108) });
    expect(l.byteOffset).toBe(O.view.byteOffset + 400);
    expect(bce.sigmoid(part, part)[0]).toBe(part[0]);
    X.free();
    O.free();
    G.free();
  });

  it('createBuffer(aWasmBuffer) copies a live one and refuses a freed one', () => {
    const src = bce.createBuffer([1, 2, 3]);
    const copy = bce.createBuffer(src);
    expect(Array.from(copy.view)).toEqual([1, 2, 3]);
    copy.view[0] = 9;
    expect(src.view[0]).toBe(1);
    // A view of WebAssembly memory as the source, across the growth the new buffer may cause.
    const fromView = bce.createBuffer(src.view);
    expect(Array.from(fromView.view)).toEqual([1, 2, 3]);
    src.free();
    expect(() => bce.createBuffer(src)).toThrowError(/createBuffer: values: this WasmBuffer was freed/);
    copy.free();
    fromView.free();
  });
});

describe('the pool checks as the functions do (split calls included)', () => {
  it('element types and option keys, above the threshold', async () => {
    const { createPool } = await import('bce-wasm/pool');
    const pool = createPool({ threads: 2, threshold: 0 });
    try {
      const x = new Array(1000).fill(0.5);
      const y = new Array(1000).fill(1);
      x[700] = null;
      await expect(pool.binaryCrossEntropy(x, y)).rejects.toThrowError('binaryCrossEntropy: input[700] is null, not a number');
      x[700] = 0.5;
      const w: unknown[] = [1, 2, '3'];
      await expect(pool.binaryCrossEntropyWithLogits(x.slice(0, 999), y.slice(0, 999), { weight: w as number[] })).rejects.toThrowError(
        "binaryCrossEntropyWithLogits: weight[2] is the string '3', not a number",
      );
      await expect(pool.binaryCrossEntropyWithLogits(x, y, { pos_weight: [2] } as object)).rejects.toThrowError(
        "unknown option 'pos_weight' (did you mean 'posWeight'?)",
      );
      await expect(pool.binaryCrossEntropyBackward(x, y, { reductions: 'sum' } as object)).rejects.toThrowError(/did you mean 'reduction'/);
      // The pool still serves, with the same numbers as one call.
      x[3] = -0;
      expect(await pool.binaryCrossEntropy(x, y, { reduction: 'sum' })).toBeCloseTo(bce.binaryCrossEntropy(x, y, { reduction: 'sum' }), 9);
    } finally {
      await pool.close();
    }
  });
});

describe("an outside tester's second round", () => {
  it('an output that overlaps an operand without being it: RangeError (PyTorch refuses it too); exact aliasing works', () => {
    const buf = bce.createBuffer(Float32Array.from({ length: 80 }, (_, i) => i / 20 - 2));
    const v = buf.view;
    expect(() => bce.sigmoid(v.subarray(0, 39), v.subarray(1, 40))).toThrowError(/sigmoid: out overlaps input without being the same elements/);
    const plain = new Float32Array(40_001);
    expect(() => bce.sigmoid(plain.subarray(0, 40_000), plain.subarray(1))).toThrowError(RangeError);
    const y = new Float32Array(64);
    expect(() =>
      bce.binaryCrossEntropyWithLogitsBackward(v.subarray(0, 64), y, { reduction: 'none', gradOut: v.subarray(2, 66) }),
    ).toThrowError(/gradOut overlaps input/);
    expect(() =>
      bce.binaryCrossEntropyWithLogits(new Float32Array(8), new Float32Array(8), { reduction: 'none', weight: v.subarray(0, 2), out: v.subarray(0, 8) }),
    ).toThrowError(/out overlaps weight/);
    const o = new Float32Array(8);
    expect(() =>
      bce.binaryCrossEntropyWithLogitsForwardBackward(new Float32Array(8), new Float32Array(8), { reduction: 'none', out: o, gradOut: o }),
    ).toThrowError(/out and gradOut share memory/);
    // Exactly in place is fine, in WebAssembly memory and in JS memory.
    const expected = bce.sigmoid(Array.from(v.subarray(0, 39)));
    expect(Array.from(bce.sigmoid(v.subarray(0, 39), v.subarray(0, 39)))).toEqual(Array.from(expected));
    const a = Float32Array.from({ length: 40_000 }, (_, i) => (i % 50) - 25);
    const want = bce.sigmoid(a.slice());
    expect(bce.sigmoid(a, a)).toEqual(want);
    buf.free();
  });

  it('a view detached by memory growth is refused by name, not read as an empty array', () => {
    const a = bce.createBuffer([0.5, 0.5]);
    const c = bce.createBuffer([1, 1]);
    const va = a.view;
    const vc = c.view;
    const big = bce.createBuffer(5_000_000);
    expect(va.length).toBe(0); // the growth happened
    expect(() => bce.binaryCrossEntropy(va, vc)).toThrowError(/binaryCrossEntropy: input is a view of a detached ArrayBuffer \(WebAssembly memory from before the memory grew/);
    expect(() => bce.sigmoid(a.view, va as Float32Array)).toThrowError(TypeError);
    expect(bce.binaryCrossEntropy(a.view, c.view)).toBeCloseTo(Math.LN2, 6);
    for (const b of [a, c, big]) b.free();
  });

  it('an empty input with a weight of length > 1 is refused as PyTorch refuses it; length 1 broadcasts', () => {
    expect(() => bce.binaryCrossEntropy([], [], { weight: [1, 2, 3] })).toThrowError(/weight of length 3 does not broadcast over input of length 0/);
    expect(bce.binaryCrossEntropy([], [], { weight: [2], reduction: 'sum' })).toBe(0);
    expect(() => bce.createAccumulator({ weight: [] })).toThrowError('createAccumulator: weight is empty; a broadcast operand needs at least one element');
  });

  it('options that are not a plain object, and unreadable or impossible lengths, get named errors', () => {
    expect(() => new bce.BCELoss(null as never)).toThrowError(/BCELoss: options must be an object/);
    expect(() => new bce.BCELoss('sum' as never)).toThrowError(/BCELoss: options must be an object/);
    expect(() => bce.createAccumulator(null as never)).toThrowError(/createAccumulator: options must be an object/);
    expect(() => bce.binaryCrossEntropy([0.5], [1], new Map([['reduction', 'sum']]) as never)).toThrowError(/options must be an object.*Map/);
    expect(() => bce.sigmoid(new Proxy(new Float32Array(2), {}))).toThrowError(/sigmoid: input: its length cannot be read/);
    expect(() => bce.sigmoid({ length: 2 ** 40 } as ArrayLike<number>)).toThrowError(/sigmoid: a result of 1099511627776 elements/);
    const m = new bce.BCELoss({ reduction: 'sum' });
    expect(Object.isFrozen(m.options)).toBe(true);
  });
});

describe('the pool checks outputs before it splits a call', () => {
  it('wrong length, wrong type, a plain array, a freed buffer: the single-thread errors, before any work', async () => {
    const { createPool } = await import('bce-wasm/pool');
    const pool = createPool({ threads: 2, threshold: 0 });
    // The package as the pool's module graph has it (an earlier test reset the module registry).
    const core = await import('bce-wasm');
    await core.init();
    const n = 100_000;
    const x = new Float32Array(n).fill(0.5);
    const freed = core.createBuffer(n);
    freed.free();
    try {
      const cases: [unknown, RegExp][] = [
        [new Float32Array(n + 10), /out has length 100010 but the result has 100000 elements/],
        [new Float32Array(n - 10), /out has length 99990/],
        [new Float64Array(n), /out must be a Float32Array or a WasmBuffer/],
        [new Array(n), /out must be a Float32Array or a WasmBuffer/],
        [freed, /out: this WasmBuffer was freed/],
        [new Float32Array(new SharedArrayBuffer(4 * (n + 10))), /out has length 100010/],
      ];
      for (const [out, message] of cases) {
        await expect(pool.binaryCrossEntropy(x, x, { reduction: 'none', out: out as Float32Array })).rejects.toThrowError(message);
      }
      const gradOut = new Float32Array(new SharedArrayBuffer(4 * (n - 10)));
      await expect(pool.binaryCrossEntropyBackward(x, x, { reduction: 'none', gradOut })).rejects.toThrowError(/gradOut has length 99990 but the result has 100000/);
      const shared = new Float32Array(new SharedArrayBuffer(4 * n));
      expect(await pool.binaryCrossEntropy(x, x, { reduction: 'none', out: shared })).toBe(shared);
    } finally {
      await pool.close();
    }
  });
});

describe("an outside tester's third round: what a typed array, a WasmBuffer or an options object says about itself", () => {
  /** A WasmBuffer of 7s right after the scratch, to see any write that overruns. */
  function victim(): bce.WasmBuffer {
    const v = bce.createBuffer(100_000);
    v.view.fill(7);
    return v;
  }
  const untouched = (v: bce.WasmBuffer) => v.view.every((e) => e === 7);

  it("a typed array's own length, buffer and offset count, not its getters or own properties (a lie overran the scratch)", () => {
    class Short extends Float32Array {
      get length() {
        return 3;
      }
    }
    class Long extends Float32Array {
      get length() {
        return 10;
      }
    }
    class Elsewhere extends Float32Array {
      get byteOffset() {
        return 0;
      }
      get buffer() {
        return bce.wasmMemory().buffer;
      }
      subarray(): Float32Array<ArrayBuffer> {
        return new Float32Array(1_000_000);
      }
    }
    const redefined = new Float32Array(50_000).fill(0.5);
    Object.defineProperty(redefined, 'length', { value: 3 });
    const v = victim();
    const honest = new Float32Array(50_000).fill(0.5);
    const target = new Float32Array(50_000).fill(1);
    for (const x of [new Short(50_000).fill(0.5), redefined, new Elsewhere(50_000).fill(0.5)]) {
      expect(bce.sigmoid(x)).toEqual(bce.sigmoid(honest));
      expect(bce.binaryCrossEntropy(x, target)).toBe(bce.binaryCrossEntropy(honest, target));
      expect(bce.binaryCrossEntropyWithLogitsForwardBackward(x, target, { reduction: 'none', weight: x })).toEqual(
        bce.binaryCrossEntropyWithLogitsForwardBackward(honest, target, { reduction: 'none', weight: honest }),
      );
      const b = bce.createBuffer(x);
      expect(b.length).toBe(50_000);
      expect(b.view.every((e) => e === 0.5)).toBe(true);
      b.free();
    }
    // Shorter than it says: its own 3 elements, not 10 read from stale scratch.
    const three = new Long(3).fill(0.5);
    expect(bce.binaryCrossEntropy(three, [1, 1, 1])).toBe(bce.binaryCrossEntropy([0.5, 0.5, 0.5], [1, 1, 1]));
    expect(() => bce.binaryCrossEntropy(three, new Float32Array(10))).toThrowError(/length/);
    // A mask that lies about its length.
    const mask = new Uint8Array(50_000).fill(1);
    Object.defineProperty(mask, 'length', { value: 2 });
    expect(bce.binaryCrossEntropy(honest, target, { mask })).toBe(bce.binaryCrossEntropy(honest, target));
    expect(untouched(v)).toBe(true);
    v.free();
  });

  it("a WasmBuffer's length cannot be set (it was a plain property: the kernels then ran past the buffer)", () => {
    const b = bce.createBuffer([0.5, 0.5]);
    const v = victim();
    expect(() => {
      (b as { length: number }).length = 5000;
    }).toThrowError(TypeError);
    expect(b.length).toBe(2);
    expect(Array.from(bce.sigmoid(b, b))).toEqual([0.5, 0.5].map((e) => 1 / (1 + Math.exp(-e))).map(Math.fround));
    expect(untouched(v)).toBe(true);
    b.free();
    v.free();
  });

  it('options a for-in does not see (non-enumerable, inherited, getters) count on the fast path too', () => {
    const x = new Float32Array([0.3, 0.6]);
    const y = new Float32Array([1, 0]);
    const opts = { reduction: 'sum' as const };
    Object.defineProperty(opts, 'weight', { get: () => [2] });
    const want = bce.binaryCrossEntropy(x, y, { reduction: 'sum', weight: [2] });
    expect(want).toBeCloseTo(2 * bce.binaryCrossEntropy(x, y, { reduction: 'sum' }), 6);
    expect(bce.binaryCrossEntropy(x, y, opts)).toBe(want);
    expect(bce.binaryCrossEntropy(x, y, Object.create(opts))).toBe(want);
    const X = bce.createBuffer(x);
    const Y = bce.createBuffer(y);
    expect(bce.binaryCrossEntropy(X, Y, opts)).toBe(want);
    const hidden = {};
    Object.defineProperty(hidden, 'labelSmoothing', { value: 0.2 });
    expect(bce.binaryCrossEntropyWithLogits(X, Y, hidden)).toBe(bce.binaryCrossEntropyWithLogits(X, Y, { labelSmoothing: 0.2 }));
    X.free();
    Y.free();
  });

  it('createBuffer copies a view of WebAssembly memory of any type before it grows memory (it read a detached view)', () => {
    const src = bce.createBuffer(32_768);
    const made: bce.WasmBuffer[] = [];
    let grew = false;
    for (let i = 0; i < 100_000 && !grew; i++) {
      const v = new Float64Array(bce.wasmMemory().buffer, src.view.byteOffset, 16_384).fill(0.25);
      const b = bce.createBuffer(v);
      made.push(b);
      grew = v.length === 0; // this very call grew memory (and detached v)
      if (grew) expect(b.view.every((e) => e === 0.25)).toBe(true);
    }
    expect(grew).toBe(true);
    for (const b of made) b.free();
    src.free();
  });

  it('a view of WebAssembly memory made before the library saw any growth is refused by name once detached', async () => {
    vi.resetModules();
    const fresh = await import('bce-wasm');
    await fresh.init();
    const early = new Float32Array(fresh.wasmMemory().buffer, 0, 4);
    const bufs = [];
    while (early.length !== 0) bufs.push(fresh.createBuffer(1 << 20));
    expect(() => fresh.sigmoid(early)).toThrowError(/sigmoid: input is a view of a detached ArrayBuffer/);
    expect(() => fresh.binaryCrossEntropy(early, early)).toThrowError(TypeError);
    for (const b of bufs) b.free();
  });
});

describe('free() while a call reads its arguments', () => {
  it('is refused (the call would still write the freed block, which the allocator keeps its lists in)', () => {
    const out = bce.createBuffer(40_000);
    const x: number[] = new Array(40_000).fill(0.5);
    let refused: unknown;
    Object.defineProperty(x, 5, {
      get() {
        try {
          out.free();
        } catch (e) {
          refused = e;
        }
        return 0.5;
      },
    });
    bce.sigmoid(x, out);
    expect(String(refused)).toMatch(/free: a WasmBuffer cannot be freed while a bce-wasm call is reading its arguments/);
    expect(out.freed).toBe(false);
    expect(out.view.every((v) => v === Math.fround(1 / (1 + Math.exp(-0.5))))).toBe(true);
    out.free();
    expect(out.freed).toBe(true);
  });
});

describe("an outside tester's fourth round: objects posing as arguments, and arguments changed by a getter during the call", () => {
  it('an object with WasmBuffer.prototype that createBuffer did not make is a TypeError naming the argument', () => {
    const fake = Object.create(bce.WasmBuffer.prototype) as bce.WasmBuffer;
    expect(() => bce.sigmoid(fake)).toThrowError(/^sigmoid: input: /);
    expect(() => bce.sigmoid([0], fake)).toThrowError(/^sigmoid: out must be a Float32Array or a WasmBuffer/);
    expect(() => bce.binaryCrossEntropy([0.5], [1], { weight: fake })).toThrowError(/^binaryCrossEntropy: weight: /);
    expect(() => new bce.BCELoss({ weight: fake })).toThrowError(/^BCELoss: weight: /);
    expect(() => bce.createBuffer(fake)).toThrowError(/^createBuffer: values: /);
    // ... and says what it is, not the engine's private-member text nor "must be a WasmBuffer, got WasmBuffer".
    expect(() => bce.sigmoid(fake)).toThrowError(/^sigmoid: input: its length cannot be read \(a WasmBuffer not made by createBuffer\)$/);
    expect(() => bce.sigmoid([0], fake)).toThrowError(/, got WasmBuffer not made by createBuffer$/);
    expect(() => bce.binaryCrossEntropy([0.5], [1], { reduction: 'none', out: fake })).toThrowError(/, got WasmBuffer not made by createBuffer$/);
    expect(() => bce.binaryCrossEntropy([0.5], [1], { mask: fake as never })).toThrowError(/^binaryCrossEntropy: mask: its length cannot be read \(a WasmBuffer not made by createBuffer\)$/);
  });

  it('the small-call path takes what is a Float32Array or a WasmBuffer, and leaves what only has the prototype to the general path', () => {
    const x = Float32Array.of(-2, -1, 0.5, 3);
    const y = Float32Array.of(0, 1, 1, 0);
    const want = bce.binaryCrossEntropyWithLogitsForwardBackward(x, y, { reduction: 'sum' });
    // A Proxy of one is instanceof Float32Array but no typed array (its length getter refuses the Proxy):
    // the general path's TypeError naming it, not the engine's from the small-call path.
    const proxy = new Proxy(x.slice(), {});
    expect(proxy instanceof Float32Array).toBe(true);
    expect(() => bce.binaryCrossEntropyWithLogitsForwardBackward(proxy, y, { reduction: 'sum' })).toThrowError(/^binaryCrossEntropyWithLogitsForwardBackward: input: its length cannot be read/);
    expect(() => bce.binaryCrossEntropyWithLogitsForwardBackward(x, new Proxy(y.slice(), {}), { reduction: 'sum' })).toThrowError(/: target: its length cannot be read/);
    const posing = Float64Array.from(x); // a Float64Array with Float32Array's prototype: copied as the Float64Array it is
    Object.setPrototypeOf(posing, Float32Array.prototype);
    expect(bce.binaryCrossEntropyWithLogitsForwardBackward(posing as unknown as Float32Array, y, { reduction: 'sum' })).toEqual(want);
    const fake = Object.create(bce.WasmBuffer.prototype) as bce.WasmBuffer;
    const Y = bce.createBuffer(y);
    expect(() => bce.binaryCrossEntropyWithLogitsForwardBackward(fake, Y)).toThrowError(/^binaryCrossEntropyWithLogitsForwardBackward: input: /);
    expect(() => bce.binaryCrossEntropyWithLogits(Y, fake)).toThrowError(/^binaryCrossEntropyWithLogits: target: /);
    Y.free();
  });

  it("a WasmBuffer's own view is used and returned, whatever its prototype says", () => {
    const wb = bce.createBuffer(3);
    Object.setPrototypeOf(wb, Object.create(Object.getPrototypeOf(wb), { view: { get: () => new Float32Array(3).fill(42) } }));
    const r = bce.sigmoid([0, 0, 0], wb);
    expect(Array.from(r)).toEqual([0.5, 0.5, 0.5]);
    expect(r.buffer).toBe(bce.wasmMemory().buffer);
    wb.free();
  });

  it("an output's own memory is written, not through its class's set()", () => {
    class NoSet extends Float32Array {
      set(): void {}
    }
    for (const n of [3, 20, 20_000]) {
      const o = new NoSet(n);
      expect(bce.sigmoid(new Float32Array(n), o)[0]).toBe(0.5);
      expect(o[n - 1]).toBe(0.5);
      const g = new NoSet(n);
      bce.binaryCrossEntropyWithLogitsBackward(new Float32Array(n), new Float32Array(n), { reduction: 'sum', gradOut: g });
      expect(g[n - 1]).toBe(0.5);
    }
  });

  it('an element getter that grows WebAssembly memory does not lose the copy (createBuffer read stale memory)', () => {
    const junk = bce.createBuffer([7, 7, 7, 7]);
    junk.free();
    const v = [0.5, 0.5, 0.5, 0.5];
    Object.defineProperty(v, 0, { get: () => (bce.wasmMemory().grow(1), 0.5) });
    expect(Array.from(bce.createBuffer(v).view)).toEqual([0.5, 0.5, 0.5, 0.5]);
    const x = Array.from({ length: 20_000 }, (_, i) => (i % 7) - 3);
    Object.defineProperty(x, 16_390, { get: () => (bce.wasmMemory().grow(1), 1) });
    const want = bce.sigmoid(Float32Array.from(x, (e, i) => (i === 16_390 ? 1 : e)));
    expect(bce.sigmoid(x)).toEqual(want);
    const mask: number[] = new Array(20_000).fill(1);
    Object.defineProperty(mask, 3, { get: () => (bce.wasmMemory().grow(1), 0) });
    const y = new Float32Array(20_000).fill(1);
    const p = new Float32Array(20_000).fill(0.5);
    expect(bce.binaryCrossEntropy(p, y, { mask, reduction: 'sum' })).toBeCloseTo(19_999 * Math.LN2, 2);
  });

  it("a rowMean's per-row gradOutput in WebAssembly memory is read across a growth that a getter causes (was a TypeError)", () => {
    // The pass read it through a view taken before, which the growth detached.
    const x = [0.3, -0.2, 0.7, 1.1, -0.4, 0.9, 0.1, -1.3];
    const t = [1, 0, 1, 1, 0, 0, 1, 0];
    const want = bce.binaryCrossEntropyWithLogitsBackward(x, t, { reduction: 'rowMean', rowLength: 4, gradOutput: [1, 2] });
    for (const grow of ['input', 'mask']) {
      // A WasmBuffer, and a Float32Array of the caller's over the module's memory (made just before the call).
      for (const made of [() => bce.createBuffer([1, 2]), () => new Float32Array(bce.wasmMemory().buffer, bce.createBuffer([1, 2]).view.byteOffset, 2)]) {
        const gradOutput = made();
        const xs = [...x];
        const mask = [1, 1, 1, 1, 1, 1, 1, 1];
        Object.defineProperty(grow === 'input' ? xs : mask, 5, { get: () => (bce.wasmMemory().grow(1), grow === 'input' ? x[5] : 1) });
        const got = bce.binaryCrossEntropyWithLogitsBackward(xs, t, { reduction: 'rowMean', rowLength: 4, gradOutput, ...(grow === 'mask' ? { mask } : {}) });
        expect(Array.from(got)).toEqual(Array.from(want));
      }
    }
  });

  it("a view of the module's memory that a getter's growth detaches before its address is taken is refused by name (its offset read 0: the weight sum came from address 0)", () => {
    const n = 8;
    const x = new Float32Array(n).fill(0.5);
    const y = new Float32Array(n).fill(1);
    const want = bce.binaryCrossEntropy(x, y, { reduction: 'weightedMean', weight: new Float32Array(n).fill(2) });
    const w = bce.createBuffer(new Float32Array(n).fill(2));
    const weight = new Float32Array(bce.wasmMemory().buffer, w.view.byteOffset, n); // the caller's own view
    expect(bce.binaryCrossEntropy(x, y, { reduction: 'weightedMean', weight })).toBe(want);
    const mask: number[] = new Array(n).fill(1);
    Object.defineProperty(mask, 3, { get: () => (bce.wasmMemory().grow(1), 1) });
    expect(() => bce.binaryCrossEntropy(x, y, { reduction: 'weightedMean', weight, mask })).toThrowError(/^binaryCrossEntropy: weight shrank or was detached during the call/);
    w.free();
  });

  it('an out/gradOut over the module\'s memory that a getter\'s growth detaches is returned as a live view of the results (it came back empty)', () => {
    // (An outside tester's finding: the values were written, but the call returned the caller's
    // detached array, Float32Array(0).)
    const x = [0.5, -1, 2];
    const y = [1, 0, 1];
    const want = bce.binaryCrossEntropyWithLogitsForwardBackward(x, y, { reduction: 'none' });
    const growing = () => {
      let grown = false;
      return new Proxy(x, { get: (t, k, r) => ((k === '1' && !grown && ((grown = true), bce.wasmMemory().grow(1))), Reflect.get(t, k, r)) });
    };
    const [a, b] = [bce.createBuffer(3), bce.createBuffer(3)];
    try {
      const r = bce.binaryCrossEntropyWithLogitsForwardBackward(growing(), y, { reduction: 'none', out: a.view, gradOut: b.view.subarray(0, 3) });
      expect(Array.from(r.loss)).toEqual(Array.from(want.loss));
      expect(Array.from(r.grad)).toEqual(Array.from(want.grad));
      expect(r.grad.byteOffset).toBe(b.view.byteOffset); // the same memory, over the current buffer
      const s = bce.sigmoid(growing(), a.view);
      expect(Array.from(s)).toEqual(Array.from(bce.sigmoid(x)));
      expect(Array.from(a.view)).toEqual(Array.from(s));
      // A WasmBuffer's own view comes back as the buffer's view now, which keeps the buffer alive as
      // the old one did (a bare new view had let the finalizer free the memory under the results).
      const v = a.view;
      const again = bce.binaryCrossEntropyWithLogitsBackward(growing(), y, { reduction: 'none', gradOut: v });
      expect(v.length).toBe(0);
      expect(again).toBe(a.view);
    } finally {
      a.free();
      b.free();
    }
  });

  it("rowMean reads a plain array's mask and per-row gradOutput once: its counts, its pass and both pieces of a row see the same values", () => {
    // (An outside tester's finding: a mask element answering 1 to the counts and 0 to the pass gave
    // row 0 the kept loss over the wrong count; a row across two pieces read its gradOutput twice.)
    const x = [0.3, -0.2, 0.7, 1.1, -0.4, 0.9, 0.1, -1.3];
    const t = [1, 0, 1, 1, 0, 0, 1, 0];
    const values = [1, 1, 1, 0, 1, 1, 1, 1];
    const fickle = () => {
      const seen = new Set<string>();
      return new Proxy(values, { get: (o, k, r) => (k === '1' ? (seen.has(k) ? 0 : (seen.add(k), 1)) : Reflect.get(o, k, r)) });
    };
    const want = bce.binaryCrossEntropyWithLogitsForwardBackward(x, t, { reduction: 'rowMean', rowLength: 4, mask: values });
    const got = bce.binaryCrossEntropyWithLogitsForwardBackward(x, t, { reduction: 'rowMean', rowLength: 4, mask: fickle() });
    expect(Array.from(got.loss)).toEqual(Array.from(want.loss));
    expect(Array.from(got.grad)).toEqual(Array.from(want.grad));
    // A row of 20,000 elements spans two pieces of the scratch: one gradOutput value for all of it.
    const n = 40_000;
    const xs = new Float32Array(n).fill(0.25);
    const ys = new Float32Array(n).fill(1);
    let reads = 0;
    const g = new Proxy([2, 3], { get: (o, k, r) => (k === '0' ? (reads++ ? 5 : 2) : Reflect.get(o, k, r)) });
    const grad = bce.binaryCrossEntropyWithLogitsBackward(xs, ys, { reduction: 'rowMean', rowLength: 20_000, gradOutput: g });
    const same = bce.binaryCrossEntropyWithLogitsBackward(xs, ys, { reduction: 'rowMean', rowLength: 20_000, gradOutput: [2, 3] });
    expect(Array.from(grad)).toEqual(Array.from(same));
    expect(reads).toBe(1);
  });

  it("a length that answers otherwise when read again does not split rowMean's counts from its pass (rows were left 0)", () => {
    // rowMean checked its arrays, then the pass checked them again: a Proxy's length read 4 then 2
    // gave four rows, two of them never computed.
    const x = [0, 0, 0, 0];
    const t = [1, 1, 1, 1];
    let reads = 0;
    const liar = new Proxy(x, { get: (o, k) => (k === 'length' ? (reads++ === 0 ? 4 : 2) : Reflect.get(o, k)) });
    const got = bce.binaryCrossEntropyWithLogits(liar, t, { reduction: 'rowMean', rowLength: 1 });
    expect(reads).toBe(1);
    expect(Array.from(got)).toEqual(new Array(4).fill(Math.fround(Math.LN2)));
  });

  it('an operand or output that a getter shrinks or detaches during the call is a TypeError naming it (was NaN, or a raw engine error)', () => {
    const n = 20_000;
    const target = () => {
      const t: number[] = new Array(n).fill(1);
      return t;
    };
    for (const Ctor of [Float64Array, Float32Array]) {
      const ab = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(Ctor.BYTES_PER_ELEMENT * n, { maxByteLength: Ctor.BYTES_PER_ELEMENT * n });
      const x = new Ctor(ab).fill(0.5);
      const t = target();
      Object.defineProperty(t, 0, { get: () => ((ab as unknown as { resize(n: number): void }).resize(0), 1) });
      expect(() => bce.binaryCrossEntropyWithLogits(x, t)).toThrowError(/^binaryCrossEntropyWithLogits: input shrank or was detached during the call/);
    }
    const o = new Float32Array(n);
    const t = target();
    Object.defineProperty(t, 0, { get: () => (structuredClone(o.buffer, { transfer: [o.buffer] }), 1) });
    expect(() => bce.binaryCrossEntropyWithLogits(new Float32Array(n), t, { reduction: 'none', out: o })).toThrowError(/^binaryCrossEntropyWithLogits: out shrank or was detached during the call/);
    // And the library works on.
    expect(bce.binaryCrossEntropy([0.5], [1])).toBeCloseTo(Math.LN2, 6);
  });
});
