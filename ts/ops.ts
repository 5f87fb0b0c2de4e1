// The table of loss operations. The functional exports (bce.ts, bce_with_logits.ts), the module
// classes (modules.ts) and the pool's methods (node/pool.ts) are all made from it: adding an
// operation is one entry here (and its kernel on the Rust side, reached through pass.ts).

import type { FloatInput } from './memory.js';
import { GRAD, Kind, LOSS, runPass, type AnyOptions, type PassResult } from './pass.js';

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

/** What an operation returns, from its pass: the loss, the gradient, or `{ loss, grad }`. */
export function resultOf(what: number, r: PassResult): unknown {
  if (what === LOSS) return r.loss;
  if (what === GRAD) return r.grad;
  return { loss: r.loss, grad: r.grad };
}

/** The function of operation `name` (typed by its declaration in bce.ts / bce_with_logits.ts). */
export function operation(name: OpName): (input: FloatInput, target: FloatInput, options?: AnyOptions) => unknown {
  const { kind, what } = OPS[name];
  const f = (input: FloatInput, target: FloatInput, options?: AnyOptions) =>
    resultOf(what, runPass(kind, name, input, target, options, what));
  Object.defineProperty(f, 'name', { value: name });
  return f;
}
