// bce-wasm/pool: the functional API as async methods that split one large batch across
// worker_threads, each worker with its own wasm instance. Node only (the default entry stays free of
// node: imports for browsers).

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  OPS,
  type BCEBackwardOptions,
  type BCEForwardBackwardOptions,
  type BCEOptions,
  type BCEWithLogitsBackwardOptions,
  type BCEWithLogitsForwardBackwardOptions,
  type BCEWithLogitsForwardOptions,
  type FocalBackwardOptions,
  type FocalForwardBackwardOptions,
  type FocalForwardOptions,
  type OpName,
} from '../losses.js';
import {
  addressIn,
  checkStill,
  copyChecked,
  ensureScratch,
  enter,
  init,
  isInitialized,
  leave,
  bufferView,
  isFloat32Array,
  isWasmBuffer,
  TYPED_SET,
  lengthOf,
  liveAddress,
  owners,
  typedName,
  viewBuffer,
  viewLength,
  viewOffset,
  sharing,
  Sharing,
  WasmBuffer,
  type FloatInput,
  type FloatOutput,
} from '../memory.js';
import {
  checkKeys,
  checkOptionsObject,
  checkPass,
  divisorOf,
  type MaskInput,
  GRAD,
  Kind,
  maskElements,
  LOSS,
  OutOfRangeError,
  readOptions,
  resultOf,
  runRead,
  type AnyOptions,
  type ForwardBackward,
  type LossFor,
  type PassOptions,
  type PassResult,
  type Reduction,
} from '../pass.js';
import { checkMapOutput, mapPass, outputView } from '../pass.js';

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
  labelSmoothing?: number;
  mask?: Uint8Array;
  alpha?: number;
  gamma?: number;
  /** The gradient's divisor of the whole call ('mean', 'weightedMean'). */
  divisor?: number;
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
  if (v instanceof Map || v instanceof Set || ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'bigint') return `the bigint ${v}n`;
  return `${/^[aeiou]/.test(typeof v) ? 'an' : 'a'} ${typeof v}`;
}

function checkOptions(options: unknown): { threads: number; threshold: number } {
  if (options === undefined) return { threads: availableParallelism(), threshold: DEFAULT_THRESHOLD };
  // The facade's check and message (data in the options' place, an ArrayBuffer or a WasmBuffer
  // among it, is refused rather than read as {}).
  checkOptionsObject(options, 'createPool');
  // The facade's check and message: "unknown option 'thread' (did you mean 'threads'?); valid ...".
  checkKeys(options, OPTION_KEYS, 'createPool');
  const o = options as PoolOptions;
  const number = (name: string, v: unknown, ok: (v: number) => boolean, range: string): number => {
    if (typeof v !== 'number') throw new TypeError(`createPool: ${name} must be a number, got ${kindOf(v)}`);
    if (!ok(v)) throw new RangeError(`createPool: ${name} must be ${range}, got ${v}`);
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
        : number('threshold', o.threshold, (v) => v === Infinity || (Number.isInteger(v) && v >= 0), 'a non-negative integer or Infinity') || 0, // (-0 is 0)
  };
}

/** The loss functions as async methods (see the functional API for each). */
export interface LossMethods {
  binaryCrossEntropy<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEOptions<R>): Promise<LossFor<R>>;
  binaryCrossEntropyBackward<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEBackwardOptions<R>): Promise<Float32Array>;
  binaryCrossEntropyForwardBackward<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEForwardBackwardOptions<R>): Promise<ForwardBackward<R>>;
  binaryCrossEntropyWithLogits<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEWithLogitsForwardOptions<R>): Promise<LossFor<R>>;
  binaryCrossEntropyWithLogitsBackward<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEWithLogitsBackwardOptions<R>): Promise<Float32Array>;
  binaryCrossEntropyWithLogitsForwardBackward<R extends Reduction = 'mean'>(input: FloatInput, target: FloatInput, options?: BCEWithLogitsForwardBackwardOptions<R>): Promise<ForwardBackward<R>>;
  sigmoidFocalLoss<R extends Reduction = 'none'>(input: FloatInput, target: FloatInput, options?: FocalForwardOptions<R>): Promise<LossFor<R>>;
  sigmoidFocalLossBackward<R extends Reduction = 'none'>(input: FloatInput, target: FloatInput, options?: FocalBackwardOptions<R>): Promise<Float32Array>;
  sigmoidFocalLossForwardBackward<R extends Reduction = 'none'>(input: FloatInput, target: FloatInput, options?: FocalForwardBackwardOptions<R>): Promise<ForwardBackward<R>>;
}

