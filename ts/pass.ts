// The one call path behind every loss function (mirrors crate/src/pass.rs): check the arguments,
// place them in WebAssembly memory, run one fused pass, turn the status into an error or a result.

import {
  WasmBuffer,
  addressOf,
  checkOutput,
  checkOverlap,
  copyIn,
  copyOut,
  ensureScratch,
  heapF32,
  lengthOf,
  memoryBuffer,
  newResult,
  PIECE,
  Slot,
  slotAddress,
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
  /** The outputs asked for (each option is read once: a getter cannot change it after its check). */
  out: FloatOutput | undefined;
  gradOut: FloatOutput | undefined;
}

/** The option keys each variant takes, by `kind` and `what` (LOSS, GRAD, LOSS | GRAD). */
function allowedKeys(kind: Kind, what: number): readonly string[] {
  const keys = ['weight', 'reduction'];
  if (kind === Kind.Logits) keys.push('posWeight');
  if (what & LOSS) keys.push('out');
  if (what & GRAD) keys.push('gradOutput', 'gradOut');
  return keys;
}
const KEYS: (readonly string[])[] = [];
for (const kind of [Kind.Probabilities, Kind.Logits]) {
  for (const what of [LOSS, GRAD, LOSS | GRAD]) KEYS[kind * 8 + what] = allowedKeys(kind, what);
}

/**
 * TypeError for an option key that `fn` does not take (a typo would otherwise be ignored), with the
 * valid key it most likely meant. Keys whose value is `undefined` are ignored.
 */
export function checkKeys(options: object, allowed: readonly string[], fn: string, hint?: (key: string) => string | undefined): void {
  for (const key in options) {
    if (!allowed.includes(key) && (options as Record<string, unknown>)[key] !== undefined) {
      const special = hint?.(key);
      if (special !== undefined) throw new TypeError(`${fn}: ${special}`);
      throw unknownOption(key, allowed, fn);
    }
  }
}

/** posWeight (or a spelling of it) on the probability loss: the option exists, on the other loss. */
const POS_WEIGHT_HINT = (key: string): string | undefined =>
  closest(key, ['posWeight']) === undefined
    ? undefined
    : `${key} exists only for the logits loss (as in PyTorch, pos_weight); use binaryCrossEntropyWithLogits`;

function unknownOption(key: string, allowed: readonly string[], fn: string): TypeError {
  const guess = closest(key, allowed);
  const hint = guess === undefined ? '' : ` (did you mean '${guess}'?)`;
  return new TypeError(`${fn}: unknown option '${key}'${hint}; valid options: ${allowed.join(', ')}`);
}

/** The allowed key nearest to `key`: the same letters ignoring case and `_`/`-`, or within 2 edits. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = norm(a) === norm(key) ? 0 : editDistance(norm(a), norm(key));
    if (d < bestD) [best, bestD] = [a, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
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
  checkOptionsObject(o, fn);
  checkKeys(o, KEYS[kind * 8 + (what & (LOSS | GRAD))], fn, kind === Kind.Probabilities ? POS_WEIGHT_HINT : undefined);
  // Every option is read exactly once, here.
  const { weight, reduction: r, out, gradOut } = o;
  const posWeight = kind === Kind.Logits ? o.posWeight : undefined;
  const wantLoss = (what & LOSS) !== 0;
  const wantGrad = (what & GRAD) !== 0;
  const gradOutput = wantGrad ? o.gradOutput : undefined;
  const reduction = reductionOf(r, fn);
  const n = lengthOf(input, fn, 'input');
  const nt = lengthOf(targetValues, fn, 'target');
  if (nt !== n) {
    throw new RangeError(`${fn}: target has length ${nt} but input has length ${n}; they must match`);
  }
  const whole = chunk === undefined ? n : chunk.total ?? -1;
  const wLen = weight === undefined ? 0 : broadcastLength(weight, whole, fn, 'weight');
  const pLen = posWeight === undefined ? 0 : broadcastLength(posWeight, whole, fn, 'posWeight');
  const none = reduction === 'none';
  if (wantLoss && none) what |= LOSS_STORE;
  if (out !== undefined && !none) {
    throw new TypeError(`${fn}: out receives element losses, so it needs reduction 'none' (got '${reduction}')`);
  }
  if (out !== undefined || gradOut !== undefined) {
    // An output may be exactly an input (in place); any other sharing of memory is refused (a
    // broadcast operand can never be exactly an output: its length differs).
    const g = typeof gradOutput === 'object' ? gradOutput : undefined;
    const lossOut = wantLoss && none ? out : undefined;
    const gOut = wantGrad ? gradOut : undefined;
    if (lossOut !== undefined) checkOverlap(lossOut, fn, 'out', OPERANDS, input, targetValues, weight, posWeight, g, gOut, 'gradOut');
    if (gOut !== undefined) checkOverlap(gOut, fn, 'gradOut', OPERANDS, input, targetValues, weight, posWeight, g);
  }
  // The upstream gradient: absent (1), a scalar, or (for 'none') one value per element.
  if (gradOutput !== undefined && typeof gradOutput !== 'number') {
    if (!none) {
      throw new TypeError(`${fn}: gradOutput must be a number for reduction '${reduction}' (the loss is a scalar)`);
    }
    const len = lengthOf(gradOutput, fn, 'gradOutput');
    if (len !== n) {
      throw new RangeError(`${fn}: gradOutput has length ${len} but input has length ${n}; they must match`);
    }
  }
  return { reduction, n, whole, weight, wLen, posWeight, pLen, none, wantLoss, wantGrad, gradOutput, what, out, gradOut };
}

/**
 * Where a broadcast operand (weight, posWeight) of period `len` is for the kernel: its address if it
 * is in WebAssembly memory, else a plain array of at most PIECE elements is copied into its scratch
 * slot once per call; -1 for a longer plain array, whose elements each piece gathers (see
 * {@link gather}).
 */
