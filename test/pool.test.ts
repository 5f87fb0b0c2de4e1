import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as bce from 'bce-wasm';
import { createPool, type Pool } from 'bce-wasm/pool';
import './setup.js';
import * as ref from './reference.js';

// Above the threshold (set low here so the tests stay fast), calls are split across 2 workers.
const pool = createPool({ threads: 2, threshold: 1000 });
afterAll(() => pool.close());

function data(n: number, seed: number, sharedMemory = false) {
  const next = ref.rng(seed);
  const make = () => new Float32Array(sharedMemory ? new SharedArrayBuffer(n * 4) : new ArrayBuffer(n * 4));
  const z = make();
  const p = make();
  const y = make();
  for (let i = 0; i < n; i++) {
    z[i] = (next() - 0.5) * 20;
    p[i] = next();
    y[i] = next() < 0.3 ? next() : next() < 0.5 ? 0 : 1;
  }
  return { z, p, y };
}

/** The pool's loss methods, as the functions of the same names. */
const LOSSES = [
  'binaryCrossEntropy', 'binaryCrossEntropyBackward', 'binaryCrossEntropyForwardBackward',
  'binaryCrossEntropyWithLogits', 'binaryCrossEntropyWithLogitsBackward', 'binaryCrossEntropyWithLogitsForwardBackward',
  'sigmoidFocalLoss', 'sigmoidFocalLossBackward', 'sigmoidFocalLossForwardBackward',
] as const;
type LossFn = (x: unknown, y: unknown, o?: Record<string, unknown>) => unknown;

// Chunk sums are added in float64 in another order than one pass's lane sums.
const F64 = 1e-12;