/** The functional API, async, over a pool of workers; see {@link createPool}. */
export interface Pool extends LossMethods {
  readonly threads: number;
  readonly threshold: number;
  sigmoid(x: FloatInput, out?: FloatOutput): Promise<Float32Array>;
  logSigmoid(x: FloatInput, out?: FloatOutput): Promise<Float32Array>;
  /**
   * Terminates the workers. Calls still in flight reject ("the pool was closed while this call was in
   * flight") once the workers have stopped; calls afterwards reject. Closing again returns the same
   * promise.
   */
  close(): Promise<void>;
  /**
   * @internal Test hook, not part of the API (stripped from the .d.ts): the Worker of each slot, for
   * test/pool.test.ts to kill one (`terminate()`, or the test-only messages of pool_worker.ts).
   */
  _workers(): (Worker | undefined)[];
}

/**
 * Why a call failed through no fault of its arguments: a worker died, a job could not be posted, the
 * pool was closed. The message names no function; the call rethrows it as `pool.<fn>: <message>`.
 */
class CallFailed extends Error {}

const CLOSED = 'the pool was closed while this call was in flight';

/**
 * One worker of the pool and the jobs it has in flight. Every job's promise settles: with the worker's
 * answer or, once the worker has stopped (so that nothing it does can touch the call's memory any
 * more), with a {@link CallFailed} saying why it stopped. A worker that dies is not reused: `onRetired`
 * tells the pool to start a fresh one for later calls.
 */
class PoolWorker {
  readonly worker: Worker;
  /** Resolves when the worker's wasm is ready; rejects if it stops before (never unhandled). */
  readonly ready: Promise<void>;
  /** Set once the worker has stopped: why. */
  gone: CallFailed | undefined;
  #started = false;
  /** Why it is stopping, when that is known before its 'exit' (an uncaught error, a lost reply, close). */
  #reason: CallFailed | undefined;
  #retired = false;
  /** Its termination, once it is being stopped. */
  #terminated: Promise<void> | undefined;
  #pending = new Map<number, { resolve: (r: JobResult) => void; reject: (e: CallFailed) => void }>();
  #nextId = 0;
  /** Calls waiting for it to start or for a job's answer: while there are any, it is ref'd. */
  #users = 0;
  #resolveReady!: () => void;
  #rejectReady!: (e: CallFailed) => void;

