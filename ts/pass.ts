// The one call path behind every loss function (mirrors crate/src/pass.rs): check the arguments,
// place them in WebAssembly memory, run one fused pass, turn the status into an error or a result.
// At the end, the elementwise passes (sigmoid, logSigmoid and the raw approximations; mirrors
// crate/src/sigmoid.rs). (One module: one file of the default entry fewer, each gzipped on its own.)

import {
  WasmBuffer,
  owners,
  addressOf,
  checkOverlap,
  addressIn,
  kernels,
  type KernelExports,
  copyChecked,
  checkOutput,
  copyFloats,
  copyIn,
  copyOut,
  describe,
  ensureScratch,
  enter,
  leave,
  heapF32,
  heapU8,
  homeOf,
  bufferAddress,
  bufferView,
  checkStill,
  isWasmBuffer,
  bufferLength,
  isFloat32Array,
  typedName,
  viewBuffer,
  viewLength,
  viewOffset,
  memoryBuffer,
  lengthOf,
  liveAddress,
  MASK_KINDS,
  named,
  notANumber,
  quotedElement,
  newResult,
  overlapError,
  PIECE,
  sharedOutputsError,
  sharing,
  Sharing,
  Slot,
  slotAddress,
  WASM_MEMORY,
  type FloatInput,
  type FloatOutput,
} from './memory.js';

/**
 * How element losses are combined: as in PyTorch `'mean'` (the default; the sum over the count of
 * kept elements), `'sum'`, `'none'`; and `'weightedMean'` (`sum(w l) / sum(w)` over kept elements)
 * and `'rowMean'` (the mean of each row of `rowLength` elements, a Float32Array).
 */
export type Reduction = 'none' | 'mean' | 'sum' | 'weightedMean' | 'rowMean';

/** The loss a reduction returns: a Float32Array for `'none'` and `'rowMean'`, a number otherwise. */
export type LossFor<R extends Reduction> = R extends 'none' | 'rowMean' ? Float32Array : number;

/** A 0/1 mask: a Uint8Array, booleans, or numbers 0 and 1. */
export type MaskInput = Uint8Array | ArrayLike<boolean> | ArrayLike<number>;

