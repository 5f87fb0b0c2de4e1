// The reference libraries as oracles for the loss family of issue 10: PyTorch on label-smoothed targets,
// torchvision's sigmoid_focal_loss, Keras 3's BinaryCrossentropy / BinaryFocalCrossentropy, and masks,
// 'weightedMean' and 'rowMean' as PyTorch computations (test/fixtures/reference/, written by
// scripts/reference_fixtures.py from the libraries themselves). Every loss and gradient value must come
// out of the forward, backward and fused functions.
//
// Bounds (each value passes the first that holds; the report counts which):
// - Element values (reduction 'none', gradients): within ELEMENT_ULPS = 4 float32 ulps of the library's
//   float32 value (ulps counted as float32 values between the two), or within 4 ulps of the terms'
//   scale of it (as test/torch.test.ts: a difference of rounded terms), plus the slack below.
// - Else within EXACT_ULPS ulps (of the larger of the value and its terms' scale) of the exact value:
//   mpmath's in focal.json, else the float64 formulas of test/reference.ts (no cancellation: softplus
//   form, 1 - p_t = p (1-y) + (1-p) y), evaluated on the same float32 arguments. This is where the
//   library's own float32 rounding is the larger error (torchvision's 1 - p_t cancels once p rounds
//   near 1; its autograd gives NaN where (1-p_t)^(gamma-1) overflows, gamma < 1); counted as
//   beyondReference.
// - Reduced values ('mean', 'sum', 'weightedMean', each row of 'rowMean'): |ours - ref| <= REDUCED_REL
//   * S + slack, S = the float64 reduction of |element losses| (two float32 summation orders drift
//   apart by a few eps of S), against the library's value or, failing that, the exact reduction.
// - Slack: the targets are smoothed in float32 (y' = y (1-e) + 0.5 e, three roundings); one float32
//   ulp of y' moves a loss by |dl/dy'| ulp(y'), which can be many ulps of a small loss. Where a case
//   smooths, each element may differ by that much (computed: half the difference of the float64
//   formula at y' +- 1 ulp). Keras's focal loss goes through float32 probabilities (sigmoid, then
//   log p and 1 - p_t of the rounded p): its slack is the effect of KERAS_P_ULPS ulps of p.
// - NaN exactly where both the library and the exact value are NaN; a NaN of ours anywhere else fails.
//
// BCE_REFERENCE_FIXTURES=DIR runs on fixtures written elsewhere (scripts/reference_fixtures.py --check).
// BCE_REFERENCE_REPORT=FILE writes the worst distance per file and quantity (from the library's value, and
// from the exact value where that decided), and the counts, as JSON.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as bce from 'bce-wasm';
import './setup.js';
import * as ref from './reference.js';
import { dec, dec64, decAll, f32, show, smoothed, ulp32, ulps, type Num } from './reference.js';

const ELEMENT_ULPS = 4;
const EXACT_ULPS = 4;
const REDUCED_REL = 1e-6;
const KERAS_P_ULPS = 1;

const DIR = process.env.BCE_REFERENCE_FIXTURES ?? fileURLToPath(new URL('./fixtures/reference/', import.meta.url));
const REPORT = process.env.BCE_REFERENCE_REPORT;

type Fn = 'bce' | 'bce_with_logits' | 'focal';

interface Case {
  id: string;
  fn: Fn | 'keras' | 'tail';
  input: Num[];
  target: Num[];
  shape?: number[];
  reduction?: string;
  weight?: Num[];
  posWeight?: Num[];
  gradOutput?: Num | Num[];
  labelSmoothing?: number;
  smoothedTarget?: Num[];
  mask?: number[];
  rowLength?: number;
  alpha?: number;
  gamma?: number;
  loss: Num | Num[];
  grad: Num[];
  exactLoss?: Num | Num[];
  exactGrad?: Num[];
  // keras.json
  keras?: 'BinaryCrossentropy' | 'BinaryFocalCrossentropy';
  fromLogits?: boolean;
  kerasReduction?: string;
  applyClassBalancing?: boolean;
  sampleWeight?: Num[];
}

