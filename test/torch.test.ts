// PyTorch as the oracle: every loss and gradient value that PyTorch computed for the fixtures in
// test/fixtures/torch/ (written by scripts/torch_fixtures.py from torch itself) must come out of the
// package, from each entry point: the forward function, the backward function and the fused one.
//
// Bounds:
// - Element values (losses with reduction 'none', gradients, sigmoid, logSigmoid): within ELEMENT_ULPS
//   = 4 float32 ulps of PyTorch's float32 value, counted as the number of float32 values between the
//   two (so it means the same down to the subnormals); or, where PyTorch's own float32 rounding is
//   coarser than that, within 4 ulps of the terms' scale of PyTorch's value or of the exact (float64)
//   value (see elementProblem: sigmoid(x) - y cancels, and PyTorch's sigmoid flushes to 0 below
//   -88.72; ours is then the more accurate one, and the report counts these as beyondTorch). 4 is the kernels' own claim (2-4 ulps) and
//   the largest distance measured among the values that agree (torch 2.15.0: BCE loss 2, BCE
//   gradient 0, logits loss 4, logits gradient 4, sigmoid 2, logsigmoid 2). NaN exactly where
//   PyTorch gives NaN, the same infinity where it gives one, and where PyTorch gives a zero, a zero
//   of the same sign (the element values are PyTorch's IEEE results, -0 included).
// - Reduced losses ('mean', 'sum'): the package returns a float64 sum of its float32 element losses,
//   PyTorch a float32 cascade sum of its own. Compared with PyTorch's float32 result:
//   |ours - torch| <= REDUCED_REL * S with REDUCED_REL = 1e-6 (8.4 float32 eps) and S the float64 sum
//   of |element losses| (/ N for 'mean'; the fixture's lossAbsF64): the element errors plus two
//   float32 summation orders stay within a few eps of S (measured: 1.33e-7 S at most, 2 ulps). Non-finite
//   results: as for elements.
// - Where PyTorch raises (BCELoss's range check), every entry point throws a RangeError whose message
//   contains PyTorch's ("all elements of input should be between 0 and 1"); where PyTorch returns
//   values, a throw is a failure.
// - The seed example's mean loss, printed with 4 decimals, is what PyTorch prints: tensor(0.8000).
//
// BCE_TORCH_FIXTURES=DIR runs the suite on fixtures written elsewhere (scripts/torch_fixtures.py
// --check regenerates them with the installed torch and runs this suite on them).
// BCE_TORCH_REPORT=FILE writes the worst agreeing distance per function and every disagreement
// (case, entry point, index, the arguments at that index, PyTorch's value, ours) as JSON.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  binaryCrossEntropy,
  binaryCrossEntropyBackward,
  binaryCrossEntropyForwardBackward,
  binaryCrossEntropyWithLogits,
  binaryCrossEntropyWithLogitsBackward,
  binaryCrossEntropyWithLogitsForwardBackward,
  logSigmoid,
  sigmoid,
  type Reduction,
} from 'bce-wasm';
import './setup.js';
import * as ref from './reference.js';
import { dec, decAll, f32, ulp32, ulps, show, type Num } from './reference.js';

/** Element values: float32 ulps from PyTorch's value (see the header). */
const ELEMENT_ULPS = 4;
/** Reduced losses: |ours - torch| <= REDUCED_REL * sum |element losses| (8.4 float32 eps). */
const REDUCED_REL = 1e-6;

const DIR = process.env.BCE_TORCH_FIXTURES ?? fileURLToPath(new URL('./fixtures/torch/', import.meta.url));
const REPORT = process.env.BCE_TORCH_REPORT;

interface LossCase {
  id: string;
  fn: 'bce' | 'bce_with_logits';
  shape: number[];
  reduction: Reduction;
  input: Num[];
  target: Num[];
  weight?: Num[];
  posWeight?: Num[];
  gradOutput?: Num | Num[];
  loss?: Num | Num[];
  lossF64?: Num;
  lossAbsF64?: Num;
  grad?: Num[];
  error?: string;
  edge?: { argument: string; label: string; value: Num };
}

