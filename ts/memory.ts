// The kernels' instance and its linear memory: loading (`init()` / `initSync()`, the one place that
// holds the instance; everything else reaches the exports through `kernels()`, which throws a clear
// error before init), buffers the caller owns (`createBuffer`), the fixed scratch that plain arrays
// stream through, and the one float32 view of the whole memory, re-created whenever `memory.grow`
// detaches it. (One module, not two: one file of the default entry fewer, each gzipped on its own.)
//
// Growth rule: memory grows only when a WasmBuffer is created (the scratch is allocated before the
// first one, or by the first call). A loss or sigmoid call never allocates, so a view that the caller
// holds stays valid through any call, and a Float32Array over the module's memory can be passed as an
// argument: it is used in place, by address.

import type * as Kernels from './kernels.js';

/**
 * The raw exports of the kernels' instance (`crate/`, one `#[wasm_bindgen]` function each: numbers and
 * addresses in, a status or a number out; see the Rust doc comments there), as wasm-bindgen declares
 * them in `kernels.d.ts` (its `bce_wasm_kernels_bg.wasm.d.ts`, copied there by build.sh).
 */
export type KernelExports = typeof Kernels;

/** Which build of the kernels runs: WebAssembly SIMD128, or the scalar fallback (same results). */
export type Backend = 'simd128' | 'scalar';

/**
 * Where `init()` can get the WebAssembly module from: its bytes, a URL (or a string URL) to fetch or,
 * in Node, a `file:` URL to read, a `Response` (or a promise of one, e.g. `fetch(...)`), or a compiled
 * `WebAssembly.Module`. With no argument, `bce_wasm.wasm` beside this module is used.
 */
export type InitSource =
  | BufferSource
  | URL
  | string
  | Response
  | PromiseLike<Response>
  | WebAssembly.Module;

/** The part of `node:fs/promises` that init() uses in Node. */
interface NodeFs {
  readFile(path: URL): Promise<Uint8Array<ArrayBuffer>>;
}

let exportsOrNull: KernelExports | null = null;
let pending: Promise<void> | null = null;

/** The kernel exports; throws if `init()` has not finished. */
export function kernels(): KernelExports {
  if (exportsOrNull === null) {
    throw new Error('bce-wasm is not initialized: call `await init()` (or `initSync(bytes)`) first');
  }
  return exportsOrNull;
}

/** Whether `init()` or `initSync()` has completed. */
export function isInitialized(): boolean {
  return exportsOrNull !== null;
}

/** Which build of the kernels `init` loaded: `'simd128'`, or `'scalar'` where the engine lacks SIMD. */
export function backend(): Backend {
  return kernels().bce_build() === 1 ? 'simd128' : 'scalar';
}

// The smallest module that uses a SIMD128 instruction: (func (result v128) (v128.const i32x4 0 0 0 0)).
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);
let simd: boolean | undefined;

/** Whether this engine runs WebAssembly SIMD128 (probed once with `WebAssembly.validate`). */
export function simdSupported(): boolean {
  if (simd === undefined) simd = WebAssembly.validate(SIMD_PROBE);
  return simd;
}

/** The WebAssembly memory that buffers live in (for diagnostics and advanced zero-copy use). */
export function wasmMemory(): WebAssembly.Memory {
  return kernels().memory;
}

/**
 * Makes `instance` the kernels: unless an instance already is (an `initSync()` that finished while an
 * `init()` was pending: buffers live in that one's memory), and only if it is bce-wasm's module.
 */
function adopt(instance: WebAssembly.Instance): void {
  const e = instance.exports as unknown as KernelExports;
  if (exportsOrNull !== null) return;
  // (Its newest export: another version's module is refused as well.)
  if (typeof e.bce_sigmoid_focal_loss_b !== 'function' || !(e.memory instanceof WebAssembly.Memory)) throw new TypeError('bce-wasm: that module is not this version of bce_wasm.wasm');
  exportsOrNull = e;
}

/**
 * Loads and instantiates the kernels once; later calls return the same promise. Every other function
 * of this package needs it to have finished.
 *
 * @param source where the `.wasm` comes from (see {@link InitSource}); default: the file shipped
 *   beside this module, `bce_wasm.wasm` (SIMD128) or, where the engine has no SIMD,
 *   `bce_wasm_scalar.wasm`; read from disk in Node and fetched (streaming-compiled) in browsers.
 */