function placeOperand(src: FloatInput, len: number, slot: Slot, fn: string, arg: string): number {
  const ptr = addressOf(src, fn, arg);
  if (ptr >= 0 || len > PIECE) return ptr;
  const to = slotAddress(slot);
  copyIn(src as ArrayLike<number>, 0, len, to >>> 2, fn, arg);
  return to;
}

/**
 * Copies the `m < len` elements `src[at % len ...]` (wrapping at most once) into `slot`: the operand
 * of one piece, then read with period `m` and phase 0.
 */
function gather(src: FloatInput, len: number, at: number, m: number, slot: Slot, fn: string, arg: string): number {
  const to = slotAddress(slot);
  const s = at % len;
  const first = Math.min(m, len - s);
  copyIn(src as ArrayLike<number>, s, first, to >>> 2, fn, arg);
  if (first < m) copyIn(src as ArrayLike<number>, 0, m - first, (to >>> 2) + first, fn, arg);
  return to;
}

// The broadcast operand of one piece, as `operandPiece` leaves it (module state: no allocation).
let opPtr = 0;
let opLen = 0;
let opPhase = 0;

/**
 * Sets `opPtr`, `opLen`, `opPhase` to the broadcast operand `src` (placed at `address` with period
 * `len`, see {@link placeOperand}) as the piece of `m` elements at global index `at` reads it.
 */
function operandPiece(src: FloatInput | undefined, address: number, len: number, at: number, m: number, slot: Slot, fn: string, arg: string): void {
  if (address >= 0) {
    opPtr = address;
    opLen = len;
    opPhase = len > 1 ? at % len : 0;
  } else {
    opPtr = gather(src!, len, at, m, slot, fn, arg);
    opLen = m;
    opPhase = 0;
  }
}

/** The address of elements `a .. a + m` of an array operand: in place, or copied into `slot`. */
function pieceAddress(src: FloatInput, address: number, a: number, m: number, slot: Slot, fn: string, arg: string): number {
  if (address >= 0) return address + a * 4;
  const ptr = slotAddress(slot);
  copyIn(src as ArrayLike<number>, a, m, ptr >>> 2, fn, arg);
  return ptr;
}

