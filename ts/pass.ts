// The one call path behind every loss function (mirrors crate/src/pass.rs): check the arguments,
// place them in WebAssembly memory, run one fused pass, turn the status into an error or a result.

import {
  WasmBuffer,
  checkOutput,
  deliver,
  heapF32,
  lengthOf,
  place,
  scratch,
  Slot,
  target as outputAddress,
  type FloatInput,
  type FloatOutput,
} from './memory.js';
import { kernels } from './wasm.js';

/** How element losses are combined, as in PyTorch: `'mean'` (the default) divides the sum by the element count. */
export type Reduction = 'none' | 'mean' | 'sum';

/** The loss a reduction returns: a Float32Array for `'none'`, a number otherwise. */
export type LossFor<R extends Reduction> = R extends 'none' ? Float32Array : number;

/** Options shared by both losses. */
export interface LossOptions<R extends Reduction = Reduction> {
  /**
   * Rescales each element's loss (and gradient). Broadcast over the trailing dimension like
   * PyTorch: a length that divides the input length applies `weight[i % length]` (one value per
   * class of row-major `[..., C]` data); the input's own length is one weight per element.
   */
  weight?: FloatInput;
  /** `'mean'` (default), `'sum'` or `'none'`. */
  reduction?: R;
}

/** Where results go, to write them into caller-provided memory with no allocation. */
export interface OutputOptions {
  /** For `reduction: 'none'`: the element losses are written here (same length as the input). */
  out?: FloatOutput;
  /** The gradient is written here (same length as the input). */
  gradOut?: FloatOutput;
}

/** The upstream gradient of a backward call. */
export interface GradOptions {
  /**
   * dL/d(loss), default 1: a number for any reduction, or, for `reduction: 'none'`, one value per
   * element.
   */
  gradOutput?: number | FloatInput;
}

/** `{ loss, grad }` from one fused forward+backward pass. */
export interface ForwardBackward<R extends Reduction = Reduction> {
  loss: LossFor<R>;
  grad: Float32Array;
}

/** `what` bits of crate/src/pass.rs. */
export const LOSS = 1;
export const LOSS_STORE = 2;
export const GRAD = 4;

const BAD_INPUT = 1;
const BAD_TARGET = 2;

/** Which kernel a pass runs. */
export const enum Kind {
  Probabilities,
  Logits,
}

/** Every option a loss function takes. */
export type AnyOptions = LossOptions & OutputOptions & GradOptions & { posWeight?: FloatInput };

/** The result of a pass: the reduced loss or element losses, and the gradient, as asked. */
export interface PassResult {
  loss: number | Float32Array;
  grad: Float32Array;
  /** The float64 sum of the element losses (when the loss was asked for). */
  sum: number;
}

const EMPTY = new Float32Array(0);

/**
 * A pass over one chunk of a longer array (the accumulator and the pool split data into chunks):
 * `offset` is the chunk's first index in the whole (for broadcast phases and error messages), and
 * `total` the whole's length (the divisor of a mean's gradient, and what broadcast lengths must
 * divide); a stream of unknown length leaves it out and checks the divisibility itself.
 */
export interface Chunk {
  offset: number;
  total?: number;
}

/** The checked arguments of a pass (see {@link checkPass}). */
export interface CheckedPass {
  o: AnyOptions;
  reduction: Reduction;
  n: number;
  /** The whole's length for a chunk (-1 for a stream of unknown length), else `n`. */
  whole: number;
  weight: FloatInput | undefined;
  wLen: number;
  posWeight: FloatInput | undefined;
  pLen: number;
  none: boolean;
  wantLoss: boolean;
  wantGrad: boolean;
  gradOutput: number | FloatInput | undefined;
  /** `what` with LOSS_STORE added for `'none'`. */
  what: number;
}

/**
 * Checks a pass's arguments without running anything: options, lengths, broadcasting, outputs and
 * the upstream gradient. Throws the documented TypeError / RangeError naming the argument.
 */