  constructor(
    readonly index: number,
    closed: () => boolean,
    private readonly onRetired: (w: PoolWorker) => void,
  ) {
    this.worker = startWorker(new URL('./pool_worker.js', import.meta.url));
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Calls await `ready`; a worker that fails to start with no call waiting is no unhandled rejection.
    this.ready.catch(() => {});
    const who = `worker ${index} (thread ${this.worker.threadId})`;
    this.worker.on('message', (r: JobResult) => {
      // A worker taken out of service fails all its calls (deterministically, not by how far it got).
      if (this.#retired) return;
      if (r.id === -1) {
        this.#started = true;
        return this.#resolveReady();
      }
      const p = this.#pending.get(r.id);
      if (p === undefined) return;
      this.#pending.delete(r.id);
      this.#release();
      p.resolve(r);
    });
    // An uncaught error (at start-up: its wasm failed to load, say): the worker stops, 'exit' follows.
    this.worker.on('error', (e) =>
      this.#retire(
        this.#started
          ? `${who} died of an uncaught error while this call was in flight: ${String(e)}`
          : `${who} failed to start: ${String(e)}`,
        e,
      ),
    );
    // A reply that could not be deserialized: which call it answered is unknown, so all the worker's
    // calls fail and it is replaced.
    this.worker.on('messageerror', (e) =>
      this.#retire(`${who} sent a reply that could not be deserialized while this call was in flight: ${String(e)}`, e),
    );
    this.worker.on('exit', (code) =>
      this.#stopped(
        this.#reason ??
          new CallFailed(
            closed()
              ? CLOSED
              : this.#started
                ? `${who} exited with code ${code} while this call was in flight`
                : `${who} exited with code ${code} before it started`,
          ),
      ),
    );
    // Idle workers never keep the process alive: a worker is ref'd only while a call waits for it.
    // (After the listeners: adding the first 'message' listener refs the worker's port again.)
    this.worker.unref();
  }

  #use(): void {
    if (this.#users++ === 0) this.worker.ref();
  }

  #release(): void {
    // A worker being stopped stays ref'd: its 'exit' (which settles close() and its calls) must come.
    if (--this.#users === 0 && !this.#retired) this.worker.unref();
  }

  /** Runs a job; rejects with a {@link CallFailed} if the worker stops first or the job cannot be posted. */
  async run(job: Omit<Job, 'id'>): Promise<JobResult> {
    this.#use();
    try {
      await this.ready;
    } finally {
      this.#release();
    }
    const failed = this.gone ?? this.#reason;
    if (failed !== undefined) throw failed;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#use();
      try {
        this.worker.postMessage({ ...job, id });
      } catch (e) {
        // Not sent (a value that cannot be cloned, say): this job fails, the worker is fine.
        if (!this.#pending.delete(id)) return; // settled already: the worker stopped meanwhile
        this.#release();
        reject(new CallFailed(`could not send a job to worker ${this.index}: ${String(e)}`, { cause: e }));
      }
    });
  }

  /** Stops the worker; its jobs in flight fail with `message` once it has stopped. */
  terminate(message: string): Promise<void> {
    return this.#retire(message);
  }

  /**
   * Takes the worker out of service (later calls get a fresh one) and stops it: its jobs fail with
   * the first reason given, when it has stopped.
   */
  #retire(message: string, cause?: unknown): Promise<void> {
    this.#reason ??= new CallFailed(message, cause === undefined ? undefined : { cause });
    this.#retired = true;
    this.onRetired(this);
    // Ref'd until it has stopped: an idle (unref'd) worker's 'exit' would otherwise not keep the event
    // loop alive, and `await pool.close()` with nothing else pending would never settle (exit code 13).
    this.worker.ref();
    // Its 'exit' settles the jobs first; the second call only covers a worker that never emits one.
    this.#terminated ??= this.worker
      .terminate()
      .catch(() => {})
      .then(() => this.#stopped(this.#reason!));
    return this.#terminated;
  }

  /** The worker has stopped: every promise it still holds settles, with `why`. */
  #stopped(why: CallFailed): void {
    if (this.gone !== undefined) return;
    this.gone = why;
    this.#retired = true;
    this.onRetired(this);
    this.#rejectReady(why);
    for (const p of this.#pending.values()) p.reject(why);
    this.#pending.clear();
  }
}

/**
 * The longest call that is split across workers: its operands are shared with them as
 * SharedArrayBuffers, and Node cannot send one of 4 GiB or more to a worker (the call rejected with
 * "Unable to deserialize cloned data"). Longer calls run on the calling thread.
 */
const MAX_SPLIT = 2 ** 30 - 1;

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
    // A power of two up to 256 MiB (for reuse), the size itself above (a power of two of 2^29 + 4
    // floats was 4 GiB, more than a worker can be sent: see MAX_SPLIT).
    return new SharedArrayBuffer(bytes > 2 ** 28 ? bytes : Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1)))));
  }

  give(buffers: SharedArrayBuffer[]): void {
    // Keep a few, the largest, up to 256 MiB each (a larger one, sized exactly for its call, is
    // dropped: one call of 2^28 elements kept 2 GiB after its pool was closed).
    this.#free.push(...buffers.filter((b) => b.byteLength <= 2 ** 28));
    this.#free.sort((a, b) => b.byteLength - a.byteLength).splice(4);
  }
}

