// Elementwise kernels (mirrors crate/src/sigmoid.rs).

import { checkOutput, deliver, lengthOf, place, Slot, target, type FloatInput, type FloatOutput } from './memory.js';
import { kernels, type KernelExports } from './wasm.js';

type Elementwise = 'bce_sigmoid' | 'bce_logsigmoid' | 'bce_exp' | 'bce_log' | 'bce_log1p';

function elementwise(kernel: Elementwise, fn: string, x: FloatInput, out?: FloatOutput): Float32Array {
  const k: KernelExports = kernels();
  const n = lengthOf(x, `${fn}: input`);
  checkOutput(out, n, `${fn}: out`);
  const xPtr = place(x, n, Slot.Input, `${fn}: input`);
  const outPtr = target(out, n, Slot.Loss, `${fn}: out`);
  k[kernel](xPtr, outPtr, n);
  return deliver(out, outPtr, n);
}

/**
 * PyTorch's `torch.sigmoid`: `1 / (1 + exp(-x))` per element, without overflow for any input
 * (0 at -inf, 1 at +inf, NaN for NaN), within 2 float32 ulps (see README, "Accuracy").
 *
 * @param out where to write the result (may be `x` itself when both are the same WasmBuffer)
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