interface ElementwiseCase {
  id: string;
  fn: 'sigmoid' | 'logsigmoid';
  input: Num[];
  output: Num[];
  edge?: { argument: string; label: string; value: Num };
}

interface SeedCase {
  id: string;
  fn: 'seed';
  logits: Num[];
  target: Num[];
  sigmoid: Num[];
  str: string;
  loss: Num;
  gradProbs: Num[];
  logitsLoss: { str: string; loss: Num; grad: Num[] };
}

type Case = LossCase | ElementwiseCase | SeedCase;

interface Fixture {
  file: string;
  torch: string;
  numpy: string;
  cases: Case[];
}


// ----------------------------------------------------------------------------- the record

/** Worst agreeing distance per function and quantity, and every disagreement, for the report. */
const worst = new Map<string, { ulps: number; where: string }>();
const worstReduced = new Map<string, { rel: number; ulps: number; where: string }>();
const mismatches: Record<string, unknown>[] = [];

function noteWorst(key: string, d: number, where: string): void {
  const w = worst.get(key);
  if (!w || d > w.ulps) worst.set(key, { ulps: d, where });
}

/** Elements that differ from PyTorch's by more than ELEMENT_ULPS but pass the scale or exact bound. */
const beyondTorch = new Map<string, number>();

/**
 * Why `ours` is not PyTorch's `want` (an element value), or null when it is. `exact` is the float64
 * value of the formula on the same float32 arguments and `scale` the magnitude of the terms whose
 * difference it is (see test/reference.ts). Special values are compared strictly. A finite value
 * agrees when it is within ELEMENT_ULPS float32 values of PyTorch's, or within ELEMENT_ULPS ulps of
 * `scale` of PyTorch's (a difference of two terms, each of them rounded by both, magnifies a 1-ulp
 * difference in sigmoid(x) near y: the same bound as the float64 tests), or within ELEMENT_ULPS ulps
 * of `scale` of the exact value (PyTorch's own rounding, e.g. its sigmoid flushing to 0 below
 * -88.72 where the true value is a subnormal; ours is then the more accurate one).
 */
function elementProblem(ours: number, want: number, ref?: { value: number; scale: number }, key = ''): string | null {
  if (Number.isNaN(want)) return Number.isNaN(ours) ? null : 'PyTorch gives NaN';
  if (Number.isNaN(ours)) return 'NaN where PyTorch has a number';
  if (!Number.isFinite(want) || !Number.isFinite(ours)) return ours === want ? null : 'infinity differs';
  if (want === 0 && ours === 0) return Object.is(want, ours) ? null : 'sign of zero';
  const d = ulps(ours, want);
  if (d <= ELEMENT_ULPS) return null;
  if (ref !== undefined && Number.isFinite(ref.value) && Number.isFinite(ref.scale)) {
    const unit = ulp32(Math.max(ref.scale, Math.abs(ref.value)));
    if (Math.abs(ours - want) <= ELEMENT_ULPS * unit || Math.abs(ours - ref.value) <= ELEMENT_ULPS * unit) {
      beyondTorch.set(key, (beyondTorch.get(key) ?? 0) + 1);
      return null;
    }
  }
  return `${d} ulps`;
}

interface Context {
  c: Case;
  api: string;
  quantity: string;
}

function record(ctx: Context, index: number | null, want: number, ours: number, why: string): string {
  const c = ctx.c as LossCase;
  const at = (a: Num[] | undefined) => (a === undefined || index === null ? undefined : show(dec(a[index % a.length])));
  const entry = {
    case: c.id,
    api: ctx.api,
    quantity: ctx.quantity,
    index,
    input: at(c.input),
    target: 'target' in c ? at(c.target) : undefined,
    weight: at(c.weight),
    posWeight: at(c.posWeight),
    gradOutput: Array.isArray(c.gradOutput) ? at(c.gradOutput) : c.gradOutput === undefined ? undefined : show(dec(c.gradOutput)),
    reduction: c.reduction,
    edge: c.edge ? `${c.edge.argument}=${c.edge.label}` : undefined,
    torch: show(want),
    ours: show(ours),
    why,
  };
  mismatches.push(entry);
  return `  [${index ?? '-'}] x=${entry.input}${entry.target !== undefined ? ` y=${entry.target}` : ''}` +
    `${entry.weight !== undefined ? ` w=${entry.weight}` : ''}${entry.posWeight !== undefined ? ` pw=${entry.posWeight}` : ''}` +
    `${entry.gradOutput !== undefined ? ` g=${entry.gradOutput}` : ''}: torch ${entry.torch}, ours ${entry.ours} (${why})`;
}