interface Fixture {
  file: string;
  torch: string;
  torchvision?: string;
  keras?: string;
  cases: Case[];
}

const FUNCTIONS = {
  bce: [bce.binaryCrossEntropy, bce.binaryCrossEntropyBackward, bce.binaryCrossEntropyForwardBackward],
  bce_with_logits: [bce.binaryCrossEntropyWithLogits, bce.binaryCrossEntropyWithLogitsBackward, bce.binaryCrossEntropyWithLogitsForwardBackward],
  focal: [bce.sigmoidFocalLoss, bce.sigmoidFocalLossBackward, bce.sigmoidFocalLossForwardBackward],
} as const;

// ----------------------------------------------------------------------------- expectations

/** One element in float64: its loss and d loss / d x (weight applied, before reduction), with the terms' scales. */
interface Element {
  loss: number;
  lossScale: number;
  grad: number;
  gradScale: number;
  /** Ulps allowed against the exact value (EXACT_ULPS, more for the focal factor: see ref.focalUlps). */
  ulps: number;
}

interface Args {
  fn: Fn;
  x: number[];
  y: number[]; // the effective (smoothed, float32) targets
  w: (i: number) => number;
  p: (i: number) => number;
  alpha: number;
  gamma: number;
}

function element(a: Args, i: number, x = a.x[i], y = a.y[i]): Element {
  const w = a.w(i);
  if (a.fn === 'bce') {
    const l = ref.bce(x, y, w);
    const g = ref.bceGrad(x, y, w);
    return { loss: l, lossScale: Math.abs(l), grad: g, gradScale: Math.abs(g), ulps: EXACT_ULPS };
  }
  if (a.fn === 'bce_with_logits') {
    const p = a.p(i);
    const g = ref.logitsGrad(x, y, w, p);
    return { loss: ref.logits(x, y, w, p).value, lossScale: ref.logits(x, y, w, p).scale, grad: g.value, gradScale: g.scale, ulps: EXACT_ULPS };
  }
  const f = ref.focal(x, y, a.alpha, a.gamma, w);
  return { loss: f.loss, lossScale: Math.abs(f.loss), grad: f.grad, gradScale: f.gradScale, ulps: ref.focalUlps(a.gamma, f.m) };
}

/** Half the change of an element's loss and gradient between two perturbed evaluations (the slack). */
function spread(lo: Element, hi: Element): { loss: number; grad: number } {
  const d = (u: number, v: number) => (Number.isFinite(u) && Number.isFinite(v) ? Math.abs(u - v) / 2 : 0);
  return { loss: d(lo.loss, hi.loss), grad: d(lo.grad, hi.grad) };
}

/** What one value must be: the library's, the exact one, the scale of its terms, and the slack. */
interface Want {
  lib: number;
  exact: number;
  scale: number;
  slack: number;
  /** Ulps (of the larger of scale and |exact|) allowed against the exact value. */
  ulps: number;
}

interface Expected {
  reduced: 'none' | 'scalar' | 'rows';
  loss: Want[];
  grad: Want[];
}

/**
 * The expectations of a case: the reference library's values (`lossLib`, `gradLib`), the exact values
 * (from the fixture if it has them, else the float64 formulas), for any reduction, mask and gradOutput.
 */