export function init(source?: InitSource): Promise<void> {
  if (exportsOrNull !== null) return Promise.resolve();
  if (pending === null) {
    // Both URLs are written out literally so that bundlers (Vite, webpack 5) see and copy the files.
    const url = simdSupported()
      ? new URL('./bce_wasm.wasm', import.meta.url)
      : new URL('./bce_wasm_scalar.wasm', import.meta.url);
    pending = instantiate(source ?? url)
      .then(adopt)
      .catch((err) => {
        pending = null;
        // (An initSync() meanwhile has made the kernels: init() has nothing left to do.)
        if (exportsOrNull === null) throw err;
      });
  }
  return pending;
}

/**
 * Instantiates the kernels synchronously from bytes or a compiled module (for Workers and tests that
 * already hold them). Browsers only allow this for small modules on the main thread; this one is.
 */
export function initSync(source: BufferSource | WebAssembly.Module): void {
  if (exportsOrNull !== null) return;
  const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(bytesOf(source));
  adopt(new WebAssembly.Instance(module, {}));
}

function bytesOf(source: unknown): BufferSource {
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return source as BufferSource;
  throw new TypeError('bce-wasm: expected the bytes of the .wasm module (ArrayBuffer or a typed array)');
}

async function instantiate(source: InitSource): Promise<WebAssembly.Instance> {
  if (source instanceof WebAssembly.Module) return WebAssembly.instantiate(source, {});
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    return (await WebAssembly.instantiate(source as BufferSource, {})).instance;
  }
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, typeof location === 'undefined' ? import.meta.url : location.href);
    if (url.protocol === 'file:') {
      // Node (or another runtime with node:fs). The specifier is a variable so that bundlers for the
      // web leave it alone; they take the fetch() path below.
      const fsModule = 'node:fs/promises';
      const fs = (await import(/* webpackIgnore: true */ /* @vite-ignore */ fsModule)) as NodeFs;
      return (await WebAssembly.instantiate(await fs.readFile(url), {})).instance;
    }
    return fromResponse(fetch(url));
  }
  if (typeof (source as PromiseLike<Response>).then === 'function' || isResponse(source)) {
    return fromResponse(source as Response | PromiseLike<Response>);
  }
  throw new TypeError(
    'bce-wasm: init() takes bytes, a URL, a Response or a WebAssembly.Module, not ' + typeof source,
  );
}

function isResponse(v: unknown): v is Response {
  return typeof Response !== 'undefined' && v instanceof Response;
}

async function fromResponse(pending: Response | PromiseLike<Response>): Promise<WebAssembly.Instance> {
  const response = await pending;
  if (!response.ok) {
    throw new Error(`bce-wasm: fetching ${response.url || 'the .wasm'} failed: HTTP ${response.status}`);
  }
  const type = response.headers.get('content-type') ?? '';
  if (typeof WebAssembly.instantiateStreaming === 'function' && type.startsWith('application/wasm')) {
    return (await WebAssembly.instantiateStreaming(response, {})).instance;
  }
  // Servers that send another MIME type: compile from the bytes instead.
  return (await WebAssembly.instantiate(await response.arrayBuffer(), {})).instance;
}

/** Anything the functions read floats from: a plain array, any typed array, or a {@link WasmBuffer}. */
export type FloatInput = WasmBuffer | ArrayLike<number>;

/** Where a function may write its result: a Float32Array of the right length, or a {@link WasmBuffer}. */
export type FloatOutput = WasmBuffer | Float32Array;

const BYTES = 4;

// Typed arrays are read through %TypedArray%.prototype's own accessors, taken here once: a subclass
// or an own property can redefine `length`, `buffer`, `byteOffset` or `subarray`, and a length that
// lies would make a copy overrun the scratch, a byteOffset that lies send the kernels elsewhere.
const TYPED_ARRAY = Object.getPrototypeOf(Uint8Array.prototype) as object;
const accessor = (key: PropertyKey) => Object.getOwnPropertyDescriptor(TYPED_ARRAY, key)!.get as (this: unknown) => unknown;
const TYPED_NAME = accessor(Symbol.toStringTag);
const TYPED_LENGTH = accessor('length');
const TYPED_BUFFER = accessor('buffer');
const TYPED_OFFSET = accessor('byteOffset');
const TYPED_BYTES = accessor('byteLength');
/** %TypedArray%.prototype.set, for writing into a caller's array. */
export const TYPED_SET = (TYPED_ARRAY as { set: (this: unknown, source: ArrayLike<number>, offset?: number) => void }).set;
/**
 * The type name of a typed array (`'Float32Array'`, ...), whatever its class or own properties say;
 * undefined for anything else (a DataView, a Proxy of a typed array, a plain array).
 */
