// Linear memory: buffers the caller owns (`createBuffer`), scratch the facade reuses for plain
// arrays, and the one float32 view of the whole memory, re-created whenever `memory.grow` detaches it.

import { kernels } from './wasm.js';

/** Anything the functions read floats from: a plain array, any typed array, or a {@link WasmBuffer}. */
export type FloatInput = WasmBuffer | ArrayLike<number>;

/** Where a function may write its result: a Float32Array of the right length, or a {@link WasmBuffer}. */
export type FloatOutput = WasmBuffer | Float32Array;

const BYTES = 4;
/** Largest element count one array can have: 4 bytes each in a 32-bit address space. */
export const MAX_LENGTH = 2 ** 30 - 1;

const disposeSymbol: symbol =
  (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('Symbol.dispose');

let heap: Float32Array | null = null;

/** A Float32Array over the whole WebAssembly memory, valid until the next allocation. */
export function heapF32(): Float32Array {
  const buffer = kernels().memory.buffer;
  if (heap === null || heap.buffer !== buffer) heap = new Float32Array(buffer);
  return heap;
}

function allocate(bytes: number, what: string): number {
  const ptr = kernels().bce_alloc(bytes) >>> 0;
  if (ptr === 0) {
    throw new RangeError(`bce-wasm: out of WebAssembly memory allocating ${bytes} bytes for ${what}`);
  }
  return ptr;
}

// Frees the memory of a buffer that was garbage-collected without `free()`.
const leaks =
  typeof FinalizationRegistry === 'undefined'
    ? null
    : new FinalizationRegistry<{ ptr: number; bytes: number }>(({ ptr, bytes }) => {
        kernels().bce_free(ptr, bytes);
      });

/**
 * float32 storage inside the WebAssembly memory. Functions given a `WasmBuffer` read and write it in
 * place (zero-copy); `view` is how JavaScript reads and fills it. Free it with `free()` (or a `using`
 * declaration); one that is garbage-collected unfreed is freed then.
 */
export class WasmBuffer {
  /** Number of float32 elements. */
  readonly length: number;
  #ptr: number;
  #view: Float32Array | null = null;
  #token = {};

  /** @internal Use {@link createBuffer}. */
  constructor(length: number) {
    this.length = length;
    this.#ptr = allocate(length * BYTES, 'a WasmBuffer');
    leaks?.register(this, { ptr: this.#ptr, bytes: length * BYTES }, this.#token);
  }

  /**
   * The elements as a Float32Array over WebAssembly memory. Re-read it after calls that may grow
   * memory (an old view is then detached and has length 0); this getter always returns a live one.
   */
  get view(): Float32Array {
    const buffer = kernels().memory.buffer;
    if (this.#ptr === 0) throw freedError('view');
    if (this.#view === null || this.#view.buffer !== buffer) {
      this.#view = new Float32Array(buffer, this.#ptr, this.length);
    }
    return this.#view;
  }

  /** Whether `free()` was called. */
  get freed(): boolean {
    return this.#ptr === 0;
  }

  /** @internal The byte address in WebAssembly memory; throws if freed. `name` is for the message. */
  address(name: string): number {
    if (this.#ptr === 0) throw freedError(name);
    return this.#ptr;
  }

  /** Returns the memory. Using the buffer afterwards throws a TypeError; freeing twice is a no-op. */
  free(): void {
    if (this.#ptr === 0) return;
    leaks?.unregister(this.#token);
    kernels().bce_free(this.#ptr, this.length * BYTES);
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

function freedError(name: string): TypeError {
  return new TypeError(`${name}: this WasmBuffer was freed and cannot be used again`);
}

/**
 * Allocates a {@link WasmBuffer} in WebAssembly memory: `createBuffer(n)` gives `n` zeros,
 * `createBuffer(values)` a copy of `values`.
 */
export function createBuffer(lengthOrValues: number | ArrayLike<number>): WasmBuffer {
  if (typeof lengthOrValues === 'number') {
    checkLength(lengthOrValues, 'createBuffer: length');
    const buf = new WasmBuffer(lengthOrValues);
    buf.view.fill(0);
    return buf;
  }
  const length = lengthOf(lengthOrValues, 'createBuffer: values');
  const buf = new WasmBuffer(length);
  buf.view.set(lengthOrValues);
  return buf;
}

function checkLength(n: number, name: string): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_LENGTH) {
    throw new RangeError(`${name} must be an integer from 0 to ${MAX_LENGTH}, got ${n}`);
  }
}

/** The element count of an input; TypeError naming `name` for anything that is not a float input. */
export function lengthOf(x: unknown, name: string): number {
  if (x instanceof WasmBuffer) return x.length;
  if (x !== null && typeof x === 'object' && typeof (x as ArrayLike<number>).length === 'number') {
    const n = (x as ArrayLike<number>).length;
    checkLength(n, name + '.length');
    return n;
  }
  throw new TypeError(
    `${name} must be a Float32Array, an array of numbers or a WasmBuffer, got ${x === null ? 'null' : typeof x}`,
  );
}

/** Scratch slots: one reusable block per argument position, so repeated calls never allocate. */
export const enum Slot {
  Input,
  Target,
  Weight,
  PosWeight,
  GradOutput,
  Loss,
  Grad,
}

const scratchPtr = [0, 0, 0, 0, 0, 0, 0];
const scratchBytes = [0, 0, 0, 0, 0, 0, 0];

/** A scratch block of at least `n` floats for `slot`, grown (to a power of two) only when too small. */
export function scratch(slot: Slot, n: number): number {
  const bytes = n * BYTES;
  if (scratchBytes[slot] < bytes) {
    const k = kernels();
    if (scratchPtr[slot] !== 0) k.bce_free(scratchPtr[slot], scratchBytes[slot]);
    scratchPtr[slot] = 0;
    scratchBytes[slot] = 0;
    const size = Math.max(64, 2 ** Math.ceil(Math.log2(bytes)));
    scratchPtr[slot] = allocate(size, 'scratch');
    scratchBytes[slot] = size;
  }
  return scratchPtr[slot];
}

/**
 * The address of an input's `n` floats in WebAssembly memory: a WasmBuffer's own, or a scratch block
 * that the values are copied into.
 */
export function place(x: FloatInput, n: number, slot: Slot, name: string): number {
  if (x instanceof WasmBuffer) return x.address(name);
  if (n === 0) return scratch(slot, 1);
  const ptr = scratch(slot, n);
  heapF32().set(x, ptr >>> 2);
  return ptr;
}

/** Where a result of `n` floats is written: an output WasmBuffer in place, else a scratch block. */
export function target(out: FloatOutput | undefined, n: number, slot: Slot, name: string): number {
  if (out instanceof WasmBuffer) return out.address(name);
  return scratch(slot, Math.max(n, 1));
}

/**
 * The result written at `ptr`: the output WasmBuffer's view, the caller's Float32Array filled from
 * scratch, or a new Float32Array.
 */
export function deliver(out: FloatOutput | undefined, ptr: number, n: number): Float32Array {
  if (out instanceof WasmBuffer) return out.view;
  const from = heapF32().subarray(ptr >>> 2, (ptr >>> 2) + n);
  if (out === undefined) return from.slice();
  out.set(from);
  return out;
}

/** Checks an output's type and length before anything runs. */
export function checkOutput(out: unknown, n: number, name: string): void {
  if (out === undefined) return;
  if (!(out instanceof WasmBuffer) && !(out instanceof Float32Array)) {
    throw new TypeError(`${name} must be a Float32Array or a WasmBuffer`);
  }
  if (out.length !== n) {
    throw new RangeError(`${name} has length ${out.length} but the result has ${n} elements`);
  }
}