function expected(
  a: Args,
  reduction: string,
  lossLib: number[],
  gradLib: number[],
  opts: {
    mask?: (i: number) => boolean;
    rowLength?: number;
    g?: (i: number, row: number) => number;
    slack?: (i: number) => { loss: number; grad: number };
    exactLoss?: number[];
    exactGrad?: number[];
  },
): Expected {
  const n = a.x.length;
  const kept = opts.mask ?? (() => true);
  const g = opts.g ?? (() => 1);
  const els = a.x.map((_, i) => (kept(i) ? element(a, i) : { loss: 0, lossScale: 0, grad: 0, gradScale: 0, ulps: EXACT_ULPS }));
  const sl = a.x.map((_, i) => (kept(i) && opts.slack ? opts.slack(i) : { loss: 0, grad: 0 }));
  // The fixture's exact values: per element, or (focal.json's reduced cases) the reduced value itself.
  const exactPerElement = opts.exactLoss?.length === n && reduction === 'none';
  const exL = (i: number) => (exactPerElement && kept(i) ? (opts.exactLoss as number[])[i] : els[i].loss);
  const exG = (i: number) => (opts.exactGrad && kept(i) ? opts.exactGrad[i] : els[i].grad);
  // The divisor of each element's share (1 for none/sum), and the groups summed into each loss value.
  const C = reduction === 'rowMean' ? (opts.rowLength as number) : n;
  const groups = reduction === 'rowMean' ? Array.from({ length: n / C }, (_, r) => [r * C, (r + 1) * C]) : [[0, n]];
  const div = new Float64Array(n).fill(1);
  for (const [s, e] of groups) {
    let d = 0;
    for (let i = s; i < e; i++) {
      if (!kept(i)) continue;
      d += reduction === 'weightedMean' ? a.w(i) : 1;
    }
    if (reduction === 'mean' || reduction === 'rowMean' || reduction === 'weightedMean') div.fill(d, s, e);
  }
  const row = (i: number) => (reduction === 'rowMean' ? Math.floor(i / C) : 0);
  const grad: Want[] = els.map((el, i) => {
    const k = g(i, row(i)) / div[i];
    return { lib: gradLib[i], exact: exG(i) * (opts.exactGrad ? 1 : k), scale: Math.abs(el.gradScale * k), slack: Math.abs(sl[i].grad * k), ulps: el.ulps };
  });
  if (reduction === 'none') {
    return { reduced: 'none', grad, loss: els.map((el, i) => ({ lib: lossLib[i], exact: exL(i), scale: el.lossScale, slack: sl[i].loss, ulps: el.ulps })) };
  }
  const loss = groups.map(([s, e], r) => {
    let exact = 0;
    let scale = 0;
    let slack = 0;
    for (let i = s; i < e; i++) {
      if (!kept(i)) continue;
      exact += exL(i);
      scale += Math.abs(els[i].loss);
      slack += sl[i].loss;
    }
    const d = div[s];
    const exactReduced = opts.exactLoss && !exactPerElement ? opts.exactLoss[r] : exact / d;
    return { lib: lossLib[r], exact: exactReduced, scale: scale / d, slack: slack / d, ulps: EXACT_ULPS };
  });
  return { reduced: reduction === 'rowMean' ? 'rows' : 'scalar', loss, grad };
}

// ----------------------------------------------------------------------------- comparing

const worst = new Map<string, { ulps: number; where: string }>();
const worstReduced = new Map<string, { rel: number; where: string }>();
/** Of the values that pass against the exact value: the worst distance from it, in ulps of its scale. */
const worstExact = new Map<string, { ulps: number; allowed: number; where: string }>();
const counts = new Map<string, { reference: number; scale: number; beyondReference: number }>();

function count(key: string, how: 'reference' | 'scale' | 'beyondReference'): void {
  const c = counts.get(key) ?? { reference: 0, scale: 0, beyondReference: 0 };
  c[how]++;
  counts.set(key, c);
}

/** Why `ours` is not the element value `w`, or null (and the record updated) when it is. */
function elementProblem(ours: number, w: Want, key: string, where: string): string | null {
  const { lib, exact } = w;
  if (Number.isNaN(ours)) return Number.isNaN(lib) && Number.isNaN(exact) ? null : 'NaN';
  if (!Number.isFinite(ours) || !Number.isFinite(lib)) {
    if (ours === lib || ours === exact) return null;
  } else {
    const d = ulps(ours, lib);
    if (d <= ELEMENT_ULPS) {
      const k = worst.get(key);
      if (!k || d > k.ulps) worst.set(key, { ulps: d, where });
      count(key, 'reference');
      return null;
    }
    if (Math.abs(ours - lib) <= ELEMENT_ULPS * ulp32(w.scale) + w.slack) {
      count(key, 'scale');
      return null;
    }
  }
  const unit = ulp32(Math.max(w.scale, Math.abs(exact)));
  if (Number.isFinite(exact) && Math.abs(ours - exact) <= w.ulps * unit + w.slack) {
    count(key, 'beyondReference');
    const d = Math.abs(ours - exact) / unit;
    const k = worstExact.get(key);
    if (!k || d > k.ulps) worstExact.set(key, { ulps: d, allowed: w.ulps + w.slack / unit, where });
    return null;
  }
  return `library ${show(lib)}, exact ${show(exact)}, ours ${show(ours)} (${Number.isFinite(ours) && Number.isFinite(lib) ? ulps(ours, lib) : '-'} ulps from the library; scale ${w.scale.toPrecision(3)}, slack ${w.slack.toPrecision(3)})`;
}