export function typedName(x: unknown): string | undefined {
  return TYPED_NAME.call(x) as string | undefined;
}

/** Whether `x` is a Float32Array (of any subclass), by its internal type. */
export function isFloat32Array(x: unknown): x is Float32Array {
  return TYPED_NAME.call(x) === 'Float32Array';
}

/** A typed array's element count (its own, not what a `length` getter says). */
export function viewLength(x: ArrayBufferView): number {
  return TYPED_LENGTH.call(x) as number;
}

/** A typed array's buffer (its own). */
export function viewBuffer(x: ArrayBufferView): ArrayBufferLike {
  return TYPED_BUFFER.call(x) as ArrayBufferLike;
}

/** A typed array's byte offset (its own). */
export function viewOffset(x: ArrayBufferView): number {
  return TYPED_OFFSET.call(x) as number;
}

/**
 * Elements per piece: arrays that are not in WebAssembly memory stream through scratch this many
 * elements at a time (16K floats: 64 KiB per operand, so input, target and outputs stay in L2 cache).
 */
export const PIECE = 1 << 14;

/**
 * The largest {@link WasmBuffer}, in elements: Rust's allocator on wasm32 serves at most
 * `2^31 - 16` bytes in one block (`isize::MAX` rounded down to the 16-byte alignment).
 */
export const MAX_BUFFER_LENGTH = (2 ** 31 - 16) / BYTES;

/** Scratch slots, one piece each. */
export const enum Slot {
  Input,
  Target,
  Weight,
  PosWeight,
  GradOutput,
  Loss,
  Grad,
  /** A piece of a mask, as bytes. */
  Mask,
}
const SLOTS = 8;

/** The scratch block: `SLOTS * PIECE` floats, allocated once (see the growth rule above). */
let scratchBase = 0;

const disposeSymbol: symbol =
  (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('Symbol.dispose');

let heap: Float32Array | null = null;

/**
 * A Float32Array over the whole WebAssembly memory, re-created after `memory.grow` (which detaches the
 * old buffer: its views then have length 0, a cheaper test than reading `memory.buffer`).
 */
export function heapU8(): Uint8Array {
  return new Uint8Array(memoryBuffer());
}

export function heapF32(): Float32Array {
  if (heap === null || heap.length === 0) {
    heapBuffer = kernels().memory.buffer;
    heap = new Float32Array(heapBuffer);
  }
  return heap;
}

/** The ArrayBuffer of {@link heapF32} (kept beside it: reading a typed array's `buffer` is not free). */
let heapBuffer: ArrayBuffer = new ArrayBuffer(0);

/** The current ArrayBuffer of WebAssembly memory. */
export function memoryBuffer(): ArrayBuffer {
  heapF32();
  return heapBuffer;
}

/** Set while a call reads its arguments (see {@link enter}). */
let busy = false;

/**
 * Marks the start of a call that reads user data: a call made meanwhile (from an element getter, a
 * Proxy, an options getter) is refused, as it would reuse the outer call's scratch. Pair with
 * {@link leave} in a `finally`.
 */
export function enter(fn: string): void {
  if (busy) throw new Error(`${fn}: bce-wasm functions cannot be called while another call is reading its arguments`);
  busy = true;
}

/** The end of a call begun with {@link enter}. */
export function leave(): void {
  busy = false;
}


/**
 * TypeError for an empty-looking typed array whose buffer is detached: a view of WebAssembly memory
 * from before a growth (even one taken before the library saw any growth), or of a buffer
 * transferred elsewhere. Such a view reads as empty; it must not pass for an empty array.
 */
function checkNotStale(x: unknown, fn: string, arg?: string): void {
  if (typedName(x) === undefined) return;
  const buffer = viewBuffer(x as ArrayBufferView);
  if (isDetached(buffer)) {
    throw new TypeError(
      `${named(fn, arg)} is a view of a detached ArrayBuffer (WebAssembly memory from before the memory grew: ` +
        're-read buffer.view after creating buffers)',
    );
  }
}

/** Whether an ArrayBuffer is detached: a view of it cannot be made (every engine; `detached` is newer). */
function isDetached(buffer: ArrayBufferLike): boolean {
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

function allocate(bytes: number, what: string): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > MAX_BUFFER_LENGTH * BYTES) {
    throw new RangeError(`bce-wasm: cannot allocate ${bytes} bytes for ${what} (at most ${MAX_BUFFER_LENGTH * BYTES})`);
  }
  const ptr = kernels().bce_alloc(bytes) >>> 0;
  heapF32(); // takes the grown memory now
  if (ptr === 0) {
    throw new RangeError(`bce-wasm: out of WebAssembly memory allocating ${bytes} bytes for ${what}`);
  }
  return ptr;
}

