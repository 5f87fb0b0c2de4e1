// bce-wasm: PyTorch's binary cross-entropy, sigmoid and their gradients in WebAssembly SIMD.
// Data flows one way: user arrays -> this facade (checks, memory) -> crate/ kernels -> results.

export {
  init,
  initSync,
  isInitialized,
  backend,
  simdSupported,
  wasmMemory,
  type Backend,
  type InitSource,
} from './memory.js';
export { createBuffer, WasmBuffer, type FloatInput, type FloatOutput } from './memory.js';
export { sigmoid, logSigmoid, approximations } from './pass.js';
export {
  binaryCrossEntropy,
  binaryCrossEntropyBackward,
  binaryCrossEntropyForwardBackward,
  type BCEOptions,
  type BCEBackwardOptions,
  type BCEForwardBackwardOptions,
} from './losses.js';
export {
  binaryCrossEntropyWithLogits,
  binaryCrossEntropyWithLogitsBackward,
  binaryCrossEntropyWithLogitsForwardBackward,
  type BCEWithLogitsOptions,
  type BCEWithLogitsForwardOptions,
  type BCEWithLogitsBackwardOptions,
  type BCEWithLogitsForwardBackwardOptions,
} from './losses.js';
export {
  sigmoidFocalLoss,
  sigmoidFocalLossBackward,
  sigmoidFocalLossForwardBackward,
  type FocalOptions,
  type FocalForwardOptions,
  type FocalBackwardOptions,
  type FocalForwardBackwardOptions,
} from './losses.js';
export { Sigmoid, BCELoss, BCEWithLogitsLoss, SigmoidFocalLoss, type CallOptions } from './losses.js';
export {
  createAccumulator,
  type Accumulator,
  type AccumulatorOptions,
  type AccumulatedLoss,
} from './accumulator.js';
export type {
  Reduction,
  LossFor,
  LossOptions,
  OutputOptions,
  GradOptions,
  ForwardBackward,
  MaskInput,
} from './pass.js';
export { OutOfRangeError } from './pass.js';
