// npm run bench:options [-- --rounds R] [-- --processes P] [-- --no-chromium]
//
// The cost of each option of issue 10 over the plain fused pass of the same loss, at 1M elements
// (WasmBuffers in, the gradient into a WasmBuffer, reduction 'mean'): label smoothing, a mask (80%
// kept: the divisor's pre-pass over the mask included) from a JavaScript Uint8Array (copied into
// WebAssembly memory piece by piece, and once more by the pre-pass) and from a Uint8Array over the
// module's memory (read in place, as the data are), 'weightedMean' with per-element weights (against
// 'mean' with the same weights: the pre-pass over the weights), and the focal loss (gamma 2 and 0.5)
// against the plain logits pass (option-cases.mjs). Rows are interleaved round by round; each figure
// is the median over rounds (each round: enough calls to last about 20 ms), so that the machine's
// noise hits all rows alike. Under the Node that runs it, in P processes (default 3), and in
// Debian's Chromium (chromium.mjs) in P fresh pages, if present: V8 now and then compiles a kernel
// slower for a whole process, which moves one process's costs by 10-40%. Each cost is the median of
// the processes' costs (their range after it); times are the median process's. Node is timed by its
// process CPU time, Chromium by wall time (in 40 ms samples: pages coarsen performance.now()).

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startChromium } from './chromium.mjs';
import { measureOptions } from './option-cases.mjs';

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1]) || 9;
const PROCESSES = Number(args[args.indexOf('--processes') + 1]) || 3;
const n = 1 << 20;

if (args.includes('--child')) {
  const bce = await import('../dist/index.js');
  await bce.init();
  const cpuClock = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  process.stdout.write(JSON.stringify(measureOptions(bce, { rounds: ROUNDS, clock: cpuClock })));
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const node = [];
for (let p = 0; p < PROCESSES; p++) {
  node.push(JSON.parse(execFileSync(process.execPath, [self, '--child', '--rounds', String(ROUNDS)], { encoding: 'utf8', maxBuffer: 1 << 24 })));
}
report(`Node ${process.versions.node}`, 'cpu clock', node);
const chromium = args.includes('--no-chromium') ? null : await startChromium();
if (chromium) {
  const pages = [];
  for (let p = 0; p < PROCESSES; p++) {
    pages.push(
      await chromium.inPage(
        async ({ rounds }) => {
          const bce = await import('/dist/index.js');
          await bce.init();
          const { measureOptions } = await import('/bench/option-cases.mjs');
          return measureOptions(bce, { rounds, minMs: 40 });
        },
        { rounds: ROUNDS },
      ),
    );
  }
  await chromium.close();
  console.log('');
  report(chromium.name, 'wall clock', pages);
}

function report(engine, clock, runs) {
  const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const { rows } = runs[0];
  // Per process: each row's median time, and its cost over its base row.
  const ms = runs.map((r) => Object.fromEntries(rows.map(([name]) => [name, median(r.times[name])])));
  const cost = (name, base) => ms.map((t) => t[name] / t[base] - 1);
  const pct = (c) => `${c >= 0 ? '+' : ''}${(c * 100).toFixed(0)}%`;
  const where = engine.startsWith('Node') ? 'processes' : 'pages';
  console.log(`Options at 1M elements, fused forward+backward, ms per call (median of ${ROUNDS} interleaved rounds, ${clock}; ${runs.length} ${where}), ${engine}:\n`);
  console.log(`| pass | ms | M elements/s | cost over | (each of the ${where}) |`);
  console.log('|---|---:|---:|---|---|');
  for (const [name, base] of rows) {
    const t = median(ms.map((p) => p[name]));
    const c = cost(name, base);
    const over = name === base ? ['', ''] : [`${pct(median(c))} over ${base}`, c.map(pct).join(', ')];
    console.log(`| ${name} | ${t.toFixed(2)} | ${(n / t / 1000).toFixed(0)} | ${over[0]} | ${over[1]} |`);
  }
}