/** Options shared by both losses. */
export interface LossOptions<R extends Reduction = Reduction> {
  /**
   * Rescales each element's loss (and gradient). Broadcast over the trailing dimension like
   * PyTorch: a length that divides the input length applies `weight[i % length]` (one value per
   * class of row-major `[..., C]` data); the input's own length is one weight per element.
   */
  weight?: FloatInput;
  /** `'mean'` (default), `'sum'`, `'none'`, `'weightedMean'` or `'rowMean'` (with `rowLength`). */
  reduction?: R;
  /** Label smoothing `e` in [0, 1] (Keras): targets become `y * float32(1 - e) + float32(e / 2)` inside the pass (PyTorch's and Keras's float32 operations). */
  labelSmoothing?: number;
  /**
   * Which elements count (1) and which do not (0), broadcast like `weight`: a masked-out element
   * gives loss 0 and gradient 0, is not range-checked (it may hold anything, NaN included), and is
   * not counted by `'mean'`. A Uint8Array over the module's memory (the bytes of a WasmBuffer) is
   * read in place; any other mask is copied in.
   */
  mask?: MaskInput;
  /** For `reduction: 'rowMean'`: the row length `C` of row-major `[N, C]` data (it must divide the length). */
  rowLength?: number;
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
const BAD_MASK = 4;

/** Which kernel a pass runs. */
export const enum Kind {
  Probabilities,
  Logits,
  Focal,
}

/** Every option a loss function takes. */
export type AnyOptions = LossOptions & OutputOptions & GradOptions & { posWeight?: FloatInput; alpha?: number; gamma?: number };

/**
 * What an operation returns (see {@link runPass}): the loss for LOSS (the reduced number, or the
 * element losses for `'none'`), the gradient for GRAD, `{ loss, grad }` for both.
 */
export type PassResult = number | Float32Array | ForwardBackward;

/** The result of operation `what` from its loss and gradient. */
export function resultOf(what: number, loss: number | Float32Array, grad: Float32Array): PassResult {
  if (what === LOSS) return loss;
  if (what === GRAD) return grad;
  return { loss, grad };
}

// The float64 loss sum of the last pass (see `lastSum`; a Float64Array holds it without boxing).
const sumOfLast = new Float64Array(1);

/**
 * The float64 sum of the element losses (after weights, before a mean) of the last pass on this
 * thread, 0 if it did not compute the loss: the accumulator and the pool's workers add these up.
 */
export function lastSum(): number {
  return sumOfLast[0];
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
  /** The divisor of the gradient, when the caller computed it (a masked mean, a weightedMean). */
  divisor?: number;
  /** The index in the whole of the mask's element 0 (default 0; a mask of this chunk alone: `offset`). */
  maskAt?: number;
  /** The caller's check of the pass's arguments, if it made one (their lengths are not read again). */
  checked?: CheckedPass;
}

/** The checked arguments of a pass (see {@link checkPass}). */
export interface CheckedPass {
  reduction: Reduction;
  n: number;
  /** The whole's length for a chunk (-1 for a stream of unknown length), else `n`. */
  whole: number;
  input: FloatInput;
  target: FloatInput;
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
  /** The outputs' addresses in WebAssembly memory, or -1 (absent, or a Float32Array elsewhere). */
  lossAddr: number;
  gradAddr: number;
  /** Each array argument's {@link homeOf} (null when absent), taken once per call. */
  xHome: object | null;
  yHome: object | null;
  wHome: object | null;
  pHome: object | null;
  gHome: object | null;
  /** The mask's home (see homeOf): an output may not overlap it at all. */
  mHome: object | null;
  /** Label smoothing (0: none), the mask and its period (0: none), the row length, focal's parameters. */
  smooth: number;
  mask: MaskInput | undefined;
  mLen: number;
  rowLength: number;
  alpha: number;
  gamma: number;
}

/** The option keys each variant takes, by `kind` and `what` (LOSS, GRAD, LOSS | GRAD). */
function allowedKeys(kind: Kind, what: number): readonly OptionKey[] {
  const keys: OptionKey[] = ['weight', 'reduction', 'labelSmoothing', 'mask', 'rowLength'];
  if (kind === Kind.Logits) keys.push('posWeight');
  if (kind === Kind.Focal) keys.push('alpha', 'gamma');
  if (what & LOSS) keys.push('out');
  if (what & GRAD) keys.push('gradOutput', 'gradOut');
  return keys;
}

/**
 * Every option of the loss functions, one bit each: a variant's keys are a mask of them. A new option:
 * its bit here, its key in allowedKeys, its field in PassOptions (read in readValues), its checks in
 * checkPass; calls that give it then take the general path (LEAN_KEYS) until leanPass handles it.
 */
const OPTION_BITS = { weight: 1, reduction: 2, posWeight: 4, out: 8, gradOutput: 16, gradOut: 32, labelSmoothing: 64, mask: 128, rowLength: 256, alpha: 512, gamma: 1024 };
type OptionKey = keyof typeof OPTION_BITS;

// The keys of each variant (for messages) and their mask, at index kind * 8 + what.
const KEYS: (readonly OptionKey[])[] = [];
const MASKS: number[] = [];
for (const kind of [Kind.Probabilities, Kind.Logits, Kind.Focal]) {
  for (const what of [LOSS, GRAD, LOSS | GRAD]) {
    const keys = allowedKeys(kind, what);
    KEYS[kind * 8 + what] = keys;
    MASKS[kind * 8 + what] = keys.reduce((m, key) => m | OPTION_BITS[key], 0);
  }
}

/** The options of one call, each read once (see {@link readOptions}); not yet checked. */
export interface PassOptions {
  /** The OPTION_BITS of the keys the options object enumerates (whatever their values); UNKNOWN_KEY, GENERAL. */
  keys: number;
  weight: FloatInput | undefined;
  reduction: Reduction | undefined;
  out: FloatOutput | undefined;
  gradOut: FloatOutput | undefined;
  posWeight: FloatInput | undefined;
  gradOutput: number | FloatInput | undefined;
  /** Numbers by their types; checked by {@link checkPass}. */
  labelSmoothing?: number;
  mask?: MaskInput;
  rowLength?: number;
  alpha?: number;
  gamma?: number;
}

const NO_OPTIONS: PassOptions = Object.freeze({
  keys: 0,
  weight: undefined,
  reduction: undefined,
  out: undefined,
  gradOut: undefined,
  posWeight: undefined,
  gradOutput: undefined,
});
/** The focal loss's default reduction is torchvision's, `'none'`. */
const FOCAL_NO_OPTIONS: PassOptions = Object.freeze({ ...NO_OPTIONS, reduction: 'none' });

/**
 * Reads the options of a call to operation `kind`/`what` exactly once (a getter cannot change an
 * option after its check), after {@link optionKeys} has checked them.
 */
export function readOptions(kind: Kind, fn: string, options: AnyOptions | undefined, what: number): PassOptions {
  if (options === undefined) return kind === Kind.Focal ? FOCAL_NO_OPTIONS : NO_OPTIONS;
  return readValues(kind, options, what, optionKeys(kind, fn, options, what));
}

/**
 * The OPTION_BITS of the keys of a call's options: TypeError for options that are not a plain object
 * and for a key the operation does not take (as {@link checkKeys}, but a table lookup per key instead
 * of a search). UNKNOWN_KEY for an unknown key whose value is undefined (ignored), and for options
 * other than a plain `{}` (a class instance may have getters that a scan of the keys does not see):
 * they take the general path, which reads every option.
 */
function optionKeys(kind: Kind, fn: string, options: object, what: number): number {
  checkOptionsObject(options, fn);
  const v = kind * 8 + (what & (LOSS | GRAD));
  const mask = MASKS[v];
  let keys = 0;
  for (const key in options) {
    // Inherited names ('toString', '__proto__') are not numbers here: unknown, as they should be.
    const bit = (OPTION_BITS as Record<string, unknown>)[key];
    if (typeof bit === 'number' && (bit & mask) !== 0) {
      keys |= bit;
    } else {
      checkKeys(options, KEYS[v], fn, otherLossHint(kind));
      keys |= UNKNOWN_KEY;
    }
  }
  // (`constructor` rather than Object.getPrototypeOf, which V8 does not inline here.)
  return (options as { constructor?: unknown }).constructor === Object ? keys : keys | UNKNOWN_KEY;
}

/** Every option's value, read once, in a fixed order. */
function readValues(kind: Kind, options: AnyOptions, what: number, keys: number): PassOptions {
  const weight = options.weight;
  const r = options.reduction;
  return {
    keys,
    weight,
    // (Read once; === undefined, not ??: a null reduction is checked, and refused, as on every other path.)
    reduction: r === undefined ? (kind === Kind.Focal ? 'none' : undefined) : r,
    out: options.out,
    gradOut: options.gradOut,
    posWeight: kind === Kind.Logits ? options.posWeight : undefined,
    gradOutput: what & GRAD ? options.gradOutput : undefined,
    labelSmoothing: options.labelSmoothing,
    mask: options.mask,
    rowLength: options.rowLength,
    alpha: kind === Kind.Focal ? options.alpha : undefined,
    gamma: kind === Kind.Focal ? options.gamma : undefined,
  };
}

/** A key no operation takes, with the value undefined (see {@link readOptions}). */
const UNKNOWN_KEY = 1 << 30;

/** In {@link PassOptions.keys}: the general path, the lean one having declined the call or not applying (see readAndRun). */
const GENERAL = 1 << 29;

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

/**
 * An option of another loss (or a spelling of one) on loss `kind`: where it exists. posWeight on the
 * probability and focal losses, alpha and gamma on the probability and logits losses.
 */
export const otherLossHint =
  (kind: Kind) =>
  (key: string): string | undefined => {
    const p = kind === Kind.Logits ? undefined : closest(key, ['posWeight']);
    const o = p ?? (kind === Kind.Focal ? undefined : closest(key, ['alpha', 'gamma']));
    return o === undefined
      ? undefined
      : `${o}${o === key ? '' : ` ('${key}')`} ${p ? 'exists only for the logits loss (as in PyTorch, pos_weight); use binaryCrossEntropyWithLogits or BCEWithLogitsLoss' : 'is an option of the focal loss; use sigmoidFocalLoss or SigmoidFocalLoss'}`;
  };

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
 * Checks a pass's arguments without running anything: the options' values (read by
 * {@link readOptions}), lengths, broadcasting, outputs and the upstream gradient. Throws the
 * documented TypeError / RangeError naming the argument.
 */
export function checkPass(
  fn: string,
  input: FloatInput,
  target: FloatInput,
  o: PassOptions,
  what: number,
  chunk?: Chunk,
): CheckedPass {
  const { weight, reduction: r, out, gradOut, posWeight, gradOutput } = o;
  const wantLoss = (what & LOSS) !== 0;
  const wantGrad = (what & GRAD) !== 0;
  const reduction = reductionOf(r, fn);
  const n = lengthOf(input, fn, 'input');
  const nt = lengthOf(target, fn, 'target');
  if (nt !== n) {
    throw new RangeError(`${fn}: target has length ${nt} but input has length ${n}; they must match`);
  }
  const whole = chunk === undefined ? n : chunk.total ?? -1;
  const wLen = weight === undefined ? 0 : broadcastLength(weight, whole, fn, 'weight');
  const pLen = posWeight === undefined ? 0 : broadcastLength(posWeight, whole, fn, 'posWeight');
  const { labelSmoothing: e = 0, mask, rowLength: C, alpha = 0.25, gamma = 2 } = o;
  const smooth = number(e, fn, 'labelSmoothing', (e) => e <= 1 && e >= 0, 'a number from 0 to 1');
  const mLen = mask === undefined ? 0 : broadcastLength(mask as ArrayLike<number>, whole, fn, 'mask');
  // The kernels check a mask's bytes as they read them, and over an empty input they read none: its
  // one possible element (a mask of length 1) is checked here, whatever the path.
  if (whole === 0 && mLen === 1) maskElements(mask!, 0, 1, new Uint8Array(1), fn);
  const rows = reduction === 'rowMean';
  if (rows !== (C !== undefined)) throw new TypeError(`${fn}: reduction 'rowMean' and rowLength go together`);
  const rowLength = rows
    ? number(C, fn, 'rowLength', (C) => Number.isInteger(C) && C > 0 && n % C === 0, `a positive integer${n ? ` that divides the length ${n}` : ''}`)
    : 0;
  // Decided here on the double (a float32 alpha of -1e-50 would be -0, i.e. alpha >= 0).
  const a = number(alpha, fn, 'alpha', (a) => (a >= 0 && a <= 1) || (a < 0 && a > -Infinity), 'from 0 to 1, or negative and finite for no alpha factor');
  // Finite in float32 too: the kernel's gamma is a float32.
  const g = number(gamma, fn, 'gamma', (g) => g >= 0 && Math.fround(g) < Infinity, 'a finite number >= 0 in float32');
  const none = reduction === 'none';
  if (wantLoss && none) what |= LOSS_STORE;
  if (out !== undefined && !none) {
    // An out of the wrong type (null, an options object) is named as such first (its length unread).
    if (!isWasmBuffer(out) && !isFloat32Array(out)) checkOutput(out, 0, fn, 'out');
    throw new TypeError(`${fn}: out receives element losses, so it needs reduction 'none' (got '${reduction}')`);
  }
  const c: CheckedPass = {
    reduction, n, whole, input, target, weight, wLen, posWeight, pLen, none, wantLoss, wantGrad, gradOutput,
    what, out, gradOut, lossAddr: -1, gradAddr: -1,
    xHome: homeOf(input),
    yHome: homeOf(target),
    wHome: weight === undefined ? null : homeOf(weight),
    pHome: posWeight === undefined ? null : homeOf(posWeight),
    gHome: typeof gradOutput === 'object' ? homeOf(gradOutput) : null,
    mHome: homeOf(mask),
    smooth, mask, mLen, rowLength, alpha: a < 0 ? -1 : a, gamma: g,
  };
  const lossOut = wantLoss && none ? out : undefined;
  const gOut = wantGrad ? gradOut : undefined;
  const outHome = lossOut === undefined ? null : homeOf(lossOut);
  const gradOutHome = gOut === undefined ? null : homeOf(gOut);
  // An output may be exactly an input (in place); any other sharing of memory is refused (a
  // broadcast operand can never be exactly an output: its length differs).
  if (outHome !== null) {
    checkOperandOverlap(c, fn, 'out', lossOut, outHome);
    if (sharing(lossOut, outHome, gOut, gradOutHome) !== Sharing.None) throw sharedOutputsError(fn, 'out', 'gradOut');
  }
  if (gradOutHome !== null) checkOperandOverlap(c, fn, 'gradOut', gOut, gradOutHome);
  // The upstream gradient: absent (1), a scalar, or (for 'none') one value per element.
  if (gradOutput !== undefined && typeof gradOutput !== 'number') {
    if (!none && !rows) {
      throw new TypeError(`${fn}: gradOutput must be a number for reduction '${reduction}' (the loss is a scalar)`);
    }
    const len = lengthOf(gradOutput, fn, 'gradOutput');
    const want = rows ? n / rowLength : n;
    if (len !== want) {
      throw new RangeError(`${fn}: gradOutput has length ${len} but ${rows ? `the loss has ${want} rows` : `input has length ${n}`}; they must match`);
    }
  }
  // The outputs' types, states and lengths, before anything is written.
  if (lossOut !== undefined) c.lossAddr = checkOutput(lossOut, n, fn, 'out', outHome);
  if (gOut !== undefined) c.gradAddr = checkOutput(gOut, n, fn, 'gradOut', gradOutHome);
  return c;
}

/** RangeError if output `o` (home `home`) overlaps an operand of the pass other than exactly. */
function checkOperandOverlap(c: CheckedPass, fn: string, arg: string, o: unknown, home: object): void {
  const bad =
    sharing(o, home, c.input, c.xHome) === Sharing.Partial ? 'input'
    : sharing(o, home, c.target, c.yHome) === Sharing.Partial ? 'target'
    : sharing(o, home, c.weight, c.wHome) === Sharing.Partial ? 'weight'
    : sharing(o, home, c.posWeight, c.pHome) === Sharing.Partial ? 'posWeight'
    : sharing(o, home, c.gradOutput, c.gHome) === Sharing.Partial ? 'gradOutput'
    : sharing(o, home, c.mask, c.mHome) !== Sharing.None ? 'mask'
    : undefined;
  if (bad !== undefined) throw overlapError(fn, arg, bad);
}

/**
 * Where a broadcast operand (weight, posWeight) of period `len` is for the kernel: its address if it
 * is in WebAssembly memory, else a plain array of at most PIECE elements is copied into its scratch
 * slot once per call; -1 for a longer plain array, whose elements each piece gathers (see
 * {@link gather}).
 */
function placeOperand(src: FloatInput, home: object | null, len: number, slot: Slot, fn: string, arg: string): number {
  const ptr = addressIn(src, home, fn, arg);
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
 * exists), so no view is detached during a call. A library call made while this one runs (from an
 * element getter, a Proxy, an options getter) throws (see `enter`).
 */
export function runPass(
  kind: Kind,
  fn: string,
  input: FloatInput,
  target: FloatInput,
  options: AnyOptions | undefined,
  what: number,
  chunk?: Chunk,
): PassResult {
  enter(fn);
  try {
    return readAndRun(kind, fn, input, target, options, what, chunk);
  } finally {
    leave();
  }
}

/** {@link runPass} inside a call that has begun (`enter`) already. */
function readAndRun(
  kind: Kind,
  fn: string,
  input: FloatInput,
  target: FloatInput,
  options: AnyOptions | undefined,
  what: number,
  chunk?: Chunk,
): PassResult {
  ensureScratch();
  const keys = options === undefined ? 0 : optionKeys(kind, fn, options, what);
  if (chunk !== undefined || kind === Kind.Focal || (keys & ~LEAN_KEYS) !== 0 || options === undefined) {
    const o = options === undefined ? readOptions(kind, fn, undefined, what) : readValues(kind, options, what, keys);
    return runRead(kind, fn, input, target, o, what, chunk);
  }
  // Every option read here, once, in readValues's order: one the keys did not show (a
  // non-enumerable or inherited property, a getter) still counts. The lean path takes the call if
  // only its options have values; else, or if it declines the call, the general path, with them.
  const weight = options.weight;
  const reduction = options.reduction;
  const out = options.out;
  const gradOut = options.gradOut;
  const posWeight = kind === Kind.Logits ? options.posWeight : undefined;
  const gradOutput = what & GRAD ? options.gradOutput : undefined;
  const labelSmoothing = options.labelSmoothing;
  const mask = options.mask;
  const rowLength = options.rowLength;
  if (weight === undefined && posWeight === undefined && gradOutput === undefined && labelSmoothing === undefined && mask === undefined && rowLength === undefined) {
    const r = leanPass(kind, fn, input, target, reduction, out, gradOut, what);
    if (r !== undefined) return r;
  }
  return runRead(kind, fn, input, target, { keys: keys | GENERAL, weight, reduction, out, gradOut, posWeight, gradOutput, labelSmoothing, mask, rowLength }, what);
}

/** {@link runPass} with the options already read by {@link readOptions}. */
export function runRead(
  kind: Kind,
  fn: string,
  input: FloatInput,
  target: FloatInput,
  o: PassOptions,
  what: number,
  chunk?: Chunk,
): PassResult {
  ensureScratch();
  if (chunk === undefined && kind !== Kind.Focal && (o.keys & ~LEAN_KEYS) === 0) {
    const r = leanPass(kind, fn, input, target, o.reduction, o.out, o.gradOut, what);
    if (r !== undefined) return r;
  }
  if (o.reduction === 'rowMean') return rowMeanPass(kind, fn, input, target, o, what);
  return generalPass(kind, fn, input, target, o, what, chunk);
}

/**
 * `'rowMean'`: the pass with reduction `'none'`, whose element losses each piece adds to its rows'
 * float64 sums in the scratch (never an array of n), over each row's count of kept elements. The
 * gradient divides by the row length in the kernel, as `'mean'` on each row would (bit for bit);
 * with a mask that drops elements, each row's `gradOutput / count` is the upstream gradient of its
 * elements instead, written piece by piece into the scratch. Memory: the N row results only.
 */
function rowMeanPass(kind: Kind, fn: string, input: FloatInput, target: FloatInput, o: PassOptions, what: number): PassResult {
  const c = checkPass(fn, input, target, o, what);
  const { n, rowLength: C, mLen } = c;
  const N = n / C;
  let { mask, gradOutput: g } = c;
  // A per-row gradOutput in WebAssembly memory by its address, taken before any element is read (a
  // getter may grow memory and detach any view of it), read through the current heap.
  const gAddr = typeof g === 'object' ? addressIn(g, c.gHome, fn, 'gradOutput') : -1;
  // A plain array's mask and per-row gradOutput read once (checked), into arrays of the library's:
  // the counts and the pass, or two pieces of one row, read the same values (a getter could answer
  // otherwise).
  if (mask !== undefined && typedName(mask) === undefined) {
    const bytes = new Uint8Array(mLen);
    maskElements(mask, 0, mLen, bytes, fn);
    mask = bytes;
  }
  if (typeof g === 'object' && gAddr < 0 && typedName(g) === undefined) {
    const values = new Float32Array(N);
    copyChecked(g as ArrayLike<number>, 0, N, values, 0, fn, 'gradOutput');
    g = values;
  }
  const counts = new Float64Array(N).fill(C);
  if (mask !== undefined) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(i / C) | 0] += +!!mask[i % mLen];
  }
  // Per-row counts only where the mask drops something: a mask that keeps everything is no mask,
  // bit for bit (the kernel divides by C rather than each element by its row's count).
  const byCount = counts.some((k) => k !== C);
  const perElement = c.wantGrad && (typeof g === 'object' || byCount);
  const rows: Rows = { C, counts, byCount, perElement, g: isWasmBuffer(g) ? undefined : g, gAddr, sums: new Float64Array(c.wantLoss ? N : 0) };
  // The pass with reduction 'none' (and no out: rowMean refuses one), from this check: the arrays'
  // lengths are not read again (a getter could answer otherwise, and the counts would not match).
  const none = { ...c, reduction: 'none', none: true, rowLength: 0, what: c.wantLoss ? c.what | LOSS_STORE : c.what, gradOutput: perElement ? undefined : g, mask, mHome: mask === c.mask ? c.mHome : null } as const;
  const r = generalPass(kind, fn, input, target, o, what, { offset: 0, total: n, divisor: byCount ? 1 : C, checked: none }, rows);
  const loss = new Float32Array(N);
  for (let i = 0; i < rows.sums.length; i++) loss[i] = rows.sums[i] / counts[i];
  return resultOf(what, loss, what === LOSS ? EMPTY : what === GRAD ? (r as Float32Array) : (r as ForwardBackward).grad);
}