/**
 * Allocates the scratch block if it does not exist yet; a no-op afterwards. Every call runs it before
 * it looks at its arguments, so the one growth it may cause happens before any view is taken.
 */
export function ensureScratch(): void {
  if (scratchBase === 0) scratchBase = allocate(SLOTS * PIECE * BYTES, 'scratch');
}

/** The byte address of scratch slot `slot` (after {@link ensureScratch}). */
export function slotAddress(slot: Slot): number {
  return scratchBase + slot * PIECE * BYTES;
}

// Frees the memory of a buffer that was garbage-collected without `free()`. Finalizers run only
// between tasks, and not at all in a synchronous loop: `free()` / `using` is the way to free.
const leaks =
  typeof FinalizationRegistry === 'undefined'
    ? null
    : new FinalizationRegistry<{ ptr: number; bytes: number }>(({ ptr, bytes }) => {
        kernels().bce_free(ptr, bytes);
      });

/** A WasmBuffer's element count (its own: see the class). */
export let bufferLength: (b: WasmBuffer) => number;
/** A WasmBuffer's byte address, 0 once freed (its own: see the class). */
export let bufferAddress: (b: WasmBuffer) => number;
/** Frees a WasmBuffer from inside the library (free() refuses during a call). */
let releaseBuffer: (b: WasmBuffer) => void;
/** A WasmBuffer's view (its own `view`, whatever a prototype says). */
export let bufferView: (b: WasmBuffer) => Float32Array;
/** Whether `x` is a WasmBuffer that createBuffer made (not an object with its prototype). */
export let isWasmBuffer: (x: unknown) => x is WasmBuffer;

/**
 * Each view handed out by {@link WasmBuffer.view} keeps its buffer reachable: a caller who keeps only
 * the view (or a call's result that is one) must not see the finalizer free the memory under it.
 */
export const owners = new WeakMap<Float32Array, WasmBuffer>();

/**
 * float32 storage inside the WebAssembly memory. Functions given a `WasmBuffer` read and write it in
 * place (zero-copy); `view` is how JavaScript reads and fills it. Free it with `free()`, or declare it
 * with `using` so that it is freed at the end of the block. A buffer that is dropped without `free()`
 * is returned only if and when the garbage collector finalizes it, which may be never within a
 * synchronous loop: do not rely on it.
 */
export class WasmBuffer {
  // The length and the address are private, read inside the library through bufferLength and
  // bufferAddress (never a property a caller could set or a subclass redefine: the kernels trust them).
  #length: number;
  #ptr: number;
  #view: Float32Array | null = null;
  #token = {};

  static {
    bufferLength = (b) => b.#length;
    bufferAddress = (b) => b.#ptr;
    releaseBuffer = (b) => b.#release();
    bufferView = (b) => b.#current();
    isWasmBuffer = (x) => typeof x === 'object' && x !== null && #ptr in x;
  }

