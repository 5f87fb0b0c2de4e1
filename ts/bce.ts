// Binary cross-entropy on probabilities: PyTorch's F.binary_cross_entropy and its backward
// (mirrors crate/src/bce.rs).

import type { FloatInput } from './memory.js';
import { operation } from './ops.js';
import {
  type ForwardBackward,
  type GradOptions,
  type LossFor,
  type LossOptions,
  type OutputOptions,
  type Reduction,
} from './pass.js';

/** Options of {@link binaryCrossEntropy}. */
export interface BCEOptions<R extends Reduction = Reduction> extends LossOptions<R>, Pick<OutputOptions, 'out'> {}

/** Options of {@link binaryCrossEntropyBackward}. */
export interface BCEBackwardOptions<R extends Reduction = Reduction>
  extends LossOptions<R>,
    GradOptions,
    Pick<OutputOptions, 'gradOut'> {}

/** Options of {@link binaryCrossEntropyForwardBackward}. */
export interface BCEForwardBackwardOptions<R extends Reduction = Reduction>
  extends LossOptions<R>,
    GradOptions,
    OutputOptions {}

/**
 * PyTorch's `F.binary_cross_entropy(input, target, weight, reduction)`: the loss of probabilities
 * `input` against `target`, `-(y log x + (1 - y) log(1 - x))` per element with each log clamped
 * at -100, times `weight`, then reduced.
 *
 * @param input probabilities, every element in [0, 1]
 * @param target same length, every element in [0, 1] (soft labels allowed)
 * @returns the mean or sum as a number (accumulated in float64), or the element losses for `'none'`
 * @throws RangeError naming the first element outside [0, 1] (NaN included), a length mismatch, a
 *   weight that does not broadcast or an unknown reduction; TypeError for arguments of the wrong type
 *
 * @example
 * binaryCrossEntropy([0.8, 0.3], [1, 0])                      // 0.2899...
 * binaryCrossEntropy(probs, labels, { reduction: 'none' })   // Float32Array
 */
export const binaryCrossEntropy: <R extends Reduction = 'mean'>(
  input: FloatInput,
  target: FloatInput,
  options?: BCEOptions<R>,
) => LossFor<R> = operation('binaryCrossEntropy') as never;

/**
 * The gradient of {@link binaryCrossEntropy} w.r.t. `input` (PyTorch's
 * `binary_cross_entropy_backward`): `gradOutput * (x - y) / max((1 - x) x, 1e-12) * weight`, divided
 * by the element count for `'mean'`. At x = 1, y = 0 it is 1e12 (the forward clamp has no
 * counterpart here, as in PyTorch).
 */
export const binaryCrossEntropyBackward: <R extends Reduction = 'mean'>(
  input: FloatInput,
  target: FloatInput,
  options?: BCEBackwardOptions<R>,
) => Float32Array = operation('binaryCrossEntropyBackward') as never;

/**
 * {@link binaryCrossEntropy} and {@link binaryCrossEntropyBackward} from one fused pass over the data:
 * the same numbers as the two calls, for about the cost of one.
 */
export const binaryCrossEntropyForwardBackward: <R extends Reduction = 'mean'>(
  input: FloatInput,
  target: FloatInput,
  options?: BCEForwardBackwardOptions<R>,
) => ForwardBackward<R> = operation('binaryCrossEntropyForwardBackward') as never;