/** What {@link generalPass} does for `'rowMean'` (see {@link rowMeanPass}). */
interface Rows {
  C: number;
  counts: Float64Array;
  byCount: boolean;
  /** Whether each element's upstream gradient is written (per row, or a scalar over counts). */
  perElement: boolean;
  /** The upstream gradient: per row (an array), a scalar, or undefined (1). */
  g: ArrayLike<unknown> | number | undefined;
  /** Its byte address where it lies in WebAssembly memory, else -1. */
  gAddr: number;
  /** Each row's float64 loss sum (length 0 without the loss). */
  sums: Float64Array;
}

/** Writes the per-element upstream gradient of elements `a .. a + m` into its slot; its address. */
function rowGradPiece(rows: Rows, a: number, m: number, fn: string): number {
  const to = slotAddress(Slot.GradOutput);
  const { C, counts, byCount, g, gAddr } = rows;
  // Row by row: row r covers piece elements i .. end. (The heap after each element is read: an
  // element getter may grow memory.)
  for (let r = (a / C) | 0, i = 0; i < m; r++) {
    const gr = gAddr >= 0 ? heapF32()[(gAddr >>> 2) + r] : typeof g === 'object' ? g[r] : g ?? 1;
    if (typeof gr !== 'number') throw notANumber(named(fn, 'gradOutput'), r, gr);
    // (As a float32 first, as PyTorch's gradOutput is: then one rounding of the quotient.)
    const v = byCount ? Math.fround(gr) / counts[r] : gr;
    const end = Math.min(m, (r + 1) * C - a);
    heapF32().fill(v, (to >>> 2) + i, (to >>> 2) + end);
    i = end;
  }
  return to;
}

