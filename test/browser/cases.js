// Parity cases shared by Node and the browser: the same seeded inputs through every kernel, results
// returned as bit patterns (so -0 and every last bit compare exactly). NaNs are mapped to one
// pattern: WebAssembly leaves the sign and payload of a NaN result to the engine and instruction.

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAN = 0x7fc00000;
const bits32 = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer), (b, i) => (Number.isNaN(a[i]) ? NAN : b));
const bits64 = (v) => (Number.isNaN(v) ? [NAN] : Array.from(new Uint32Array(new Float64Array([v]).buffer)));

/** Runs every case with the bce-wasm module `bce` (initialized); returns { name: bits }. */
export function runCases(bce) {
  const next = rng(2024);
  const out = {};
  const edges = [0, -0, 1, -1, 1e-45, -1e-45, 1e-40, 88.7, -88.7, 103.9, -103.9, 1e4, -1e4, Infinity, -Infinity, NaN];
  const wide = Float32Array.from({ length: 1001 }, () => (next() - 0.5) * 60);
  const x = Float32Array.from([...edges, ...wide]);
  out.sigmoid = bits32(bce.sigmoid(x));
  out.logSigmoid = bits32(bce.logSigmoid(x));
  for (const n of [1, 3, 4, 5, 67, 1000]) {
    const z = Float32Array.from({ length: n }, () => (next() - 0.5) * 30);
    const p = Float32Array.from({ length: n }, () => next());
    const y = Float32Array.from({ length: n }, () => (next() < 0.3 ? next() : next() < 0.5 ? 0 : 1));
    for (const reduction of ['mean', 'sum', 'none']) {
      const w = n % 3 === 0 ? [0.5, 1, 2] : undefined;
      const a = bce.binaryCrossEntropyForwardBackward(p, y, { reduction, weight: w, gradOutput: 0.75 });
      const b = bce.binaryCrossEntropyWithLogitsForwardBackward(z, y, { reduction, weight: w, posWeight: [2.5] });
      const c = bce.binaryCrossEntropyWithLogitsForwardBackward(z, y, { reduction });
      for (const [k, r] of Object.entries({ bce: a, logitsPos: b, logits: c })) {
        out[`${k}/${n}/${reduction}/loss`] = typeof r.loss === 'number' ? bits64(r.loss) : bits32(r.loss);
        out[`${k}/${n}/${reduction}/grad`] = bits32(r.grad);
      }
    }
  }
  try {
    bce.binaryCrossEntropy([0.5, 0.5, 0.5, 0.5, 0.5, 2], [1, 1, 1, 1, 1, 1]);
    out.rangeError = 'no error';
  } catch (e) {
    out.rangeError = `${e.name}: ${e.message}`;
  }
  return out;
}
