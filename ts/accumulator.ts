// Streaming loss over data larger than memory: chunks of any size in sequence, one result.

import { lengthOf, type FloatInput } from './memory.js';
import { broadcastLength, checkKeys, checkOptionsObject, Kind, lastSum, LOSS, runPass } from './pass.js';

/** Options of {@link createAccumulator}. */
export interface AccumulatorOptions {
  /** Inputs are logits (BCEWithLogitsLoss) rather than probabilities (BCELoss). Default false. */
  logits?: boolean;
  /** As for the losses; its length must divide the total count, checked by `result()`. */
  weight?: FloatInput;
  /** As for the logits loss; likewise. */
  posWeight?: FloatInput;
}

/** Mean, sum and element count of the loss over everything added. */
export interface AccumulatedLoss {
  mean: number;
  sum: number;
  count: number;
}

/** Accumulates BCE over chunks; see {@link createAccumulator}. */
export interface Accumulator {
  /**
   * Adds a chunk (any length, the chunks in order). Broadcast weights continue where the previous
   * chunk stopped. Range errors of BCELoss name the index in the whole stream.
   */
  add(input: FloatInput, target: FloatInput): void;
  /** The loss so far: `mean` is `sum / count` (NaN for no elements), as `reduction: 'mean'` would be. */
  result(): AccumulatedLoss;
  /** Elements added so far. */
  readonly count: number;
}

/**
 * An accumulator of the mean and sum of BCE (or BCE with logits) over chunks added in sequence: the
 * result equals one call over the concatenation within float64 rounding (the sums of chunks are
 * added in float64; the relative difference stays below 1e-12 whatever the chunking), so a data set
 * larger than memory can be scored.
 *
 * @example
 * const acc = createAccumulator({ logits: true });
 * for await (const [logits, labels] of batches) acc.add(logits, labels);
 * acc.result(); // { mean, sum, count }
 */
export function createAccumulator(options: AccumulatorOptions = {}): Accumulator {
  checkOptionsObject(options, 'createAccumulator');
  checkKeys(options, ['logits', 'weight', 'posWeight'], 'createAccumulator');
  if (options.logits !== undefined && typeof options.logits !== 'boolean') {
    throw new TypeError(`createAccumulator: logits must be a boolean, got ${typeof options.logits}`);
  }
  const kind = options.logits ? Kind.Logits : Kind.Probabilities;
  if (kind === Kind.Probabilities && options.posWeight !== undefined) {
    throw new TypeError('createAccumulator: posWeight exists only for the logits loss (as in PyTorch); pass logits: true');
  }
  const fn = 'accumulator.add';
  const weight = options.weight;
  const posWeight = options.posWeight;
  // Checked once here: non-empty numeric arrays (their divisibility waits for the total).
  if (weight !== undefined) broadcastLength(weight, -1, 'createAccumulator', 'weight');
  if (posWeight !== undefined) broadcastLength(posWeight, -1, 'createAccumulator', 'posWeight');
  const passOptions = { reduction: 'sum' as const, weight, posWeight };
  let sum = 0;
  let count = 0;
  return {
    add(input: FloatInput, target: FloatInput): void {
      runPass(kind, fn, input, target, passOptions, LOSS, { offset: count });
      sum += lastSum();
      count += lengthOf(input, fn, 'input');
    },
    result(): AccumulatedLoss {
      for (const [name, w] of [['weight', weight], ['posWeight', posWeight]] as const) {
        if (w !== undefined) broadcastLength(w, count, 'accumulator.result', name);
      }
      return { mean: sum / count, sum, count };
    },
    get count() {
      return count;
    },
  };
}
