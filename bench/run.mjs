// npm run bench [-- --quick] [-- --only TEXT]
//
// Runs every method of methods.mjs in its own Node process, on the same seeded inputs, for
// n = 64, 4,096, 65,536, 1M and 16M elements (--quick: up to 1M, shorter sampling; under a minute).
// Per n: warm-up, then samples of enough back-to-back calls to last >= 1 ms, until the time budget
// and the minimum sample count are met; the figure is the median time per call. Loading, data
// generation and the reference are outside the timed region. Each method's loss and first gradient
// element are checked against a float64 reference; a wrong result is reported and gets no ratio.
// Writes bench/results/{results.json,results.md,chart.svg} (quick-* in quick mode). Then runs
// engines.mjs (Node 20, 22, 24, 26 and Chromium side by side) and small-calls.mjs (the size sweep
// under every Node), unless --only is given.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { METHODS, makeData, reference } from './methods.mjs';
import { renderChart } from './chart.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const SIZES = quick ? [64, 4096, 65536, 1 << 20] : [64, 4096, 65536, 1 << 20, 1 << 24];
const BUDGET_MS = quick ? 150 : 1500;
const MIN_SAMPLES = quick ? 5 : 15;

if (args[0] === '--worker') {
  await worker(args[1], JSON.parse(args[2]));
} else if (args[0] === '--render') {
  // Re-renders results.md and chart.svg from a saved results file.
  const file = args[1] ? new URL(args[1], `file://${process.cwd()}/`) : new URL('./results/results.json', import.meta.url);
  const report = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(new URL('results.md', file), markdown(report));
  writeFileSync(new URL('chart.svg', file), renderChart(report));
} else {
  await main();
}

async function worker(name, sizes) {
  const [kind, setup] = METHODS[name];
  const results = [];
  for (const n of sizes) {
    const data = makeData(kind, n);
    const ref = reference(kind, data.x, data.y);
    const method = await setup(data);
    const call = method.run;
    const time = method.async
      ? async (inner) => {
          const t0 = performance.now();
          let loss;
          for (let k = 0; k < inner; k++) loss = await call();
          return [(performance.now() - t0) / inner, loss];
        }
      : async (inner) => {
          const t0 = performance.now();
          let loss;
          for (let k = 0; k < inner; k++) loss = call();
          return [(performance.now() - t0) / inner, loss];
        };
    // Warm-up: at least two calls (one if a call takes over a second) and a fifth of the budget.
    const w0 = performance.now();
    let warm = 0;
    let loss;
    do {
      [, loss] = await time(1);
      warm++;
    } while ((warm < 2 && performance.now() - w0 < 1000) || performance.now() - w0 < BUDGET_MS / 5);
    const perCall = (performance.now() - w0) / warm;
    const inner = Math.max(1, Math.ceil(1 / perCall));
    const samples = [];
    const s0 = performance.now();
    const minSamples = perCall > 1000 ? 3 : MIN_SAMPLES;
    while (samples.length < minSamples || (performance.now() - s0 < BUDGET_MS && samples.length < 1000)) {
      const [t, l] = await time(inner);
      samples.push(t);
      loss = l;
    }
    samples.sort((a, b) => a - b);
    const median = samples[samples.length >> 1];
    const q1 = samples[Math.floor(samples.length / 4)];
    const q3 = samples[Math.floor((3 * samples.length) / 4)];
    // The check: the floor's output element, or the loss and first gradient element.
    let ok;
    let lossError = null;
    let gradError = null;
    if (method.floor) {
      ok = method.grad0() === Math.fround(data.x[0] + data.y[0]);
    } else {
      lossError = Math.abs(loss - ref.loss) / Math.abs(ref.loss);
      gradError = Math.abs(method.grad0() - ref.grad0) / Math.abs(ref.grad0);
      const tol = name.startsWith('bce-wasm') || name.startsWith('naive') ? 1e-6 : 1e-3;
      ok = lossError <= tol && gradError <= tol;
    }
    results.push({ n, ms: median, spread: (q3 - q1) / median, samples: samples.length, inner, loss, lossError, gradError, ok });
  }
  process.stdout.write(JSON.stringify(results) + '\n');
  process.exit(0);
}

function runWorker(name) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', name, JSON.stringify(SIZES), ...(quick ? ['--quick'] : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${name}: worker exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

