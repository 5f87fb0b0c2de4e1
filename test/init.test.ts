// Loading: every source init() takes, and the error before it. Each case loads a fresh copy of the
// module (vi.resetModules), so none of them sees another's instance.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

// The raw .wasm is reachable as a subpath of the package.
const wasmPath = createRequire(import.meta.url).resolve('bce-wasm/bce_wasm.wasm');
const bytes = readFileSync(wasmPath);

async function fresh() {
  vi.resetModules();
  return import('bce-wasm');
}

describe('init', () => {
  it('calling a kernel before init is a clear error, not a crash', async () => {
    const m = await fresh();
    expect(m.isInitialized()).toBe(false);
    expect(() => m.sigmoid([0])).toThrowError(/not initialized: call `await init\(\)`/);
    expect(() => m.binaryCrossEntropy([0.5], [1])).toThrowError(/not initialized/);
    expect(() => m.createBuffer(4)).toThrowError(/not initialized/);
  });

  const SOURCES: [string, () => unknown][] = [
    ['no argument (the file beside the module)', () => undefined],
    ['bytes (Uint8Array)', () => new Uint8Array(bytes)],
    ['an ArrayBuffer', () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)],
    ['a file: URL', () => pathToFileURL(wasmPath)],
    ['a file: URL string', () => pathToFileURL(wasmPath).href],
    ['a WebAssembly.Module', () => new WebAssembly.Module(bytes)],
    ['a Response with application/wasm', () => new Response(bytes, { headers: { 'content-type': 'application/wasm' } })],
    ['a Response with another type', () => new Response(bytes, { headers: { 'content-type': 'text/plain' } })],
    ['a promise of a Response', () => Promise.resolve(new Response(bytes))],
  ];

  it.each(SOURCES)('from %s', async (_label, source) => {
    const m = await fresh();
    await m.init(source() as never);
    expect(m.isInitialized()).toBe(true);
    expect(m.sigmoid([0])[0]).toBe(0.5);
  });

  it('initSync from bytes; init() afterwards is a no-op', async () => {
    const m = await fresh();
    m.initSync(bytes);
    expect(m.binaryCrossEntropy([0.5], [1])).toBeCloseTo(Math.LN2, 6);
    await m.init();
    expect(m.isInitialized()).toBe(true);
  });

  it('an init() still pending when initSync() finishes leaves the instance that buffers live in', async () => {
    // (It adopted a second instance when it settled: every buffer made before then, and the scratch,
    // pointed into the first one's memory, and the next call trapped.)
    const m = await fresh();
    const pending = m.init();
    m.initSync(bytes);
    const memory = m.wasmMemory();
    const x = m.createBuffer([0.9, 0.2]);
    const y = m.createBuffer([1, 0]);
    const before = m.binaryCrossEntropy(x, y);
    await pending;
    expect(m.wasmMemory()).toBe(memory);
    expect(m.binaryCrossEntropy(x, y)).toBe(before);
    expect(Array.from(x.view)).toEqual([Math.fround(0.9), Math.fround(0.2)]);
  });

  it('a WebAssembly module that is not the kernels is refused, and init can be retried', async () => {
    const m = await fresh();
    const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]); // a valid module with no exports
    expect(() => m.initSync(empty)).toThrowError(new TypeError('bce-wasm: that module is not this version of bce_wasm.wasm'));
    expect(m.isInitialized()).toBe(false);
    await expect(m.init(empty)).rejects.toThrowError(/not this version of bce_wasm\.wasm/);
    // (A module exporting one kernel's name and nothing else was taken for the kernels.)
    // (module (func (export "bce_sigmoid_focal_loss")))
    const one = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 26, 1, 22, ...new TextEncoder().encode('bce_sigmoid_focal_loss'), 0, 0, 10, 4, 1, 2, 0, 11]);
    expect(() => m.initSync(one)).toThrowError(/not this version of bce_wasm\.wasm/);
    expect(m.isInitialized()).toBe(false);
    expect(m.isInitialized()).toBe(false);
    await m.init(bytes);
    expect(m.sigmoid([0])[0]).toBe(0.5);
  });

  it("a pool call made while a retried init() is loading waits for that one (it rejected with the first, failed init's error)", async () => {
    vi.resetModules();
    const m = await import('bce-wasm');
    const { createPool } = await import('bce-wasm/pool');
    const failing = m.init(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    const pool = createPool({ threads: 2, threshold: 0 });
    try {
      await expect(failing).rejects.toThrowError(/not this version/);
      const retry = m.init(bytes);
      const r = pool.sigmoid([0, 1, -2, 3]);
      await retry;
      expect(await r).toEqual(m.sigmoid([0, 1, -2, 3]));
    } finally {
      await pool.close();
    }
  });

  it('concurrent init calls share one instance', async () => {
    const m = await fresh();
    const [a, b] = [m.init(), m.init()];
    expect(a).toBe(b);
    await a;
    expect(m.wasmMemory()).toBe(m.wasmMemory());
  });

  it('bad sources fail with a clear error, and init can be retried', async () => {
    const m = await fresh();
    await expect(m.init(42 as never)).rejects.toThrowError(TypeError);
    await expect(m.init(new Response('nope', { status: 404 }))).rejects.toThrowError(/HTTP 404/);
    await expect(m.init(new Uint8Array([0, 97, 115, 109]))).rejects.toThrowError(WebAssembly.CompileError);
    await m.init(bytes);
    expect(m.sigmoid([0])[0]).toBe(0.5);
  });
});