  /** @internal Use {@link createBuffer}. */
  constructor(length: number) {
    ensureScratch();
    this.#length = length;
    this.#ptr = allocate(length * BYTES, 'a WasmBuffer');
    leaks?.register(this, { ptr: this.#ptr, bytes: length * BYTES }, this.#token);
  }

  /** Number of float32 elements. */
  get length(): number {
    return this.#length;
  }

  /**
   * The elements as a Float32Array over WebAssembly memory. Creating another WasmBuffer may grow the
   * memory, which detaches views taken before (they then have length 0): re-read `view` after that.
   * Loss and sigmoid calls never grow memory.
   */
  get view(): Float32Array {
    return this.#current();
  }

  #current(): Float32Array {
    if (this.#ptr === 0) throw freedError('view');
    // A view detached by memory.grow has length 0 (as has the view of an empty buffer: re-creating
    // that one is harmless).
    if (this.#view === null || this.#view.length === 0) {
      this.#view = new Float32Array(memoryBuffer(), this.#ptr, this.#length);
      owners.set(this.#view, this);
    }
    return this.#view;
  }

  /** Whether `free()` was called. */
  get freed(): boolean {
    return this.#ptr === 0;
  }

  /** Returns the memory. Using the buffer afterwards throws a TypeError; freeing twice is a no-op. */
  free(): void {
    // From inside a call (an element getter, a Proxy): the call may still write it.
    if (busy && this.#ptr !== 0) throw new Error('free: a WasmBuffer cannot be freed while a bce-wasm call is reading its arguments');
    this.#release();
  }

  #release(): void {
    if (this.#ptr === 0) return;
    leaks?.unregister(this.#token);
    kernels().bce_free(this.#ptr, this.#length * BYTES);
    this.#ptr = 0;
    this.#view = null;
  }

  /** Same as `free()`, for `using buf = createBuffer(n)`. */
  [Symbol.dispose](): void {
    this.free();
  }
}

if (disposeSymbol !== (Symbol as unknown as { dispose?: symbol }).dispose) {
  // Runtimes without Symbol.dispose: expose the method under the registered symbol too.
  (WasmBuffer.prototype as unknown as Record<symbol, () => void>)[disposeSymbol] = WasmBuffer.prototype.free;
}

/** A WasmBuffer's byte address; TypeError naming `fn: arg` once it is freed. */
export function liveAddress(b: WasmBuffer, fn: string, arg?: string): number {
  const ptr = bufferAddress(b);
  if (ptr === 0) throw freedError(named(fn, arg));
  return ptr;
}

/** `fn: arg`, the name of an argument in a message (built only when a message is). */
export function named(fn: string, arg?: string): string {
  return arg === undefined ? fn : `${fn}: ${arg}`;
}

function freedError(name: string): TypeError {
  return new TypeError(`${name}: this WasmBuffer was freed and cannot be used again`);
}

/**
 * Allocates a {@link WasmBuffer} in WebAssembly memory: `createBuffer(n)` gives `n` zeros,
 * `createBuffer(values)` a copy of `values` (an array of numbers, a typed array, or another WasmBuffer).
 *
 * @throws RangeError for a length above {@link MAX_BUFFER_LENGTH} or when memory cannot grow;
 *   TypeError for a freed WasmBuffer or an element that is not a number (naming its index)
 */
export function createBuffer(lengthOrValues: number | FloatInput): WasmBuffer {
  enter('createBuffer');
  try {
    return newBuffer(lengthOrValues);
  } finally {
    leave();
  }
}

function newBuffer(lengthOrValues: number | FloatInput): WasmBuffer {
  const fn = 'createBuffer';
  if (typeof lengthOrValues === 'number') {
    if (!Number.isInteger(lengthOrValues) || lengthOrValues < 0 || lengthOrValues > MAX_BUFFER_LENGTH) {
      throw new RangeError(`${fn}: length must be an integer from 0 to ${MAX_BUFFER_LENGTH}, got ${lengthOrValues}`);
    }
    const buf = new WasmBuffer(lengthOrValues || 0); // (-0 is a length of 0, not -0)
    bufferView(buf).fill(0);
    return buf;
  }
  const n = lengthOf(lengthOrValues, fn, 'values');
  if (n > MAX_BUFFER_LENGTH) {
    throw new RangeError(`${fn}: values has ${n} elements; a WasmBuffer holds at most ${MAX_BUFFER_LENGTH}`);
  }
  // The source's address before the allocation, which may grow memory and detach a view of it;
  // another typed array over WebAssembly memory is copied out first, for the same reason.
  const from = addressOf(lengthOrValues, fn, 'values');
  let values = lengthOrValues as ArrayLike<number>;
  if (from < 0 && homeOf(values) === WASM_MEMORY) {
    values = new Float32Array(n);
    copyChecked(lengthOrValues as ArrayLike<number>, 0, n, values as Float32Array, 0, fn, 'values');
  }
  const buf = new WasmBuffer(n);
  const to = liveAddress(buf, fn) >>> 2;
  if (from >= 0) heapF32().copyWithin(to, from >>> 2, (from >>> 2) + n);
  else {
    try {
      copyIn(values, 0, n, to, fn, 'values');
    } catch (e) {
      releaseBuffer(buf); // a bad element: the block goes back at once, not when a GC finds it
      throw e;
    }
  }
  return buf;
}

/** What a mask may be, in error messages. */
export const MASK_KINDS = 'a Uint8Array or an array of 0/1 numbers or booleans';

/**
 * The element count of a float input; TypeError naming `name` for anything that is not one (a
 * BigInt64Array included), RangeError for an array-like whose length is not a valid length.
 */
export function lengthOf(x: unknown, fn: string, arg?: string): number {
  if (isWasmBuffer(x)) return bufferLength(x);
  const name = typedName(x);
  if (name !== undefined) {
    // Its own length, whatever a getter says (see typedName).
    const n = viewLength(x as ArrayBufferView);
    if (n === 0) checkNotStale(x, fn, arg);
    if (name === 'BigInt64Array' || name === 'BigUint64Array') {
      throw new TypeError(`${named(fn, arg)} must hold numbers, got a ${name} (convert it to ${arg === 'mask' ? 'Uint8Array' : 'Float32Array'})`);
    }
    return n;
  }
  if (x !== null && typeof x === 'object') {
    let n: unknown;
    try {
      n = (x as ArrayLike<number>).length;
    } catch (e) {
      throw new TypeError(`${named(fn, arg)}: its length cannot be read (${x instanceof WasmBuffer ? `a ${NOT_MADE}` : (e as Error).message})`);
    }
    if (typeof n === 'number') {
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${named(fn, arg)}.length must be a non-negative integer, got ${n}`);
      return n;
    }
  }
  throw new TypeError(
    `${named(fn, arg)} must be ${arg === 'mask' ? MASK_KINDS : 'a Float32Array, an array of numbers or a WasmBuffer'}, got ${describe(x)}`,
  );
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return v instanceof WasmBuffer && !isWasmBuffer(v) ? NOT_MADE : (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** What {@link describe} calls an object with WasmBuffer's prototype that is not a WasmBuffer. */
const NOT_MADE = 'WasmBuffer not made by createBuffer';

/**
 * The byte address of `x`'s elements if they live in WebAssembly memory (a WasmBuffer, or a
 * Float32Array over the module's memory, used in place), else -1. Throws for a freed WasmBuffer.
 */
export function addressOf(x: unknown, fn: string, arg?: string): number {
  if (isWasmBuffer(x)) return liveAddress(x, fn, arg);
  return isFloat32Array(x) ? addressIn(x, homeOf(x), fn, arg) : -1;
}

/**
 * Copies `src[a .. a + m)` to float index `to` of WebAssembly memory, in the one pass that also
 * checks a plain array's elements (see {@link copyChecked}).
 */
export function copyIn(src: ArrayLike<number>, a: number, m: number, to: number, fn: string, arg?: string): void {
  if (typedName(src) !== undefined) return copyChecked(src, a, m, heapF32(), to, fn, arg);
  // Elements that may be getters: through a piece of JavaScript memory, then into the heap as it is
  // after them (a getter that grows memory would leave the writes in a detached view).
  temp ??= new Float32Array(PIECE);
  for (let i = 0; i < m; i += PIECE) {
    const k = Math.min(PIECE, m - i);
    copyChecked(src, a + i, k, temp, 0, fn, arg);
    heapF32().set(k === PIECE ? temp : temp.subarray(0, k), to + i);
  }
}

let temp: Float32Array | undefined;

/** TypeError for a typed array that is shorter than `end` now (shrunk or detached by a getter during the call). */
export function checkStill(x: ArrayBufferView, end: number, fn: string, arg?: string): void {
  if (viewLength(x) < end) throw stillError(fn, arg);
}

function stillError(fn: string, arg?: string): TypeError {
  return new TypeError(`${named(fn, arg)} shrank or was detached during the call`);
}

/**
 * Copies `src[a .. a + m)` into `dst` from index `to`, converting to float32. A plain array's
 * elements are checked in the same loop: anything but a number is a TypeError naming `fn: arg` and
 * the index. Typed arrays (already numbers) are copied with `set`.
 */
export function copyChecked(
  src: ArrayLike<number>, a: number, m: number, dst: Float32Array, to: number, fn: string, arg?: string,
): void {
  const name = typedName(src);
  if (name !== undefined) {
    // Its own length and its own memory (`set` copies all of what it is given; a subarray could be
    // anything a subclass makes): a Float32Array in one `set`, other types element by element.
    const t = src as unknown as Float32Array;
    checkStill(t, a + m, fn, arg);
    if (a === 0 && m === viewLength(t)) dst.set(t, to);
    else if (m > SHORT && name === 'Float32Array') dst.set(new Float32Array(viewBuffer(t), viewOffset(t) + 4 * a, m), to);
    else for (let i = 0; i < m; i++) dst[to + i] = t[a + i];
    return;
  }
  for (let i = 0; i < m; i++) {
    const v = src[a + i];
    if (typeof v !== 'number') throw notANumber(named(fn, arg), a + i, v);
    dst[to + i] = v;
  }
}

/** Up to this many elements a copy is a plain loop (cheaper than creating a subarray to `set`). */
const SHORT = 16;

/** Up to this many elements a copy is a plain loop rather than one `set` (measured: about 30 instructions per element against 150 per `set`). */
const TINY = 4;

/** Copies the first `m` floats of scratch slot `slot` to `dst[a ..]`. */
export function copyOut(slot: Slot, m: number, dst: Float32Array, a: number, fn = '', arg?: string): void {
  // (The caller's array, written through %TypedArray%.prototype.set itself, not its own `set`; its
  // length checked again unless the caller has just done so, `fn` empty.)
  if (fn !== '') checkStill(dst, a + m, fn, arg);
  if (m > TINY) {
    TYPED_SET.call(dst, slotView(slot, m), a);
  } else {
    const h = heapF32();
    const from = slotAddress(slot) >>> 2;
    for (let i = 0; i < m; i++) dst[a + i] = h[from + i];
  }
}

/** Copies `src`, its `m` elements (its own length, as the caller read it), into the heap from float index `to` (as {@link copyOut}: a loop when short). */
export function copyFloats(src: Float32Array, m: number, to: number): void {
  const h = heapF32();
  if (m > TINY) h.set(src, to);
  else for (let i = 0; i < m; i++) h[to + i] = src[i];
}

// The last view of each scratch slot that `slotView` made: calls of one size reuse it.
const slotViews: (Float32Array | undefined)[] = [];

/**
 * A Float32Array over the first `m` floats of scratch slot `slot`, kept for the next call of the
 * same size (a view detached by `memory.grow` has length 0 and is made again).
 */
function slotView(slot: Slot, m: number): Float32Array {
  let v = slotViews[slot];
  if (v === undefined || v.length !== m) {
    v = new Float32Array(memoryBuffer(), slotAddress(slot), m);
    slotViews[slot] = v;
  }
  return v;
}

/**
 * A string or a BigInt element as the messages about elements show it, so that neither reads as a
 * number ('1' or 1n as 1); undefined for anything else.
 */
export const quotedElement = (v: unknown): string | undefined =>
  typeof v === 'string' ? `the string '${v}'` : typeof v === 'bigint' ? `the BigInt ${v}n` : undefined;

/** TypeError for element `index` of `name` that is `v`, not a number. */
export function notANumber(name: string, index: number, v: unknown): TypeError {
  // (A function or an object by its kind: String() would run its toString.)
  const what =
    v === undefined ? 'undefined (a hole or a missing element)' : quotedElement(v) ?? describe(v) + (typeof v === 'object' || typeof v === 'function' ? '' : ` ${String(v)}`);
  return new TypeError(`${name}[${index}] is ${what}, not a number`);
}

/** A new Float32Array of `n` elements for a result; RangeError naming `fn` where none can be that long. */
export function newResult(n: number, fn: string): Float32Array {
  try {
    return new Float32Array(n);
  } catch {
    throw new RangeError(`${fn}: a result of ${n} elements is longer than a Float32Array can be here; pass an out buffer or split the input`);
  }
}

/** Stands for WebAssembly memory where homes are compared (its ArrayBuffer changes when memory grows). */
export const WASM_MEMORY: object = {};

/**
 * Where the elements of `x` live: {@link WASM_MEMORY} for a WasmBuffer or a view of the module's
 * memory, the (Shared)ArrayBuffer of any other typed array, null for anything else (a plain array
 * shares memory with nothing). A view's `buffer` is not free to read: a call takes each argument's
 * home once and uses it for both its address and its overlap checks. Before `init()` has finished no
 * array is in WebAssembly memory (the pool checks the arguments of calls made then).
 */
export function homeOf(x: unknown): object | null {
  if (isWasmBuffer(x)) return WASM_MEMORY;
  if (typedName(x) === undefined) return null;
  const buffer = viewBuffer(x as ArrayBufferView);
  return isInitialized() && buffer === memoryBuffer() ? WASM_MEMORY : buffer;
}

/**
 * The byte address of `x` (whose home is `home`, see {@link homeOf}) if the kernels can use it in
 * place: a WasmBuffer, or a Float32Array over the module's memory; else -1. Throws for a freed
 * WasmBuffer.
 */
export function addressIn(x: unknown, home: object | null, fn: string, arg?: string): number {
  if (home !== WASM_MEMORY) return -1;
  if (isWasmBuffer(x)) return liveAddress(x, fn, arg);
  if (!isFloat32Array(x)) return -1;
  // A view of the module's memory that a getter's growth detached after the check (its offset would read 0).
  if (viewBuffer(x) !== memoryBuffer()) throw stillError(fn, arg);
  return viewOffset(x);
}

/** How two arrays share memory (see {@link sharing}). */
export const enum Sharing {
  None,
  /** Exactly the same elements. */
  Same,
  /** Anything else: a shifted or partial view. */
  Partial,
}

/**
 * How `a` and `b` (with homes `aHome`, `bHome` from {@link homeOf}) share memory. Empty arrays and
 * freed WasmBuffers share nothing (a freed buffer is refused by name where its address is taken).
 */
export function sharing(a: unknown, aHome: object | null, b: unknown, bHome: object | null): Sharing {
  if (aHome !== bHome || aHome === null) return Sharing.None;
  const as = startOf(a);
  const ae = endOf(a, as);
  const bs = startOf(b);
  const be = endOf(b, bs);
  if (as < 0 || bs < 0 || as >= ae || bs >= be || as >= be || bs >= ae) return Sharing.None;
  return as === bs && ae === be ? Sharing.Same : Sharing.Partial;
}

/** The first byte of an array with a home: a WasmBuffer's address (-1 once freed), a view's offset. */
function startOf(x: unknown): number {
  if (isWasmBuffer(x)) return bufferAddress(x) || -1;
  return viewOffset(x as ArrayBufferView);
}

/** The byte after an array with a home that starts at `start`. */
function endOf(x: unknown, start: number): number {
  return start + (isWasmBuffer(x) ? bufferLength(x) * BYTES : (TYPED_BYTES.call(x) as number));
}

/** RangeError for an output that overlaps an operand without being exactly its elements. */
export function overlapError(fn: string, arg: string, operand: string): RangeError {
  return new RangeError(
    `${fn}: ${arg} overlaps ${operand} without being the same elements; write the result elsewhere ` +
      '(an output may be exactly an input, but not a shifted or partial view of one)',
  );
}

/** RangeError for two outputs that share memory. */
export function sharedOutputsError(fn: string, arg: string, other: string): RangeError {
  return new RangeError(`${fn}: ${arg} and ${other} share memory; they must be separate arrays`);
}

/**
 * RangeError unless `out` is disjoint from the operand `x` or exactly the same elements (allowed: the
 * kernels read each block before writing it). As in PyTorch, whose `out=` refuses a partial overlap.
 */
export function checkOverlap(out: unknown, fn: string, arg: string, x: unknown, operand: string): void {
  if (sharing(out, homeOf(out), x, homeOf(x)) === Sharing.Partial) throw overlapError(fn, arg, operand);
}

/**
 * Checks an output's type, state and length before anything runs; returns its address or -1.
 * `home` is its {@link homeOf} when the caller has it already.
 */
export function checkOutput(out: unknown, n: number, fn: string, arg?: string, home: object | null = homeOf(out)): number {
  if (out === undefined) return -1;
  if (!isWasmBuffer(out) && !isFloat32Array(out)) {
    throw new TypeError(`${named(fn, arg)} must be a Float32Array or a WasmBuffer, got ${describe(out)}`);
  }
  const address = addressIn(out, home, fn, arg);
  const length = isWasmBuffer(out) ? bufferLength(out) : viewLength(out);
  if (length === 0) checkNotStale(out, fn, arg);
  if (length !== n) {
    throw new RangeError(`${named(fn, arg)} has length ${length} but the result has ${n} elements`);
  }
  return address;
}