export function checkPass(
  kind: Kind,
  fn: string,
  input: FloatInput,
  targetValues: FloatInput,
  options: AnyOptions | undefined,
  what: number,
  chunk?: Chunk,
): CheckedPass {
  const o: AnyOptions = options ?? {};
  if (typeof o !== 'object') throw new TypeError(`${fn}: options must be an object`);
  const reduction = reductionOf(o.reduction, fn);
  const n = lengthOf(input, `${fn}: input`);
  const nt = lengthOf(targetValues, `${fn}: target`);
  if (nt !== n) {
    throw new RangeError(`${fn}: target has length ${nt} but input has length ${n}; they must match`);
  }
  const whole = chunk === undefined ? n : chunk.total ?? -1;
  const weight = o.weight;
  const wLen = weight === undefined ? 0 : broadcastLength(weight, whole, fn, 'weight');
  let posWeight: FloatInput | undefined;
  let pLen = 0;
  if (kind === Kind.Logits) {
    posWeight = o.posWeight;
    if (posWeight !== undefined) pLen = broadcastLength(posWeight, whole, fn, 'posWeight');
  } else if (o.posWeight !== undefined) {
    throw new TypeError(
      `${fn}: posWeight exists only for the logits loss (as in PyTorch); use binaryCrossEntropyWithLogits`,
    );
  }
  const none = reduction === 'none';
  const wantLoss = (what & LOSS) !== 0;
  const wantGrad = (what & GRAD) !== 0;
  if (wantLoss && none) what |= LOSS_STORE;
  if (wantLoss && none) checkOutput(o.out, n, `${fn}: out`);
  if (wantGrad) checkOutput(o.gradOut, n, `${fn}: gradOut`);

  // The upstream gradient: absent (1), a scalar, or (for 'none') one value per element.
  const gradOutput = wantGrad ? o.gradOutput : undefined;
  if (gradOutput !== undefined && typeof gradOutput !== 'number') {
    if (!none) {
      throw new TypeError(`${fn}: gradOutput must be a number for reduction '${reduction}' (the loss is a scalar)`);
    }
    const len = lengthOf(gradOutput, `${fn}: gradOutput`);
    if (len !== n) {
      throw new RangeError(`${fn}: gradOutput has length ${len} but input has length ${n}; they must match`);
    }
  }
  return { o, reduction, n, whole, weight, wLen, posWeight, pLen, none, wantLoss, wantGrad, gradOutput, what };
}

/**
 * Runs one pass. `fn` names the public function in messages; `what` is a combination of LOSS and
 * GRAD (LOSS_STORE is added for `reduction: 'none'`); `chunk` when the data is part of a whole.
 */
export function runPass(
  kind: Kind,
  fn: string,
  input: FloatInput,
  targetValues: FloatInput,
  options: AnyOptions | undefined,
  what: number,
  chunk?: Chunk,
): PassResult {
  const k = kernels();
  const c = checkPass(kind, fn, input, targetValues, options, what, chunk);
  const { o, reduction, n, whole, wLen, pLen, none, wantLoss, wantGrad, gradOutput } = c;
  const phase = chunk === undefined ? 0 : chunk.offset;
  let { weight, posWeight } = c;
  what = c.what;

  let wPlaced = wLen;
  let pPlaced = pLen;
  if (chunk !== undefined) {
    // A chunk: per-element operands are sliced, shorter ones start at the chunk's phase.
    if (weight !== undefined) [weight, wPlaced] = atPhase(weight, wLen, phase, n, whole);
    if (posWeight !== undefined) [posWeight, pPlaced] = atPhase(posWeight, pLen, phase, n, whole);
  }

  // Addresses first (allocation may grow memory), values copied in as each is placed.
  const xPtr = place(input, n, Slot.Input, `${fn}: input`);
  const yPtr = place(targetValues, n, Slot.Target, `${fn}: target`);
  const wPtr = weight === undefined ? 0 : place(weight, wPlaced, Slot.Weight, `${fn}: weight`);
  const pPtr = posWeight === undefined ? 0 : place(posWeight, pPlaced, Slot.PosWeight, `${fn}: posWeight`);
  let gPtr = 0;
  let gLen = 0;
  if (typeof gradOutput === 'number') {
    if (gradOutput !== 1) {
      gLen = 1;
      gPtr = scratch(Slot.GradOutput, 1);
      heapF32()[gPtr >>> 2] = gradOutput;
    }
  } else if (gradOutput !== undefined) {
    gLen = n;
    gPtr = place(gradOutput, n, Slot.GradOutput, `${fn}: gradOutput`);
  }
  const lossPtr = wantLoss && none ? outputAddress(o.out, n, Slot.Loss, `${fn}: out`) : 0;
  const gradPtr = wantGrad ? outputAddress(o.gradOut, n, Slot.Grad, `${fn}: gradOut`) : 0;
  const gradDiv = reduction === 'mean' ? whole : 1;

  const status =
    kind === Kind.Logits
      ? k.bce_binary_cross_entropy_with_logits(
          xPtr, yPtr, n, wPtr, wPlaced, pPtr, pPlaced, gPtr, gLen, gradDiv, lossPtr, gradPtr, what,
        )
      : k.bce_binary_cross_entropy(xPtr, yPtr, n, wPtr, wPlaced, gPtr, gLen, gradDiv, lossPtr, gradPtr, what);
  if (status !== 0) throw statusError(status, fn, status === BAD_INPUT ? xPtr : yPtr, phase);

  let loss: number | Float32Array = 0;
  const sum = wantLoss ? k.bce_last_sum() : 0;
  if (wantLoss) {
    if (none) loss = deliver(o.out, lossPtr, n);
    else loss = reduction === 'sum' ? sum : sum / n;
  }
  const grad = wantGrad ? deliver(o.gradOut, gradPtr, n) : EMPTY;
  return { loss, grad, sum };
}