/**
 * Runs one pass. `fn` names the public function in messages; `what` is a combination of LOSS and
 * GRAD (LOSS_STORE is added for `reduction: 'none'`); `chunk` when the data is part of a whole.
 *
 * Arrays in WebAssembly memory (WasmBuffers, views of the module's memory) are read and written in
 * place; any other array streams through the fixed scratch, {@link PIECE} elements at a time, its
 * elements checked in the same copy. Nothing here allocates WebAssembly memory (after the scratch
 * exists), so no view is detached during a call.
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
  ensureScratch();
  const c = checkPass(kind, fn, input, targetValues, options, what, chunk);
  const { n, none, wantLoss, wantGrad, gradOutput, weight, posWeight, wLen, pLen, out, gradOut } = c;
  const offset = chunk === undefined ? 0 : chunk.offset;
  what = c.what;

  // Addresses of everything already in WebAssembly memory (outputs checked first: nothing is
  // written before every argument has passed its checks).
  const lossAddr = wantLoss && none ? checkOutput(out, n, fn, 'out') : -1;
  const gradAddr = wantGrad ? checkOutput(gradOut, n, fn, 'gradOut') : -1;
  const xAddr = addressOf(input, fn, 'input');
  const yAddr = addressOf(targetValues, fn, 'target');
  const wAddr = weight === undefined ? 0 : placeOperand(weight, wLen, Slot.Weight, fn, 'weight');
  const pAddr = posWeight === undefined ? 0 : placeOperand(posWeight, pLen, Slot.PosWeight, fn, 'posWeight');
  let gAddr = 0;
  let gLen = 0;
  if (typeof gradOutput === 'number') {
    if (gradOutput !== 1) {
      gLen = 1;
      gAddr = slotAddress(Slot.GradOutput);
      heapF32()[gAddr >>> 2] = gradOutput;
    }
  } else if (gradOutput !== undefined) {
    gLen = -1; // per element, sliced like the input
    gAddr = addressOf(gradOutput, fn, 'gradOutput');
  }
  const gradDiv = c.reduction === 'mean' ? c.whole : 1;

  // Results that do not live in WebAssembly memory: the caller's Float32Array, or a new one.
  const lossArray = lossAddr < 0 && wantLoss && none ? (out as Float32Array | undefined) ?? newResult(n, fn) : null;
  const gradArray = gradAddr < 0 && wantGrad ? (gradOut as Float32Array | undefined) ?? newResult(n, fn) : null;
  const lossSlot = slotAddress(Slot.Loss);
  const gradSlot = slotAddress(Slot.Grad);

  let sum = 0;
  for (let a = 0; a < n; a += PIECE) {
    const m = Math.min(PIECE, n - a);
    const at = offset + a;
    const xPtr = pieceAddress(input, xAddr, a, m, Slot.Input, fn, 'input');
    const yPtr = pieceAddress(targetValues, yAddr, a, m, Slot.Target, fn, 'target');
    operandPiece(weight, wAddr, wLen, at, m, Slot.Weight, fn, 'weight');
    const wPtr = opPtr;
    const wn = opLen;
    const wPhase = opPhase;
    let gPtr = gAddr;
    let gn = gLen;
    if (gLen < 0) {
      gPtr = pieceAddress(gradOutput as FloatInput, gAddr, a, m, Slot.GradOutput, fn, 'gradOutput');
      gn = m;
    }
    const lossPtr = lossAddr >= 0 ? lossAddr + 4 * a : lossArray !== null ? lossSlot : 0;
    const gradPtr = gradAddr >= 0 ? gradAddr + 4 * a : gradArray !== null ? gradSlot : 0;
    let status: number;
    if (kind === Kind.Logits) {
      operandPiece(posWeight, pAddr, pLen, at, m, Slot.PosWeight, fn, 'posWeight');
      status = k.bce_binary_cross_entropy_with_logits(
        xPtr, yPtr, m, wPtr, wn, wPhase, opPtr, opLen, opPhase, gPtr, gn, gradDiv, lossPtr, gradPtr, 0, 0, 0, 0, what,
      );
    } else {
      status = k.bce_binary_cross_entropy(xPtr, yPtr, m, wPtr, wn, wPhase, gPtr, gn, gradDiv, lossPtr, gradPtr, 0, 0, 0, 0, what);
    }
    if (status !== 0) throw statusError(status, fn, status === BAD_INPUT ? xPtr : yPtr, at);
    if (wantLoss) sum += k.bce_last_sum();
    if (lossArray !== null) copyOut(lossPtr >>> 2, m, lossArray, a);
    if (gradArray !== null) copyOut(gradPtr >>> 2, m, gradArray, a);
  }

  let loss: number | Float32Array = 0;
  if (wantLoss) {
    if (none) loss = lossArray ?? view(out as FloatOutput, lossAddr, n);
    else loss = c.reduction === 'sum' ? sum : sum / n;
  }
  const grad = wantGrad ? gradArray ?? view(gradOut as FloatOutput, gradAddr, n) : EMPTY;
  return { loss, grad, sum };
}

/** An output in WebAssembly memory as the caller gets it back: its own view (still live: no call grows memory). */
function view(out: FloatOutput, address: number, n: number): Float32Array {
  if (out instanceof WasmBuffer) return out.view;
  return (out as Float32Array).buffer === memoryBuffer() ? out : new Float32Array(memoryBuffer(), address, n);
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

const OPERANDS = ['input', 'target', 'weight', 'posWeight', 'gradOutput'];

/** TypeError unless the options are a plain object (not an array, a Map, a string...). */
export function checkOptionsObject(o: unknown, fn: string): void {
  if (typeof o !== 'object' || o === null || Array.isArray(o) || o instanceof Map || o instanceof Set || ArrayBuffer.isView(o)) {
    throw new TypeError(`${fn}: options must be an object like { reduction: 'sum' }, got ${o === null ? 'null' : Array.isArray(o) ? 'an array' : typeof o === 'object' ? (o as object).constructor.name : typeof o}`);
  }
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
  const len = lengthOf(x, fn, name);
  // PyTorch's broadcasting: a length that divides the input's, or 1 (also over an empty input).
  if (len === n || len === 1 || (len > 0 && (n < 0 || (n > 0 && n % len === 0)))) return len;
  if (n < 0) throw new RangeError(`${fn}: ${name} is empty; a broadcast operand needs at least one element`);
  throw new RangeError(
    `${fn}: ${name} of length ${len} does not broadcast over input of length ${n}: ` +
      `its length must divide the input length (one value per class of [..., C] data, or per element)`,
  );
}