function reducedProblem(ours: number, w: Want, key: string, where: string): string | null {
  const { lib, exact } = w;
  if (!Number.isFinite(lib) || !Number.isFinite(exact) || !Number.isFinite(ours)) {
    return Object.is(ours, lib) || Object.is(ours, exact) || (Number.isNaN(ours) && Number.isNaN(lib)) ? null : `library ${lib}, ours ${ours}`;
  }
  const bound = REDUCED_REL * w.scale + w.slack;
  const err = Math.abs(ours - lib);
  if (err <= bound) {
    const rel = w.scale === 0 ? 0 : err / w.scale;
    const k = worstReduced.get(key);
    if (!k || rel > k.rel) worstReduced.set(key, { rel, where });
    count(key, 'reference');
    return null;
  }
  if (Math.abs(ours - exact) <= bound) {
    count(key, 'beyondReference');
    return null;
  }
  return `library ${lib}, exact ${exact}, ours ${ours}: |ours - library| = ${err.toPrecision(3)} > ${bound.toPrecision(3)}`;
}

function check(file: string, c: Case, api: string, quantity: 'loss' | 'grad', ours: number | ArrayLike<number>, want: Want[], reduced: boolean): void {
  const key = `${file}: ${c.fn === 'keras' ? c.keras : c.fn} ${quantity}${reduced ? ' (reduced)' : ''}`;
  const values = typeof ours === 'number' ? [ours] : Array.from(ours);
  expect(values.length, `${api} ${quantity}: length`).toBe(want.length);
  const lines: string[] = [];
  values.forEach((v, i) => {
    const where = `${c.id} [${i}] (${api})`;
    const why = reduced ? reducedProblem(v, want[i], key, where) : elementProblem(v, want[i], key, where);
    if (why) lines.push(`  [${i}] x=${show(dec(c.input[i] ?? NaN))}: ${why}`);
  });
  if (lines.length) throw new Error(`${api} ${quantity}: ${lines.length} of ${want.length} values differ\n${lines.join('\n')}`);
}

// ----------------------------------------------------------------------------- running a case

type Options = Record<string, unknown>;

/** Runs the three entry points of `fn` with `options` (`gradOutput` only for the gradient). */
function entryPoints(file: string, c: Case, fn: Fn, input: Float32Array, target: Float32Array, options: Options,
  gradOutput: Options, exp: Expected): void {
  const [forward, backward, fused] = FUNCTIONS[fn] as unknown as ((x: Float32Array, y: Float32Array, o: Options) => unknown)[];
  const reduced = exp.reduced !== 'none';
  const lossOf = (l: unknown) => (exp.reduced === 'scalar' ? (l as number) : (l as Float32Array));
  it(`${forward.name}: loss`, () => {
    check(file, c, forward.name, 'loss', lossOf(forward(input, target, options)), exp.loss, reduced);
  });
  it(`${backward.name}: gradient`, () => {
    check(file, c, backward.name, 'grad', backward(input, target, { ...options, ...gradOutput }) as Float32Array, exp.grad, false);
  });
  it(`${fused.name}: loss and gradient`, () => {
    const { loss, grad } = fused(input, target, { ...options, ...gradOutput }) as { loss: unknown; grad: Float32Array };
    check(file, c, fused.name, 'loss', lossOf(loss), exp.loss, reduced);
    check(file, c, fused.name, 'grad', grad, exp.grad, false);
  });
}