/** Adds the element losses of elements `a .. a + m` (in their slot) to their rows' sums. */
function addRowLosses(rows: Rows, a: number, m: number): void {
  const h = heapF32();
  const from = slotAddress(Slot.Loss) >>> 2;
  const { C, sums } = rows;
  // Row by row, each row's sum in element order across pieces (as one loop over the row would).
  for (let r = (a / C) | 0, i = 0; i < m; r++) {
    const end = Math.min(m, (r + 1) * C - a);
    let s = sums[r];
    for (; i < end; i++) s += h[from + i];
    sums[r] = s;
  }
}

/**
 * Where the mask is for the kernel: a Uint8Array over the module's memory where it is (read in place,
 * as a Float32Array operand there is: no copy, neither for the pass nor for the kept count's
 * pre-pass); else all of it copied once into its slot (up to `3 * PIECE` bytes: the slot's last
 * `PIECE` bytes are where `maskPiece` expands a piece), or -1 (copied piece by piece).
 */
function placeMask(c: CheckedPass, fn: string): number {
  const mask = c.mask!;
  if (c.mHome === WASM_MEMORY && typedName(mask) === 'Uint8Array') {
    checkStill(mask as Uint8Array, c.mLen, fn, 'mask');
    return viewOffset(mask as Uint8Array);
  }
  if (c.mLen > 3 * PIECE) return -1;
  const to = slotAddress(Slot.Mask);
  copyMask(mask, 0, c.mLen, to, fn);
  return to;
}

// The mask of one piece, as `maskPiece` leaves it, and the index its element 0 belongs to.
let maskAt = 0;
let mPtr = 0;

/**
 * Sets `mPtr` to the mask of the piece of `m` elements at `at`, one byte per element as the kernels
 * read it (0: no mask): inside the mask placed at `address` where the piece's bytes lie in one
 * stretch of it, else expanded into the slot's last `PIECE` bytes (a broadcast mask: its period from
 * the piece's phase, then doubled).
 */
