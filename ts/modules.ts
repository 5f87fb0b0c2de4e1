// torch.nn-style module classes over the functional API: options fixed at construction.

import {
  binaryCrossEntropy,
  binaryCrossEntropyBackward,
  binaryCrossEntropyForwardBackward,
  type BCEOptions,
} from './bce.js';
import {
  binaryCrossEntropyWithLogits,
  binaryCrossEntropyWithLogitsBackward,
  binaryCrossEntropyWithLogitsForwardBackward,
  type BCEWithLogitsOptions,
} from './bce_with_logits.js';
import type { FloatInput, FloatOutput } from './memory.js';
import { checkKeys, reductionOf, type ForwardBackward, type GradOptions, type LossFor, type LossOptions, type OutputOptions, type Reduction } from './pass.js';
import { sigmoid } from './sigmoid.js';

/** Per-call options of a loss module's `backward` and `forwardBackward`. */
export type CallOptions = GradOptions & OutputOptions;
const BACKWARD_KEYS = ['gradOutput', 'gradOut'];
const CALL_KEYS = ['gradOutput', 'gradOut', 'out'];

/** `torch.nn.Sigmoid`. */
export class Sigmoid {
  /** `sigmoid(input)`, written into `out` when given. */
  forward(input: FloatInput, out?: FloatOutput): Float32Array {
    return sigmoid(input, out);
  }
}

/**
 * `torch.nn.BCELoss(weight, reduction)`: binary cross-entropy on probabilities.
 *
 * @example
 * const loss = new BCELoss({ reduction: 'mean' });
 * const { loss: l, grad } = loss.forwardBackward(sigmoid(logits), target);
 */
export class BCELoss<R extends Reduction = 'mean'> {
  /** The options every call uses. */
  readonly options: Readonly<LossOptions<R>>;

  constructor(options: LossOptions<R> = {}) {
    checkKeys(options, ['weight', 'reduction'], 'BCELoss');
    reductionOf(options.reduction, 'BCELoss');
    this.options = { ...options };
  }

  /** The loss; see {@link binaryCrossEntropy}. */
  forward(input: FloatInput, target: FloatInput, out?: FloatOutput): LossFor<R> {
    return binaryCrossEntropy<R>(input, target, { ...this.options, out } as BCEOptions<R>);
  }

  /** The gradient w.r.t. `input`; see {@link binaryCrossEntropyBackward}. */
  backward(input: FloatInput, target: FloatInput, options?: CallOptions): Float32Array {
    checkKeys(options ?? {}, BACKWARD_KEYS, 'BCELoss.backward');
    return binaryCrossEntropyBackward<R>(input, target, { ...this.options, ...options });
  }

  /** Loss and gradient from one pass; see {@link binaryCrossEntropyForwardBackward}. */
  forwardBackward(input: FloatInput, target: FloatInput, options?: CallOptions): ForwardBackward<R> {
    checkKeys(options ?? {}, CALL_KEYS, 'BCELoss.forwardBackward');
    return binaryCrossEntropyForwardBackward<R>(input, target, { ...this.options, ...options });
  }
}

/**
 * `torch.nn.BCEWithLogitsLoss(weight, reduction, pos_weight)`: binary cross-entropy on logits.
 *
 * @example
 * const loss = new BCEWithLogitsLoss({ posWeight: [3, 1, 1] });
 * const { loss: l, grad } = loss.forwardBackward(logits, target);
 */
export class BCEWithLogitsLoss<R extends Reduction = 'mean'> {
  /** The options every call uses. */
  readonly options: Readonly<BCEWithLogitsOptions<R>>;

  constructor(options: BCEWithLogitsOptions<R> = {}) {
    checkKeys(options, ['weight', 'reduction', 'posWeight'], 'BCEWithLogitsLoss');
    reductionOf(options.reduction, 'BCEWithLogitsLoss');
    this.options = { ...options };
  }

  /** The loss; see {@link binaryCrossEntropyWithLogits}. */
  forward(input: FloatInput, target: FloatInput, out?: FloatOutput): LossFor<R> {
    return binaryCrossEntropyWithLogits<R>(input, target, { ...this.options, out });
  }

  /** The gradient w.r.t. the logits; see {@link binaryCrossEntropyWithLogitsBackward}. */
  backward(input: FloatInput, target: FloatInput, options?: CallOptions): Float32Array {
    checkKeys(options ?? {}, BACKWARD_KEYS, 'BCEWithLogitsLoss.backward');
    return binaryCrossEntropyWithLogitsBackward<R>(input, target, { ...this.options, ...options });
  }

  /** Loss and gradient from one pass; see {@link binaryCrossEntropyWithLogitsForwardBackward}. */
  forwardBackward(input: FloatInput, target: FloatInput, options?: CallOptions): ForwardBackward<R> {
    checkKeys(options ?? {}, CALL_KEYS, 'BCEWithLogitsLoss.forwardBackward');
    return binaryCrossEntropyWithLogitsForwardBackward<R>(input, target, { ...this.options, ...options });
  }
}
