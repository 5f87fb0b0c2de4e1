// npm run bench:options [-- --rounds R] [-- --processes P]
//
// The cost of each option of issue 10 over the plain fused pass of the same loss, at 1M elements
// (WasmBuffers in, the gradient into a WasmBuffer, reduction 'mean'): label smoothing, a mask (80%
// kept: the divisor's pre-pass over the mask included) from a JavaScript Uint8Array (copied into
// WebAssembly memory piece by piece, and once more by the pre-pass) and from a Uint8Array over the
// module's memory (read in place, as the data are), 'weightedMean' with per-element weights (against
// 'mean' with the same weights: the pre-pass over the weights), and the focal loss (gamma 2 and 0.5)
// against the plain logits pass. Rows are interleaved round by round; each figure is the median over
// rounds (each round: enough calls to last about 20 ms), so that the machine's noise hits all rows
// alike. Under the Node that runs it, in P processes (default 3): V8 now and then compiles a kernel
// slower for a whole process, which moves one process's costs by 10-40%. Each cost is the median of
// the processes' costs (their range after it); times are the median process's.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1]) || 9;
const PROCESSES = Number(args[args.indexOf('--processes') + 1]) || 3;
const n = 1 << 20;
if (!args.includes('--child')) {
  const self = fileURLToPath(import.meta.url);
  const runs = [];
  for (let p = 0; p < PROCESSES; p++) {
    runs.push(JSON.parse(execFileSync(process.execPath, [self, '--child', '--rounds', String(ROUNDS)], { encoding: 'utf8', maxBuffer: 1 << 24 })));
  }
  report(runs);
  process.exit(0);
}
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const m = await import(dist + 'index.js');
await m.init();

const buf = (f) => {
  const b = m.createBuffer(n);
  for (let i = 0; i < n; i++) b.view[i] = f(i);
  return b;
};
let s = 7;
const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
const logits = buf(() => rnd() * 16 - 8);
const probs = buf(() => rnd() * 0.98 + 0.01);
const target = buf(() => (rnd() < 0.5 ? 0 : 1));
const weight = buf(() => rnd() + 0.5);
const gradOut = m.createBuffer(n);
const mask = Uint8Array.from({ length: n }, () => (rnd() < 0.8 ? 1 : 0));
// The same mask in the module's memory: its bytes over a WasmBuffer (created last: a later
// createBuffer could grow memory and detach the view).
const maskBuffer = m.createBuffer(n / 4);
const wasmMask = new Uint8Array(maskBuffer.view.buffer, maskBuffer.view.byteOffset, n);
wasmMask.set(mask);

const rows = [];
for (const [loss, x, fb] of [
  ['logits', logits, m.binaryCrossEntropyWithLogitsForwardBackward],
  ['probabilities', probs, m.binaryCrossEntropyForwardBackward],
]) {
  const run = (o) => () => fb(x, target, { gradOut, ...o });
  rows.push([`${loss}: plain`, run({}), `${loss}: plain`]);
  rows.push([`${loss}: labelSmoothing 0.1`, run({ labelSmoothing: 0.1 }), `${loss}: plain`]);
  rows.push([`${loss}: mask (80% kept), a Uint8Array`, run({ mask }), `${loss}: plain`]);
  rows.push([`${loss}: mask (80% kept), in WebAssembly memory`, run({ mask: wasmMask }), `${loss}: plain`]);
  rows.push([`${loss}: weight, 'mean'`, run({ weight }), `${loss}: weight, 'mean'`]);
  rows.push([`${loss}: weight, 'weightedMean'`, run({ weight, reduction: 'weightedMean' }), `${loss}: weight, 'mean'`]);
}
const focal = (gamma) => () => m.sigmoidFocalLossForwardBackward(logits, target, { gradOut, reduction: 'mean', gamma });
rows.push(['focal, gamma 2', focal(2), 'logits: plain']);
rows.push(['focal, gamma 0.5', focal(0.5), 'logits: plain']);

const times = new Map(rows.map(([name]) => [name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, f] of rows) {
    f();
    let k = 0;
    const t0 = process.cpuUsage();
    let us;
    do {
      f();
      k++;
      const t = process.cpuUsage(t0);
      us = t.user + t.system;
    } while (us < 20_000);
    times.get(name).push(us / 1000 / k);
  }
}
process.stdout.write(JSON.stringify({ node: process.versions.node, rows: rows.map(([name, , base]) => [name, base]), times: Object.fromEntries(times) }));

function report(runs) {
  const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const { node, rows } = runs[0];
  // Per process: each row's median time, and its cost over its base row.
  const ms = runs.map((r) => Object.fromEntries(rows.map(([name]) => [name, median(r.times[name])])));
  const cost = (name, base) => ms.map((t) => t[name] / t[base] - 1);
  const pct = (c) => `${c >= 0 ? '+' : ''}${(c * 100).toFixed(0)}%`;
  console.log(`Options at 1M elements, fused forward+backward, ms per call (median of ${ROUNDS} interleaved rounds, cpu clock; ${runs.length} processes), Node ${node}:\n`);
  console.log('| pass | ms | M elements/s | cost over | (each process) |');
  console.log('|---|---:|---:|---|---|');
  for (const [name, base] of rows) {
    const t = median(ms.map((p) => p[name]));
    const c = cost(name, base);
    const over = name === base ? ['', ''] : [`${pct(median(c))} over ${base}`, c.map(pct).join(', ')];
    console.log(`| ${name} | ${t.toFixed(2)} | ${(n / t / 1000).toFixed(0)} | ${over[0]} | ${over[1]} |`);
  }
}
