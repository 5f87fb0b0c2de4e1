// Elementwise kernels (mirrors crate/src/sigmoid.rs).

import { addressOf, bufferView, enter, isWasmBuffer, leave, checkOutput, checkOverlap, newResult, copyIn, copyOut, ensureScratch, lengthOf, PIECE, Slot, slotAddress, type FloatInput, type FloatOutput } from './memory.js';
import { kernels, type KernelExports } from './wasm.js';

export type Elementwise = 'bce_sigmoid' | 'bce_logsigmoid' | 'bce_exp' | 'bce_log' | 'bce_log1p';

/**
 * `out[i] = f(x[i])`: in place for operands in WebAssembly memory, else streamed through the scratch
 * {@link PIECE} elements at a time (see `runPass`).
 */
function elementwise(kernel: Elementwise, fn: string, x: FloatInput, out?: FloatOutput): Float32Array {
  enter(fn);
  try {
    return mapPass(kernel, fn, x, out);
  } finally {
    leave();
  }
}

/**
 * The checks of an elementwise call's `out` for input `x` of `n` elements (the pool's too, before
 * its workers race over shared elements): its type and length, then a partial overlap with the
 * input, a RangeError. Returns out's address (see `checkOutput`).
 */
export function checkMapOutput(fn: string, x: FloatInput, n: number, out?: FloatOutput): number {
  const at = checkOutput(out, n, fn, 'out');
  if (out !== undefined) checkOverlap(out, fn, 'out', x, 'input');
  return at;
}

/** {@link elementwise} inside a call that has begun (`enter`) already: the pool's. */
export function mapPass(kernel: Elementwise, fn: string, x: FloatInput, out?: FloatOutput): Float32Array {
  const k: KernelExports = kernels();
  ensureScratch();
  const n = lengthOf(x, fn, 'input');
  const outAddr = checkMapOutput(fn, x, n, out);
  const xAddr = addressOf(x, fn, 'input');
  const result = outAddr >= 0 ? null : (out as Float32Array | undefined) ?? newResult(n, fn);
  for (let a = 0; a < n; a += PIECE) {
    const m = Math.min(PIECE, n - a);
    let xPtr = xAddr + 4 * a;
    if (xAddr < 0) {
      xPtr = slotAddress(Slot.Input);
      copyIn(x as ArrayLike<number>, a, m, xPtr >>> 2, fn, 'input');
    }
    const outPtr = outAddr >= 0 ? outAddr + 4 * a : slotAddress(Slot.Loss);
    k[kernel](xPtr, outPtr, m);
    if (result !== null) copyOut(Slot.Loss, m, result, a, fn, 'out');
  }
  if (result !== null) return result;
  return isWasmBuffer(out) ? bufferView(out) : (out as Float32Array);
}

/**
 * PyTorch's `torch.sigmoid`: `1 / (1 + exp(-x))` per element, without overflow for any input
 * (0 at -inf, 1 at +inf, NaN for NaN), within 2 float32 ulps (see README, "Accuracy").
 *
 * @param out where to write the result (may be `x` itself)
 */
export function sigmoid(x: FloatInput, out?: FloatOutput): Float32Array {
  return elementwise('bce_sigmoid', 'sigmoid', x, out);
}

/** PyTorch's `F.logsigmoid`: `min(x, 0) - log1p(exp(-|x|))` per element, finite for finite `x`. */
export function logSigmoid(x: FloatInput, out?: FloatOutput): Float32Array {
  return elementwise('bce_logsigmoid', 'logSigmoid', x, out);
}

/**
 * The raw float32 approximations the kernels are built from, exposed so that their accuracy can be
 * checked (`scripts/ulp-sweep.mjs` does, over every float32 input). Not clamped.
 */
export const approximations = {
  /** `exp(x)` per element. */
  exp: (x: FloatInput, out?: FloatOutput): Float32Array => elementwise('bce_exp', 'approximations.exp', x, out),
  /** Natural `log(x)` per element. */
  log: (x: FloatInput, out?: FloatOutput): Float32Array => elementwise('bce_log', 'approximations.log', x, out),
  /** `log(1 + x)` per element. */
  log1p: (x: FloatInput, out?: FloatOutput): Float32Array =>
    elementwise('bce_log1p', 'approximations.log1p', x, out),
};
