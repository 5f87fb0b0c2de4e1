// torch.nn-style module classes over the functional API, options fixed at construction; both loss
// classes are made from the families in ops.ts.

import type { BCEWithLogitsOptions } from './bce_with_logits.js';
import type { FocalOptions } from './focal.js';
import type { FloatInput, FloatOutput } from './memory.js';
import { FAMILIES, operation, type Family } from './ops.js';
import {
  checkKeys,
  checkOptionsObject,
  reductionOf,
  type AnyOptions,
  type ForwardBackward,
  type GradOptions,
  type LossFor,
  type LossOptions,
  type OutputOptions,
  type Reduction,
} from './pass.js';
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

/** The three calls of a loss module, with its options fixed at construction. */
class LossModule<R extends Reduction, O extends LossOptions<R>> {
  /** The options every call uses. */
  readonly options: Readonly<O>;
  readonly #name: string;
  readonly #forward: (i: FloatInput, t: FloatInput, o?: AnyOptions) => unknown;
  readonly #backward: (i: FloatInput, t: FloatInput, o?: AnyOptions) => unknown;
  readonly #forwardBackward: (i: FloatInput, t: FloatInput, o?: AnyOptions) => unknown;

  constructor(name: string, family: Family, options: O) {
    checkOptionsObject(options, name);
    checkKeys(options, family.options, name);
    reductionOf(options.reduction, name);
    this.#name = name;
    this.options = Object.freeze({ ...options });
    this.#forward = operation(family.forward);
    this.#backward = operation(family.backward);
    this.#forwardBackward = operation(family.forwardBackward);
  }

  /** The loss, written into `out` (for reduction `'none'`) when given. */
  forward(input: FloatInput, target: FloatInput, out?: FloatOutput): LossFor<R> {
    return this.#forward(input, target, { ...this.options, out }) as LossFor<R>;
  }

  /** The gradient w.r.t. `input`; `options` adds the upstream gradient and where to write. */
  backward(input: FloatInput, target: FloatInput, options?: Omit<CallOptions, 'out'>): Float32Array {
    checkOptionsObject(options ?? {}, `${this.#name}.backward`);
    checkKeys(options ?? {}, BACKWARD_KEYS, `${this.#name}.backward`);
    return this.#backward(input, target, { ...this.options, ...options }) as Float32Array;
  }

  /** Loss and gradient from one pass. */
  forwardBackward(input: FloatInput, target: FloatInput, options?: CallOptions): ForwardBackward<R> {
    checkOptionsObject(options ?? {}, `${this.#name}.forwardBackward`);
    checkKeys(options ?? {}, CALL_KEYS, `${this.#name}.forwardBackward`);
    return this.#forwardBackward(input, target, { ...this.options, ...options }) as ForwardBackward<R>;
  }
}

/**
 * `torch.nn.BCELoss(weight, reduction)`: binary cross-entropy on probabilities; see
 * {@link binaryCrossEntropy}, {@link binaryCrossEntropyBackward} and
 * {@link binaryCrossEntropyForwardBackward}.
 *
 * @example
 * const loss = new BCELoss({ reduction: 'mean' });
 * const { loss: l, grad } = loss.forwardBackward(sigmoid(logits), target);
 */
export class BCELoss<R extends Reduction = 'mean'> extends LossModule<R, LossOptions<R>> {
  constructor(options: LossOptions<R> = {}) {
    super('BCELoss', FAMILIES.BCELoss, options);
  }
}

/**
 * `torch.nn.BCEWithLogitsLoss(weight, reduction, pos_weight)`: binary cross-entropy on logits; see
 * {@link binaryCrossEntropyWithLogits} and its backward and fused forms.
 *
 * @example
 * const loss = new BCEWithLogitsLoss({ posWeight: [3, 1, 1] });
 * const { loss: l, grad } = loss.forwardBackward(logits, target);
 */
export class BCEWithLogitsLoss<R extends Reduction = 'mean'> extends LossModule<R, BCEWithLogitsOptions<R>> {
  constructor(options: BCEWithLogitsOptions<R> = {}) {
    super('BCEWithLogitsLoss', FAMILIES.BCEWithLogitsLoss, options);
  }
}

/**
 * torchvision's `sigmoid_focal_loss` as a module (alpha, gamma and the reduction fixed at
 * construction; default reduction `'none'`, torchvision's); see {@link sigmoidFocalLoss}.
 *
 * @example
 * const loss = new SigmoidFocalLoss({ gamma: 2, reduction: 'mean' });
 */
export class SigmoidFocalLoss<R extends Reduction = 'none'> extends LossModule<R, FocalOptions<R>> {
  constructor(options: FocalOptions<R> = {}) {
    super('SigmoidFocalLoss', FAMILIES.SigmoidFocalLoss, options);
  }
}
