// Streaming loss over data larger than memory: chunks of any size in sequence, one result.

import { enter, leave, lengthOf, type FloatInput } from './memory.js';
import { broadcastLength, checkKeys, checkOptionsObject, checkOptionValues, checkPass, Kind, keptSum, lastSum, LOSS, maskElements, readOptions, runRead, type MaskInput } from './pass.js';

/** Options of {@link createAccumulator}. */
export interface AccumulatorOptions {
  /** Inputs are logits (BCEWithLogitsLoss) rather than probabilities (BCELoss). Default false. */
  logits?: boolean;
  /** The loss: `'probabilities'` (BCELoss, the default), `'logits'` (as `logits: true`) or `'focal'` (sigmoidFocalLoss, on logits). */
  loss?: 'probabilities' | 'logits' | 'focal';
  /** As for the losses; its length must divide the total count, checked by `result()`. */
  weight?: FloatInput;
  /** As for the logits loss; likewise. */
  posWeight?: FloatInput;
  /** As for the losses. */
  labelSmoothing?: number;
  /** A mask over the whole stream, broadcast like `weight` (a chunk's own mask goes to `add`). */
  mask?: MaskInput;
  /** For `loss: 'focal'`, as for {@link sigmoidFocalLoss}. */
  alpha?: number;
  gamma?: number;
}

/** The loss over everything added. */
export interface AccumulatedLoss {
  /** `sum / count`: `reduction: 'mean'` over the stream (NaN when nothing was kept). */
  mean: number;
  sum: number;
  /** Elements added and kept by the masks. */
  count: number;
  /** The sum of the kept elements' weights (`count` without a weight). */
  weightSum: number;
  /** `sum / weightSum`: `reduction: 'weightedMean'` over the stream. */
  weightedMean: number;
}

/** Accumulates BCE over chunks; see {@link createAccumulator}. */
export interface Accumulator {
  /**
   * Adds a chunk (any length, the chunks in order). Broadcast weights and the stream's mask continue
   * where the previous chunk stopped. `mask`: this chunk's own (its length divides the chunk's),
   * instead of the stream's. Range errors of BCELoss name the index in the whole stream.
   */
  add(input: FloatInput, target: FloatInput, mask?: MaskInput): void;
  /** The loss so far. */
  result(): AccumulatedLoss;
  /** Elements added so far (kept or not). */
  readonly count: number;
}

const KEYS = ['logits', 'loss', 'weight', 'posWeight', 'labelSmoothing', 'mask', 'alpha', 'gamma'];
/** The operands that broadcast over the whole stream. */
const OPERANDS = ['weight', 'posWeight', 'mask'];

/**
 * An accumulator of the mean and sum of BCE (or BCE with logits, or the focal loss) over chunks
 * added in sequence: the result equals one call over the concatenation within float64 rounding (the
 * sums of chunks are added in float64; the relative difference stays below 1e-12 whatever the
 * chunking), so a data set larger than memory can be scored. With a weight it also reports the
 * kept weights' sum, so `weightedMean` is `reduction: 'weightedMean'` over the stream (Keras's
 * `mean_with_sample_weight`, PyTorch#54843).
 *
 * @example
 * const acc = createAccumulator({ logits: true, labelSmoothing: 0.1 });
 * for await (const [logits, labels, valid] of batches) acc.add(logits, labels, valid);
 * acc.result(); // { mean, sum, count, weightSum, weightedMean }
 */