/**
 * `x` as a Float32Array over a SharedArrayBuffer: itself if it already is one (unless `copy`), else a
 * copy in a scratch buffer (recorded in `taken` to be given back).
 */
function shared(x: FloatInput, scratch: SharedScratch, taken: SharedArrayBuffer[], fn: string, arg: string, copy = false): Float32Array {
  if (!copy) {
    const own = sharedView(x);
    if (own !== undefined) return own;
  }
  const n = lengthOf(x, fn, arg);
  const src = elements(x, fn, arg);
  const buffer = scratch.take(n * 4);
  taken.push(buffer);
  const out = new Float32Array(buffer, 0, n);
  copyChecked(src, 0, n, out, 0, fn, arg);
  return out;
}

/**
 * The elements of `x` to copy: a WasmBuffer's view (once freed, the synchronous call's TypeError
 * naming `fn: arg`, not the view getter's), anything else as it is.
 */
function elements(x: FloatInput, fn: string, arg: string): ArrayLike<number> {
  if (!isWasmBuffer(x)) return x;
  liveAddress(x, fn, arg);
  return bufferView(x);
}

/** A short broadcast operand as a Float32Array (elements checked as the core checks them). */
function float32(x: FloatInput, fn: string, arg: string): Float32Array {
  const n = lengthOf(x, fn, arg);
  const out = new Float32Array(n);
  copyChecked(elements(x, fn, arg), 0, n, out, 0, fn, arg);
  return out;
}

/**
 * A mask as the bytes the workers read, in shared memory (posting any other array would clone its
 * whole ArrayBuffer to every worker): one over a SharedArrayBuffer as it is, a Uint8Array copied (the
 * kernel checks its bytes), anything else checked to hold 0/1 here.
 */
function maskBytes(mask: MaskInput, scratch: SharedScratch, taken: SharedArrayBuffer[], fn: string): Uint8Array {
  const n = lengthOf(mask, fn, 'mask');
  const bytes = typedName(mask) === 'Uint8Array';
  if (bytes && viewBuffer(mask as Uint8Array) instanceof SharedArrayBuffer && viewBuffer(mask as Uint8Array).byteLength < 2 ** 32) return new Uint8Array(viewBuffer(mask as Uint8Array), viewOffset(mask as Uint8Array), n);
  const buffer = scratch.take(n);
  taken.push(buffer);
  const out = new Uint8Array(buffer, 0, n);
  if (bytes) {
    out.set(mask as Uint8Array);
    return out;
  }
  maskElements(mask, 0, n, out, fn);
  return out;
}

/**
 * A worker running `url`. It inherits the process's Node flags, except those about the main
 * program's own source (`-e`/`-p` and their code, `--input-type`, `-i`, `-c`): with them a worker,
 * which runs a file, does not start (`node --input-type=module -e ...` made every split call reject).
 * Only then are its flags given explicitly, and in an explicit list Node refuses V8 and per-process
 * flags (`--max-old-space-size=...`), which it names: those are left out too.
 */
function startWorker(url: URL): Worker {
  const a = process.execArgv;
  const flags: string[] = [];
  for (let i = 0; i < a.length; i++) {
    const f = a[i];
    if (/^(-[a-z]*[ep][a-z]*|--eval|--print|--input-type)$/.test(f)) i++; // and its value
    else if (!/^(--eval=|--print=|--input-type=|-i$|--interactive$|-c$|--check$)/.test(f)) flags.push(f);
  }
  if (flags.length === a.length) return new Worker(url);
  try {
    return new Worker(url, { execArgv: flags });
  } catch (e) {
    const refused = (e as { code?: unknown }).code === 'ERR_WORKER_INVALID_EXEC_ARGV' && /flags: (.*)$/.exec((e as Error).message);
    if (!refused) throw e;
    const bad = new Set(refused[1].split(', '));
    return new Worker(url, { execArgv: flags.filter((f) => !bad.has(f)) });
  }
}

