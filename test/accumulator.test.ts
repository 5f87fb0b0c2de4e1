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

describe('an empty chunk adds nothing', () => {
  it.each(['probabilities', 'logits', 'focal'] as const)('%s: add([], [], mask) with an empty or one-element mask, before, between and after chunks', (loss) => {
    const x = loss === 'probabilities' ? [0.2, 0.7, 0.9] : [-1, 0.5, 2];
    const y = [0, 1, 1];
    const ref = bce.createAccumulator({ loss });
    ref.add(x, y, [1, 0, 1]);
    const acc = bce.createAccumulator({ loss });
    acc.add([], [], []);
    acc.add(x.slice(0, 2), y.slice(0, 2), [1, 0]);
    acc.add([], [], new Uint8Array(0));
    acc.add([], [], [1]);
    acc.add(x.slice(2), y.slice(2), [1]);
    acc.add(new Float32Array(0), new Float32Array(0), []);
    expect(acc.count).toBe(3);
    expect(acc.result()).toEqual(ref.result());
    // An empty chunk is still checked: its input and target must match, and its mask must be a mask.
    expect(() => acc.add([], [1], [])).toThrowError(RangeError);
    expect(() => acc.add([], [], [2, 3])).toThrowError(RangeError);
    expect(() => acc.add([], [], 'x' as never)).toThrowError(TypeError);
  });
});

describe('result() after memory grows', () => {
  it('a stream mask and weight in WebAssembly memory: the totals, and the broadcast check on the lengths read by add()', () => {
    // (An outside tester's finding: result() read the operands' lengths again, from views that a
    // growth had detached, and threw: the sums were lost.)
    const mb = bce.createBuffer(2);
    const wb = bce.createBuffer(4);
    const mask = new Uint8Array(mb.view.buffer, mb.view.byteOffset, 8);
    mask.set([1, 0, 1, 1, 0, 1, 1, 1]);
    wb.view.set([0.5, 1, 2, 3]);
    const weight = wb.view;
    const x = new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
    const y = new Float32Array(8).fill(1);
    const acc = bce.createAccumulator({ logits: true, mask, weight });
    acc.add(x, y);
    const before = acc.result();
    expect(before.count).toBe(6);
    const odd = bce.createAccumulator({ logits: true, mask, weight });
    odd.add(x.subarray(0, 4), y.subarray(0, 4));
    const other = bce.createBuffer(1 << 24); // grows memory: mask and weight are detached views now
    try {
      expect(mask.length).toBe(0);
      expect(acc.result()).toEqual(before);
      expect(acc.result().sum).toBe(bce.binaryCrossEntropyWithLogits(x, y, { mask: [1, 0, 1, 1, 0, 1, 1, 1], weight: [0.5, 1, 2, 3], reduction: 'sum' }));
      // 4 elements: the weight (4) broadcasts, the mask (8) does not, by the lengths add() read.
      expect(() => odd.result()).toThrowError(new RangeError('accumulator.result: mask of length 8 does not broadcast over input of length 4: its length must divide the input length (one value per class of [..., C] data, or per element)'));
    } finally {
      other.free();
      mb.free();
      wb.free();
    }
  });

  it('a failed add leaves what result() checks as it was (it took the lengths of the failed chunk)', () => {
    const w = [1, 2, 3];
    const acc = bce.createAccumulator({ weight: w });
    acc.add([0.2, 0.5, 0.7], [0, 1, 1]);
    const before = acc.result();
    w.push(4); // (a stream weight's length is fixed at creation since: refused before the pass)
    expect(() => acc.add([0.1, 0.2, 1.5, 0.3], [0, 0, 1, 1])).toThrowError(/weight changed length \(3, then 4\)/);
    w.pop();
    expect(() => acc.add([0.1, 0.2, 1.5], [0, 0, 1])).toThrowError(/input\[5\] = 1\.5/);
    expect(acc.count).toBe(3);
    expect(acc.result()).toEqual(before);
  });
});

describe('an array-like whose length answers otherwise when read again', () => {
  it('is refused by add(), which leaves everything as it was (the count was 16, the sum over 8)', () => {
    const acc = bce.createAccumulator({ logits: true });
    acc.add([0, 0], [1, 1]);
    const before = acc.result();
    let reads = 0;
    const x = new Array(16).fill(0);
    const liar = new Proxy(x, { get: (o, k) => (k === 'length' ? (reads++ === 0 ? 16 : 8) : Reflect.get(o, k)) });
    const t = new Proxy(new Array(16).fill(1), { get: (o, k) => (k === 'length' ? 8 : Reflect.get(o, k)) });
    expect(() => acc.add(liar, t)).toThrowError(new RangeError('accumulator.add: input changed length (16, then 8)'));
    expect(acc.result()).toEqual(before);
    // Read once, one length for everything: the count, the sum and the mean agree.
    reads = 0;
    const steady = new Proxy(x, { get: (o, k) => (k === 'length' ? (reads++, 16) : Reflect.get(o, k)) });
    acc.add(steady, new Array(16).fill(1));
    const r = acc.result();
    expect(r.count).toBe(18);
    expect(r.mean).toBeCloseTo(Math.LN2, 6);
  });

  it("a chunk mask's length is read once (it was checked as 4, then used as 3: another period, a wrong count)", () => {
    const acc = bce.createAccumulator({ logits: true });
    let reads = 0;
    const mask = new Proxy([1, 0, 1, 1], { get: (t, k, r) => (k === 'length' ? (reads++ ? 3 : 4) : Reflect.get(t, k, r)) });
    expect(() => acc.add(new Array(8).fill(0.5), new Array(8).fill(1), mask)).toThrowError(new RangeError('accumulator.add: mask changed length (4, then 3)'));
    expect(acc.result().count).toBe(0);
  });

  it('a stream weight or mask whose length changed between adds is refused (the periods mixed, and result() checked only the last)', () => {
    const w = [1, 2, 3, 4];
    const acc = bce.createAccumulator({ weight: w });
    acc.add([0.2, 0.4, 0.6, 0.8], [1, 0, 1, 0]);
    const before = acc.result();
    w.length = 2;
    expect(() => acc.add([0.2, 0.4], [1, 0])).toThrowError(new RangeError('accumulator.add: weight changed length (4, then 2)'));
    expect(acc.result()).toEqual(before);
    const m = [1, 0];
    const masked = bce.createAccumulator({ mask: m });
    masked.add([0.2, 0.4], [1, 0]);
    m.push(1, 1);
    expect(() => masked.add([0.2, 0.4, 0.6, 0.8], [1, 0, 1, 0])).toThrowError(new RangeError('accumulator.add: mask changed length (2, then 4)'));
    // An empty chunk reads no mask: nothing to refuse.
    masked.add([], []);
  });
});