async function main() {
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
  const names = Object.keys(METHODS).filter((n) => !only || n.includes(only) || n.startsWith('naive'));
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
  };
  console.log(`bce-wasm benchmark (${machine.mode}): ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
  const results = {};
  for (const name of names) {
    const t0 = Date.now();
    try {
      results[name] = await runWorker(name);
    } catch (err) {
      console.log(`  ${name}: FAILED (${err.message})`);
      continue;
    }
    const line = results[name]
      .map((r) => `${fmtN(r.n)} ${fmtRate(r.n / r.ms / 1000)}${r.ok ? '' : ' WRONG'}`)
      .join(', ');
    console.log(`  ${name.padEnd(48)} ${line} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const prefix = quick ? 'quick-' : '';
  const report = { machine, sizes: SIZES, methods: results };
  writeFileSync(new URL(`${prefix}results.json`, dir), JSON.stringify(report, null, 2) + '\n');
  const md = markdown(report);
  writeFileSync(new URL(`${prefix}results.md`, dir), md);
  writeFileSync(new URL(`${prefix}chart.svg`, dir), renderChart(report));
  console.log('\n' + md);
  if (!args.includes('--only')) {
    // The same fused passes under every engine at hand (Node 20 beside 24 and 26, Chromium), and the
    // small-call size sweep under every Node: each in its own run, interleaved inside.
    for (const script of ['engines.mjs', 'small-calls.mjs']) {
      console.log(`\n== bench/${script} ==`);
      const extra = quick ? (script === 'engines.mjs' ? ['--rounds', '3'] : ['--quick']) : [];
      const code = await new Promise((done) => {
        spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...extra], { stdio: 'inherit' }).on('close', done);
      });
      if (code !== 0) console.log(`  bench/${script}: exited with ${code}`);
    }
  }
}

function fmtN(n) {
  return n >= 1 << 20 ? `${n / (1 << 20)}M` : n >= 1024 ? `${n / 1024}K` : String(n);
}

function fmtRate(mps) {
  return mps >= 100 ? `${mps.toFixed(0)}` : mps >= 10 ? mps.toFixed(1) : mps.toFixed(2);
}

/** The naive loop this method is compared with: same kind of data. */
function baselineOf(name) {
  return name.includes('probabilities') ? 'naive JS, probabilities' : 'naive JS, logits';
}

function markdown({ machine, sizes, methods }) {
  const rows = [];
  rows.push(
    `Fused forward+backward (mean loss and gradient), M elements/s (median) and, in parentheses, the ratio to the ` +
      `naive JavaScript loop on the same data in the same run. Machine: ${machine.cpu}, ${machine.cores} cores, ` +
      `Node ${machine.node}, ${machine.platform}, ${machine.date.slice(0, 10)} (${machine.mode} mode). ` +
      `A result whose mean loss is more than 1e-3 (peers) or 1e-6 (bce-wasm, naive JS) off the float64 reference ` +
      `gets no ratio and shows its relative error instead.`,
  );
  rows.push('');
  rows.push(`| method | ${sizes.map(fmtN).join(' | ')} |`);
  rows.push(`|---|${sizes.map(() => '---:').join('|')}|`);
  for (const [name, results] of Object.entries(methods)) {
    const base = methods[baselineOf(name)];
    const cells = sizes.map((n) => {
      const r = results.find((x) => x.n === n);
      if (!r) return '';
      const rate = fmtRate(n / r.ms / 1000);
      if (!r.ok) return `${rate} (loss off by ${r.lossError === null ? '?' : r.lossError.toExponential(1)})`;
      const b = base?.find((x) => x.n === n);
      if (!b || name.startsWith('naive')) return rate;
      return `${rate} (${(b.ms / r.ms).toFixed(b.ms / r.ms >= 10 ? 0 : 1)}x)`;
    });
    rows.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  const call64 = (name) => methods[name]?.find((r) => r.n === 64);
  const z = call64('bce-wasm, logits, arrays');
  const nv = call64('naive JS, logits');
  if (z && nv) {
    rows.push('');
    rows.push(
      `Per call at n = 64: naive JS ${(nv.ms * 1e6).toFixed(0)} ns, bce-wasm (arrays) ${(z.ms * 1e6).toFixed(0)} ns.`,
    );
  }
  return rows.join('\n') + '\n';
}