/** Where workers write a result of `n` floats: the caller's shared array, or a new shared one. */
function sharedOutput(out: FloatOutput | undefined, n: number): Float32Array {
  return sharedView(out) ?? new Float32Array(new SharedArrayBuffer(Math.max(n, 1) * 4), 0, n);
}

/**
 * A Float32Array over a SharedArrayBuffer as a Float32Array of our own over the same memory (what a
 * subclass's getters or subarray say is not read); undefined for anything else.
 */
function sharedView(x: unknown): Float32Array | undefined {
  if (!isFloat32Array(x)) return undefined;
  const buffer = viewBuffer(x);
  // (A SharedArrayBuffer of 4 GiB or more cannot be sent to a worker: such an operand is copied.)
  return buffer instanceof SharedArrayBuffer && buffer.byteLength < 2 ** 32 ? new Float32Array(buffer, viewOffset(x), viewLength(x)) : undefined;
}

/**
 * The result in the caller's `out` (copied there if it was not shared), or the shared array. `at` is
 * `out`'s byte address when it lives in WebAssembly memory (taken at call time, see `checkOutput`): a
 * view of that memory detached by a growth while the call was in flight is made again over the
 * current memory, at the same address (a WasmBuffer's own view as that buffer's view now), and that
 * view is what the call returns (`outputView`, as for the synchronous call).
 */
function deliverShared(out: FloatOutput | undefined, at: number, result: Float32Array, fn: string, arg: string): Float32Array {
  if (out === undefined || out === result) return result;
  // The caller's shared array, which the workers wrote through a view of their own (sharedOutput).
  if (!isWasmBuffer(out) && viewBuffer(out) === viewBuffer(result) && viewOffset(out) === viewOffset(result)) return out;
  liveOutput(out, at, result.length, fn, arg);
  // One in WebAssembly memory as the synchronous call returns it (its view over the current memory).
  const view = isWasmBuffer(out) || at >= 0 ? outputView(out, at, result.length) : out;
  TYPED_SET.call(view, result);
  return view;
}

/**
 * The WasmBuffer that output `out` (at byte address `at`, -1 outside WebAssembly memory; `n`
 * elements) is or is a `view` of, if any; a TypeError naming it if that buffer was freed while the
 * call was in flight (its memory may be another buffer's now), as for the buffer itself, or if `out`
 * is an array outside that memory that no longer holds `n` elements.
 */
function liveOutput(out: FloatOutput | undefined, at: number, n: number, fn: string, arg: string): WasmBuffer | undefined {
  const owner = out === undefined ? undefined : isWasmBuffer(out) ? out : at >= 0 ? owners.get(out) : undefined;
  if (owner !== undefined) liveAddress(owner, `pool.${fn}`, arg);
  // An array of the caller's outside WebAssembly memory, shrunk or detached (transferred, resized)
  // while the call was in flight: the synchronous call's TypeError, nothing written.
  else if (out !== undefined && at < 0) checkStill(out as Float32Array, n, `pool.${fn}`, arg);
  return owner;
}