export function createAccumulator(options: AccumulatorOptions = {}): Accumulator {
  const fn0 = 'createAccumulator';
  checkOptionsObject(options, fn0);
  checkKeys(options, KEYS, fn0);
  const { logits, loss: name, weight, posWeight, labelSmoothing, mask, alpha, gamma } = options;
  if (logits !== undefined && typeof logits !== 'boolean') {
    throw new TypeError(`createAccumulator: logits must be a boolean, got ${typeof logits}`);
  }
  if (name !== undefined && name !== 'probabilities' && name !== 'logits' && name !== 'focal') {
    const s = typeof name === 'string';
    throw new (s ? RangeError : TypeError)(`createAccumulator: loss must be 'probabilities', 'logits' or 'focal', got ${s ? `'${name}'` : typeof name}`);
  }
  // (The focal loss takes logits too.)
  if (logits !== undefined && name !== undefined && logits !== (name !== 'probabilities')) {
    throw new TypeError(`createAccumulator: logits: ${logits} and loss: '${name}' contradict each other; pass only loss`);
  }
  const kind = name === 'focal' ? Kind.Focal : logits || name === 'logits' ? Kind.Logits : Kind.Probabilities;
  if (kind !== Kind.Logits && posWeight !== undefined) {
    throw new TypeError("createAccumulator: posWeight exists only for the logits loss (loss: 'logits'), as in PyTorch");
  }
  if (kind !== Kind.Focal && (alpha !== undefined || gamma !== undefined)) {
    throw new TypeError("createAccumulator: alpha and gamma are options of the focal loss (loss: 'focal')");
  }
  const fn = 'accumulator.add';
  const base = { reduction: 'sum' as const, weight, posWeight, labelSmoothing, alpha, gamma };
  // Checked once here: non-empty arrays (their divisibility waits for the total), option values,
  // the mask's and plain weights' elements.
  checkOptionValues(kind, fn0, { ...base, mask }, LOSS);
  // The stream operands' lengths, as the creation read them: every add() must read the same (a
  // length that changed, by a getter or between adds, would mix periods), and result() checks that
  // they broadcast over the total without reading them again (a view of WebAssembly memory may
  // have been detached by a growth since).
  const lens = [weight, posWeight, mask].map((x, i) => (x === undefined ? 0 : lengthOf(x as FloatInput, fn0, OPERANDS[i])));
  let sum = 0;
  let added = 0;
  let count = 0;
  let weightSum = 0;
  return {
    add(input: FloatInput, target: FloatInput, chunkMask?: MaskInput): void {
      enter(fn);
      try {
        const n = lengthOf(input, fn, 'input');
        // An empty chunk adds nothing, and its mask (checked above) need not broadcast over the whole.
        const m = n === 0 ? undefined : chunkMask ?? mask;
        const ml = chunkMask === undefined ? 0 : broadcastLength(chunkMask as ArrayLike<number>, n, fn, 'mask');
        // An empty chunk's mask (one element at most) is read by no kernel, and is not passed on (m
        // above): its element is checked here, as checkPass checks an empty call's.
        if (n === 0 && ml === 1) maskElements(chunkMask!, 0, 1, new Uint8Array(1), fn);
        const chunk = { offset: added, maskAt: chunkMask === undefined ? 0 : added };
        const o = readOptions(kind, fn, { ...base, mask: m }, LOSS);
        const c = checkPass(fn, input, target, o, LOSS, chunk);
        // The pass, the count and the totals from this one check, whose lengths must be those read
        // before it (the input's, a chunk mask's) and at creation (the stream operands').
        const was = [n, lens[0], lens[1], m === undefined ? 0 : chunkMask !== undefined ? ml : lens[2]];
        const now = [c.n, c.wLen, c.pLen, c.mLen];
        const i = was.findIndex((v, k) => v !== now[k]);
        if (i >= 0) throw new RangeError(`${fn}: ${['input', ...OPERANDS][i]} changed length (${was[i]}, then ${now[i]})`);
        runRead(kind, fn, input, target, o, LOSS, { ...chunk, checked: c });
        const s = lastSum();
        const kept = m === undefined ? n : keptSum(c, fn, added, undefined, chunk.maskAt);
        const w = weight === undefined ? kept : keptSum(c, fn, added, weight, chunk.maskAt);
        // (Only once the chunk is added: a failed add leaves everything as it was.)
        count += kept;
        weightSum += w;
        sum += s;
        added += n;
      } finally {
        leave();
      }
    },
    result(): AccumulatedLoss {
      [weight, posWeight, mask].forEach((w, i) => w !== undefined && broadcastLength({ length: lens[i] }, added, 'accumulator.result', OPERANDS[i]));
      return { mean: sum / count, sum, count, weightSum, weightedMean: sum / weightSum };
    },
    get count() {
      return added;
    },
  };
}
