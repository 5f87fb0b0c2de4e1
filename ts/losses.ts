// The loss operations: the table they are made from (OPS: adding an operation is one entry here, and
// its kernel on the Rust side, reached through pass.ts), the functional exports, each
// `operation(name)`, typed and documented, and the torch.nn-style module classes over them (options
// fixed at construction), made from the families below. The pool's methods (node/pool.ts) are made
// from the same table. One module for all of it: one file of the default entry instead of five (each
// file gzips on its own).

import type { FloatInput, FloatOutput } from './memory.js';
import {
  checkKeys,
  checkOptionsObject,
  checkOptionValues,
  GRAD,
  Kind,
  LOSS,
  otherLossHint,
  runPass,
  sigmoid,
  type AnyOptions,
  type ForwardBackward,
  type GradOptions,
  type LossFor,
  type LossOptions,
  type OutputOptions,
  type Reduction,
} from './pass.js';

/** One operation: which kernel it runs and which results it returns. */
export interface Op {
  readonly kind: Kind;
  /** LOSS, GRAD or LOSS | GRAD. */
  readonly what: number;
}

const P = Kind.Probabilities;
const L = Kind.Logits;
const F = Kind.Focal;

/** Every loss operation by its public name. */
export const OPS = {
  binaryCrossEntropy: { kind: P, what: LOSS },
  binaryCrossEntropyBackward: { kind: P, what: GRAD },
  binaryCrossEntropyForwardBackward: { kind: P, what: LOSS | GRAD },
  binaryCrossEntropyWithLogits: { kind: L, what: LOSS },
  binaryCrossEntropyWithLogitsBackward: { kind: L, what: GRAD },
  binaryCrossEntropyWithLogitsForwardBackward: { kind: L, what: LOSS | GRAD },
  sigmoidFocalLoss: { kind: F, what: LOSS },
  sigmoidFocalLossBackward: { kind: F, what: GRAD },
  sigmoidFocalLossForwardBackward: { kind: F, what: LOSS | GRAD },
} as const satisfies Record<string, Op>;

/** The name of a loss operation. */
export type OpName = keyof typeof OPS;

/**
 * A family of operations that a module class wraps: its forward, backward and fused operations and
 * the options its constructor takes.
 */
export interface Family {
  readonly forward: OpName;
  readonly backward: OpName;
  readonly forwardBackward: OpName;
  readonly options: readonly string[];
}

/** The module classes' families, by class name. */
export const FAMILIES = {
  BCELoss: {
    forward: 'binaryCrossEntropy',
    backward: 'binaryCrossEntropyBackward',
    forwardBackward: 'binaryCrossEntropyForwardBackward',
    options: ['weight', 'reduction', 'labelSmoothing', 'mask', 'rowLength'],
  },
  BCEWithLogitsLoss: {
    forward: 'binaryCrossEntropyWithLogits',
    backward: 'binaryCrossEntropyWithLogitsBackward',
    forwardBackward: 'binaryCrossEntropyWithLogitsForwardBackward',
    options: ['weight', 'reduction', 'labelSmoothing', 'mask', 'rowLength', 'posWeight'],
  },
  SigmoidFocalLoss: {
    forward: 'sigmoidFocalLoss',
    backward: 'sigmoidFocalLossBackward',
    forwardBackward: 'sigmoidFocalLossForwardBackward',
    options: ['weight', 'reduction', 'labelSmoothing', 'mask', 'rowLength', 'alpha', 'gamma'],
  },
} as const satisfies Record<string, Family>;

/** The function of operation `name` (typed by its declaration below). */
export function operation(name: OpName): (input: FloatInput, target: FloatInput, options?: AnyOptions) => unknown {
  const { kind, what } = OPS[name];
  const f = (input: FloatInput, target: FloatInput, options?: AnyOptions) => runPass(kind, name, input, target, options, what);
  Object.defineProperty(f, 'name', { value: name });
  return f;
}

// Binary cross-entropy on probabilities: PyTorch's F.binary_cross_entropy and its backward
// (mirrors crate/src/bce.rs).

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

// Binary cross-entropy on logits: PyTorch's F.binary_cross_entropy_with_logits and its backward
// (mirrors crate/src/bce_with_logits.rs).

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

// torchvision's sigmoid_focal_loss on logits and its gradient (mirrors crate/src/focal.rs).

/** Options of the focal losses: torchvision's defaults, `alpha = 0.25`, `gamma = 2`, reduction `'none'`. */
export interface FocalOptions<R extends Reduction = Reduction> extends LossOptions<R> {
  /**
   * Weight of the positive class, `alpha y + (1 - alpha)(1 - y)`: from 0 to 1, or negative and finite to
   * disable it (torchvision accepts -1; any negative here). Default 0.25. Else a RangeError.
   */
  alpha?: number;
  /** The focusing exponent on `1 - p_t`, a finite number >= 0 (as a float32: at most 3.4e38). Default 2. */
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

// The module classes.

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
