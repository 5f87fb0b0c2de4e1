// bce-wasm/pool: the functional API as async methods that split one large batch across
// worker_threads, each worker with its own wasm instance. Node only (the default entry stays free of
// node: imports for browsers).

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { checkOutput, lengthOf, WasmBuffer, type FloatInput, type FloatOutput } from '../memory.js';
import {
  checkPass,
  GRAD,
  Kind,
  LOSS,
  OutOfRangeError,
  runPass,
  type AnyOptions,
  type ForwardBackward,
  type LossFor,
  type PassResult,
  type Reduction,
} from '../pass.js';
import type { BCEBackwardOptions, BCEForwardBackwardOptions, BCEOptions } from '../bce.js';
import type {
  BCEWithLogitsBackwardOptions,
  BCEWithLogitsForwardBackwardOptions,
  BCEWithLogitsForwardOptions,
} from '../bce_with_logits.js';
import { logSigmoid, sigmoid } from '../sigmoid.js';
import { init } from '../wasm.js';

/** @internal A chunk of work for pool_worker.ts. */
export interface Job {
  id: number;
  map?: 'sigmoid' | 'logSigmoid';
  kind?: Kind;
  fn: string;
  what: number;
  x: Float32Array;
  y?: Float32Array;
  weight?: Float32Array;
  posWeight?: Float32Array;
  gradOutput?: number | Float32Array;
  reduction?: Reduction;
  out?: Float32Array;
  gradOut?: Float32Array;
  offset: number;
  total: number;
}

/** @internal A worker's answer. */
export interface JobResult {
  id: number;
  sum: number;
  error?: { name: string; message: string; argument?: 'input' | 'target'; index?: number; value?: number };
}

/**
 * Below this many elements a call runs on the calling thread. Measured on 2 cores (Node 20, fused
 * logits pass, inputs in plain Float32Arrays): a pooled call has a fixed cost of about 0.1 ms; the
 * pool ran at 0.36-0.48x the single thread at 16K elements and 1.2-1.3x at 64K in two runs
 * (`npm run bench:node`).
 */
export const DEFAULT_THRESHOLD = 1 << 16;

/** The most worker threads a pool takes. */
export const MAX_THREADS = 1024;

/**
 * Options of {@link createPool}. Other keys are a TypeError; a value of the wrong type is a TypeError
 * and one out of range a RangeError; `undefined` means the default.
 */
export interface PoolOptions {
  /** Worker threads, an integer from 1 to {@link MAX_THREADS}; default `os.availableParallelism()`. */
  threads?: number;
  /**
   * Calls with fewer elements run on the calling thread: a non-negative integer (0: every call is
   * split across the workers) or `Infinity` (no call is); default {@link DEFAULT_THRESHOLD}.
   */
  threshold?: number;
}

const OPTION_KEYS = ['threads', 'threshold'] as const;

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'bigint') return `the bigint ${v}n`;
  return `${/^[aeiou]/.test(typeof v) ? 'an' : 'a'} ${typeof v}`;
}

