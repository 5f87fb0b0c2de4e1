// npm run demo: the seed walk-through (PyTorch's nn.BCELoss rebuilt by hand), then a real workload:
// logistic regression trained with the fused BCE-with-logits forward+backward on zero-copy buffers.
import {
  binaryCrossEntropy,
  binaryCrossEntropyBackward,
  binaryCrossEntropyWithLogitsBackward,
  binaryCrossEntropyWithLogitsForwardBackward,
  createBuffer,
  init,
  sigmoid,
} from 'bce-wasm';

await init();

const matrix = (a, digits = 4, cols = 3) => {
  const rows = [];
  for (let r = 0; r < a.length / cols; r++) {
    const row = Array.from(a.slice(r * cols, r * cols + cols), (v) => v.toFixed(digits).padStart(digits + 4));
    rows.push(`  [${row.join(',')}]`);
  }
  return rows.join('\n');
};

// ---- 1. The seed walk-through --------------------------------------------------------------------
const input = [1.9072, 1.1079, 1.4906, -0.6584, -0.0512, 0.7608, -0.0614, 0.6583, 0.1095];
const target = [0, 1, 1, 1, 1, 1, 0, 0, 0];

console.log('== The seed walk-through: nn.Sigmoid then nn.BCELoss on a 3x3 input ==\n');
console.log('input (logits):\n' + matrix(input));
console.log('target:\n' + matrix(target, 0));
const probs = sigmoid(input);
console.log('sigmoid(input):\n' + matrix(probs));

// The tutorial's hand computation: Python's math.log on the 4-digit sigmoid values.
const four = Array.from(probs, (p) => Number(p.toFixed(4)));
let terms = 0;
for (let i = 0; i < 9; i++) terms += target[i] * Math.log(four[i]) + (1 - target[i]) * Math.log(1 - four[i]);
console.log(`\nby hand, from the 4-digit values: -sum(y log x + (1 - y) log(1 - x)) / 9 = ${-terms / 9}`);
console.log(`bce-wasm on the same 4-digit values:                            ${binaryCrossEntropy(four, target)}`);

const loss = binaryCrossEntropy(probs, target);
console.log(`\nbinaryCrossEntropy(sigmoid(input), target) = ${loss}`);
console.log(`PyTorch prints:                              tensor(${loss.toFixed(4)}, grad_fn=<BinaryCrossEntropyBackward0>)`);

console.log('\nd loss / d sigmoid(input) (binaryCrossEntropyBackward):\n' + matrix(binaryCrossEntropyBackward(probs, target)));
console.log(
  'd loss / d input, what input.grad holds after loss.backward() (binaryCrossEntropyWithLogitsBackward):\n' +
    matrix(binaryCrossEntropyWithLogitsBackward(input, target)),
);

// ---- 2. A real workload: logistic regression ----------------------------------------------------
// Synthetic data: x ~ N(0, 1)^D, y ~ Bernoulli(sigmoid(x . w_true + b_true)). The model's logits are
// written straight into a WasmBuffer, the fused kernel writes the gradient into another, and the
// weight gradient is X^T grad: no copies into or out of WebAssembly memory.
const N = 1 << 18;
const D = 16;
const BATCH = 1 << 14;
const EPOCHS = 8;

let seed = 12345;
const uniform = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return (seed + 0.5) / 2 ** 32;
};
const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());

const wTrue = Float64Array.from({ length: D }, () => normal());
const bTrue = -0.5;
const X = Float32Array.from({ length: N * D }, normal);
const Y = new Float32Array(N);
const trueLogits = new Float32Array(N);
for (let i = 0; i < N; i++) {
  let z = bTrue;
  for (let j = 0; j < D; j++) z += X[i * D + j] * wTrue[j];
  trueLogits[i] = z;
  Y[i] = uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
}
const floor = binaryCrossEntropyWithLogitsForwardBackward(trueLogits, Y).loss;

console.log(`\n== Logistic regression: ${N} samples x ${D} features, batches of ${BATCH}, Adam ==\n`);
console.log(`loss of the true model (the floor): ${floor.toFixed(5)}\n`);

const w = new Float64Array(D);
let b = 0;
const m = new Float64Array(D + 1);
const v = new Float64Array(D + 1);
const lr = 0.05;
let step = 0;
const logits = createBuffer(BATCH);
const targets = createBuffer(BATCH);
const grad = createBuffer(BATCH);
let kernelMs = 0;
let kernelElements = 0;
const t0 = performance.now();

for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  let epochLoss = 0;
  for (let start = 0; start < N; start += BATCH) {
    const z = logits.view;
    targets.view.set(Y.subarray(start, start + BATCH));
    for (let i = 0; i < BATCH; i++) {
      const row = (start + i) * D;
      let s = b;
      for (let j = 0; j < D; j++) s += X[row + j] * w[j];
      z[i] = s;
    }
    const k0 = performance.now();
    const r = binaryCrossEntropyWithLogitsForwardBackward(logits, targets, { gradOut: grad });
    kernelMs += performance.now() - k0;
    kernelElements += BATCH;
    epochLoss += r.loss * BATCH;

    // d loss / d w = X^T grad, d loss / d b = sum(grad); then one Adam step.
    const g = grad.view;
    const gw = new Float64Array(D + 1);
    for (let i = 0; i < BATCH; i++) {
      const row = (start + i) * D;
      const gi = g[i];
      for (let j = 0; j < D; j++) gw[j] += X[row + j] * gi;
      gw[D] += gi;
    }
    step++;
    for (let j = 0; j <= D; j++) {
      m[j] = 0.9 * m[j] + 0.1 * gw[j];
      v[j] = 0.999 * v[j] + 0.001 * gw[j] * gw[j];
      const update = (lr * (m[j] / (1 - 0.9 ** step))) / (Math.sqrt(v[j] / (1 - 0.999 ** step)) + 1e-8);
      if (j < D) w[j] -= update;
      else b -= update;
    }
  }
  console.log(`epoch ${epoch}: mean loss ${(epochLoss / N).toFixed(5)}`);
}
const totalMs = performance.now() - t0;

let err = 0;
for (let j = 0; j < D; j++) err = Math.max(err, Math.abs(w[j] - wTrue[j]));
console.log(`\nlearned vs true weights: max |w - w_true| = ${err.toFixed(3)}, b = ${b.toFixed(3)} (true ${bTrue})`);
console.log(
  `fused forward+backward: ${kernelElements} elements in ${kernelMs.toFixed(1)} ms = ` +
    `${(kernelElements / kernelMs / 1000).toFixed(0)} M elements/s ` +
    `(${((100 * kernelMs) / totalMs).toFixed(1)}% of the ${totalMs.toFixed(0)} ms training time; the rest is X w and X^T g in JS)`,
);
for (const buf of [logits, targets, grad]) buf.free();
