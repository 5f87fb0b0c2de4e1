// Loading the kernels: `init()` / `initSync()`, and the one place that holds the instance.
// Everything else reaches the exports through `kernels()`, which throws a clear error before init.

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
  if (typeof e.bce_sigmoid_focal_loss !== 'function') throw new TypeError('bce-wasm: that module is not bce_wasm.wasm');
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