/** Edit distance (insertions, deletions, substitutions) between `a` and `b`. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

function checkOptions(options: unknown): { threads: number; threshold: number } {
  if (options === undefined) return { threads: availableParallelism(), threshold: DEFAULT_THRESHOLD };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`createPool: options must be an object, not ${kindOf(options)}`);
  }
  for (const key of Object.keys(options)) {
    if ((OPTION_KEYS as readonly string[]).includes(key)) continue;
    // A key within two edits of a valid one (ignoring case) is taken for a misspelling of it.
    const near = OPTION_KEYS.map((k) => ({ k, d: distance(key.toLowerCase(), k) })).sort((a, b) => a.d - b.d)[0];
    const hint = near.d <= 2 ? `did you mean '${near.k}'?` : `the options are ${OPTION_KEYS.map((k) => `'${k}'`).join(' and ')}`;
    throw new TypeError(`createPool: unknown option '${key}' (${hint})`);
  }
  const o = options as PoolOptions;
  const number = (name: string, v: unknown, ok: (v: number) => boolean, range: string): number => {
    if (typeof v !== 'number') throw new TypeError(`createPool: ${name} must be a number, not ${kindOf(v)}`);
    if (!ok(v)) throw new RangeError(`createPool: ${name} must be ${range}, not ${v}`);
    return v;
  };
  return {
    threads:
      o.threads === undefined
        ? availableParallelism()
        : number('threads', o.threads, (v) => Number.isInteger(v) && v >= 1 && v <= MAX_THREADS, `an integer from 1 to ${MAX_THREADS}`),
    threshold:
      o.threshold === undefined
        ? DEFAULT_THRESHOLD
        : number('threshold', o.threshold, (v) => v === Infinity || (Number.isInteger(v) && v >= 0), 'a non-negative integer or Infinity'),
  };
}

/** The functional API, async, over a pool of workers; see {@link createPool}. */
export interface Pool {
  readonly threads: number;
  readonly threshold: number;
  binaryCrossEntropy<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEOptions<R>): Promise<LossFor<R>>;
  binaryCrossEntropyBackward<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEBackwardOptions<R>): Promise<Float32Array>;
  binaryCrossEntropyForwardBackward<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEForwardBackwardOptions<R>): Promise<ForwardBackward<R>>;
  binaryCrossEntropyWithLogits<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEWithLogitsForwardOptions<R>): Promise<LossFor<R>>;
  binaryCrossEntropyWithLogitsBackward<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEWithLogitsBackwardOptions<R>): Promise<Float32Array>;
  binaryCrossEntropyWithLogitsForwardBackward<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEWithLogitsForwardBackwardOptions<R>): Promise<ForwardBackward<R>>;
  sigmoid(x: FloatInput, out?: FloatOutput): Promise<Float32Array>;
  logSigmoid(x: FloatInput, out?: FloatOutput): Promise<Float32Array>;
  /** Terminates the workers; calls afterwards reject. */
  close(): Promise<void>;
  /**
   * @internal Test hook, not part of the API (stripped from the .d.ts): the Worker of each slot, for
   * test/pool.test.ts to kill one (`terminate()`, or the test-only messages of pool_worker.ts).
   */
  _workers(): (Worker | undefined)[];
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void }>;
}

function spawn(): Slot {
  const worker = new Worker(new URL('./pool_worker.js', import.meta.url));
  // Idle workers never keep the process alive; a worker is ref'd only while it has work.
  worker.unref();
  const pending: Slot['pending'] = new Map();
  let started: () => void;
  let failed: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    started = resolve;
    failed = reject;
  });
  worker.on('message', (r: JobResult) => {
    if (r.id === -1) return started();
    const p = pending.get(r.id);
    pending.delete(r.id);
    if (pending.size === 0) worker.unref();
    p?.resolve(r);
  });
  worker.on('error', (e) => {
    failed(e);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  });
  return { worker, ready, pending };
}

/**
 * Reusable SharedArrayBuffers for copying non-shared inputs (allocating one per call costs far more
 * than the copy). A call takes a buffer and gives it back when done; a concurrent call that finds it
 * taken allocates its own.
 */
class SharedScratch {
  #free: SharedArrayBuffer[] = [];

  take(bytes: number): SharedArrayBuffer {
    const i = this.#free.findIndex((b) => b.byteLength >= bytes);
    if (i >= 0) return this.#free.splice(i, 1)[0];
    return new SharedArrayBuffer(Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1)))));
  }

  give(buffers: SharedArrayBuffer[]): void {
    // Keep a few, the largest.
    this.#free.push(...buffers);
    this.#free.sort((a, b) => b.byteLength - a.byteLength).splice(4);
  }
}

/**
 * `x` as a Float32Array over a SharedArrayBuffer: itself if it already is one, else a copy in a
 * scratch buffer (recorded in `taken` to be given back).
 */
function shared(x: FloatInput, scratch: SharedScratch, taken: SharedArrayBuffer[]): Float32Array {
  if (x instanceof Float32Array && x.buffer instanceof SharedArrayBuffer) return x;
  const src = x instanceof WasmBuffer ? x.view : x;
  const buffer = scratch.take(src.length * 4);
  taken.push(buffer);
  const out = new Float32Array(buffer, 0, src.length);
  out.set(src);
  return out;
}

