import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  binaryCrossEntropy,
  binaryCrossEntropyBackward,
  binaryCrossEntropyForwardBackward,
  binaryCrossEntropyWithLogitsForwardBackward,
  createBuffer,
  sigmoid,
  wasmMemory,
  WasmBuffer,
} from 'bce-wasm';
import './setup.js';

describe('WasmBuffer', () => {
  it('createBuffer(n) holds n zeros; createBuffer(values) a float32 copy', () => {
    const a = createBuffer(5);
    expect(a).toBeInstanceOf(WasmBuffer);
    expect(a.length).toBe(5);
    expect(Array.from(a.view)).toEqual([0, 0, 0, 0, 0]);
    const b = createBuffer([0.1, 2, 3]);
    expect(Array.from(b.view)).toEqual([Math.fround(0.1), 2, 3]);
    expect(b.view.buffer).toBe(wasmMemory().buffer);
    a.free();
    b.free();
  });

  it('its view survives a forced memory.grow (re-created when detached)', () => {
    const buf = createBuffer([0.25, 0.5, 0.75]);
    const old = buf.view;
    const bytes = wasmMemory().buffer.byteLength;
    wasmMemory().grow(4);
    expect(wasmMemory().buffer.byteLength).toBe(bytes + 4 * 65536);
    expect(old.length).toBe(0); // detached by the growth
    expect(Array.from(buf.view)).toEqual([0.25, 0.5, 0.75]);
    // And the kernels still read and write it in place.
    sigmoid(buf, buf);
    expect(buf.view[0]).toBeCloseTo(0.5621765, 6);
    buf.free();
  });

  it('growth caused by a large allocation keeps every live buffer intact', () => {
    const small = createBuffer([1, 2, 3, 4, 5]);
    const before = wasmMemory().buffer.byteLength;
    const big = createBuffer(8_000_000);
    expect(wasmMemory().buffer.byteLength).toBeGreaterThan(before);
    expect(Array.from(small.view)).toEqual([1, 2, 3, 4, 5]);
    big.free();
    small.free();
  });

  it('a freed buffer is rejected with a TypeError; freeing twice is harmless', () => {
    const buf = createBuffer([0.5, 0.5]);
    buf.free();
    expect(buf.freed).toBe(true);
    buf.free();
    expect(() => buf.view).toThrowError(/freed/);
    expect(() => sigmoid(buf)).toThrowError(new TypeError('sigmoid: input: this WasmBuffer was freed and cannot be used again'));
    expect(() => binaryCrossEntropy([0.5, 0.5], buf)).toThrowError(/target: this WasmBuffer was freed/);
    expect(() => binaryCrossEntropyBackward([0.5, 0.5], [1, 1], { gradOut: buf })).toThrowError(/gradOut: this WasmBuffer was freed/);
  });

  it('Symbol.dispose frees it (using declarations)', () => {
    const buf = createBuffer(3);
    buf[Symbol.dispose]();
    expect(buf.freed).toBe(true);
  });
});

describe('zero-copy calls and outputs', () => {
  const x = [0.1, 0.4, 0.35, 0.8, 0.99, 0.05, 0.5];
  const y = [0, 0, 1, 1, 1, 0, 0.5];

  it('results written via out/gradOut land in the caller memory', () => {
    const out = new Float32Array(7);
    const gradOut = new Float32Array(7);
    const r = binaryCrossEntropyForwardBackward(x, y, { reduction: 'none', out, gradOut });
    expect(r.loss).toBe(out);
    expect(r.grad).toBe(gradOut);
    expect(Array.from(out)).toEqual(Array.from(binaryCrossEntropy(x, y, { reduction: 'none' })));
    expect(Array.from(gradOut)).toEqual(Array.from(binaryCrossEntropyBackward(x, y, { reduction: 'none' })));
  });

  it('WasmBuffer inputs and outputs are used in place, and give the same numbers as arrays', () => {
    const bx = createBuffer(x);
    const by = createBuffer(y);
    const bl = createBuffer(7);
    const bg = createBuffer(7);
    const r = binaryCrossEntropyForwardBackward(bx, by, { reduction: 'none', out: bl, gradOut: bg });
    expect(r.loss).toBe(bl.view);
    expect(r.grad).toBe(bg.view);
    expect(bl.view).toEqual(binaryCrossEntropy(x, y, { reduction: 'none' }));
    expect(bg.view).toEqual(binaryCrossEntropyBackward(x, y, { reduction: 'none' }));
    // The gradient may overwrite the input itself.
    const want = binaryCrossEntropyBackward(x, y);
    binaryCrossEntropyBackward(bx, by, { gradOut: bx });
    expect(bx.view).toEqual(want);
    for (const b of [bx, by, bl, bg]) b.free();
  });

  it('memory does not grow across 100,000 calls of the same size', () => {
    const n = 256;
    const logits = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 4);
    const target = Float32Array.from({ length: n }, (_, i) => i % 2);
    const gradOut = new Float32Array(n);
    binaryCrossEntropyWithLogitsForwardBackward(logits, target, { gradOut });
    binaryCrossEntropy(sigmoid(logits), target, { reduction: 'none' });
    const bytes = wasmMemory().buffer.byteLength;
    for (let i = 0; i < 100_000; i++) {
      binaryCrossEntropyWithLogitsForwardBackward(logits, target, { gradOut, weight: [1, 2] });
      if (i % 10 === 0) binaryCrossEntropy(sigmoid(logits), target, { reduction: 'none' });
    }
    expect(wasmMemory().buffer.byteLength).toBe(bytes);
  });

  it('scratch grows once for a larger call and is reused after', () => {
    const big = new Float32Array(300_000).fill(0.5);
    binaryCrossEntropy(big, big);
    const bytes = wasmMemory().buffer.byteLength;
    for (let i = 0; i < 20; i++) binaryCrossEntropy(big, big);
    binaryCrossEntropy(big.subarray(0, 1000), big.subarray(0, 1000));
    expect(wasmMemory().buffer.byteLength).toBe(bytes);
  });
});

describe('WasmBuffer lifetime', () => {
  it('a view kept without its WasmBuffer keeps the buffer alive through garbage collection', () => {
    const script = fileURLToPath(new URL('./fixtures/view-keeps-buffer.mjs', import.meta.url));
    const r = spawnSync(process.execPath, ['--expose-gc', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ view: true, result: true });
  });

  it('a createBuffer that fails on an element returns its block at once', () => {
    const n = 4_000_000; // 16 MB a block: 20 leaked blocks would have to grow the memory
    const values: unknown[] = new Array(n).fill(0.5);
    values[n - 1] = 'a';
    expect(() => createBuffer(values as number[])).toThrow("createBuffer: values[3999999] is the string 'a', not a number");
    const keep = createBuffer([1, 2, 3]);
    const view = keep.view;
    const bytes = wasmMemory().buffer.byteLength;
    for (let i = 0; i < 20; i++) expect(() => createBuffer(values as number[])).toThrow(TypeError);
    expect(wasmMemory().buffer.byteLength).toBe(bytes);
    expect(Array.from(view)).toEqual([1, 2, 3]); // not detached by a growth
    keep.free();
  });
});