function maskPiece(c: CheckedPass, address: number, at: number, m: number, fn: string): void {
  const len = c.mLen;
  if (len === 0) {
    mPtr = 0;
    return;
  }
  const s = (at - maskAt) % len;
  if (address >= 0 && s + m <= len) {
    mPtr = address + s;
    return;
  }
  mPtr = slotAddress(Slot.Mask) + 3 * PIECE;
  const first = Math.min(m, len - s);
  const period = Math.min(m, len);
  if (address >= 0) {
    const h = heapU8();
    h.copyWithin(mPtr, address + s, address + s + first);
    h.copyWithin(mPtr + first, address, address + period - first);
  } else {
    copyMask(c.mask!, s, first, mPtr, fn);
    copyMask(c.mask!, 0, period - first, mPtr + first, fn);
  }
  if (period < m) {
    const h = heapU8();
    for (let have = period; have < m; have *= 2) h.copyWithin(mPtr + have, mPtr, mPtr + Math.min(have, m - have));
  }
}

/** A mask of `m` ones at `mPtr`, for the focal loss without a mask (its kernel always reads one). */
function onesPiece(m: number): void {
  mPtr = slotAddress(Slot.Mask) + 3 * PIECE;
  heapU8().fill(1, mPtr, mPtr + m);
}

/** Copies `count` mask elements from `from` to byte address `to`, as 0/1 bytes (a Uint8Array as it is: the kernel checks it). */
function copyMask(src: MaskInput, from: number, count: number, to: number, fn: string): void {
  const name = typedName(src);
  if (name !== undefined) checkStill(src as Uint8Array, from + count, fn, 'mask');
  if (name === 'Uint8Array') return heapU8().set(new Uint8Array(viewBuffer(src as Uint8Array), viewOffset(src as Uint8Array) + from, count), to);
  // Through JavaScript memory: an element getter may grow WebAssembly memory (and detach a view of it).
  const bytes = new Uint8Array(count);
  maskElements(src, from, count, bytes, fn);
  heapU8().set(bytes, to);
}

/** Writes mask elements `from .. from + count` into `to` as 0/1 bytes; anything but 0, 1 or a boolean is maskError's TypeError. */
export function maskElements(src: MaskInput, from: number, count: number, to: Uint8Array, fn: string): void {
  for (let i = 0; i < count; i++) {
    const v = src[from + i];
    if (v !== 0 && v !== 1 && typeof v !== 'boolean') throw maskError(fn, from + i, v);
    to[i] = +v;
  }
}

export function maskError(fn: string, i: number, v: unknown): TypeError {
  // Numbers as they are; anything else by its kind, so that a boxed 1 or a BigInt 1n does not read as 1.
  const shown = quotedElement(v) ?? (typeof v === 'number' || v == null ? String(v) : `${/^[AEIOU]/i.test(describe(v)) ? 'an' : 'a'} ${describe(v)}`);
  return new TypeError(`${fn}: mask[${i}] is ${shown}; a mask holds 0 and 1 or booleans`);
}

/**
 * The divisor of a masked `'mean'` (the kept count) or of `'weightedMean'` (the kept weights' sum),
 * from the mask and the weight only, in float64 (a pre-pass over them, never over the data); else
 * undefined (`'mean'` divides by the length, the others by 1).
 */
export function divisorOf(c: CheckedPass, fn: string, offset = 0, at = 0): number | undefined {
  if (!(c.reduction === 'weightedMean' || (c.reduction === 'mean' && c.mLen > 0))) return undefined;
  return keptSum(c, fn, offset, c.reduction === 'weightedMean' ? c.weight : undefined, at);
}

/**
 * The float64 sum of weight `w` (1 when undefined) over the elements that the pass's mask keeps
 * (the mask and the weight only, never the data). `c` needs `n`, `mask`, `mLen`, `wHome`, `wLen`.
 */
export function keptSum(c: CheckedPass, fn: string, offset: number, w: FloatInput | undefined, at = 0): number {
  const k = kernels();
  maskAt = at;
  const wAddr = w === undefined ? 0 : placeOperand(w, c.wHome, c.wLen, Slot.Weight, fn, 'weight');
  const mAddr = c.mask === undefined ? 0 : placeMask(c, fn);
  let total = 0;
  for (let a = 0; a < c.n; a += PIECE) {
    const m = Math.min(PIECE, c.n - a);
    const at = offset + a;
    operandPiece(w, wAddr, w === undefined ? 0 : c.wLen, at, m, Slot.Weight, fn, 'weight');
    maskPiece(c, mAddr, at, m, fn);
    const s = k.bce_kept_weight(opPtr, opLen, opPhase, mPtr, m);
    if (s !== s && k.bce_status() !== 0) throw badMask(c, fn, at);
    total += s;
  }
  return total;
}

/** The TypeError for the mask byte above 1 that the kernel found (piece at `at`). */
function badMask(c: CheckedPass, fn: string, at: number): TypeError {
  const i = (at - maskAt + (kernels().bce_error_index() >>> 0)) % c.mLen;
  return maskError(fn, i, c.mask![i]);
}

/** The option keys that {@link leanPass} handles: any other key given takes the general path. */
const LEAN_KEYS = OPTION_BITS.reduction | OPTION_BITS.out | OPTION_BITS.gradOut;

/** What {@link leanOutput} returns for an output the lean path does not take. */
const NOT_LEAN = -2;

/**
 * The lean path of a small call: input and target both WasmBuffers (outputs too), or both
 * Float32Arrays of at most {@link PIECE} elements (outputs Float32Arrays over buffers of their own,
 * not WebAssembly memory); options at most `reduction` and its outputs. Recognised with a few
 * comparisons, run with one kernel call; results bit for bit the general path's. For anything else or
 * anything wrong it returns undefined before touching any data, and the general path checks and names
 * it: so it never throws for a bad argument, and a new option takes the general path until handled here.
 */
