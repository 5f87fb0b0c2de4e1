// The pool reads its arguments at call time, as the functions do: a caller may refill (double-buffer)
// or free its inputs and options right after a call returns its promise.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import * as bce from 'bce-wasm';
import { createPool } from 'bce-wasm/pool';
import './setup.js';
import * as ref from './reference.js';

// Calls of 8 elements run on the calling thread, of 3000 on the 2 workers.
const pool = createPool({ threads: 2, threshold: 1000 });
afterAll(() => pool.close());

type Method = (x: unknown, y: unknown, o?: Record<string, unknown>) => Promise<unknown>;
const LOSSES = [
  'binaryCrossEntropy', 'binaryCrossEntropyBackward', 'binaryCrossEntropyForwardBackward',
  'binaryCrossEntropyWithLogits', 'binaryCrossEntropyWithLogitsBackward', 'binaryCrossEntropyWithLogitsForwardBackward',
  'sigmoidFocalLoss', 'sigmoidFocalLossBackward', 'sigmoidFocalLossForwardBackward',
] as const;

/** A batch of `n` elements: probabilities or logits, targets, a per-element weight and gradOutput, a mask. */
function batch(n: number, seed: number, logits: boolean) {
  const next = ref.rng(seed);
  const x = Float32Array.from({ length: n }, () => (logits ? (next() - 0.5) * 8 : next()));
  const y = Float32Array.from({ length: n }, () => (next() < 0.5 ? 0 : 1));
  const weight = Float32Array.from({ length: n }, () => next() * 2);
  const gradOutput = Float32Array.from({ length: n }, () => next() - 0.5);
  const mask = Uint8Array.from({ length: n }, () => (next() < 0.8 ? 1 : 0));
  return { x, y, weight, gradOutput, mask };
}

/** Overwrites `dst`'s arrays with `src`'s (the caller's next batch in the same buffers). */
function refill(dst: ReturnType<typeof batch>, src: ReturnType<typeof batch>) {
  dst.x.set(src.x);
  dst.y.set(src.y);
  dst.weight.set(src.weight);
  dst.gradOutput.set(src.gradOutput);
  dst.mask.set(src.mask);
}

const same = (got: unknown, want: unknown) => {
  if (typeof want === 'number') expect(got as number).toBeCloseTo(want, 10);
  else if (want instanceof Float32Array) expect(got).toEqual(want);
  else {
    const g = got as { loss: unknown; grad: unknown };
    const w = want as { loss: unknown; grad: unknown };
    same(g.loss, w.loss);
    same(g.grad, w.grad);
  }
};

describe('pool calls read their arguments at call time', () => {
  for (const name of LOSSES) {
    for (const n of [8, 3000]) {
      it(`${name}, ${n} elements: inputs, weight, mask, gradOutput and options refilled right after the call`, async () => {
        const logits = !name.startsWith('binaryCrossEntropy') || name.includes('WithLogits');
        const grad = name.endsWith('Backward');
        const one = batch(n, 1, logits);
        const two = batch(n, 2, logits);
        const sync = (bce as unknown as Record<string, (x: unknown, y: unknown, o: unknown) => unknown>)[name];
        const opts = (b: ReturnType<typeof batch>, reduction: string) => ({
          reduction, weight: b.weight, mask: b.mask, ...(grad && reduction === 'none' ? { gradOutput: b.gradOutput } : {}),
        });
        const method = (pool as unknown as Record<string, Method>)[name];
        for (const reduction of ['none', 'mean']) {
          const want1 = sync(one.x, one.y, opts(one, reduction));
          const want2 = sync(two.x, two.y, opts(two, reduction));
          // One set of buffers, refilled for the next batch as soon as the call has returned.
          const buf = batch(n, 1, logits);
          const options = opts(buf, reduction);
          const p1 = method(buf.x, buf.y, options);
          refill(buf, two);
          options.reduction = 'sum';
          const p2 = method(buf.x, buf.y, opts(buf, reduction));
          refill(buf, one);
          same(await p1, want1);
          same(await p2, want2);
        }
      });
    }
  }

  for (const map of ['sigmoid', 'logSigmoid'] as const) {
    it(`${map}: an input refilled right after the call, a WasmBuffer freed`, async () => {
      for (const n of [8, 3000]) {
        const x = Float32Array.from({ length: n }, (_, i) => i / 100 - 10);
        const want = bce[map](x);
        const p = pool[map](x);
        x.fill(3);
        expect(await p).toEqual(want);
        const buf = bce.createBuffer(want.map((v) => -v));
        const q = pool[map](buf);
        buf.free();
        expect(await q).toEqual(bce[map](want.map((v) => -v)));
      }
    });
  }

  it('a WasmBuffer input freed right after a loss call', async () => {
    for (const n of [8, 3000]) {
      const { x, y } = batch(n, 3, true);
      const bx = bce.createBuffer(x);
      const by = bce.createBuffer(y);
      const p = pool.binaryCrossEntropyWithLogitsForwardBackward(bx, by, { reduction: 'sum' });
      bx.free();
      by.free();
      const want = bce.binaryCrossEntropyWithLogitsForwardBackward(x, y, { reduction: 'sum' });
      const got = await p;
      expect(got.grad).toEqual(want.grad);
      expect(got.loss).toBeCloseTo(want.loss, 9);
    }
  });

  it('calls made before the main thread has loaded its wasm work and read their arguments at once', () => {
    const script = fileURLToPath(new URL('./fixtures/pool-before-init.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('8 loss true\n8 sigmoid true\n3000 loss true\n3000 sigmoid true');
  });
});

describe('pool memory', () => {
  it("posts no operand's whole ArrayBuffer to the workers (a mask that is a view of a large buffer)", async () => {
    const n = 3000;
    const { x, y } = batch(n, 4, true);
    const big = new ArrayBuffer(16 << 20);
    const mask = new Uint8Array(big, 1 << 20, n).fill(1);
    mask[5] = 0;
    const weight = new Float32Array(big, 4 << 20, 3).fill(2);
    const posted: number[] = [];
    const post = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, message: unknown, ...rest: unknown[]) {
      for (const v of Object.values(message as object)) {
        if (ArrayBuffer.isView(v) && !(v.buffer instanceof SharedArrayBuffer)) posted.push(v.buffer.byteLength);
      }
      return (post as (...a: unknown[]) => void).call(this, message, ...rest);
    } as typeof post;
    try {
      const want = bce.binaryCrossEntropyWithLogits(x, y, { mask, weight, reduction: 'sum' });
      expect(await pool.binaryCrossEntropyWithLogits(x, y, { mask, weight, reduction: 'sum' })).toBeCloseTo(want, 9);
    } finally {
      Worker.prototype.postMessage = post;
    }
    expect(posted.length).toBeGreaterThan(0); // the hook saw the jobs
    expect(Math.max(...posted)).toBeLessThanOrEqual(64);
  });
});
