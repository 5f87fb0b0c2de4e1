// The benchmarks' seeded inputs, shared by Node (methods.mjs, engines.mjs) and the browser page of
// engines.mjs: no Node imports here.

/** Seeded inputs: logits in (-8, 8) or probabilities in (0.001, 0.999), and targets (70% hard, 30% soft). */
export function makeData(kind, n, seed = 1) {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = kind === 'logits' ? (rand() - 0.5) * 16 : 0.001 + 0.998 * rand();
    const r = rand();
    y[i] = r < 0.3 ? rand() : r < 0.65 ? 0 : 1;
  }
  return { x, y, n };
}