/** Where workers write a result of `n` floats: the caller's shared array, or a new shared one. */
function sharedOutput(out: FloatOutput | undefined, n: number): Float32Array {
  if (out instanceof Float32Array && out.buffer instanceof SharedArrayBuffer) return out;
  return new Float32Array(new SharedArrayBuffer(Math.max(n, 1) * 4)).subarray(0, n);
}

/** The result in the caller's `out` (copied there if it was not shared), or the shared array. */
function deliverShared(out: FloatOutput | undefined, result: Float32Array): Float32Array {
  if (out === undefined || out === result) return result;
  const view = out instanceof WasmBuffer ? out.view : out;
  view.set(result);
  return view;
}

function rebuild(e: NonNullable<JobResult['error']>): Error {
  if (e.argument !== undefined) return new OutOfRangeError(e.message, e.argument, e.index!, e.value!);
  const Ctor = e.name === 'RangeError' ? RangeError : e.name === 'TypeError' ? TypeError : Error;
  return new Ctor(e.message);
}

/**
 * A pool of `threads` workers offering the functional API as async methods. A call on at least
 * `threshold` elements is split into one chunk per worker and returns the same loss and gradient as
 * the single-threaded call: bit for bit for `'none'` and for gradients, within float64 rounding for
 * mean/sum (chunk sums are added in float64). Smaller calls run on the calling thread.
 *
 * Memory: inputs backed by a SharedArrayBuffer reach the workers without a copy; other inputs
 * (arrays, WasmBuffers) are copied once into a SharedArrayBuffer that the pool reuses across calls. Workers write results into shared
 * memory that is returned as is (or copied into a non-shared `out`/`gradOut`). Each worker copies its
 * chunk into its own WebAssembly memory to compute.
 *
 * Idle workers do not keep the process alive; `await pool.close()` terminates them.
 *
 * @throws TypeError for options that are not an object, an unknown key or a value of the wrong type;
 *   RangeError for a value out of range (see {@link PoolOptions}).
 *
 * @example
 * const pool = createPool();
 * const { loss, grad } = await pool.binaryCrossEntropyWithLogitsForwardBackward(logits, labels);
 * await pool.close();
 */