/** `p`, or a rejection after `ms`: a call that never settles fails its test instead of hanging the suite. */
async function within<T>(p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The error `p` rejects with (within `ms`). Call it as soon as `p` exists: it handles the rejection
 * at once, so that one which comes while the test awaits something else is not reported as unhandled.
 */
async function rejection(p: Promise<unknown>, ms?: number): Promise<Error> {
  try {
    await within(p, ms);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** The pool's internal test accessor (stripped from the published types; see pool.ts). */
const workersOf = (p: Pool) => (p as Pool & { _workers(): Worker[] })._workers();

/** Runs a fixture script in a fresh Node process. */
function fixture(name: string, nodeArgs: string[] = []) {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const args = nodeArgs.map((a) => (a.startsWith('./') ? fileURLToPath(new URL(a, import.meta.url)) : a));
  const r = spawnSync(process.execPath, [...args, script], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('pool', () => {
  it('sizes itself to the machine by default, and keeps small calls on the calling thread', async () => {
    const p = createPool();
    expect(p.threads).toBeGreaterThanOrEqual(1);
    const { z, y } = data(100, 1);
    expect(await p.binaryCrossEntropyWithLogits(z, y)).toBe(bce.binaryCrossEntropyWithLogits(z, y));
    await p.close();
  });

  it.each(['none', 'mean', 'sum'] as const)("every loss equals the single-thread call ('%s'; bit for bit but reduced sums)", async (reduction) => {
    const n = 10_010; // 2 * 5 * 7 * 11 * 13: every weight length below divides it
    for (const sharedMemory of [false, true]) {
      const { z, p, y } = data(n, 2, sharedMemory);
      const w = [0.5, 1, 2, 1.5, 3, 0.25, 1, 1, 2, 2, 1, 0.5, 0.75];
      const cases = [
        [bce.binaryCrossEntropyForwardBackward(p, y, { reduction, weight: [1, 2] }), await pool.binaryCrossEntropyForwardBackward(p, y, { reduction, weight: [1, 2] })],
        [bce.binaryCrossEntropyWithLogitsForwardBackward(z, y, { reduction, posWeight: [3] }), await pool.binaryCrossEntropyWithLogitsForwardBackward(z, y, { reduction, posWeight: [3] })],
        [{ loss: bce.binaryCrossEntropyWithLogits(z, y, { reduction, weight: w }), grad: bce.binaryCrossEntropyWithLogitsBackward(z, y, { reduction, weight: w }) },
         { loss: await pool.binaryCrossEntropyWithLogits(z, y, { reduction, weight: w }), grad: await pool.binaryCrossEntropyWithLogitsBackward(z, y, { reduction, weight: w }) }],
      ] as const;
      for (const [single, pooled] of cases) {
        expect(pooled.grad).toEqual(single.grad);
        if (reduction === 'none') expect(pooled.loss).toEqual(single.loss);
        else ref.expectRel(pooled.loss as number, single.loss as number, F64);
      }
    }
  });

  it('per-element weight and gradOutput, outputs in caller memory', async () => {
    const n = 5003;
    const { z, y } = data(n, 3);
    const w = ref.f32s(n, (i) => (i % 7) / 3);
    const g = ref.f32s(n, (i) => Math.cos(i));
    const out = new Float32Array(n);
    const gradOut = new Float32Array(n);
    const r = await pool.binaryCrossEntropyWithLogitsForwardBackward(z, y, { reduction: 'none', weight: w, gradOutput: g, out, gradOut });
    expect(r.loss).toBe(out);
    expect(r.grad).toBe(gradOut);
    expect(out).toEqual(bce.binaryCrossEntropyWithLogits(z, y, { reduction: 'none', weight: w }));
    expect(gradOut).toEqual(bce.binaryCrossEntropyWithLogitsBackward(z, y, { reduction: 'none', weight: w, gradOutput: g }));
  });

  it('sigmoid and logSigmoid', async () => {
    const { z } = data(9001, 4);
    expect(await pool.sigmoid(z)).toEqual(bce.sigmoid(z));
    expect(await pool.logSigmoid(z)).toEqual(bce.logSigmoid(z));
  });

  it('errors: the same messages, range errors with the index in the whole batch', async () => {
    const n = 20_000;
    const p = new Float32Array(n).fill(0.5);
    const y = new Float32Array(n).fill(1);
    p[17_777] = Number.NaN;
    const err = await pool.binaryCrossEntropy(p, y).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(bce.OutOfRangeError);
    expect(err).toBeInstanceOf(RangeError);
    expect(err).toMatchObject({
      message: 'binaryCrossEntropy: input[17777] = NaN is outside [0, 1]; all elements of input should be between 0 and 1',
      argument: 'input',
      index: 17_777,
    });
    await expect(pool.binaryCrossEntropy(p, y.subarray(1))).rejects.toThrowError(/target has length 19999 but input has length 20000/);
    await expect(pool.binaryCrossEntropyWithLogits(p, y, { weight: [1, 2, 3] })).rejects.toThrowError(/weight of length 3 does not broadcast/);
  });

  it('a view of WebAssembly memory as out/gradOut gets its results although memory grew in flight', async () => {
    const n = 5_000;
    const { z, y } = data(n, 11);
    const lossBuf = bce.createBuffer(n);
    const gradBuf = bce.createBuffer(n);
    const sigBuf = bce.createBuffer(n);
    const [lossView, gradView, sigView] = [lossBuf.view, gradBuf.view, sigBuf.view];
    const fb = pool.binaryCrossEntropyWithLogitsForwardBackward(z, y, { reduction: 'none', out: lossView, gradOut: gradView });
    const sg = pool.sigmoid(z, sigView);
    const pages = bce.wasmMemory().buffer.byteLength;
    bce.wasmMemory().grow(1); // detaches every view taken before
    expect(lossView.length).toBe(0);
    const r = await within(fb);
    const s = await within(sg);
    expect(bce.wasmMemory().buffer.byteLength).toBe(pages + 65536);
    const want = bce.binaryCrossEntropyWithLogitsForwardBackward(z, y, { reduction: 'none' });
    expect(Array.from(lossBuf.view)).toEqual(Array.from(want.loss));
    expect(Array.from(gradBuf.view)).toEqual(Array.from(want.grad));
    expect(Array.from(sigBuf.view)).toEqual(Array.from(bce.sigmoid(z)));
    // The call returns views of the same memory, over the current buffer.
    expect(r.loss).toHaveLength(n);
    expect((r.loss as Float32Array).byteOffset).toBe(lossBuf.view.byteOffset);
    expect(r.grad.byteOffset).toBe(gradBuf.view.byteOffset);
    expect(s.byteOffset).toBe(sigBuf.view.byteOffset);
    for (const b of [lossBuf, gradBuf, sigBuf]) b.free();
  });

  it('an out WasmBuffer freed while the call is in flight rejects naming the call and argument', async () => {
    const n = 5_000;
    const { z, y } = data(n, 12);
    const out = bce.createBuffer(n);
    const call = rejection(pool.binaryCrossEntropyWithLogits(z, y, { reduction: 'none', out }));
    out.free();
    const e = await call;
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe('pool.binaryCrossEntropyWithLogits: out: this WasmBuffer was freed and cannot be used again');
  });

  it("an out that is a WasmBuffer's view, the buffer freed in flight and its memory taken by another: rejects, the other untouched", async () => {
    // (An outside tester's finding: the results went into the new buffer.)
    const n = 1 << 16;
    const { z, y } = data(n, 14);
    for (const [name, call] of [
      ['out', (v: Float32Array) => pool.sigmoid(z, v)],
      ['out', (v: Float32Array) => pool.binaryCrossEntropyWithLogits(z, y, { reduction: 'none', out: v })],
      ['gradOut', (v: Float32Array) => pool.sigmoidFocalLossBackward(z, y, { gradOut: v })],
    ] as const) {
      const buf = bce.createBuffer(n);
      const at = buf.view.byteOffset;
      const p = rejection(call(buf.view));
      buf.free();
      const victim = bce.createBuffer(n);
      try {
        expect(victim.view.byteOffset, 'the memory is reused').toBe(at);
        victim.view.fill(-1);
        const e = await p;
        expect(e).toBeInstanceOf(TypeError);
        expect(e.message).toMatch(new RegExp(`^pool\\.\\w+: ${name}: this WasmBuffer was freed`));
        expect(victim.view.every((v) => v === -1)).toBe(true);
      } finally {
        victim.free();
      }
    }
    // Both outputs checked before either is written: a freed gradOut left out written.
    for (const views of [true, false]) {
      const a = bce.createBuffer(n);
      const b = bce.createBuffer(n);
      a.view.fill(7);
      const p = rejection(pool.binaryCrossEntropyWithLogitsForwardBackward(z, y, { reduction: 'none', out: views ? a.view : a, gradOut: views ? b.view : b }));
      b.free();
      const e = await p;
      expect(e.message).toMatch(/^pool\.binaryCrossEntropyWithLogitsForwardBackward: gradOut: this WasmBuffer was freed/);
      expect(a.view.every((v) => v === 7), 'out untouched').toBe(true);
      a.free();
    }
  });

  it('an out or gradOut outside WebAssembly memory detached or shrunk in flight: the synchronous message, neither output written', async () => {
    // (An outside tester's finding: a raw engine TypeError/RangeError naming nothing, and a fused
    // call had written out before it failed on gradOut.)
    const n = 1 << 16;
    const { z, y } = data(n, 15);
    const detach = (a: Float32Array) => structuredClone(a.buffer, { transfer: [a.buffer] });
    const shrink = (a: Float32Array) => (a.buffer as unknown as { resize(n: number): void }).resize(0);
    const resizable = () => new Float32Array(new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(4 * n, { maxByteLength: 4 * n }));
    for (const [how, make, spoil] of [['detached', () => new Float32Array(n), detach], ['shrunk', resizable, shrink]] as const) {
      const v = make();
      const p = rejection(pool.sigmoid(z, v));
      spoil(v);
      expect((await p).message).toBe('pool.sigmoid: out shrank or was detached during the call');
      const out = new Float32Array(n).fill(7);
      const gradOut = make();
      const q = rejection(pool.binaryCrossEntropyWithLogitsForwardBackward(z, y, { reduction: 'none', out, gradOut }));
      spoil(gradOut);
      const e = await q;
      expect(e, how).toBeInstanceOf(TypeError);
      expect(e.message).toBe('pool.binaryCrossEntropyWithLogitsForwardBackward: gradOut shrank or was detached during the call');
      expect(out.every((v) => v === 7), 'out untouched').toBe(true);
    }
  });

  it.each(LOSSES)('%s: a freed WasmBuffer as any argument is the synchronous call\'s TypeError, naming the function and the argument', async (name) => {
    const n = 2000;
    const { z, y } = data(n, 13);
    const x = name.startsWith('binaryCrossEntropy') && !name.includes('WithLogits') ? y.map((v) => (v + 0.5) / 2) : z;
    const loss = !name.endsWith('Backward');
    const grad = name.endsWith('Backward');
    // Which arguments a WasmBuffer may be, each with the options it needs.
    const cases: [string, (b: bce.WasmBuffer) => Record<string, unknown>][] = [
      ['input', (b) => ({ input: b })],
      ['target', (b) => ({ target: b })],
      ['weight', (b) => ({ weight: b })],
      ['weight', (b) => ({ weight: b, reduction: 'weightedMean' })],
    ];
    if (name.includes('WithLogits')) cases.push(['posWeight', (b) => ({ posWeight: b })]);
    if (grad) cases.push(['gradOutput', (b) => ({ gradOutput: b, reduction: 'none' })], ['gradOut', (b) => ({ gradOut: b })]);
    if (loss) cases.push(['out', (b) => ({ out: b, reduction: 'none' })]);
    // A freed input with a mask that is wrong too: the freed buffer is named first, as the synchronous
    // call names it (before the masked mean's pre-pass reads the mask).
    cases.push(['input', (b) => ({ input: b, mask: Array.from({ length: n }, (_, i) => (i === 5 ? 2 : 1)) })]);
    for (const [arg, make] of cases) {
      for (const length of arg === 'weight' ? [n, 2] : [n]) {
        const b = bce.createBuffer(length);
        b.free();
        const { input = x, target = y, ...options } = make(b);
        const args = [input, target, options] as const;
        let want: Error | undefined;
        try {
          (bce[name] as LossFn)(...args);
        } catch (e) {
          want = e as Error;
        }
        expect(want?.message).toBe(`${name}: ${arg}: this WasmBuffer was freed and cannot be used again`);
        const got = await rejection((pool[name] as LossFn)(...args) as Promise<unknown>);
        expect(got, `${arg} of length ${length}`).toBeInstanceOf(TypeError);
        expect(got.message, `${arg} of length ${length}`).toBe(want!.message);
      }
    }
  });

  it.each(['sigmoid', 'logSigmoid'] as const)('%s: a freed WasmBuffer as input or out is the synchronous call\'s TypeError', async (name) => {
    const { z } = data(2000, 14);
    for (const arg of ['input', 'out']) {
      const b = bce.createBuffer(z.length);
      b.free();
      const [x, out] = arg === 'input' ? [b, undefined] : [z, b];
      expect(() => bce[name](x, out)).toThrowError(new TypeError(`${name}: ${arg}: this WasmBuffer was freed and cannot be used again`));
      const got = await rejection(pool[name](x, out));
      expect(got).toBeInstanceOf(TypeError);
      expect(got.message).toBe(`${name}: ${arg}: this WasmBuffer was freed and cannot be used again`);
    }
  });

  it('a closed pool rejects calls', async () => {
    const p = createPool({ threads: 2 });
    await p.close();
    await expect(p.binaryCrossEntropy([0.5], [1])).rejects.toThrowError(/closed/);
  });

  it('starts its workers under node --input-type=module -e (and -p), whose flags a worker cannot start with', () => {
    // (An outside tester's finding: the workers inherited those flags and every split call rejected.)
    const lib = new URL('../dist/index.js', import.meta.url).href;
    const poolJs = new URL('../dist/node/pool.js', import.meta.url).href;
    const code = `const L = await import('${lib}'); await L.init();
const { createPool } = await import('${poolJs}');
const pool = createPool({ threads: 2, threshold: 0 });
const x = new Float32Array(1 << 15).fill(0.25);
const got = await pool.binaryCrossEntropy(x, x);
console.log(got === L.binaryCrossEntropy(x, x) ? 'same' : 'differs');
await pool.close();`;
    const run = (args: string[], input?: string) => spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 30_000, input });
    for (const r of [
      run(['--input-type=module', '-e', code]),
      run(['--input-type=module'], code),
      run(['--no-warnings', '--input-type', 'module', '--eval', code]),
      // A V8 flag beside them, which a worker inherits but refuses in an explicit list.
      run(['--max-old-space-size=3000', '--stack-size=900', '--input-type=module', '-e', code]),
    ]) {
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('same');
    }
    // And with V8 flags alone, inherited as they are.
    const r = fixture('pool-no-close.mjs', ['--max-old-space-size=3000']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('done 0.6931\nsmall 0.6931\nfresh 1000');
  });

  it('never keeps the process alive: a script that forgets close() exits by itself', () => {
    const script = fileURLToPath(new URL('./fixtures/pool-no-close.mjs', import.meta.url));
    const out = execFileSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
    expect(out.trim()).toBe('done 0.6931\nsmall 0.6931\nfresh 1000');
  });
});

describe('pool aliasing: the synchronous call\'s overlap checks, before any worker runs', () => {
  // Two chunks of 2048 (threshold 1000): a partial overlap shifted by half the length puts one
  // worker's output over the other worker's operand, where the workers race.
  const n = 4096;
  const shift = n / 2;
  // Views of shared, plain or WebAssembly memory, or one WasmBuffer as both arrays ('exact' only).
  type Backing = 'SharedArrayBuffer' | 'ArrayBuffer' | 'WebAssembly memory' | 'WasmBuffer';
  // WasmBuffers for the synchronous and the pooled call, made before any view is taken (a later
  // allocation could grow memory and detach those views).
  let wasm: bce.WasmBuffer[];
  let buffers: bce.WasmBuffer[];
  beforeAll(() => {
    wasm = [bce.createBuffer(n + shift), bce.createBuffer(n + shift)];
    buffers = [bce.createBuffer(n), bce.createBuffer(n)];
  });
  afterAll(() => [...wasm, ...buffers].forEach((b) => b.free()));

  /** Values in (0, 1): a valid input, target, weight, posWeight or gradOutput of every loss. */
  const fill = (a: Float32Array, seed: number) => a.forEach((_, i) => (a[i] = (((i * 37 + seed * 11) % 101) + 0.5) / 102));
  const fresh = (seed: number) => {
    const a = new Float32Array(new SharedArrayBuffer(4 * n));
    fill(a, seed);
    return a;
  };

  /**
   * The arguments of one call: `operand` is `all[0, n)` and `output` is `all[0, n)` too (another
   * view of the same elements) in mode 'exact', `all[shift, shift + n)` in mode 'partial'; a mask
   * operand is the bytes at `4 * shift` (it overlaps the output in both modes). The other arrays are
   * of their own, in shared memory.
   */
  function layout(backing: Backing, which: number, mode: 'exact' | 'partial', operand: string, output: string) {
    const all =
      backing === 'WebAssembly memory' ? wasm[which].view
      : backing === 'WasmBuffer' ? buffers[which].view
      : new Float32Array(backing === 'SharedArrayBuffer' ? new SharedArrayBuffer(4 * (n + shift)) : new ArrayBuffer(4 * (n + shift)));
    fill(all, 1);
    const args: Record<string, unknown> = { input: fresh(2), target: fresh(3) };
    const whole = backing === 'WasmBuffer' ? buffers[which] : undefined;
    args[operand] = operand === 'mask' ? new Uint8Array(all.buffer, all.byteOffset + 4 * shift, n) : whole ?? all.subarray(0, n);
    args[output] = mode === 'exact' ? whole ?? all.subarray(0, n) : all.subarray(shift, shift + n);
    return { all, args };
  }

  async function outcome(f: () => unknown): Promise<{ result?: unknown; error?: Error }> {
    try {
      return { result: await f() };
    } catch (e) {
      return { error: e as Error };
    }
  }

  /** The number of elements whose bits differ (arrays, or `{ loss, grad }` of arrays). */
  function mismatches(a: unknown, b: unknown): number {
    if (a instanceof Float32Array && b instanceof Float32Array) {
      if (a.length !== b.length) return Math.max(a.length, b.length);
      const [ua, ub] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
      let k = 0;
      for (let i = 0; i < ua.length; i++) k += +(ua[i] !== ub[i]);
      return k;
    }
    const [ra, rb] = [a as { loss: unknown; grad: unknown }, b as { loss: unknown; grad: unknown }];
    return mismatches(ra.loss, rb.loss) + mismatches(ra.grad, rb.grad);
  }

  /** Runs the synchronous and the pooled call on equal layouts: the same error, or the same bits. */
  async function compare(
    backing: Backing, mode: 'exact' | 'partial', operand: string, output: string,
    sync: (a: Record<string, unknown>) => unknown, pooled: (a: Record<string, unknown>) => Promise<unknown>,
  ) {
    const s = layout(backing, 0, mode, operand, output);
    const p = layout(backing, 1, mode, operand, output);
    const want = await outcome(() => sync(s.args));
    const got = await outcome(() => within(pooled(p.args)));
    const label = `${backing}, ${mode}: ${operand} and ${output}`;
    if (mode === 'partial') expect(want.error, label).toBeInstanceOf(RangeError); // the case is the one meant
    if (want.error !== undefined) {
      expect(got.error, label).toBeInstanceOf(want.error.constructor);
      expect(got.error?.message, label).toBe(want.error.message);
    } else {
      expect(got.error, label).toBeUndefined();
      expect(mismatches(got.result, want.result), label).toBe(0);
    }
    // Nothing written where the synchronous call writes nothing; the same bits where it writes.
    expect(mismatches(p.all, s.all), label).toBe(0);
  }

  const LAYOUTS = [
    ...(['SharedArrayBuffer', 'ArrayBuffer', 'WebAssembly memory'] as const).flatMap((b) => [[b, 'exact'], [b, 'partial']] as const),
    ['WasmBuffer', 'exact'],
  ] as const;

  it('an output that is the very weight or posWeight of the input\'s length: accepted as the synchronous call accepts it, bit for bit', async () => {
    const n = 50_003; // chunks of several 16K-element pieces
    const { z, p, y } = data(n, 15, true);
    const operand = (seed: number) => {
      const next = ref.rng(seed);
      const a = new Float32Array(new SharedArrayBuffer(4 * n));
      a.forEach((_, i) => (a[i] = next() * 2));
      return a;
    };
    type Case = [(typeof LOSSES)[number], Float32Array, (a: Float32Array, b: Float32Array) => Record<string, unknown>];
    const cases: Case[] = [
      ['binaryCrossEntropyWithLogits', z, (a) => ({ reduction: 'none', weight: a, out: a })],
      ['binaryCrossEntropyWithLogitsBackward', z, (a) => ({ reduction: 'weightedMean', weight: a, gradOut: a })],
      ['binaryCrossEntropyWithLogitsBackward', z, (a) => ({ reduction: 'mean', posWeight: a, gradOut: a })],
      ['binaryCrossEntropyWithLogitsForwardBackward', z, (a, b) => ({ reduction: 'none', weight: a, posWeight: b, out: a, gradOut: b })],
      ['binaryCrossEntropyWithLogitsForwardBackward', z, (a) => ({ reduction: 'sum', weight: a, posWeight: a, gradOut: a })],
      ['binaryCrossEntropyForwardBackward', p, (a, b) => ({ reduction: 'none', weight: a, out: b, gradOut: a })],
      ['sigmoidFocalLossForwardBackward', z, (a) => ({ reduction: 'mean', weight: a, gradOut: a })],
    ];
    for (const [name, x, options] of cases) {
      const label = `${name} ${JSON.stringify(options(0 as never, 1 as never))}`;
      const [a1, b1, a2, b2] = [operand(16), operand(17), operand(16), operand(17)];
      const want = (bce[name] as LossFn)(x, y, options(a1, b1)) as Float32Array | { loss: number | Float32Array; grad: Float32Array };
      const got = (await within((pool[name] as LossFn)(x, y, options(a2, b2)) as Promise<unknown>)) as typeof want;
      if (want instanceof Float32Array || typeof want.loss !== 'number') {
        expect(mismatches(got, want), label).toBe(0);
      } else {
        const g = got as { loss: number; grad: Float32Array };
        ref.expectRel(g.loss, want.loss, F64);
        expect(mismatches(g.grad, want.grad), label).toBe(0);
      }
      // In place: the results are in the caller's arrays, and the operands' bits as the synchronous call left them.
      expect(mismatches(a2, a1) + mismatches(b2, b1), label).toBe(0);
    }
  });

  it('before the module is ready (a call copies its inputs first): the same checks, on the arguments as given', () => {
    const r = fixture('pool-before-init-overlap.mjs');
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(32);
    // The same error, or the same bits in memory (else the line says how they differ).
    for (const line of lines) expect(line).toMatch(/ partial [^:]+: RangeError$| exact [^:]+: accepted$/);
  });

  it.each(['sigmoid', 'logSigmoid'] as const)('%s: out over the input', async (name) => {
    for (const [backing, mode] of LAYOUTS) {
      await compare(backing, mode, 'input', 'out', (a) => bce[name](a.input as Float32Array, a.out as Float32Array), (a) => pool[name](a.input as Float32Array, a.out as Float32Array));
    }
  });

  it.each(LOSSES)('%s: each output over each array operand (and over the other output)', async (name) => {
    const loss = !name.endsWith('Backward');
    const grad = name.endsWith('Backward');
    const operands = ['input', 'target', 'weight', 'mask'];
    if (name.includes('WithLogits')) operands.push('posWeight');
    if (grad) operands.push('gradOutput');
    const outputs = [...(loss ? ['out'] : []), ...(grad ? ['gradOut'] : [])];
    const call = (f: LossFn) => (a: Record<string, unknown>) => {
      const { input, target, ...options } = a;
      return f(input, target, { reduction: 'none', ...options });
    };
    const pairs = outputs.flatMap((output) => operands.map((operand) => [operand, output]));
    if (loss && grad) pairs.push(['out', 'gradOut']);
    for (const [backing, mode] of LAYOUTS) {
      for (const [operand, output] of pairs) {
        await compare(backing, mode, operand, output, call(bce[name] as LossFn), call(pool[name] as LossFn) as (a: Record<string, unknown>) => Promise<unknown>);
      }
    }
  });
});

describe('createPool options', () => {
  it.each([Number.NaN, 0, -1, 2.5, Infinity, -Infinity, 1025])('threads: %s is a RangeError naming threads', (threads) => {
    expect(() => createPool({ threads })).toThrowError(RangeError);
    expect(() => createPool({ threads })).toThrowError(`createPool: threads must be an integer from 1 to 1024, got ${threads}`);
  });

  it.each([['2'], [null], [2n], [[2]]])('threads: %o (not a number) is a TypeError naming threads', (threads) => {
    expect(() => createPool({ threads: threads as never })).toThrowError(TypeError);
    expect(() => createPool({ threads: threads as never })).toThrowError(/^createPool: threads must be a number, got /);
  });

  it.each([Number.NaN, -1, 2.5, -Infinity])('threshold: %s is a RangeError naming threshold', (threshold) => {
    expect(() => createPool({ threshold })).toThrowError(RangeError);
    expect(() => createPool({ threshold })).toThrowError(
      `createPool: threshold must be a non-negative integer or Infinity, got ${threshold}`,
    );
  });

  it("threshold: '100' is a TypeError; 0 (pool every call) and Infinity (never) are valid; undefined means the default", async () => {
    expect(() => createPool({ threshold: '100' as never })).toThrowError(TypeError);
    expect(() => createPool({ threshold: '100' as never })).toThrowError(/^createPool: threshold must be a number, got /);
    const { z, y } = data(10, 9);
    for (const threshold of [0, Infinity]) {
      const p = createPool({ threads: 2, threshold });
      expect(p.threshold).toBe(threshold);
      ref.expectRel(await within(p.binaryCrossEntropyWithLogits(z, y)), bce.binaryCrossEntropyWithLogits(z, y), F64);
      await within(p.close());
    }
    const p = createPool({ threads: undefined, threshold: undefined });
    expect(p.threshold).toBe(65_536);
    await within(p.close());
  });

  it('unknown keys are a TypeError naming the key, with the valid one when one is close', () => {
    expect(() => createPool({ thread: 2 } as never)).toThrowError(TypeError);
    const valid = '; valid options: threads, threshold';
    expect(() => createPool({ thread: 2 } as never)).toThrowError(`createPool: unknown option 'thread' (did you mean 'threads'?)${valid}`);
    expect(() => createPool({ Threshold: 2 } as never)).toThrowError(`createPool: unknown option 'Threshold' (did you mean 'threshold'?)${valid}`);
    expect(() => createPool({ treshold: 2 } as never)).toThrowError(`createPool: unknown option 'treshold' (did you mean 'threshold'?)${valid}`);
    expect(() => createPool({ workers: 2 } as never)).toThrowError(`createPool: unknown option 'workers'${valid}`);
    expect(() => createPool(2 as never)).toThrowError(TypeError);
    // As the loss functions refuse them for their options, with their message.
    for (const [v, shown] of [
      [null, 'null'],
      [new Map(), 'Map'],
      [new Float32Array(2), 'Float32Array'],
      [new ArrayBuffer(8), 'ArrayBuffer'],
      [[], 'an array'],
    ] as const) {
      expect(() => createPool(v as never)).toThrowError(`createPool: options must be an object, got ${shown}`);
      expect(() => bce.binaryCrossEntropy([0.5], [1], v as never)).toThrowError(`binaryCrossEntropy: options must be an object, got ${shown}`);
    }
    const b = bce.createBuffer(2);
    try {
      expect(() => createPool(b as never)).toThrowError('createPool: options must be an object, got WasmBuffer');
    } finally {
      b.free();
    }
    expect(Object.is(createPool({ threshold: -0 }).threshold, 0)).toBe(true);
  });

  it("the pool's loss methods carry their names, as the functions do", async () => {
    const pool = createPool({ threads: 1 });
    try {
      for (const name of ['binaryCrossEntropy', 'binaryCrossEntropyWithLogitsBackward', 'sigmoidFocalLossForwardBackward', 'sigmoid'] as const) {
        expect(pool[name].name).toBe(name);
      }
    } finally {
      await pool.close();
    }
  });

  it("an empty input's one-element mask is checked in the pool as in one call, for every reduction (an outside tester: 'sum' and 'none' resolved)", async () => {
    const pool = createPool({ threads: 2, threshold: 0 });
    try {
      for (const reduction of ['sum', 'none', 'mean', 'weightedMean'] as const) {
        for (const mask of [new Uint8Array([2]), [0.5]]) {
          await expect(pool.binaryCrossEntropy([], [], { mask, reduction })).rejects.toThrowError(
            new TypeError(`binaryCrossEntropy: mask[0] is ${mask[0]}; a mask holds 0 and 1 or booleans`),
          );
        }
      }
    } finally {
      await pool.close();
    }
  });
});

describe('pool failures: every call settles, the pool stays usable', () => {
  const n = 50_000;
  const { z, y } = data(n, 7);
  let want: Float32Array;
  beforeAll(() => {
    want = bce.binaryCrossEntropyWithLogitsBackward(z, y);
  });

  it('close() with calls in flight rejects them, saying so; closing twice is fine; later calls reject', async () => {
    const p = createPool({ threads: 2, threshold: 1000 });
    expect(await within(p.binaryCrossEntropyWithLogitsBackward(z, y))).toEqual(want); // the workers are up
    const calls = [p.binaryCrossEntropyWithLogitsBackward(z, y), p.sigmoid(z)].map((c) => rejection(c));
    // A call below the threshold runs before it returns: it is done, not in flight.
    const small = p.logSigmoid(z.subarray(0, 10));
    const closing = p.close();
    expect((await Promise.all(calls)).map((e) => e.message)).toEqual([
      'pool.binaryCrossEntropyWithLogitsBackward: the pool was closed while this call was in flight',
      'pool.sigmoid: the pool was closed while this call was in flight',
    ]);
    expect(await small).toEqual(bce.logSigmoid(z.subarray(0, 10)));
    await within(Promise.all([closing, p.close()]));
    await expect(within(p.sigmoid(z))).rejects.toThrowError('pool.sigmoid: the pool is closed');
  });

  it('close() during start-up rejects the calls waiting for the workers', async () => {
    const p = createPool({ threads: 2, threshold: 1000 });
    const call = rejection(p.sigmoid(z));
    await within(Promise.all([p.close(), p.close()]));
    expect((await call).message).toBe('pool.sigmoid: the pool was closed while this call was in flight');
  });

  it('close() in flight under top-level await: the call rejects (the process used to exit 13, silently)', () => {
    const r = fixture('pool-close-in-flight.mjs');
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toBe('rejected: pool.binaryCrossEntropy: the pool was closed while this call was in flight\nclosed\n');
  });

  it('close() of a warm pool with a call in flight settles under top-level await (it used to exit 13)', () => {
    const r = fixture('pool-close-warm.mjs');
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      expect(line).toMatch(/^closed (at once|after a task); the call (resolved|rejected: pool\.binaryCrossEntropy: the pool was closed while this call was in flight)$/);
    }
  });

  const kills = {
    'process.exit(7) in the worker': {
      kill: (w: Worker) => w.postMessage({ test: 'exit', code: 7 }),
      why: /^pool\.binaryCrossEntropyWithLogitsBackward: worker 0 \(thread \d+\) exited with code 7 while this call was in flight$/,
    },
    'an uncaught error in the worker': {
      kill: (w: Worker) => w.postMessage({ test: 'throw', message: 'boom' }),
      why: /^pool\.binaryCrossEntropyWithLogitsBackward: worker 0 \(thread \d+\) died of an uncaught error while this call was in flight: Error: boom$/,
    },
    'worker.terminate()': {
      kill: (w: Worker) => void w.terminate(),
      why: /^pool\.binaryCrossEntropyWithLogitsBackward: worker 0 \(thread \d+\) exited with code 1 while this call was in flight$/,
    },
  };
  it.each(Object.entries(kills))('a worker that dies (%s) rejects its calls in flight, naming it and why; the pool replaces it', async (_, { kill, why }) => {
    const p = createPool({ threads: 2, threshold: 1000 });
    try {
      expect(await within(p.binaryCrossEntropyWithLogitsBackward(z, y))).toEqual(want);
      const [w0, w1] = workersOf(p);
      kill(w0);
      // Both calls post their chunks before the worker's death is seen.
      const calls = [p.binaryCrossEntropyWithLogitsBackward(z, y), p.binaryCrossEntropyWithLogitsBackward(z, y)].map((c) => rejection(c));
      for (const call of calls) expect((await call).message).toMatch(why);
      for (let i = 0; i < 3; i++) expect(await within(p.binaryCrossEntropyWithLogitsBackward(z, y))).toEqual(want);
      expect(workersOf(p)[0]).not.toBe(w0);
      expect(workersOf(p)[1]).toBe(w1);
    } finally {
      await within(p.close());
    }
  });

  it('a job that cannot be posted (postMessage throws) rejects that call only', async () => {
    const p = createPool({ threads: 2, threshold: 1000 });
    try {
      expect(await within(p.binaryCrossEntropyWithLogitsBackward(z, y))).toEqual(want);
      const w1 = workersOf(p)[1] as Worker & { postMessage: Worker['postMessage'] };
      w1.postMessage = () => {
        throw new DOMException('#<Object> could not be cloned.', 'DataCloneError');
      };
      await expect(within(p.sigmoid(z))).rejects.toThrowError(
        'pool.sigmoid: could not send a job to worker 1: DataCloneError: #<Object> could not be cloned.',
      );
      delete (w1 as Partial<typeof w1>).postMessage;
      expect(await within(p.sigmoid(z))).toEqual(bce.sigmoid(z));
      expect(workersOf(p)[1]).toBe(w1);
    } finally {
      await within(p.close());
    }
  });

  it("a 'messageerror' (a reply lost in deserialization) rejects the worker's calls and replaces it", async () => {
    const p = createPool({ threads: 2, threshold: 1000 });
    try {
      expect(await within(p.binaryCrossEntropyWithLogitsBackward(z, y))).toEqual(want);
      const w0 = workersOf(p)[0] as Worker & { postMessage: Worker['postMessage'] };
      w0.postMessage = function (this: Worker, message: unknown) {
        Worker.prototype.postMessage.call(this, message);
        this.emit('messageerror', new Error('simulated deserialization failure'));
      };
      await expect(within(p.sigmoid(z))).rejects.toThrowError(
        /^pool\.sigmoid: worker 0 \(thread \d+\) sent a reply that could not be deserialized while this call was in flight: Error: simulated deserialization failure$/,
      );
      expect(await within(p.sigmoid(z))).toEqual(bce.sigmoid(z));
      expect(workersOf(p)[0]).not.toBe(w0);
    } finally {
      await within(p.close());
    }
  });

  it('process level: dying workers and a failed post reject their calls, no unhandled rejection, the process still exits by itself', () => {
    const r = fixture('pool-worker-dies.mjs');
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const lines = r.stdout.trim().split('\n');
    const call = 'rejected: pool.binaryCrossEntropy:';
    expect(lines).toEqual([
      'ok 0.6931',
      'exit',
      expect.stringMatching(new RegExp(`^${call} worker 1 \\(thread \\d+\\) exited with code 3 while this call was in flight$`)),
      'ok 0.6931',
      'throw',
      expect.stringMatching(new RegExp(`^${call} worker 1 \\(thread \\d+\\) died of an uncaught error while this call was in flight: Error: boom$`)),
      'ok 0.6931',
      'terminate',
      expect.stringMatching(new RegExp(`^${call} worker 1 \\(thread \\d+\\) exited with code 1 while this call was in flight$`)),
      'ok 0.6931',
      'post',
      `${call} could not send a job to worker 1: Error: simulated DataCloneError`,
      'ok 0.6931',
    ]);
  });

  it('workers that fail at start-up (wasm init): no unhandled rejection, pooled calls reject clearly, small calls and close() work', () => {
    const r = fixture('pool-startup-fails.mjs', ['-r', './fixtures/pool-worker-wasm-fails.cjs']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const failed = /^rejected: pool\.binaryCrossEntropy: worker 0 \(thread \d+\) failed to start: Error: simulated wasm init failure$/;
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(failed),
      expect.stringMatching(failed),
      'small 0.6931',
      'closed',
    ]);
  });
});

describe('accumulator', () => {
  it('random chunkings give the single call over the concatenation', () => {
    const n = 100_003;
    const { z, p, y } = data(n, 5);
    const next = ref.rng(6);
    const w = [0.5, 2, 1, 3, 1.5];
    const cases = [
      { opts: {}, x: p, whole: (o: object) => bce.binaryCrossEntropy(p.subarray(0, 100_000), y.subarray(0, 100_000), o) },
      { opts: { logits: true }, x: z, whole: (o: object) => bce.binaryCrossEntropyWithLogits(z.subarray(0, 100_000), y.subarray(0, 100_000), o) },
    ];
    for (const { opts, x, whole } of cases) {
      for (const extra of [{}, { weight: w }]) {
        const want = whole({ ...extra, reduction: 'sum' }) as number;
        for (let trial = 0; trial < 5; trial++) {
          const acc = bce.createAccumulator({ ...opts, ...extra });
          let at = 0;
          while (at < 100_000) {
            const size = Math.min(100_000 - at, 1 + Math.floor(next() * (trial < 2 ? 9 : 30_000)));
            acc.add(x.subarray(at, at + size), y.subarray(at, at + size));
            at += size;
          }
          const r = acc.result();
          expect(r.count).toBe(100_000);
          ref.expectRel(r.sum, want, F64);
          ref.expectRel(r.mean, want / 100_000, F64);
        }
      }
    }
  });

  it('empty: mean NaN; range errors name the index in the stream; weights must divide the total', () => {
    expect(bce.createAccumulator().result()).toEqual({ mean: Number.NaN, sum: 0, count: 0, weightSum: 0, weightedMean: Number.NaN });
    const acc = bce.createAccumulator();
    acc.add([0.5, 0.5, 0.5], [1, 1, 1]);
    expect(() => acc.add([0.5, 1.5], [0, 0])).toThrowError('accumulator.add: input[4] = 1.5 is outside [0, 1]');
    const w = bce.createAccumulator({ weight: [1, 2] });
    w.add([0.5, 0.5, 0.5], [1, 1, 1]);
    expect(() => w.result()).toThrowError(/weight of length 2 does not broadcast over input of length 3/);
    expect(() => bce.createAccumulator({ posWeight: [2] }).add([0.5], [1])).toThrowError(TypeError);
  });
});

describe('pool: an array-like whose length answers otherwise when read again', () => {
  it('is refused by a split call, naming it (the divisor and the workers had used different lengths: wrong numbers)', async () => {
    // (An outside tester's finding: a weight read 4 then 2 gave 0.147 for a weightedMean of 0.729 or 0.735.)
    const pool = createPool({ threads: 2, threshold: 0 });
    try {
      const x = Float32Array.from({ length: 8 }, (_, i) => i / 4 - 1);
      const y = Float32Array.from([0, 1, 1, 0, 1, 0, 0, 1]);
      const liar = (values: number[], later: number) => {
        let reads = 0;
        return new Proxy(values, { get: (t, k, r) => (k === 'length' ? (reads++ ? later : values.length) : Reflect.get(t, k, r)) });
      };
      await expect(pool.binaryCrossEntropyWithLogits(x, y, { weight: liar([1, 1, 9, 9], 2), reduction: 'weightedMean' })).rejects.toThrowError(
        new RangeError('binaryCrossEntropyWithLogits: weight changed length during the call (4, then 2)'),
      );
      await expect(pool.binaryCrossEntropyWithLogits(x, y, { mask: liar([1, 0, 1, 1, 1, 0, 1, 1], 4) })).rejects.toThrowError(/^binaryCrossEntropyWithLogits: mask changed length during the call \(8, then 4\)$/);
      await expect(pool.binaryCrossEntropyWithLogits(x, y, { posWeight: liar([1, 2], 1) })).rejects.toThrowError(/^binaryCrossEntropyWithLogits: posWeight changed length during the call/);
      // Lengths that hold still: the synchronous call's result.
      const w = [1, 1, 9, 9];
      expect(await pool.binaryCrossEntropyWithLogits(x, y, { weight: w, reduction: 'weightedMean' })).toBeCloseTo(bce.binaryCrossEntropyWithLogits(x, y, { weight: w, reduction: 'weightedMean' }) as number, 12);
    } finally {
      await pool.close();
    }
  });
});
