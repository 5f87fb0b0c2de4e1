// The scalar build (no +simd128) evaluates the same float32 operations lane by lane: every result,
// reduced sums included, must be bit-identical to the SIMD build's (NaN for NaN: WebAssembly leaves
// a NaN's sign and payload to the engine; toEqual compares NaNs as equal, and -0 apart from 0).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as ref from './reference.js';

type Bce = typeof import('bce-wasm');
const require = createRequire(import.meta.url);

async function load(file: string): Promise<Bce> {
  vi.resetModules();
  const m = await import('bce-wasm');
  m.initSync(readFileSync(require.resolve(`bce-wasm/${file}`)));
  return m;
}

let simd: Bce;
let scalar: Bce;
beforeAll(async () => {
  simd = await load('bce_wasm.wasm');
  scalar = await load('bce_wasm_scalar.wasm');
});

function bits(n: number, seed: number): Float32Array {
  const next = ref.rng(seed);
  const u = Uint32Array.from({ length: n }, () => Math.floor(next() * 2 ** 32));
  return new Float32Array(u.buffer);
}

describe('scalar build = SIMD build, bit for bit', () => {
  it('the two builds really are different modules', () => {
    const size = (f: string) => readFileSync(require.resolve(`bce-wasm/${f}`)).length;
    expect(size('bce_wasm.wasm')).not.toBe(size('bce_wasm_scalar.wasm'));
    expect(WebAssembly.validate(readFileSync(require.resolve('bce-wasm/bce_wasm_scalar.wasm')))).toBe(true);
  });

  it.each(['sigmoid', 'logSigmoid'] as const)('%s on random bit patterns', (fn) => {
    const x = bits(50_003, 1);
    expect(scalar[fn](x)).toEqual(simd[fn](x));
  });

  it.each(['exp', 'log', 'log1p'] as const)('approximations.%s on random bit patterns', (fn) => {
    const x = bits(50_003, 2);
    expect(scalar.approximations[fn](x)).toEqual(simd.approximations[fn](x));
  });

  it('every loss, gradient and reduction, with weights and posWeight', () => {
    const next = ref.rng(3);
    for (const n of [0, 1, 3, 5, 17, 1000, 4099]) {
      const p = ref.f32s(n, () => next());
      const z = ref.f32s(n, () => (next() - 0.5) * 30);
      const y = ref.f32s(n, () => (next() < 0.5 ? next() : Math.round(next())));
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const opts = { reduction, weight: n % 3 === 0 && n > 0 ? [1, 2, 3] : undefined, gradOutput: 0.75 };
        expect(scalar.binaryCrossEntropyForwardBackward(p, y, opts)).toEqual(
          simd.binaryCrossEntropyForwardBackward(p, y, opts),
        );
        const lopts = { ...opts, posWeight: n % 5 === 0 ? [2.5] : undefined };
        expect(scalar.binaryCrossEntropyWithLogitsForwardBackward(z, y, lopts)).toEqual(
          simd.binaryCrossEntropyWithLogitsForwardBackward(z, y, lopts),
        );
      }
    }
  });

  it('the options: labelSmoothing, mask, weightedMean, rowMean, and the focal loss', () => {
    const next = ref.rng(4);
    for (const n of [1, 6, 17, 1002, 4098]) {
      const p = ref.f32s(n, () => next());
      const z = ref.f32s(n, () => (next() - 0.5) * 30);
      const y = ref.f32s(n, () => (next() < 0.5 ? next() : Math.round(next())));
      const mask = Uint8Array.from({ length: n }, () => (next() < 0.7 ? 1 : 0));
      for (const opts of [
        { labelSmoothing: 0.1, reduction: 'none' as const },
        { mask, reduction: 'mean' as const, gradOutput: 0.75 },
        { mask, weight: n % 3 === 0 ? [1, 2, 3] : [2], reduction: 'weightedMean' as const },
        { reduction: 'rowMean' as const, rowLength: n % 2 === 0 ? 2 : 1, labelSmoothing: 0.3 },
      ]) {
        expect(scalar.binaryCrossEntropyForwardBackward(p, y, opts)).toEqual(simd.binaryCrossEntropyForwardBackward(p, y, opts));
        expect(scalar.binaryCrossEntropyWithLogitsForwardBackward(z, y, opts)).toEqual(simd.binaryCrossEntropyWithLogitsForwardBackward(z, y, opts));
        for (const gamma of [0, 0.5, 1.7, 2, 2.5, 3]) {
          expect(scalar.sigmoidFocalLossForwardBackward(z, y, { ...opts, gamma })).toEqual(simd.sigmoidFocalLossForwardBackward(z, y, { ...opts, gamma }));
        }
      }
    }
  });

  it('the same range errors', () => {
    const x = [0.5, 0.5, 0.5, 0.5, 0.5, 2];
    expect(() => scalar.binaryCrossEntropy(x, [1, 1, 1, 1, 1, 1])).toThrowError('input[5] = 2');
  });
});