export function createPool(options?: PoolOptions): Pool {
  const { threads, threshold } = checkOptions(options);
  const mainReady = init();
  const slots = Array.from({ length: threads }, spawn);
  const scratch = new SharedScratch();
  let nextId = 0;
  let closed = false;

  function run(slot: Slot, job: Omit<Job, 'id'>): Promise<JobResult> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage({ ...job, id });
    });
  }

  /** Chunk bounds: `threads` nearly equal parts, each a multiple of 4 elements but the last. */
  function chunks(n: number): [number, number][] {
    const size = Math.ceil(n / threads / 4) * 4;
    const out: [number, number][] = [];
    for (let start = 0; start < n; start += size) out.push([start, Math.min(n, start + size)]);
    return out;
  }

  async function scatter(jobs: Omit<Job, 'id'>[]): Promise<number> {
    await Promise.all(slots.map((s) => s.ready));
    const results = await Promise.all(jobs.map((job, t) => run(slots[t], job)));
    const failed = results.find((r) => r.error !== undefined);
    if (failed) throw rebuild(failed.error!);
    // Chunk sums in chunk order: deterministic for a given thread count.
    return results.reduce((a, r) => a + r.sum, 0);
  }

  async function loss(kind: Kind, fn: string, what: number, input: FloatInput, target: FloatInput, options?: AnyOptions): Promise<PassResult> {
    if (closed) throw new Error(`pool.${fn}: the pool is closed`);
    await mainReady;
    const c = checkPass(kind, fn, input, target, options, what);
    const { n, o } = c;
    if (n < threshold || threads < 2) return runPass(kind, fn, input, target, options, what);
    const taken: SharedArrayBuffer[] = [];
    const x = shared(input, scratch, taken);
    const y = shared(target, scratch, taken);
    const small = (w: FloatInput | undefined, len: number) =>
      w === undefined ? undefined : len === n ? shared(w, scratch, taken) : Float32Array.from(w instanceof WasmBuffer ? w.view : w);
    const weight = small(c.weight, c.wLen);
    const posWeight = small(c.posWeight, c.pLen);
    const g = c.gradOutput;
    const gradOutput = g === undefined || typeof g === 'number' ? g : shared(g, scratch, taken);
    const lossOut = c.wantLoss && c.none ? sharedOutput(o.out, n) : undefined;
    const gradOut = c.wantGrad ? sharedOutput(o.gradOut, n) : undefined;
    let sum: number;
    try {
      sum = await scatter(
        chunks(n).map(([a, b]) => ({
          kind, fn, what, reduction: c.reduction, offset: a, total: n,
          x: x.subarray(a, b), y: y.subarray(a, b), weight, posWeight,
          gradOutput: gradOutput instanceof Float32Array ? gradOutput.subarray(a, b) : gradOutput,
          out: lossOut?.subarray(a, b), gradOut: gradOut?.subarray(a, b),
        })),
      );
    } finally {
      scratch.give(taken);
    }
    const result: PassResult = { loss: 0, grad: new Float32Array(0), sum };
    if (c.wantLoss) result.loss = c.none ? deliverShared(o.out, lossOut!) : c.reduction === 'sum' ? sum : sum / n;
    if (c.wantGrad) result.grad = deliverShared(o.gradOut, gradOut!);
    return result;
  }

  async function map(kind: 'sigmoid' | 'logSigmoid', x: FloatInput, out?: FloatOutput): Promise<Float32Array> {
    if (closed) throw new Error(`pool.${kind}: the pool is closed`);
    await mainReady;
    const n = lengthOf(x, `${kind}: input`);
    if (n < threshold || threads < 2) return (kind === 'sigmoid' ? sigmoid : logSigmoid)(x, out);
    checkOutput(out, n, `${kind}: out`);
    const taken: SharedArrayBuffer[] = [];
    const sx = shared(x, scratch, taken);
    const so = sharedOutput(out, n);
    try {
      await scatter(chunks(n).map(([a, b]) => ({ map: kind, fn: kind, what: 0, x: sx.subarray(a, b), out: so.subarray(a, b), offset: a, total: n })));
    } finally {
      scratch.give(taken);
    }
    return deliverShared(out, so);
  }

  const P = Kind.Probabilities;
  const L = Kind.Logits;
  const lossOf = (r: PassResult) => r.loss;
  const gradOf = (r: PassResult) => r.grad;
  const both = (r: PassResult) => ({ loss: r.loss, grad: r.grad });
  return {
    threads,
    threshold,
    binaryCrossEntropy: (i, t, o) => loss(P, 'binaryCrossEntropy', LOSS, i, t, o).then(lossOf) as never,
    binaryCrossEntropyBackward: (i, t, o) => loss(P, 'binaryCrossEntropyBackward', GRAD, i, t, o).then(gradOf),
    binaryCrossEntropyForwardBackward: (i, t, o) => loss(P, 'binaryCrossEntropyForwardBackward', LOSS | GRAD, i, t, o).then(both) as never,
    binaryCrossEntropyWithLogits: (i, t, o) => loss(L, 'binaryCrossEntropyWithLogits', LOSS, i, t, o).then(lossOf) as never,
    binaryCrossEntropyWithLogitsBackward: (i, t, o) => loss(L, 'binaryCrossEntropyWithLogitsBackward', GRAD, i, t, o).then(gradOf),
    binaryCrossEntropyWithLogitsForwardBackward: (i, t, o) =>
      loss(L, 'binaryCrossEntropyWithLogitsForwardBackward', LOSS | GRAD, i, t, o).then(both) as never,
    sigmoid: (x, out) => map('sigmoid', x, out),
    logSigmoid: (x, out) => map('logSigmoid', x, out),
    _workers: () => slots.map((s) => s.worker),
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
