// npm run bench:options [-- --rounds R]
//
// The cost of each option of issue 10 over the plain fused pass of the same loss, at 1M elements
// (WasmBuffers in, the gradient into a WasmBuffer, reduction 'mean'): label smoothing, a mask (80%
// kept: the divisor's pre-pass over the mask included), 'weightedMean' with per-element weights
// (against 'mean' with the same weights: the pre-pass over the weights), and the focal loss (gamma 2
// and 0.5) against the plain logits pass. Rows are interleaved round by round; each figure is the
// median over rounds (each round: enough calls to last about 20 ms), so that the machine's noise
// hits all rows alike. Under the Node that runs it.

import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1]) || 9;
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const m = await import(dist + 'index.js');
await m.init();

const n = 1 << 20;
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

const rows = [];
for (const [loss, x, fb] of [
  ['logits', logits, m.binaryCrossEntropyWithLogitsForwardBackward],
  ['probabilities', probs, m.binaryCrossEntropyForwardBackward],
]) {
  const run = (o) => () => fb(x, target, { gradOut, ...o });
  rows.push([`${loss}: plain`, run({}), `${loss}: plain`]);
  rows.push([`${loss}: labelSmoothing 0.1`, run({ labelSmoothing: 0.1 }), `${loss}: plain`]);
  rows.push([`${loss}: mask (80% kept)`, run({ mask }), `${loss}: plain`]);
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
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(`Options at 1M elements, fused forward+backward, ms per call (median of ${ROUNDS} interleaved rounds, cpu clock), Node ${process.versions.node}:\n`);
console.log('| pass | ms | M elements/s | cost over |');
console.log('|---|---:|---:|---|');
for (const [name, , base] of rows) {
  const t = median(times.get(name));
  const b = median(times.get(base));
  const cost = name === base ? '' : `${((t / b - 1) * 100).toFixed(0)}% over ${base}`;
  console.log(`| ${name} | ${t.toFixed(2)} | ${(n / t / 1000).toFixed(0)} | ${cost} |`);
}