function leanPass(
  kind: Kind,
  fn: string,
  input: FloatInput,
  target: FloatInput,
  r: Reduction | undefined,
  out: FloatOutput | undefined,
  gradOut: FloatOutput | undefined,
  what: number,
): PassResult | undefined {
  // (undefined first: a comparison of undefined with a string is not a cheap one.)
  const sum = r !== undefined && r === 'sum';
  const none = r !== undefined && r === 'none';
  if (!(r === undefined || r === 'mean' || sum || none)) return undefined;
  const wantLoss = (what & LOSS) !== 0;
  const wantGrad = (what & GRAD) !== 0;
  const lossOut = wantLoss && none ? out : undefined;
  if (lossOut !== out || (!wantGrad && gradOut !== undefined)) return undefined; // an output the call does not make
  const inWasm = input instanceof WasmBuffer;
  let xAddr = -1;
  let yAddr = -1;
  let n: number;
  // Lengths and addresses as the library holds them, not as properties say (see typedName), after an
  // instanceof (cheaper than a brand check): a private field or a typed array's own accessor throws
  // for an object that merely has the prototype, and the general path then names it. (A typed array
  // of another type with Float32Array's prototype is copied as what it is, as the general path does.)
  try {
    if (inWasm) {
      if (!(target instanceof WasmBuffer)) return undefined;
      xAddr = bufferAddress(input);
      yAddr = bufferAddress(target);
      if (xAddr === 0 || yAddr === 0) return undefined; // freed
      n = bufferLength(input);
      if (bufferLength(target) !== n) return undefined;
    } else if (input instanceof Float32Array && target instanceof Float32Array) {
      n = viewLength(input);
      if (viewLength(target) !== n) return undefined;
    } else {
      return undefined;
    }
  } catch {
    return undefined;
  }
  // One piece: results go through the scratch slots, and the sum is the general path's.
  if (n === 0 || n > PIECE) return undefined;
  let lossAddr = -1;
  let gradAddr = -1;
  if (lossOut !== undefined) {
    lossAddr = leanOutput(lossOut, n, inWasm, input, xAddr, target, yAddr);
    if (lossAddr === NOT_LEAN) return undefined;
  }
  if (gradOut !== undefined) {
    gradAddr = leanOutput(gradOut, n, inWasm, input, xAddr, target, yAddr);
    if (gradAddr === NOT_LEAN) return undefined;
    // Two outputs: disjoint.
    if (lossOut !== undefined && (inWasm ? gradAddr < lossAddr + 4 * n && lossAddr < gradAddr + 4 * n : viewBuffer(gradOut as Float32Array) === viewBuffer(lossOut as Float32Array))) {
      return undefined;
    }
  }

  // Everything is checked: run.
  const k = kernels();
  if (!inWasm) {
    xAddr = slotAddress(Slot.Input);
    yAddr = slotAddress(Slot.Target);
    copyFloats(input as Float32Array, n, xAddr >>> 2);
    copyFloats(target as Float32Array, n, yAddr >>> 2);
  }
  const lossPtr = !wantLoss || !none ? 0 : lossAddr >= 0 ? lossAddr : slotAddress(Slot.Loss);
  const gradPtr = !wantGrad ? 0 : gradAddr >= 0 ? gradAddr : slotAddress(Slot.Grad);
  const gradDiv = none || sum ? 1 : n;
  const flags = wantLoss && none ? what | LOSS_STORE : what;
  const s =
    kind === Kind.Logits
      ? k.bce_binary_cross_entropy_with_logits(xAddr, yAddr, n, 0, 0, 0, 0, 0, 0, 0, 0, gradDiv, lossPtr, gradPtr, 1, -0, flags)
      : k.bce_binary_cross_entropy(xAddr, yAddr, n, 0, 0, 0, 0, 0, gradDiv, lossPtr, gradPtr, 1, -0, flags);
  if (s !== s) {
    const status = k.bce_status();
    if (status !== 0) throw statusError(status, fn, status === BAD_INPUT ? xAddr : yAddr, 0);
  }
  sumOfLast[0] = s;
  let loss: number | Float32Array = 0;
  if (wantLoss) loss = none ? leanResult(lossOut, lossAddr, Slot.Loss, n, fn) : sum ? s : s / n;
  return resultOf(what, loss, wantGrad ? leanResult(gradOut, gradAddr, Slot.Grad, n, fn) : EMPTY);
}

/**
 * An output of the lean path (see {@link leanPass}): its address if the inputs are WasmBuffers (at
 * `xAddr`, `yAddr`), -1 for a Float32Array if they are Float32Arrays, or NOT_LEAN.
 */
function leanOutput(out: FloatOutput, n: number, inWasm: boolean, x: FloatInput, xAddr: number, y: FloatInput, yAddr: number): number {
  if (inWasm) {
    if (!isWasmBuffer(out) || bufferLength(out) !== n) return NOT_LEAN;
    const a = bufferAddress(out);
    // Freed, or overlapping the input or the target other than exactly.
    if (a === 0 || (a !== xAddr && a < xAddr + 4 * n && xAddr < a + 4 * n) || (a !== yAddr && a < yAddr + 4 * n && yAddr < a + 4 * n)) {
      return NOT_LEAN;
    }
    return a;
  }
  if (!isFloat32Array(out) || viewLength(out) !== n) return NOT_LEAN;
  const buffer = viewBuffer(out);
  if (buffer === memoryBuffer() || buffer === viewBuffer(x as Float32Array) || buffer === viewBuffer(y as Float32Array)) return NOT_LEAN;
  return -1;
}

/** A result of the lean path: the output in WebAssembly memory, or copied from the scratch slot. */
function leanResult(out: FloatOutput | undefined, address: number, slot: Slot, n: number, fn: string): Float32Array {
  if (address >= 0) return bufferView(out as WasmBuffer);
  const to = (out as Float32Array | undefined) ?? newResult(n, fn);
  copyOut(slot, n, to, 0); // (no getter has run since leanOutput read its length)
  return to;
}

let shifted: KernelExports | undefined;

/**
 * The engine's clock as this module found it when it loaded (not looked up per call: a `performance`
 * replaced later, or absent, cannot throw inside a call), in milliseconds; 0 where there is none
 * (the entries' choice is then the first).
 */
const now = globalThis.performance?.now.bind(globalThis.performance);
const clock = (): number => now?.() ?? 0;

/** The exports with each loss kernel's `_b` entry in its place (see {@link generalPass}). */
function entriesB(k: KernelExports): KernelExports {
  const all = k as unknown as Record<string, unknown>;
  return (shifted ??= Object.fromEntries(Object.keys(all).map((name) => [name, all[name + '_b'] ?? all[name]])) as unknown as KernelExports);
}