/** The error a call rejects with: a CallFailed as `pool.<fn>: <why>`, any other error as it is. */
function failure(fn: string, e: unknown): unknown {
  if (!(e instanceof CallFailed)) return e;
  return new Error(`pool.${fn}: ${e.message}`, e.cause === undefined ? undefined : { cause: e.cause });
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
 * Arguments are read at call time: a method reads its options, checks its arguments and copies its
 * inputs before it returns its promise (as the functions do), so the caller may refill or free them
 * at once. Memory: inputs backed by a SharedArrayBuffer reach the workers without a copy (they must
 * not change until the promise settles); other inputs (arrays, WasmBuffers, masks) are copied once
 * into a SharedArrayBuffer that the pool reuses across calls. Workers write results into shared
 * memory that is returned as is (or copied into a non-shared `out`/`gradOut`). Each worker copies its
 * chunk into its own WebAssembly memory to compute.
 *
 * Idle workers do not keep the process alive; `await pool.close()` terminates them.
 *
 * Failures: every call settles. A worker that dies (an uncaught error, `process.exit`, terminated
 * from outside, a reply that cannot be deserialized) fails the calls that had a chunk on it, with
 * an error naming the worker and why; a later call starts a new worker in its place. A worker that
 * fails to start fails the calls waiting for it the same way. A job that cannot be posted fails its
 * call only. The pool stays usable after any of these.
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
  // Loading starts now; a failed load is no unhandled rejection here (the calls made before the
  // module is ready each await init() as it stands then: a retried init, not this first promise).
  init().catch(() => {});
  let closed = false;
  let closing: Promise<void> | undefined;
  const isClosed = () => closed;
  const slots: (PoolWorker | undefined)[] = Array.from({ length: threads }, () => undefined);
  const retired = (w: PoolWorker) => {
    if (slots[w.index] === w) slots[w.index] = undefined;
  };
  /** Slot `t`'s worker, started if it has none (at creation, or after the last one died). */
  function slot(t: number): PoolWorker {
    try {
      return (slots[t] ??= new PoolWorker(t, isClosed, retired));
    } catch (e) {
      throw new CallFailed(`could not start worker ${t}: ${String(e)}`, { cause: e });
    }
  }
  for (let t = 0; t < threads; t++) {
    try {
      slot(t);
    } catch {
      // Tried again, and reported, by the first call that needs it.
    }
  }
  const scratch = new SharedScratch();

  /** Chunk `t` of a call on slot `t`'s worker; rejects with a CallFailed if the worker fails it. */
  async function run(t: number, job: Omit<Job, 'id'>): Promise<JobResult> {
    if (closed) throw new CallFailed(CLOSED);
    return slot(t).run(job);
  }

  /** Chunk bounds: `threads` nearly equal parts, each a multiple of 4 elements but the last. */
  function chunks(n: number): [number, number][] {
    const size = Math.ceil(n / threads / 4) * 4;
    const out: [number, number][] = [];
    for (let start = 0; start < n; start += size) out.push([start, Math.min(n, start + size)]);
    return out;
  }

  /** Runs a call's jobs; the scratch buffers `taken` go back to the pool once every job has settled. */
  async function scatter(fn: string, jobs: Omit<Job, 'id'>[], taken: SharedArrayBuffer[]): Promise<number> {
    // Every chunk settles before the call does: no worker still reads its inputs or writes its
    // outputs once it has returned or thrown (the scratch buffers go back to the pool then).
    const settled = await Promise.allSettled(jobs.map((job, t) => run(t, job)));
    scratch.give(taken);
    const results: JobResult[] = [];
    for (const s of settled) {
      if (s.status === 'rejected') throw failure(fn, s.reason);
      results.push(s.value);
    }
    const failed = results.find((r) => r.error !== undefined);
    if (failed) throw rebuild(failed.error!);
    // Chunk sums in chunk order: deterministic for a given thread count.
    return results.reduce((a, r) => a + r.sum, 0);
  }

  /**
   * Runs `start` as one call: synchronously, as the functions read their arguments at call time (a
   * library call made meanwhile is refused, see `enter`). Before the main thread's wasm is ready,
   * `snapshot` copies the arguments first and `start` runs on the copies once it is.
   */
  function call<T>(fn: string, start: () => Promise<T>, snapshot: () => () => Promise<T>): Promise<T> {
    try {
      if (closed) throw new Error(`pool.${fn}: the pool is closed`);
      enter(fn);
    } catch (e) {
      return Promise.reject(e);
    }
    try {
      if (isInitialized()) return start();
      const later = snapshot();
      return init().then(() => {
        if (closed) throw failure(fn, new CallFailed(CLOSED));
        enter(fn);
        try {
          return later();
        } finally {
          leave();
        }
      });
    } catch (e) {
      return Promise.reject(e);
    } finally {
      leave();
    }
  }

  function loss(kind: Kind, fn: string, what: number, input: FloatInput, target: FloatInput, options?: AnyOptions): Promise<PassResult> {
    return call(
      fn,
      () => startLoss(kind, fn, what, input, target, readOptions(kind, fn, options, what)),
      () => {
        // No WebAssembly yet (so no WasmBuffer, no view of its memory): the synchronous call's checks
        // on the arguments as given (an output's overlap with an operand: the copies share nothing
        // with it), then the arrays copied as they are.
        const o = readOptions(kind, fn, options, what);
        checkPass(fn, input, target, o, what);
        const taken: SharedArrayBuffer[] = [];
        const copy = <V,>(v: V, arg: string): V =>
          (v === undefined || typeof v === 'number' ? v : shared(v as FloatInput, scratch, taken, fn, arg)) as V;
        const x = copy(input, 'input');
        const y = copy(target, 'target');
        const copied: PassOptions = {
          ...o,
          weight: copy(o.weight, 'weight'),
          posWeight: copy(o.posWeight, 'posWeight'),
          gradOutput: copy(o.gradOutput, 'gradOutput'),
          mask: o.mask === undefined ? undefined : maskBytes(o.mask, scratch, taken, fn),
        };
        return () => startLoss(kind, fn, what, x, y, copied);
      },
    );
  }

  /**
   * A loss call with its options read: checked, and its inputs copied into shared memory (or run on
   * this thread), before it returns; the workers' part follows.
   */
  function startLoss(kind: Kind, fn: string, what: number, input: FloatInput, target: FloatInput, o: PassOptions): Promise<PassResult> {
    const c = checkPass(fn, input, target, o, what);
    const { n } = c;
    // ('rowMean' runs on the calling thread: its chunks would have to be whole rows.)
    if (n < threshold || threads < 2 || n > MAX_SPLIT || c.reduction === 'rowMean') return Promise.resolve(runRead(kind, fn, input, target, o, what));
    // A freed WasmBuffer operand: the synchronous call's TypeError naming it, in its order (before
    // the divisor's pre-pass reads the mask).
    addressIn(input, c.xHome, fn, 'input');
    addressIn(target, c.yHome, fn, 'target');
    addressIn(c.weight, c.wHome, fn, 'weight');
    addressIn(c.posWeight, c.pHome, fn, 'posWeight');
    addressIn(c.gradOutput, c.gHome, fn, 'gradOutput');
    // A masked mean's or a weightedMean's divisor, from the mask and weight on this thread.
    ensureScratch();
    const divisor = c.reduction === 'mean' || c.reduction === 'weightedMean' ? divisorOf(c, fn) ?? n : undefined;
    const taken: SharedArrayBuffer[] = [];
    try {
      const mask = c.mask === undefined ? undefined : maskBytes(c.mask, scratch, taken, fn);
      const x = shared(input, scratch, taken, fn, 'input');
      const y = shared(target, scratch, taken, fn, 'target');
      const lossOut = c.wantLoss && c.none ? sharedOutput(c.out, n) : undefined;
      const gradOut = c.wantGrad ? sharedOutput(c.gradOut, n) : undefined;
      // Every worker gets a weight or posWeight whole (broadcast operands are phased by the chunk's
      // offset), so one of the input's length that an output is exactly (allowed, as in the
      // synchronous call: checkPass refused any other overlap) is copied: no worker reads elements
      // that another writes, and each worker's own overlap check sees a weight apart from its output.
      // (input, target and gradOutput are sliced like the outputs: each chunk its own elements.)
      const written = (w: FloatInput, home: object | null) =>
        [lossOut, gradOut].some((o) => o !== undefined && sharing(o, viewBuffer(o), w, home) !== Sharing.None);
      const small = (w: FloatInput | undefined, home: object | null, len: number, arg: string) =>
        w === undefined ? undefined : len === n ? shared(w, scratch, taken, fn, arg, written(w, home)) : float32(w, fn, arg);
      const weight = small(c.weight, c.wHome, c.wLen, 'weight');
      const posWeight = small(c.posWeight, c.pHome, c.pLen, 'posWeight');
      const g = c.gradOutput;
      const gradOutput = g === undefined || typeof g === 'number' ? g : shared(g, scratch, taken, fn, 'gradOutput');
      // Each array as long as the checks (and the divisor's pre-pass) read it: copying read its length
      // again, and a getter that answers otherwise would give the workers other periods.
      const copies = [[x, n, 'input'], [y, n, 'target'], [mask, c.mLen, 'mask'], [weight, c.wLen, 'weight'], [posWeight, c.pLen, 'posWeight'], [gradOutput, n, 'gradOutput']] as const;
      for (const [a, len, arg] of copies) {
        if (typeof a === 'object' && a.length !== len) throw new RangeError(`${fn}: ${arg} changed length during the call (${len}, then ${a.length})`);
      }
      const jobs = chunks(n).map(([a, b]) => ({
        kind, fn, what, reduction: c.reduction, offset: a, total: n, divisor,
        labelSmoothing: c.smooth, mask, ...(kind === Kind.Focal ? { alpha: c.alpha, gamma: c.gamma } : {}),
        x: x.subarray(a, b), y: y.subarray(a, b), weight, posWeight,
        gradOutput: gradOutput instanceof Float32Array ? gradOutput.subarray(a, b) : gradOutput,
        out: lossOut?.subarray(a, b), gradOut: gradOut?.subarray(a, b),
      }));
      return scatter(fn, jobs, taken).then((sum) => {
        // Both outputs' buffers checked before either is written (a freed gradOut left out written).
        if (c.wantLoss && c.none) liveOutput(c.out, c.lossAddr, n, fn, 'out');
        if (c.wantGrad) liveOutput(c.gradOut, c.gradAddr, n, fn, 'gradOut');
        const loss = !c.wantLoss ? 0 : c.none ? deliverShared(c.out, c.lossAddr, lossOut!, fn, 'out') : c.reduction === 'sum' ? sum : sum / divisor!;
        return resultOf(what, loss, c.wantGrad ? deliverShared(c.gradOut, c.gradAddr, gradOut!, fn, 'gradOut') : new Float32Array(0));
      });
    } catch (e) {
      scratch.give(taken);
      throw e;
    }
  }

  function map(kind: 'sigmoid' | 'logSigmoid', x: FloatInput, out?: FloatOutput): Promise<Float32Array> {
    return call(
      kind,
      () => startMap(kind, x, out),
      () => {
        // As for a loss: the checks on the arguments as given, then the copy.
        checkMapOutput(kind, x, lengthOf(x, kind, 'input'), out);
        const sx = shared(x, scratch, [], kind, 'input');
        return () => startMap(kind, sx, out);
      },
    );
  }

  function startMap(kind: 'sigmoid' | 'logSigmoid', x: FloatInput, out?: FloatOutput): Promise<Float32Array> {
    const n = lengthOf(x, kind, 'input');
    if (n < threshold || threads < 2 || n > MAX_SPLIT) return Promise.resolve(mapPass(kind === 'sigmoid' ? 'bce_sigmoid' : 'bce_logsigmoid', kind, x, out));
    const at = checkMapOutput(kind, x, n, out);
    const taken: SharedArrayBuffer[] = [];
    const sx = shared(x, scratch, taken, kind, 'input');
    const so = sharedOutput(out, n);
    const jobs = chunks(n).map(([a, b]) => ({ map: kind, fn: kind, what: 0, x: sx.subarray(a, b), out: so.subarray(a, b), offset: a, total: n }));
    return scatter(kind, jobs, taken).then(() => deliverShared(out, at, so, kind, 'out'));
  }

  // The loss methods, one per entry of the operation table (ts/losses.ts).
  const methods = Object.fromEntries(
    (Object.keys(OPS) as OpName[]).map((name) => {
      const { kind, what } = OPS[name];
      const method = (i: FloatInput, t: FloatInput, o?: AnyOptions) => loss(kind, name, what, i, t, o);
      Object.defineProperty(method, 'name', { value: name }); // as the functions' names
      return [name, method];
    }),
  ) as unknown as LossMethods;
  return {
    threads,
    threshold,
    ...methods,
    sigmoid: (x, out) => map('sigmoid', x, out),
    logSigmoid: (x, out) => map('logSigmoid', x, out),
    _workers: () => slots.map((s) => s?.worker),
    close() {
      closed = true;
      closing ??= Promise.all(slots.map((s) => s?.terminate(CLOSED))).then(() => {});
      return closing;
    },
  };
}