/** A range error of BCELoss: names the argument, the index (in the whole, for a chunk) and the value. */
export class OutOfRangeError extends RangeError {
  constructor(
    message: string,
    /** `'input'` or `'target'`. */
    readonly argument: 'input' | 'target',
    /** The index of the first bad element. */
    readonly index: number,
    /** Its value. */
    readonly value: number,
  ) {
    super(message);
    this.name = 'RangeError';
  }
}

function statusError(status: number, fn: string, ptr: number, offset: number): Error {
  if (status !== BAD_INPUT && status !== BAD_TARGET) {
    return new Error(`${fn}: internal error: kernel status ${status}`);
  }
  const name = status === BAD_INPUT ? 'input' : 'target';
  const local = kernels().bce_error_index() >>> 0;
  const value = heapF32()[(ptr >>> 2) + local];
  const index = offset + local;
  return new OutOfRangeError(
    `${fn}: ${name}[${index}] = ${value} is outside [0, 1]; all elements of ${name} should be between 0 and 1`,
    name,
    index,
    value,
  );
}

/**
 * The broadcast operand `x` (of length `len`) as a chunk of `n` elements starting at `phase` sees it:
 * the slice for a per-element operand (`len` = the whole's length), else `x` rotated to the phase.
 */
function atPhase(x: FloatInput, len: number, phase: number, n: number, whole: number): [FloatInput, number] {
  const src = x instanceof WasmBuffer ? x.view : x;
  if (len === whole) {
    const part = src instanceof Float32Array ? src.subarray(phase, phase + n) : Float32Array.from({ length: n }, (_, i) => src[phase + i]);
    return [part, n];
  }
  const k = phase % len;
  if (k === 0) return [x, len];
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) out[i] = src[(i + k) % len];
  return [out, len];
}

/** The reduction option, checked: TypeError for a non-string, RangeError for an unknown name. */
export function reductionOf(r: unknown, fn: string): Reduction {
  if (r === undefined || r === 'mean') return 'mean';
  if (r === 'sum' || r === 'none') return r;
  if (typeof r !== 'string') throw new TypeError(`${fn}: reduction must be a string, got ${typeof r}`);
  throw new RangeError(`${fn}: '${r}' is not a valid value for reduction (use 'none', 'mean' or 'sum')`);
}

/** The length of a broadcast operand; RangeError unless it divides `n` (or equals it). For a chunk,
 * `n` is the whole's length. */
export function broadcastLength(x: FloatInput, n: number, fn: string, name: string): number {
  const len = lengthOf(x, `${fn}: ${name}`);
  if (len === n || (len > 0 && (n < 0 || n % len === 0))) return len;
  throw new RangeError(
    `${fn}: ${name} of length ${len} does not broadcast over input of length ${n}: ` +
      `its length must divide the input length (one value per class of [..., C] data, or per element)`,
  );
}
