import * as b from 'bce-wasm';
import { makeData } from '../bench/methods.mjs';
await b.init();
const n = 1 << 20;
for (const kind of ['logits', 'probabilities']) {
  const { x, y } = makeData(kind, n);
  const bx = b.createBuffer(x), by = b.createBuffer(y), bg = b.createBuffer(n), bl = b.createBuffer(n);
  const time = (f, reps = 40) => { for (let i = 0; i < 5; i++) f(); const t = []; for (let i = 0; i < reps; i++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); } t.sort((a, b) => a - b); return t[t.length >> 1]; };
  const L = kind === 'logits';
  const fwd = L ? b.binaryCrossEntropyWithLogits : b.binaryCrossEntropy;
  const bwd = L ? b.binaryCrossEntropyWithLogitsBackward : b.binaryCrossEntropyBackward;
  const fb = L ? b.binaryCrossEntropyWithLogitsForwardBackward : b.binaryCrossEntropyForwardBackward;
  const r = (t) => (n / t / 1e3).toFixed(0).padStart(4);
  console.log(kind.padEnd(14), 'fwd', r(time(() => fwd(bx, by))), ' fwd none', r(time(() => fwd(bx, by, { reduction: 'none', out: bl }))), ' bwd', r(time(() => bwd(bx, by, { gradOut: bg }))), ' fused', r(time(() => fb(bx, by, { gradOut: bg }))), ' fused w', r(time(() => fb(bx, by, { gradOut: bg, weight: [1, 2, 3, 4] }))), L ? ' fused pos ' + r(time(() => fb(bx, by, { gradOut: bg, posWeight: [2] }))) : '');
}
