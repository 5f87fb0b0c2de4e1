// Binary cross-entropy on logits: PyTorch's F.binary_cross_entropy_with_logits and its backward
// (mirrors crate/src/bce_with_logits.rs).

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

/** Options of the logits losses. */
export interface BCEWithLogitsOptions<R extends Reduction = Reduction> extends LossOptions<R> {
  /**
   * Weight of the positive term, PyTorch's `pos_weight`: broadcast like `weight`, typically one
   * value per class (`negatives / positives` of that class).
   */
  posWeight?: FloatInput;
}

/** Options of {@link binaryCrossEntropyWithLogits}. */
export interface BCEWithLogitsForwardOptions<R extends Reduction = Reduction>
  extends BCEWithLogitsOptions<R>,
    Pick<OutputOptions, 'out'> {}

/** Options of {@link binaryCrossEntropyWithLogitsBackward}. */
export interface BCEWithLogitsBackwardOptions<R extends Reduction = Reduction>
  extends BCEWithLogitsOptions<R>,
    GradOptions,
    Pick<OutputOptions, 'gradOut'> {}

/** Options of {@link binaryCrossEntropyWithLogitsForwardBackward}. */
export interface BCEWithLogitsForwardBackwardOptions<R extends Reduction = Reduction>
  extends BCEWithLogitsOptions<R>,
    GradOptions,
    OutputOptions {}

/**
 * PyTorch's `F.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)`:
 * `(1 - y) x - (1 + (p - 1) y) logsigmoid(x)` per element, times `weight`, then reduced. Stable for
 * any finite logit (|x| = 1e4 gives a finite loss). As in PyTorch, values are not range-checked:
 * NaN in the input or target gives NaN in the loss.
 *
 * @param input logits (any float)
 * @param target same length, normally in [0, 1]
 * @returns the mean or sum as a number (accumulated in float64), or the element losses for `'none'`
 *
 * @example
 * binaryCrossEntropyWithLogits([2, -1], [1, 0], { posWeight: [3] })
 */
export const binaryCrossEntropyWithLogits: <R extends Reduction = 'mean'>(
  input: FloatInput,
  target: FloatInput,
  options?: BCEWithLogitsForwardOptions<R>,
) => LossFor<R> = operation('binaryCrossEntropyWithLogits') as never;

/**
 * The gradient of {@link binaryCrossEntropyWithLogits} w.r.t. the logits: `gradOutput * (sigmoid(x) - y)
 * * weight`, or with `posWeight` `gradOutput * ((1 + (p - 1) y) sigmoid(x) - p y) * weight`, divided by
 * the element count for `'mean'`.
 */
export const binaryCrossEntropyWithLogitsBackward: <R extends Reduction = 'mean'>(
  input: FloatInput,
  target: FloatInput,
  options?: BCEWithLogitsBackwardOptions<R>,
) => Float32Array = operation('binaryCrossEntropyWithLogitsBackward') as never;

/**
 * Loss and gradient of the logits loss from one fused pass: `exp(-|x|)` is computed once per element
 * and shared by the loss and the sigmoid of the gradient. The fast path for training.
 */
export const binaryCrossEntropyWithLogitsForwardBackward: <R extends Reduction = 'mean'>(
  input: FloatInput,
  target: FloatInput,
  options?: BCEWithLogitsForwardBackwardOptions<R>,
) => ForwardBackward<R> = operation('binaryCrossEntropyWithLogitsForwardBackward') as never;