/** The float64 value and term scale of element `i` of a case's `quantity` (see elementProblem). */
function exact(ctx: Context, i: number): { value: number; scale: number } | undefined {
  const c = ctx.c;
  const at = (a: Num[] | undefined, dflt = 1) => (a === undefined ? dflt : dec(a[i % a.length]));
  if (c.fn === 'sigmoid' || c.fn === 'logsigmoid') {
    const v = (c.fn === 'sigmoid' ? ref.sigmoid : ref.logSigmoid)(at(c.input));
    return { value: v, scale: Math.abs(v) };
  }
  if (c.fn === 'seed' || !('target' in c)) return undefined;
  const [x, y, w, p] = [at(c.input), at(c.target), at(c.weight), at(c.posWeight)];
  const g = c.gradOutput === undefined ? 1 : Array.isArray(c.gradOutput) ? dec(c.gradOutput[i]) : dec(c.gradOutput);
  const d = c.reduction === 'mean' ? c.input.length : 1;
  if (c.fn === 'bce') {
    const v = ctx.quantity === 'loss' ? ref.bce(x, y, w) : ref.bceGrad(x, y, w, g, d);
    return { value: v, scale: Math.abs(v) };
  }
  return ctx.quantity === 'loss' ? ref.logits(x, y, w, p) : ref.logitsGrad(x, y, w, p, g, d);
}

function checkElements(ctx: Context, ours: ArrayLike<number>, want: number[]): void {
  expect(ours.length, `${ctx.api} ${ctx.quantity}: length`).toBe(want.length);
  const key = `${ctx.c.fn}: ${ctx.quantity}`;
  const lines: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const why = elementProblem(ours[i], want[i], exact(ctx, i), key);
    if (why) lines.push(record(ctx, i, want[i], ours[i], why));
    else if (Number.isFinite(want[i])) noteWorst(key, ulps(ours[i], want[i]), `${ctx.c.id} [${i}] (${ctx.api})`);
  }
  if (lines.length) {
    throw new Error(`${ctx.api} ${ctx.quantity}: ${lines.length} of ${want.length} values differ from PyTorch's\n${lines.join('\n')}`);
  }
}

function checkReduced(ctx: Context, ours: number, c: LossCase): void {
  const want = dec(c.loss as Num);
  const scale = Math.abs(dec(c.lossAbsF64 as Num));
  let why: string | null = null;
  if (Number.isNaN(want) || Number.isNaN(ours) || !Number.isFinite(want) || !Number.isFinite(ours)) {
    why = Object.is(ours, want) || (Number.isNaN(want) && Number.isNaN(ours)) ? null : 'non-finite differs';
  } else {
    const err = Math.abs(ours - want);
    const bound = REDUCED_REL * scale;
    if (err > bound) why = `|ours - torch| = ${err.toPrecision(3)} > ${bound.toPrecision(3)} (1e-6 * ${scale.toPrecision(6)})`;
    else {
      const key = `${c.fn}: ${c.reduction} loss`;
      const rel = scale === 0 ? 0 : err / scale;
      const w = worstReduced.get(key);
      const d = ulps(Math.fround(ours), want);
      if (!w || rel > w.rel) worstReduced.set(key, { rel, ulps: d, where: `${c.id} (${ctx.api})` });
    }
  }
  if (why) {
    throw new Error(`${ctx.api} ${c.reduction} loss differs from PyTorch's\n${record(ctx, null, want, ours, why)}` +
      ` (PyTorch in float64: ${show(dec(c.lossF64 as Num))})`);
  }
}

function checkLoss(ctx: Context, ours: number | Float32Array, c: LossCase): void {
  if (c.reduction === 'none') checkElements(ctx, ours as Float32Array, decAll(c.loss as Num[]));
  else checkReduced(ctx, ours as number, c);
}

