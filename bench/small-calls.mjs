// npm run bench:small [-- --quick] [-- --processes P]
//
// Per-call overhead: the fused logits forward+backward (gradient written into a caller's array) and
// the forward alone, at 1, 4, 8, 16, 64, 256 and 1024 elements, against the naive JavaScript loop of
// naive.mjs doing the same work. The methods are interleaved round by round and each figure is the
// median over rounds of the time per call (each round: enough calls to last about 2 ms), so that the
// machine's noise hits all methods alike; ratios are naive time / bce-wasm time from the same run.
// Runs under the Node that runs it, then under every other Node binary it finds (NODE_BINARIES, a
// colon-separated list, or ~/.cache/bce-wasm/node-*/package/bin/node), each in P processes (default 3;
// 1 with --quick), and prints one table per Node, the cell-by-cell median of its processes, with every
// process's ratios at 64 elements, and the crossover: the smallest size at which bce-wasm beats the
// naive loop.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { otherNodes } from './nodes.mjs';
import { naiveLogits } from './naive.mjs';

const SIZES = [1, 4, 8, 16, 64, 256, 1024];
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 15 : 61;
// Processes per Node (see combine).
const PROCESSES = Number(process.argv[process.argv.indexOf('--processes') + 1]) || (quick ? 1 : 3);

if (process.argv.includes('--child')) {
  process.stdout.write(JSON.stringify(await measure()));
} else {
  const self = fileURLToPath(import.meta.url);
  const nodes = [process.execPath, ...otherNodes()];
  for (const node of nodes) {
    const args = [self, '--child', ...(quick ? ['--quick'] : [])];
    const runs = [];
    for (let p = 0; p < PROCESSES; p++) runs.push(JSON.parse(execFileSync(node, args, { encoding: 'utf8', maxBuffer: 1 << 24 })));
    print(combine(runs));
  }
}

/**
 * The median process: each cell the median over processes of their medians. V8 does not run every
 * process alike (now and then one runs the same kernel 15-20% slower from start to end, whatever the
 * round), so one process per Node can land a column well off; the ratios at 64 elements of every
 * process are printed too.
 */
function combine(runs) {
  const rows = runs[0].rows.map(({ n }, i) => {
    const ns = {};
    for (const k of Object.keys(runs[0].rows[i].ns)) ns[k] = median(runs.map((r) => r.rows[i].ns[k]));
    return { n, ns };
  });
  const at64 = runs.map((r) => r.rows.find((row) => row.n === 64).ns);
  return { node: runs[0].node, rows, at64 };
}

async function measure() {
  // The built package (dist/) by path: bench/ is a package of its own (bench/package.json).
  const bce = await import('../dist/index.js');
  await bce.init();
  const rows = [];
  for (const n of SIZES) {
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 4);
    const y = Float32Array.from({ length: n }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
    const g = new Float32Array(n);
    const X = bce.createBuffer(x);
    const Y = bce.createBuffer(y);
    const G = bce.createBuffer(n);
    const fb = bce.binaryCrossEntropyWithLogitsForwardBackward;
    const methods = {
      naive: () => naiveLogits(x, y, g),
      naiveForward: () => naiveForward(x, y),
      buffers: () => fb(X, Y, { gradOut: G }).loss,
      arrays: () => fb(x, y, { gradOut: g }).loss,
      forwardArrays: () => bce.binaryCrossEntropyWithLogits(x, y),
    };
    const names = Object.keys(methods);
    const inner = Math.max(1, Math.round(2e5 / (n + 50)));
    const samples = Object.fromEntries(names.map((k) => [k, []]));
    let sink = 0;
    for (let round = -3; round < ROUNDS; round++) {
      for (const k of names) {
        const f = methods[k];
        const t0 = performance.now();
        for (let i = 0; i < inner; i++) sink += f();
        const t = ((performance.now() - t0) * 1e6) / inner;
        if (round >= 0) samples[k].push(t);
      }
    }
    X.free();
    Y.free();
    G.free();
    const med = Object.fromEntries(names.map((k) => [k, median(samples[k])]));
    rows.push({ n, ns: med, sink: Number.isFinite(sink) });
  }
  return { node: process.version, rows };
}

function naiveForward(x, y) {
  const n = x.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    sum += (1 - y[i]) * xi - (Math.min(xi, 0) - Math.log1p(Math.exp(-Math.abs(xi))));
  }
  return sum / n;
}

function median(a) {
  const s = [...a].sort((p, q) => p - q);
  return s[s.length >> 1];
}

function print({ node, rows, at64 }) {
  console.log(
    `\nNode ${node}: ns per call (median of ${ROUNDS} interleaved rounds, median of ${at64.length} process${at64.length > 1 ? 'es' : ''}), ratio = naive / bce-wasm`,
  );
  console.log('| n | naive fwd+bwd | WasmBuffers | ratio | Float32Arrays | ratio | naive fwd | fwd, Float32Arrays | ratio |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { n, ns } of rows) {
    const r = (a, b) => (a / b).toFixed(2) + 'x';
    console.log(
      `| ${n} | ${ns.naive.toFixed(0)} | ${ns.buffers.toFixed(0)} | ${r(ns.naive, ns.buffers)} | ${ns.arrays.toFixed(0)} | ` +
        `${r(ns.naive, ns.arrays)} | ${ns.naiveForward.toFixed(0)} | ${ns.forwardArrays.toFixed(0)} | ${r(ns.naiveForward, ns.forwardArrays)} |`,
    );
  }
  if (at64.length > 1) {
    const each = (k, base) => at64.map((ns) => (ns[base] / ns[k]).toFixed(2) + 'x').join(' ');
    console.log(
      `at 64, each process: WasmBuffers ${each('buffers', 'naive')}; Float32Arrays ${each('arrays', 'naive')}; ` +
        `forward ${each('forwardArrays', 'naiveForward')}`,
    );
  }
  const cross = (k, base) => rows.find((row) => row.ns[k] < row.ns[base])?.n ?? 'none';
  console.log(
    `crossover (smallest n where bce-wasm is faster): WasmBuffers ${cross('buffers', 'naive')}, ` +
      `Float32Arrays ${cross('arrays', 'naive')}, forward ${cross('forwardArrays', 'naiveForward')}`,
  );
}
