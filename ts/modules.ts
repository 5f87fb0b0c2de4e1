// torch.nn-style module classes over the functional API, options fixed at construction; both loss
// classes are made from the families in losses.ts.

import type { FloatInput, FloatOutput } from './memory.js';
import { FAMILIES, OPS, type BCEWithLogitsOptions, type Family, type FocalOptions, type OpName } from './losses.js';
import {
  checkKeys,
  checkOptionsObject,
  checkOptionValues,
  otherLossHint,
  runPass,
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

/** Reads `keys` of `options` once each, explicitly (inherited keys and getters as the functions read them). */
function pick(options: object, keys: readonly string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const key of keys) {
    const v = (options as Record<string, unknown>)[key];
    if (v !== undefined) o[key] = v;
  }
  return o;
}

/** The three calls of a loss module, with its options fixed at construction. */
class LossModule<R extends Reduction, O extends LossOptions<R>> {
  /** The options every call uses: the constructor's known keys, as read (and checked) once. */
  readonly options: Readonly<O>;
  readonly #name: string;
  readonly #family: Family;

  constructor(name: string, family: Family, options: O) {
    checkOptionsObject(options, name);
    const { kind, what } = OPS[family.forwardBackward];
    checkKeys(options, family.options, name, otherLossHint(kind));
    const o = pick(options, family.options);
    checkOptionValues(kind, name, o, what);
    this.#name = name;
    this.#family = family;
    this.options = Object.freeze(o) as Readonly<O>;
  }

  /** Runs operation `op` of the family as `<class>.<method>` (errors name it) with the per-call options. */
  #call(op: OpName, method: string, input: FloatInput, target: FloatInput, options: object | undefined, keys: readonly string[]): unknown {
    const fn = `${this.#name}.${method}`;
    const extra = options === undefined ? undefined : (checkOptionsObject(options, fn), checkKeys(options, keys, fn), pick(options, keys));
    const { kind, what } = OPS[op];
    return runPass(kind, fn, input, target, { ...this.options, ...extra }, what);
  }

  /** The loss, written into `out` (for reduction `'none'`) when given. */
  forward(input: FloatInput, target: FloatInput, out?: FloatOutput): LossFor<R> {
    return this.#call(this.#family.forward, 'forward', input, target, { out }, CALL_KEYS) as LossFor<R>;
  }

  /** The gradient w.r.t. `input`; `options` adds the upstream gradient and where to write. */
  backward(input: FloatInput, target: FloatInput, options?: Omit<CallOptions, 'out'>): Float32Array {
    return this.#call(this.#family.backward, 'backward', input, target, options, BACKWARD_KEYS) as Float32Array;
  }

  /** Loss and gradient from one pass. */
  forwardBackward(input: FloatInput, target: FloatInput, options?: CallOptions): ForwardBackward<R> {
    return this.#call(this.#family.forwardBackward, 'forwardBackward', input, target, options, CALL_KEYS) as ForwardBackward<R>;
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
