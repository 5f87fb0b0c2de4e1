// torchvision's sigmoid_focal_loss on logits and its gradient (mirrors crate/src/focal.rs).

import type { FloatInput } from './memory.js';
import { operation } from './ops.js';
import type { ForwardBackward, GradOptions, LossFor, LossOptions, OutputOptions, Reduction } from './pass.js';

/** Options of the focal losses: torchvision's defaults, `alpha = 0.25`, `gamma = 2`, reduction `'none'`. */
export interface FocalOptions<R extends Reduction = Reduction> extends LossOptions<R> {
  /**
   * Weight of the positive class, `alpha y + (1 - alpha)(1 - y)`: from 0 to 1, or negative and finite to
   * disable it (torchvision accepts -1; any negative here). Default 0.25. Else a RangeError.
   */
  alpha?: number;
  /** The focusing exponent on `1 - p_t`, a finite number >= 0. Default 2. */
  gamma?: number;
}

/** Options of {@link sigmoidFocalLoss}. */
export interface FocalForwardOptions<R extends Reduction = Reduction> extends FocalOptions<R>, Pick<OutputOptions, 'out'> {}
/** Options of {@link sigmoidFocalLossBackward}. */
export interface FocalBackwardOptions<R extends Reduction = Reduction> extends FocalOptions<R>, GradOptions, Pick<OutputOptions, 'gradOut'> {}
/** Options of {@link sigmoidFocalLossForwardBackward}. */
export interface FocalForwardBackwardOptions<R extends Reduction = Reduction> extends FocalOptions<R>, GradOptions, OutputOptions {}

/**
 * torchvision's `sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction)` on logits:
 * `ce * (1 - p_t)^gamma`, times `alpha y + (1 - alpha)(1 - y)` when `alpha >= 0`, with
 * `p = sigmoid(x)`, `ce` the logits loss and `p_t = p y + (1 - p)(1 - y)`. The default reduction
 * is torchvision's, `'none'`. `1 - p_t` is computed without cancellation (from `sigmoid(-x)`), and
 * everything from the one `exp(-|x|)` of the logits loss. With `gamma = 0` and `alpha < 0` it is
 * {@link binaryCrossEntropyWithLogits} bit for bit.
 *
 * @example
 * sigmoidFocalLoss(logits, labels, { reduction: 'mean' })
 */
export const sigmoidFocalLoss: <R extends Reduction = 'none'>(
  input: FloatInput,
  target: FloatInput,
  options?: FocalForwardOptions<R>,
) => LossFor<R> = operation('sigmoidFocalLoss') as never;

/**
 * The gradient of {@link sigmoidFocalLoss} w.r.t. the logits: PyTorch autograd of its formula,
 * `a (u^gamma (s - y) + gamma ce u^(gamma - 1) s (1 - s)(1 - 2y))` with `u = 1 - p_t` (finite wherever
 * autograd is: a zero `s (1 - s)(1 - 2y)` is multiplied in before a huge `ce` or gamma). Where autograd
 * is not finite (`u = 0`, i.e. p_t = 1 in float32, with gamma < 1) the second term is its limit, 0;
 * where `u^(gamma - 1)` alone would overflow (gamma < 1, `u` subnormal) its product with
 * `s (1 - s)(1 - 2y)` is formed exactly scaled, and stays finite.
 */
export const sigmoidFocalLossBackward: <R extends Reduction = 'none'>(
  input: FloatInput,
  target: FloatInput,
  options?: FocalBackwardOptions<R>,
) => Float32Array = operation('sigmoidFocalLossBackward') as never;

/** Loss and gradient of the focal loss from one fused pass. */
export const sigmoidFocalLossForwardBackward: <R extends Reduction = 'none'>(
  input: FloatInput,
  target: FloatInput,
  options?: FocalForwardBackwardOptions<R>,
) => ForwardBackward<R> = operation('sigmoidFocalLossForwardBackward') as never;