function checkThrows(ctx: Context, call: () => unknown, c: LossCase): void {
  const torchMessage = (c.error as string).replace(/^\w+: /, '');
  let thrown: unknown = null;
  let result: unknown;
  try {
    result = call();
  } catch (e) {
    thrown = e;
  }
  const ok = thrown instanceof RangeError && thrown.message.includes(torchMessage);
  if (!ok) {
    const got = thrown === null
      ? `returned ${result instanceof Float32Array ? `[${Array.from(result, show).join(', ')}]` : typeof result === 'object' ? JSON.stringify(result, (_k, v) => (v instanceof Float32Array ? Array.from(v, show) : v)) : show(result as number)}`
      : `threw ${(thrown as Error).name}: ${(thrown as Error).message}`;
    mismatches.push({
      case: c.id, api: ctx.api, quantity: ctx.quantity, index: null,
      edge: c.edge ? `${c.edge.argument}=${c.edge.label}` : undefined,
      torch: c.error, ours: got, why: 'PyTorch raises',
    });
    throw new Error(`${ctx.api}: PyTorch raises "${c.error}", the package ${got}`);
  }
}

/** Runs one package call where PyTorch returns values: a throw is recorded as a disagreement too. */
function run<T>(ctx: Context, call: () => T): T {
  try {
    return call();
  } catch (e) {
    const c = ctx.c as LossCase;
    const got = `threw ${(e as Error).name}: ${(e as Error).message}`;
    mismatches.push({
      case: c.id, api: ctx.api, quantity: ctx.quantity, index: null,
      edge: c.edge ? `${c.edge.argument}=${c.edge.label}` : undefined,
      torch: 'values (PyTorch does not raise)', ours: got, why: 'ours throws',
    });
    throw new Error(`${ctx.api}: PyTorch returns values, the package ${got}`);
  }
}

// ----------------------------------------------------------------------------- the cases

function lossCase(c: LossCase): void {
  const input = f32(c.input);
  const target = f32(c.target);
  const base = {
    reduction: c.reduction,
    ...(c.weight ? { weight: f32(c.weight) } : {}),
    ...(c.posWeight ? { posWeight: f32(c.posWeight) } : {}),
  };
  const gradOutput = c.gradOutput === undefined ? {} : { gradOutput: Array.isArray(c.gradOutput) ? f32(c.gradOutput) : dec(c.gradOutput) };
  const logits = c.fn === 'bce_with_logits';
  const forward = logits ? binaryCrossEntropyWithLogits : binaryCrossEntropy;
  const backward = logits ? binaryCrossEntropyWithLogitsBackward : binaryCrossEntropyBackward;
  const fused = logits ? binaryCrossEntropyWithLogitsForwardBackward : binaryCrossEntropyForwardBackward;
  const names = logits
    ? ['binaryCrossEntropyWithLogits', 'binaryCrossEntropyWithLogitsBackward', 'binaryCrossEntropyWithLogitsForwardBackward']
    : ['binaryCrossEntropy', 'binaryCrossEntropyBackward', 'binaryCrossEntropyForwardBackward'];
  // Only the logits functions take posWeight (a TypeError otherwise), so the options are typed loosely.
  const opts = base as Parameters<typeof binaryCrossEntropyWithLogits>[2];
  const gopts = { ...base, ...gradOutput } as Parameters<typeof binaryCrossEntropyWithLogitsBackward>[2];

  it(`${names[0]}: loss`, () => {
    const ctx = { c, api: names[0], quantity: 'loss' };
    if (c.error) return checkThrows(ctx, () => forward(input, target, opts), c);
    checkLoss(ctx, run(ctx, () => forward(input, target, opts)) as number | Float32Array, c);
  });
  it(`${names[1]}: gradient`, () => {
    const ctx = { c, api: names[1], quantity: 'grad' };
    if (c.error) return checkThrows(ctx, () => backward(input, target, gopts), c);
    checkElements(ctx, run(ctx, () => backward(input, target, gopts)), decAll(c.grad as Num[]));
  });
  it(`${names[2]}: loss and gradient`, () => {
    const ctx = { c, api: names[2], quantity: 'loss' };
    if (c.error) return checkThrows(ctx, () => fused(input, target, gopts), c);
    const { loss, grad } = run(ctx, () => fused(input, target, gopts));
    let failure: unknown = null;
    try {
      checkLoss(ctx, loss as number | Float32Array, c);
    } catch (e) {
      failure = e;
    }
    checkElements({ ...ctx, quantity: 'grad' }, grad, decAll(c.grad as Num[]));
    if (failure) throw failure;
  });
}