/** The general path of {@link runRead}: every shape, option and length, streamed in pieces. */
function generalPass(
  kind: Kind,
  fn: string,
  input: FloatInput,
  targetValues: FloatInput,
  o: PassOptions,
  what: number,
  chunk?: Chunk,
  rows?: Rows,
): PassResult {
  const k = kernels();
  const c = chunk?.checked ?? checkPass(fn, input, targetValues, o, what, chunk);
  const { n, none, wantLoss, wantGrad, gradOutput, weight, posWeight, wLen, pLen, out, gradOut, lossAddr, gradAddr } = c;
  const offset = chunk === undefined ? 0 : chunk.offset;
  const flags = c.what;

  // Addresses of everything already in WebAssembly memory (the outputs' were taken by checkPass:
  // nothing is written before every argument has passed its checks).
  const xAddr = addressIn(input, c.xHome, fn, 'input');
  const yAddr = addressIn(targetValues, c.yHome, fn, 'target');
  const wAddr = weight === undefined ? 0 : placeOperand(weight, c.wHome, wLen, Slot.Weight, fn, 'weight');
  const pAddr = posWeight === undefined ? 0 : placeOperand(posWeight, c.pHome, pLen, Slot.PosWeight, fn, 'posWeight');
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
    gAddr = addressIn(gradOutput, c.gHome, fn, 'gradOutput');
  }
  const mAddr = c.mask === undefined ? 0 : placeMask(c, fn);
  maskAt = chunk?.maskAt ?? 0;
  const div = chunk?.divisor ?? divisorOf(c, fn, offset, maskAt) ?? (c.reduction === 'mean' ? c.whole : 1);
  let gradDiv = c.reduction === 'sum' || (none && chunk?.divisor === undefined) ? 1 : div;
  const g1 = (gradOutput as number | undefined) ?? 1;
  if (c.reduction === 'weightedMean' && Math.abs(g1) < Infinity) {
    // gradOutput / sum(w) first, as autograd of (l w).sum() / w.sum() takes it, so that the kernel's
    // product (g / S) dl w holds no factor larger than its result (g dl w before the division by S
    // overflowed with large weights or gradOutput, and underflowed with small ones, weights of
    // mixed signs included); g / S kept within 2^-100 .. 2^100 by a power of two D, the divisor
    // (exact). An infinite gradOutput keeps the plain order (inf, as autograd's; not inf * 0).
    const q = g1 / gradDiv;
    const e = Math.floor(Math.log2(Math.abs(q)));
    const k = e < -100 ? Math.min(127, -100 - e) : e > 100 ? Math.max(-126, 100 - e) : 0;
    gLen = 1;
    gAddr = slotAddress(Slot.GradOutput);
    heapF32()[gAddr >>> 2] = q * 2 ** k;
    gradDiv = 2 ** k;
  }

  // Results that do not live in WebAssembly memory: the caller's Float32Array, or a new one.
  const lossArray = lossAddr < 0 && wantLoss && none && rows === undefined ? (out as Float32Array | undefined) ?? newResult(n, fn) : null;
  const gradArray = gradAddr < 0 && wantGrad ? (gradOut as Float32Array | undefined) ?? newResult(n, fn) : null;
  const lossSlot = slotAddress(Slot.Loss);
  const gradSlot = slotAddress(Slot.Grad);

  // Label smoothing as PyTorch's and Keras's float32 operations on the double e compute it: 1 - e
  // and e / 2 in float64, each rounded once to float32 (by the call); none is 1 and -0.
  const e = c.smooth;
  const ea = 1 - e;
  const eb = e === 0 ? -0 : 0.5 * e;
  let sum = 0;
  // Which entry runs a piece: the exports (side 0), or their `_b` entries one wasm frame deeper
  // (side 1; scripts/shift-entries.mjs), where the native stack sits 8 bytes apart modulo 16: at one
  // of the two a kernel's vector spills straddle cache lines (README, "Why single processes stray";
  // up to twice the time), and which one depends on the caller's frames. A call of 8 pieces or more
  // times pieces 1-4 through each in turn, and runs the rest through the faster. Same results.
  let side = 0;
  let spent = 0;
  for (let a = 0, i = 0; a < n; a += PIECE, i++) {
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
    if (rows?.perElement) {
      gPtr = rowGradPiece(rows, a, m, fn);
      gn = m;
    }
    const lossPtr = lossAddr >= 0 ? lossAddr + 4 * a : lossArray !== null || rows !== undefined ? lossSlot : 0;
    const gradPtr = gradAddr >= 0 ? gradAddr + 4 * a : gradArray !== null ? gradSlot : 0;
    // The kernel returns the piece's loss sum (0 without LOSS), or NaN: NaN data, or a failure,
    // which only then costs a second call (for its status).
    let s: number;
    maskPiece(c, mAddr, at, m, fn);
    // A mask has exports of its own (the plain loops stay as fast as they were); label smoothing
    // costs the plain loops two operations per block of four (none: y * 1 + -0, which is y).
    const opts = mPtr !== 0;
    const probe = n >= 8 * PIECE && i > 0 && i < 5;
    if (probe) side = ~i & 1;
    const kk = side ? entriesB(k) : k;
    const t0 = probe ? clock() : 0;
    if (kind === Kind.Logits) {
      operandPiece(posWeight, pAddr, pLen, at, m, Slot.PosWeight, fn, 'posWeight');
      s = opts
        ? kk.bce_binary_cross_entropy_with_logits_options(
            xPtr, yPtr, m, wPtr, wn, wPhase, opPtr, opLen, opPhase, gPtr, gn, gradDiv, lossPtr, gradPtr, ea, eb, mPtr, flags,
          )
        : kk.bce_binary_cross_entropy_with_logits(xPtr, yPtr, m, wPtr, wn, wPhase, opPtr, opLen, opPhase, gPtr, gn, gradDiv, lossPtr, gradPtr, ea, eb, flags);
    } else if (kind === Kind.Focal) {
      if (!opts) onesPiece(m);
      s = kk.bce_sigmoid_focal_loss(
        xPtr, yPtr, m, wPtr, wn, wPhase, gPtr, gn, gradDiv, lossPtr, gradPtr, ea, eb, mPtr, c.alpha, 1 - c.alpha, c.gamma, flags,
      );
    } else {
      s = opts
        ? kk.bce_binary_cross_entropy_options(xPtr, yPtr, m, wPtr, wn, wPhase, gPtr, gn, gradDiv, lossPtr, gradPtr, ea, eb, mPtr, flags)
        : kk.bce_binary_cross_entropy(xPtr, yPtr, m, wPtr, wn, wPhase, gPtr, gn, gradDiv, lossPtr, gradPtr, ea, eb, flags);
    }
    if (probe) {
      const t = clock() - t0;
      spent += side ? -t : t;
      if (i === 4) side = +(spent > 0);
    }
    if (s !== s) {
      const status = k.bce_status();
      if (status === BAD_MASK) throw badMask(c, fn, at);
      if (status !== 0) throw statusError(status, fn, status === BAD_INPUT ? xPtr : yPtr, at);
    }
    sum += s;
    if (lossArray !== null) copyOut(Slot.Loss, m, lossArray, a, fn, 'out');
    if (rows !== undefined && wantLoss) addRowLosses(rows, a, m);
    if (gradArray !== null) copyOut(Slot.Grad, m, gradArray, a, fn, 'gradOut');
  }

  let loss: number | Float32Array = 0;
  if (wantLoss) {
    if (rows !== undefined) loss = EMPTY;
    else if (none) loss = lossArray ?? outputView(out as FloatOutput, lossAddr, n);
    else loss = c.reduction === 'sum' ? sum : sum / div;
  }
  sumOfLast[0] = sum;
  return resultOf(what, loss, wantGrad ? gradArray ?? outputView(gradOut as FloatOutput, gradAddr, n) : EMPTY);
}

/**
 * An output in WebAssembly memory (at byte address `at`, `n` elements) as the caller gets it back (from
 * the pool's split calls too): a WasmBuffer's view, or the caller's own Float32Array over the module's
 * memory, made again over the current memory if a growth detached it during the call (the results
 * are there).
 */
