// Measures the error of each float32 approximation in bce-wasm over every float32 input.
//
//   node scripts/ulp-sweep.mjs [--fn exp,log,log1p,sigmoid,logsigmoid] [--step K] [--threads T] [--json FILE]
//
// For each function and each non-NaN float32 x (every K-th bit pattern with --step K), the kernel's
// result is compared with the float64 value of the same function (V8's Math.exp/log/log1p, accurate to
// about 1e-16), in units of the float32 spacing at the exact value ("ulp"): a correctly rounded
// function scores at most 0.5. NaN must map to NaN and an exact infinity to the same infinity.
// The full sweep (2^32 - 2^24 inputs per function; the 1,065,353,217 floats of [0, 1] for the BCE
// ones) takes under a minute per function on 2 cores.

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';

const REFERENCES = {
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  log1p: (x) => Math.log1p(x),
  sigmoid: (x) => {
    if (x >= 0) return 1 / (1 + Math.exp(-x));
    const e = Math.exp(x);
    return e / (1 + e);
  },
  logsigmoid: (x) => Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x))),
  // BCELoss's element loss with target 1 and 0 over its whole domain, x in [0, 1]: exactly the
  // clamped logs -max(log(x), -100) and -max(log1p(-x), -100) of the probability kernel.
  'bce-target1': (x) => -Math.max(Math.log(x), -100),
  'bce-target0': (x) => -Math.max(Math.log1p(-x), -100),
};

/** Functions defined on [0, 1] only: their sweep covers the bit patterns 0 to 0x3f800000 (1.0). */
const UNIT_DOMAIN = new Set(['bce-target1', 'bce-target0']);
const ONE_BITS = 0x3f800000;

const CHUNK = 1 << 20;

if (isMainThread) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const fns = opt('--fn', Object.keys(REFERENCES).join(',')).split(',');
  const step = Number(opt('--step', '1'));
  const threads = Number(opt('--threads', String(Math.max(1, availableParallelism()))));
  const jsonFile = opt('--json', null);
  const results = {};
  for (const fn of fns) {
    if (!(fn in REFERENCES)) throw new Error(`unknown function ${fn}`);
    const t0 = Date.now();
    const parts = await Promise.all(
      Array.from({ length: threads }, (_, w) =>
        new Promise((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { fn, step, w, threads } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
      ),
    );
    const r = parts.reduce((a, b) => ({
      inputs: a.inputs + b.inputs,
      exact: a.exact + b.exact,
      maxUlp: Math.max(a.maxUlp, b.maxUlp),
      worstX: a.maxUlp >= b.maxUlp ? a.worstX : b.worstX,
      worstGot: a.maxUlp >= b.maxUlp ? a.worstGot : b.worstGot,
      worstWant: a.maxUlp >= b.maxUlp ? a.worstWant : b.worstWant,
      specialMismatches: a.specialMismatches + b.specialMismatches,
    }));
    r.seconds = (Date.now() - t0) / 1000;
    r.correctlyRounded = r.exact / r.inputs;
    results[fn] = r;
    console.log(
      `${fn.padEnd(10)} max ${r.maxUlp.toFixed(3)} ulp at x = ${r.worstX} (got ${r.worstGot}, exact ${r.worstWant}); ` +
        `${(100 * r.correctlyRounded).toFixed(3)}% correctly rounded; ${r.specialMismatches} special-value mismatches; ` +
        `${r.inputs} inputs in ${r.seconds.toFixed(0)} s`,
    );
  }
  if (jsonFile) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(jsonFile, JSON.stringify({ step, date: new Date().toISOString(), results }, null, 2) + '\n');
  }
  const bad = Object.values(results).some((r) => r.specialMismatches > 0);
  process.exitCode = bad ? 1 : 0;
} else {
  const { fn, step, w, threads } = workerData;
  const bce = await import('bce-wasm');
  await bce.init();
  const unit = UNIT_DOMAIN.has(fn);
  const targets = unit ? bce.createBuffer(CHUNK) : null;
  if (targets) targets.view.fill(fn === 'bce-target1' ? 1 : 0);
  const kernel =
    fn === 'sigmoid'
      ? bce.sigmoid
      : fn === 'logsigmoid'
        ? bce.logSigmoid
        : unit
          ? (x, out) => bce.binaryCrossEntropy(x, targets, { reduction: 'none', out })
          : bce.approximations[fn];
  const reference = REFERENCES[fn];
  const input = bce.createBuffer(CHUNK);
  const output = bce.createBuffer(CHUNK);
  const f64 = new Float64Array(1);
  const hi = new Uint32Array(f64.buffer, 4, 1);
  // The float32 spacing at |r| (r finite, not 0): 2^(exponent - 23), at least 2^-149.
  const ulpAt = (r) => {
    f64[0] = r;
    const e = Math.max(((hi[0] >>> 20) & 0x7ff) - 1023, -126);
    return 2 ** (e - 23);
  };
  let inputs = 0, exact = 0, maxUlp = 0, worstX = 0, worstGot = 0, worstWant = 0, specialMismatches = 0;
  const chunks = 2 ** 32 / CHUNK;
  for (let c = w; c < chunks; c += threads) {
    const base = c * CHUNK;
    if (unit && base > ONE_BITS) continue;
    const bits = new Uint32Array(input.view.buffer, input.view.byteOffset, CHUNK);
    let m = 0;
    for (let i = 0; i < CHUNK && !(unit && base + i > ONE_BITS); i += step) bits[m++] = base + i;
    bits.fill(0, m);
    kernel(input, output);
    const x = input.view;
    const y = output.view;
    for (let i = 0; i < m; i++) {
      const xi = x[i];
      if (xi !== xi) continue; // NaN inputs: checked below as special values
      inputs++;
      const got = y[i];
      const want = reference(xi);
      const rounded = Math.fround(want);
      if (got === rounded || (got !== got && want !== want)) {
        exact++;
        continue;
      }
      if (want !== want || !Number.isFinite(rounded) || !Number.isFinite(got) || got !== got) {
        specialMismatches++;
        if (specialMismatches <= 5) console.error(`${fn}(${xi}) = ${got}, want ${want}`);
        continue;
      }
      const err = Math.abs(got - want) / ulpAt(want);
      if (err > maxUlp) {
        maxUlp = err;
        worstX = xi;
        worstGot = got;
        worstWant = want;
      }
    }
  }
  // NaN in, NaN out (the BCE kernels reject NaN instead: their tests check that).
  if (!unit) {
    const nan = kernel(new Float32Array([NaN, -NaN]));
    if (!(nan[0] !== nan[0] && nan[1] !== nan[1])) specialMismatches++;
  }
  parentPort.postMessage({ inputs, exact, maxUlp, worstX, worstGot, worstWant, specialMismatches });
}
