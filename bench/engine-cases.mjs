// What bench/engines.mjs times under each engine, in a form that runs unchanged in Node and in a
// browser page (no Node imports): the fused forward+backward of both losses on WasmBuffers, at 1M and
// at 64 elements, on the seeded data of data.mjs.
import { makeData } from './data.mjs';

export const CASES = [
  ['logits', 1 << 20],
  ['probabilities', 1 << 20],
  ['logits', 64],
  ['probabilities', 64],
];

export const caseName = (kind, n) => `${kind} ${n >= 1 << 20 ? `${n / (1 << 20)}M` : n}`;

/**
 * Times every case once: a warm-up of `warmMs` (so that the optimising tier has taken over), then
 * `samples` samples of enough calls to last `sampleMs` each. Returns, per case, the median and the
 * fastest time per call (ms) and the mean loss (the same in every engine for a given build).
 * `clock()` is in ms: wall time by default; engines.mjs passes Node's CPU time when asked.
 */
export function measure(bce, { clock = () => performance.now(), samples = 15, warmMs = 250, sampleMs = 4 } = {}) {
  const results = {};
  for (const [kind, n] of CASES) {
    const { x, y } = makeData(kind, n);
    const bx = bce.createBuffer(x);
    const by = bce.createBuffer(y);
    const bg = bce.createBuffer(n);
    const fn =
      kind === 'logits' ? bce.binaryCrossEntropyWithLogitsForwardBackward : bce.binaryCrossEntropyForwardBackward;
    const options = { gradOut: bg };
    let loss = 0;
    let calls = 0;
    const w0 = performance.now();
    do {
      loss = fn(bx, by, options).loss;
      calls++;
    } while (calls < 3 || performance.now() - w0 < warmMs);
    const inner = Math.max(1, Math.round((sampleMs * calls) / (performance.now() - w0)));
    const times = [];
    for (let s = 0; s < samples; s++) {
      const t0 = clock();
      for (let k = 0; k < inner; k++) loss = fn(bx, by, options).loss;
      times.push((clock() - t0) / inner);
    }
    times.sort((a, b) => a - b);
    results[caseName(kind, n)] = { n, median: times[times.length >> 1], best: times[0], loss };
    bx.free();
    by.free();
    bg.free();
  }
  return { backend: bce.backend(), results };
}