export function outputView(out: FloatOutput, at: number, n: number): Float32Array {
  if (isWasmBuffer(out)) return bufferView(out);
  if (viewBuffer(out) === memoryBuffer()) return out;
  // A WasmBuffer's own view: the buffer's view now (which keeps the buffer alive, as the old one did:
  // a bare new view would let the finalizer free the memory under it).
  const owner = owners.get(out);
  return owner !== undefined ? bufferView(owner) : new Float32Array(memoryBuffer(), at, n);
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

/** TypeError unless the options are a plain object (not an array, a Map, a string...). */
export function checkOptionsObject(o: unknown, fn: string): asserts o is object {
  // (Data in the options' place, a WasmBuffer meant as out say, is refused rather than read as {}.)
  if (typeof o !== 'object' || o === null || Array.isArray(o) || o instanceof Map || o instanceof Set || ArrayBuffer.isView(o) || o instanceof ArrayBuffer || o instanceof WasmBuffer) {
    throw new TypeError(`${fn}: options must be an object, got ${Array.isArray(o) ? 'an array' : describe(o)}`);
  }
}

/** `typeof v`, but 'null' for null: what a message says a value of the wrong type is. */
const typeName = (v: unknown): string => (v === null ? 'null' : typeof v);

/** The reduction option, checked: TypeError for a non-string, RangeError for an unknown name. */
export function reductionOf(r: unknown, fn: string): Reduction {
  if (r === undefined || r === 'mean') return 'mean';
  if (r === 'sum' || r === 'none' || r === 'weightedMean' || r === 'rowMean') return r;
  if (typeof r !== 'string') throw new TypeError(`${fn}: reduction must be a string, got ${typeName(r)}`);
  throw new RangeError(`${fn}: '${r}' is not a valid value for reduction (use 'none', 'mean', 'sum', 'weightedMean' or 'rowMean')`);
}

/** A numeric option: TypeError unless a number, then RangeError unless `ok(v)` (never a conversion of `v`). */
function number(v: unknown, fn: string, arg: string, ok: (v: number) => boolean, range: string): number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${arg} must be a number, got ${typeName(v)}`);
  if (!ok(v)) throw new RangeError(`${fn}: ${arg} must be ${range}, got ${v}`);
  return v;
}

/** The length of a broadcast operand; RangeError unless it divides `n` (or equals it). For a chunk,
 * `n` is the whole's length. */
export function broadcastLength(x: FloatInput, n: number, fn: string, name: string): number {
  if (name === 'mask' && (isWasmBuffer(x) || x === null || typeof x !== 'object')) {
    throw new TypeError(`${fn}: mask must be ${MASK_KINDS}, ${isWasmBuffer(x) ? 'not a WasmBuffer (its values are float32; pass a Uint8Array)' : `got ${typeName(x)}`}`);
  }
  const len = lengthOf(x, fn, name);
  // PyTorch's broadcasting: a length that divides the input's, or 1 (also over an empty input).
  if (len === n || len === 1 || (len > 0 && (n < 0 || (n > 0 && n % len === 0)))) return len;
  if (n < 0) throw new RangeError(`${fn}: ${name} is empty; a broadcast operand needs at least one element`);
  throw new RangeError(
    `${fn}: ${name} of length ${len} does not broadcast over input of length ${n}: ` +
      `its length must divide the input length (one value per class of [..., C] data, or per element)`,
  );
}

/**
 * Checks options once, before any data (a module's constructor, `createAccumulator`): as a call
 * would, with the arrays by their lengths only (non-empty), and the elements of the mask and of
 * plain-array weights, which a call checks only as it reads them. Needs no WebAssembly.
 */
export function checkOptionValues(kind: Kind, name: string, options: AnyOptions, what: number): void {
  const o = readOptions(kind, name, options, what);
  if (o.mask !== undefined) broadcastLength(o.mask as FloatInput, -1, name, 'mask'); // what a mask may be
  const like = (x: unknown, arg: string) => (x === undefined ? undefined : { length: lengthOf(x, name, arg) });
  checkPass(name, [], [], { ...o, weight: like(o.weight, 'weight'), posWeight: like(o.posWeight, 'posWeight'), mask: like(o.mask, 'mask') }, what, { offset: 0 });
  const { mask } = o;
  const mn = mask === undefined ? 0 : lengthOf(mask as FloatInput, name, 'mask');
  if (mask !== undefined) maskElements(mask, 0, mn, new Uint8Array(mn), name);
  for (const [arg, w] of [['weight', o.weight], ['posWeight', o.posWeight]] as const) {
    if (isWasmBuffer(w)) liveAddress(w, name, arg);
    else if (w !== undefined) {
      const wn = lengthOf(w, name, arg);
      copyChecked(w, 0, wn, new Float32Array(wn), 0, name, arg);
    }
  }
}

// The elementwise passes.

export type Elementwise = 'bce_sigmoid' | 'bce_logsigmoid' | 'bce_exp' | 'bce_log' | 'bce_log1p';

/**
 * `out[i] = f(x[i])`: in place for operands in WebAssembly memory, else streamed through the scratch
 * {@link PIECE} elements at a time (see `runPass`).
 */
function elementwise(kernel: Elementwise, fn: string, x: FloatInput, out?: FloatOutput): Float32Array {
  enter(fn);
  try {
    return mapPass(kernel, fn, x, out);
  } finally {
    leave();
  }
}

/**
 * The checks of an elementwise call's `out` for input `x` of `n` elements (the pool's too, before
 * its workers race over shared elements): its type and length, then a partial overlap with the
 * input, a RangeError. Returns out's address (see `checkOutput`).
 */
export function checkMapOutput(fn: string, x: FloatInput, n: number, out?: FloatOutput): number {
  const at = checkOutput(out, n, fn, 'out');
  if (out !== undefined) checkOverlap(out, fn, 'out', x, 'input');
  return at;
}

/** {@link elementwise} inside a call that has begun (`enter`) already: the pool's. */
export function mapPass(kernel: Elementwise, fn: string, x: FloatInput, out?: FloatOutput): Float32Array {
  const k: KernelExports = kernels();
  ensureScratch();
  const n = lengthOf(x, fn, 'input');
  const outAddr = checkMapOutput(fn, x, n, out);
  const xAddr = addressOf(x, fn, 'input');
  const result = outAddr >= 0 ? null : (out as Float32Array | undefined) ?? newResult(n, fn);
  for (let a = 0; a < n; a += PIECE) {
    const m = Math.min(PIECE, n - a);
    let xPtr = xAddr + 4 * a;
    if (xAddr < 0) {
      xPtr = slotAddress(Slot.Input);
      copyIn(x as ArrayLike<number>, a, m, xPtr >>> 2, fn, 'input');
    }
    const outPtr = outAddr >= 0 ? outAddr + 4 * a : slotAddress(Slot.Loss);
    k[kernel](xPtr, outPtr, m);
    if (result !== null) copyOut(Slot.Loss, m, result, a, fn, 'out');
  }
  if (result !== null) return result;
  return outputView(out!, outAddr, n);
}

/**
 * PyTorch's `torch.sigmoid`: `1 / (1 + exp(-x))` per element, without overflow for any input
 * (0 at -inf, 1 at +inf, NaN for NaN), within 2 float32 ulps (see README, "Accuracy").
 *
 * @param out where to write the result (may be `x` itself)
 */
export function sigmoid(x: FloatInput, out?: FloatOutput): Float32Array {
  return elementwise('bce_sigmoid', 'sigmoid', x, out);
}

/** PyTorch's `F.logsigmoid`: `min(x, 0) - log1p(exp(-|x|))` per element, finite for finite `x`. */
export function logSigmoid(x: FloatInput, out?: FloatOutput): Float32Array {
  return elementwise('bce_logsigmoid', 'logSigmoid', x, out);
}

/**
 * The raw float32 approximations the kernels are built from, exposed so that their accuracy can be
 * checked (`scripts/ulp-sweep.mjs` does, over every float32 input). Not clamped.
 */
export const approximations = {
  /** `exp(x)` per element. */
  exp: (x: FloatInput, out?: FloatOutput): Float32Array => elementwise('bce_exp', 'approximations.exp', x, out),
  /** Natural `log(x)` per element. */
  log: (x: FloatInput, out?: FloatOutput): Float32Array => elementwise('bce_log', 'approximations.log', x, out),
  /** `log(1 + x)` per element. */
  log1p: (x: FloatInput, out?: FloatOutput): Float32Array =>
    elementwise('bce_log1p', 'approximations.log1p', x, out),
};
