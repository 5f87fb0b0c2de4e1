// What a bundle for the web sees: no Buffer, no node:fs. The module still loads from bytes or a
// Response, and the inline entry needs neither fetch nor fs. (Hiding Buffer inside vitest would break
// vitest itself, so those checks run in child processes: test/fixtures/.)
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';

const require = createRequire(import.meta.url);
const bytes = new Uint8Array(readFileSync(require.resolve('bce-wasm/bce_wasm.wasm')));
const SEED = [1.9072, 1.1079, 1.4906, -0.6584, -0.0512, 0.7608, -0.0614, 0.6583, 0.1095];
const TARGET = [0, 1, 1, 1, 1, 1, 0, 0, 0];

/** Runs a fixture script in a fresh Node process and returns the JSON it prints. */
function fixture(name: string, ...args: string[]): Record<string, unknown> {
  const out = execFileSync(process.execPath, [fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), ...args], {
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('without Node built-ins (no Buffer, node:fs refused, no network), as a web bundle sees it', () => {
  it('loads from bytes', () => {
    const r = fixture('no-node-builtins.mjs', require.resolve('bce-wasm/bce_wasm.wasm'));
    expect(r.bufferHidden).toBe(true);
    expect(r.fsBlocked).toBe(true);
    expect((r.fromBytes as number).toFixed(4)).toBe('0.8000');
  });

  it('the inline entry initializes with no fetch and no fs', () => {
    const r = fixture('inline-only.mjs');
    expect(r.backend).toBe('simd128');
    expect((r.loss as number).toFixed(4)).toBe('0.8000');
  });

  it('loads from a Response when fetch is not used', async () => {
    vi.resetModules();
    const m = await import('bce-wasm');
    await m.init(new Response(bytes.slice(), { headers: { 'content-type': 'application/wasm' } }));
    expect(m.binaryCrossEntropy(m.sigmoid(SEED), TARGET).toFixed(4)).toBe('0.8000');
  });
});

describe('builds and sizes', () => {
  it('init picks the SIMD build where the engine has SIMD, and backend() says so', async () => {
    vi.resetModules();
    const m = await import('bce-wasm');
    expect(m.simdSupported()).toBe(true);
    await m.init();
    expect(m.backend()).toBe('simd128');
    vi.resetModules();
    const s = await import('bce-wasm');
    await s.init(readFileSync(require.resolve('bce-wasm/bce_wasm_scalar.wasm')));
    expect(s.backend()).toBe('scalar');
  });

  it('size budget: the default entry (index.js and everything it imports) plus its .wasm is at most 40 KiB gzipped', () => {
    const dist = require.resolve('bce-wasm').replace(/index\.js$/, '');
    // The import closure of index.js, followed through its relative imports.
    const files = new Set<string>();
    const visit = (f: string) => {
      if (files.has(f)) return;
      files.add(f);
      for (const m of readFileSync(dist + f, 'utf8').matchAll(/from\s*['"]\.\/([\w.]+\.js)['"]/g)) visit(m[1]);
    };
    visit('index.js');
    expect([...files]).toContain('memory.js');
    expect([...files]).not.toContain('pool.js');
    const js = [...files].map((f) => gzipSync(readFileSync(dist + f), { level: 9 }).length).reduce((a, b) => a + b, 0);
    const wasm = gzipSync(readFileSync(`${dist}bce_wasm.wasm`), { level: 9 }).length;
    expect(js + wasm, `JavaScript ${js} B + wasm ${wasm} B gzipped`).toBeLessThanOrEqual(40 * 1024);
  });
});