function elementwiseCase(c: ElementwiseCase): void {
  const api = c.fn === 'sigmoid' ? 'sigmoid' : 'logSigmoid';
  it(api, () => {
    const f = c.fn === 'sigmoid' ? sigmoid : logSigmoid;
    checkElements({ c, api, quantity: 'output' }, f(f32(c.input)), decAll(c.output));
  });
}

/** The number PyTorch prints in `tensor(0.8000)`. */
const printed = (s: string): string => (/^tensor\(([^,)]+)/.exec(s) as RegExpExecArray)[1];

function seedCase(c: SeedCase): void {
  const logits = f32(c.logits);
  const target = f32(c.target);
  const probs = f32(c.sigmoid);
  it('sigmoid of the seed logits', () => {
    checkElements({ c, api: 'sigmoid', quantity: 'output' }, sigmoid(logits), decAll(c.sigmoid));
  });
  it(`nn.BCELoss() of sigmoid(logits) prints as PyTorch's ${c.str}`, () => {
    const ours = binaryCrossEntropy(sigmoid(logits), target);
    expect(ours.toFixed(4)).toBe(printed(c.str));
    expect(printed(c.str)).toBe('0.8000');
    const onTorchProbs = binaryCrossEntropy(probs, target);
    expect(onTorchProbs.toFixed(4)).toBe(printed(c.str));
  });
  it('nn.BCELoss() mean and its gradient on PyTorch\'s probabilities', () => {
    const ctx = { c, api: 'binaryCrossEntropyForwardBackward', quantity: 'loss' };
    const { loss, grad } = binaryCrossEntropyForwardBackward(probs, target);
    const asCase = { ...c, fn: 'bce', reduction: 'mean', loss: c.loss, lossAbsF64: c.loss } as unknown as LossCase;
    checkReduced(ctx, loss, asCase);
    checkElements({ ...ctx, quantity: 'grad' }, grad, decAll(c.gradProbs));
  });
  it(`nn.BCEWithLogitsLoss() of the logits (PyTorch ${c.logitsLoss.str}) and its gradient`, () => {
    const ctx = { c, api: 'binaryCrossEntropyWithLogitsForwardBackward', quantity: 'loss' };
    const { loss, grad } = binaryCrossEntropyWithLogitsForwardBackward(logits, target);
    expect(loss.toFixed(4)).toBe(printed(c.logitsLoss.str));
    const l = c.logitsLoss.loss;
    const asCase = { ...c, fn: 'bce_with_logits', reduction: 'mean', loss: l, lossAbsF64: l } as unknown as LossCase;
    checkReduced(ctx, loss, asCase);
    checkElements({ ...ctx, quantity: 'grad' }, grad, decAll(c.logitsLoss.grad));
  });
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe(`PyTorch fixtures in ${DIR}`, () => {
  it('are there', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    const fixture = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Fixture;
    describe(`${file} (torch ${fixture.torch}, numpy ${fixture.numpy})`, () => {
      for (const c of fixture.cases) {
        describe(c.id, () => {
          if (c.fn === 'seed') seedCase(c);
          else if ('output' in c) elementwiseCase(c);
          else lossCase(c);
        });
      }
    });
  }
});

afterAll(() => {
  if (!REPORT) return;
  const sorted = <T>(m: Map<string, T>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(
    REPORT,
    JSON.stringify({ elementUlps: ELEMENT_ULPS, reducedRel: REDUCED_REL, worst: sorted(worst), worstReduced: sorted(worstReduced), beyondTorch: sorted(beyondTorch), mismatches }, null, 1),
  );
});