const at = (a: Num[] | undefined, dflt = 1) => (a === undefined ? () => dflt : (i: number) => dec(a[i % a.length]));
const arr = (v: Num | Num[]) => (Array.isArray(v) ? decAll(v) : [dec(v)]);
const arr64 = (v: Num | Num[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v.map(dec64) : [dec64(v)]);

/** gradOutput as the package takes it, and as a function of (element, row) for the expectations. */
function gradOutputOf(c: Case): [Options, (i: number, row: number) => number] {
  if (c.gradOutput === undefined) return [{}, () => 1];
  if (!Array.isArray(c.gradOutput)) {
    const g = dec(c.gradOutput);
    return [{ gradOutput: g }, () => g];
  }
  const g = decAll(c.gradOutput);
  return [{ gradOutput: Float32Array.from(g) }, c.reduction === 'rowMean' ? (_i, r) => g[r] : (i) => g[i]];
}

/** The slack of label smoothing: one float32 ulp of y' either way. */
function smoothingSlack(a: Args, e: number | undefined): ((i: number) => { loss: number; grad: number }) | undefined {
  if (!e) return undefined;
  return (i) => {
    const y = a.y[i];
    const u = ulp32(y);
    return spread(element(a, i, a.x[i], y - u), element(a, i, a.x[i], y + u));
  };
}

/** Masks in each of the accepted forms, in turn: Uint8Array, boolean[], number[]. */
let maskForm = 0;
function maskOption(m: number[]): Uint8Array | boolean[] | number[] {
  const form = maskForm++ % 3;
  return form === 0 ? Uint8Array.from(m) : form === 1 ? m.map((v) => v === 1) : m.slice();
}

function libraryCase(file: string, c: Case): void {
  const fn = c.fn as Fn;
  const x = decAll(c.input);
  const e = c.labelSmoothing ?? 0;
  const y = decAll(c.target).map((v) => smoothed(v, e));
  const a: Args = { fn, x, y, w: at(c.weight), p: at(c.posWeight), alpha: c.alpha ?? 0.25, gamma: c.gamma ?? 2 };
  const reduction = c.reduction as string;
  const [gradOutput, g] = gradOutputOf(c);
  const options: Options = { reduction };
  if (c.weight) options.weight = f32(c.weight);
  if (c.posWeight) options.posWeight = f32(c.posWeight);
  if (e) options.labelSmoothing = e;
  if (c.rowLength !== undefined) options.rowLength = c.rowLength;
  if (fn === 'focal' && c.alpha !== undefined) Object.assign(options, { alpha: c.alpha, gamma: c.gamma });
  let mask: ((i: number) => boolean) | undefined;
  if (c.mask) {
    const m = c.mask;
    mask = (i) => m[i % m.length] === 1;
    options.mask = maskOption(m);
  }
  const exp = expected(a, reduction, arr(c.loss), decAll(c.grad), {
    mask, rowLength: c.rowLength, g, slack: smoothingSlack(a, e),
    exactLoss: arr64(c.exactLoss), exactGrad: arr64(c.exactGrad),
  });
  if (c.smoothedTarget) {
    it('smooths the targets as the library does, to the bit', () => {
      expect(y).toEqual(decAll(c.smoothedTarget as Num[]));
    });
  }
  entryPoints(file, c, fn, f32(c.input), f32(c.target), options, gradOutput, exp);
}

/** Keras's losses as the package's: the reductions, class balancing and sample weights mapped (see the header of the script). */
function kerasCase(file: string, c: Case): void {
  const [rows, C] = c.shape as number[];
  const focal = c.keras === 'BinaryFocalCrossentropy';
  const fn: Fn = focal ? 'focal' : c.fromLogits ? 'bce_with_logits' : 'bce';
  const x = decAll(c.input);
  const e = c.labelSmoothing ?? 0;
  const y = decAll(c.target).map((v) => smoothed(v, e));
  const sw = c.sampleWeight ? decAll(c.sampleWeight) : undefined;
  const weight = sw ? Float32Array.from(x, (_, i) => sw[Math.floor(i / C)]) : undefined;
  const alpha = focal ? (c.applyClassBalancing ? (c.alpha as number) : -1) : 0;
  const a: Args = { fn, x, y, w: weight ? (i) => weight[i] : () => 1, p: () => 1, alpha, gamma: c.gamma ?? 0 };
  const reduction = { None: 'rowMean', sum_over_batch_size: 'mean', mean_with_sample_weight: 'weightedMean' }[c.kerasReduction as string] as string;
  const options: Options = { reduction, labelSmoothing: e };
  if (reduction === 'rowMean') options.rowLength = C;
  if (weight) options.weight = weight;
  if (focal) Object.assign(options, { alpha, gamma: c.gamma });
  let slack = smoothingSlack(a, e);
  if (focal) {
    // Keras rounds p = sigmoid(x) to float32 and takes log p, log(1 - p) and 1 - p_t of it: the same as
    // moving x by dx = ulp(p) / (p (1 - p)), KERAS_P_ULPS times, either way; plus the smoothing's slack.
    const smoothing = slack;
    slack = (i) => {
      const xi = x[i];
      const p = ref.sigmoid(xi);
      const dx = (KERAS_P_ULPS * ulp32(p)) / (p * (1 - p));
      const s = spread(element(a, i, xi - dx), element(a, i, xi + dx));
      const t = smoothing ? smoothing(i) : { loss: 0, grad: 0 };
      return { loss: s.loss + t.loss, grad: s.grad + t.grad };
    };
  }
  expect(rows * C).toBe(x.length);
  const exp = expected(a, reduction, arr(c.loss), decAll(c.grad), { rowLength: C, slack });
  entryPoints(file, c, fn, f32(c.input), f32(c.target), options, {}, exp);
}

// ----------------------------------------------------------------------------- the files

const FILES = ['smoothing.json', 'focal.json', 'keras.json', 'mask.json'];

describe(`reference fixtures in ${DIR}`, () => {
  for (const file of FILES) {
    const fixture = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Fixture;
    const versions = ['torch', 'torchvision', 'keras'].filter((k) => k in fixture).map((k) => `${k} ${fixture[k as keyof Fixture]}`);
    describe(`${file} (${versions.join(', ')})`, () => {
      it('has cases', () => {
        expect(fixture.cases.length).toBeGreaterThan(20);
      });
      for (const c of fixture.cases) {
        describe(c.id, () => (c.fn === 'keras' ? kerasCase(file, c) : libraryCase(file, c)));
      }
    });
  }

  it('the float64 focal reference agrees with mpmath (focal.json) to 1e-13 relative', () => {
    const fixture = JSON.parse(readFileSync(join(DIR, 'focal.json'), 'utf8')) as Fixture;
    let worstRel = 0;
    let checked = 0;
    for (const c of fixture.cases) {
      if (c.reduction !== 'none') continue;
      const x = decAll(c.input);
      const y = decAll(c.target).map((v) => smoothed(v, c.labelSmoothing ?? 0));
      const w = at(c.weight);
      const g = c.gradOutput === undefined ? () => 1 : at(c.gradOutput as Num[]);
      x.forEach((xi, i) => {
        const f = ref.focal(xi, y[i], c.alpha as number, c.gamma as number, w(i));
        const el = dec64((c.exactLoss as Num[])[i]);
        const eg = dec64((c.exactGrad as Num[])[i]);
        for (const [ours, want] of [[f.loss, el], [f.grad * g(i), eg]]) {
          if (Math.abs(want) < 1e-290 && Math.abs(ours) < 1e-290) continue; // float64's own underflow
          const rel = Math.abs(ours - want) / Math.abs(want);
          worstRel = Math.max(worstRel, rel);
          checked++;
        }
      });
    }
    expect(checked).toBeGreaterThan(1000);
    expect(worstRel).toBeLessThan(1e-13);
  });
});

afterAll(() => {
  if (!REPORT) return;
  const sorted = <T>(m: Map<string, T>) => Object.fromEntries([...m.entries()].sort(([p], [q]) => p.localeCompare(q)));
  const report = { elementUlps: ELEMENT_ULPS, exactUlps: EXACT_ULPS, reducedRel: REDUCED_REL, worst: sorted(worst), worstExact: sorted(worstExact), worstReduced: sorted(worstReduced), counts: sorted(counts) };
  writeFileSync(REPORT, JSON.stringify(report, null, 1));
});
