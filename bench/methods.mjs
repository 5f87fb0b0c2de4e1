// The methods the benchmark compares. Each `setup(data)` loads what it needs (outside the timed
// region) and returns `run()`, one fused forward+backward over the data that returns the mean loss
// and leaves the gradient readable, plus `grad0()` (the gradient's first element, for the check).
// `data` holds the same seeded inputs for every method: logits/targets, or probabilities/targets.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { bceWithLogitsModel } from './onnx-graph.mjs';
import { naiveLogits, naiveProbabilities } from './naive.mjs';

export { makeData } from './data.mjs';

const require = createRequire(import.meta.url);

// The built package (dist/) by path: bench/ is a package of its own (bench/package.json, the peers).
async function bceWasm(build) {
  const bce = await import('../dist/index.js');
  if (build === 'scalar') bce.initSync(readFileSync(new URL('../dist/bce_wasm_scalar.wasm', import.meta.url)));
  else await bce.init();
  return bce;
}

/** A bce-wasm method: `kind` logits or probabilities, `zeroCopy` WasmBuffers or Float32Arrays. */
function bceWasmMethod(kind, zeroCopy, build = 'simd128') {
  return async ({ x, y, n }) => {
    const bce = await bceWasm(build);
    const fn =
      kind === 'logits' ? bce.binaryCrossEntropyWithLogitsForwardBackward : bce.binaryCrossEntropyForwardBackward;
    if (zeroCopy) {
      const bx = bce.createBuffer(x);
      const by = bce.createBuffer(y);
      const bg = bce.createBuffer(n);
      const options = { gradOut: bg };
      return { run: () => fn(bx, by, options).loss, grad0: () => bg.view[0] };
    }
    const g = new Float32Array(n);
    const options = { gradOut: g };
    return { run: () => fn(x, y, options).loss, grad0: () => g[0] };
  };
}

async function tfjs(backend, { x, y, n }) {
  // The union package: tfjs-core with every gradient registered, and the CPU backend.
  const tf = await import('@tensorflow/tfjs');
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dist + '/');
  }
  await tf.setBackend(backend);
  await tf.ready();
  const tx = tf.tensor1d(x);
  const ty = tf.tensor1d(y);
  const valueAndGrad = tf.valueAndGrad((logits) =>
    tf.losses.sigmoidCrossEntropy(ty, logits, undefined, 0, tf.Reduction.MEAN),
  );
  let g = new Float32Array(0);
  return {
    name: `${tf.getBackend()}`,
    run: () => {
      const { value, grad } = valueAndGrad(tx);
      const loss = value.dataSync()[0];
      g = grad.dataSync();
      value.dispose();
      grad.dispose();
      return loss;
    },
    grad0: () => g[0],
  };
}

const sessions = new Map();

async function ort(runtime, threads, { x, y, n }) {
  const ortModule = runtime === 'node' ? (await import('onnxruntime-node')).default : await import('onnxruntime-web');
  if (runtime === 'web') {
    ortModule.env.wasm.numThreads = threads;
    ortModule.env.wasm.simd = true;
  }
  // One session per process: N is a dynamic dimension and 1 / N an input.
  const key = `${runtime}/${threads}`;
  if (!sessions.has(key)) {
    sessions.set(
      key,
      await ortModule.InferenceSession.create(bceWithLogitsModel(), {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      }),
    );
  }
  const session = sessions.get(key);
  const feeds = {
    x: new ortModule.Tensor('float32', x, [n]),
    y: new ortModule.Tensor('float32', y, [n]),
    inv_n: new ortModule.Tensor('float32', new Float32Array([1 / n]), []),
  };
  let g = new Float32Array(0);
  return {
    async: true,
    run: async () => {
      const out = await session.run(feeds);
      g = out.grad.data;
      return out.loss.data[0];
    },
    grad0: () => g[0],
  };
}

/**
 * The memory floor: a WebAssembly f32x4 loop that reads two arrays and writes one (out = x + y),
 * built here with binaryen's JS API. No kernel that streams the same data can beat it.
 */
async function floor({ x, y, n }) {
  const binaryen = (await import('binaryen')).default;
  const m = new binaryen.Module();
  m.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128);
  const pages = Math.ceil((n * 12 + 64) / 65536) + 1;
  m.setMemory(pages, 65536, 'memory');
  const { i32 } = binaryen;
  const get = (k) => m.local.get(k, i32);
  // params: x, y, out, bytes; local 4: i
  const body = m.block(null, [
    m.local.set(4, m.i32.const(0)),
    m.loop(
      'l',
      m.block(null, [
        m.v128.store(
          0,
          16,
          m.i32.add(get(2), get(4)),
          m.f32x4.add(m.v128.load(0, 16, m.i32.add(get(0), get(4))), m.v128.load(0, 16, m.i32.add(get(1), get(4)))),
        ),
        m.local.set(4, m.i32.add(get(4), m.i32.const(16))),
        m.br('l', m.i32.lt_u(get(4), get(3))),
      ]),
    ),
  ]);
  m.addFunction('stream', binaryen.createType([i32, i32, i32, i32]), binaryen.none, [i32], body);
  m.addFunctionExport('stream', 'stream');
  if (!m.validate()) throw new Error('floor module does not validate');
  const { instance } = await WebAssembly.instantiate(m.emitBinary(), {});
  const { stream, memory } = instance.exports;
  const bytes = n * 4;
  new Float32Array(memory.buffer, 0, n).set(x);
  new Float32Array(memory.buffer, bytes, n).set(y);
  const out = new Float32Array(memory.buffer, 2 * bytes, n);
  // No loss here: the check compares the stream's output instead (out[0] = x[0] + y[0]).
  return { floor: true, run: () => (stream(0, bytes, 2 * bytes, (bytes + 15) & ~15), NaN), grad0: () => out[0] };
}

/** name -> [kind of data, setup]. */
export const METHODS = {
  'naive JS, logits': ['logits', async ({ x, y, n }) => {
    const g = new Float32Array(n);
    return { run: () => naiveLogits(x, y, g), grad0: () => g[0] };
  }],
  'naive JS, probabilities': ['probabilities', async ({ x, y, n }) => {
    const g = new Float32Array(n);
    return { run: () => naiveProbabilities(x, y, g), grad0: () => g[0] };
  }],
  'bce-wasm, logits, zero-copy': ['logits', bceWasmMethod('logits', true)],
  'bce-wasm, logits, arrays': ['logits', bceWasmMethod('logits', false)],
  'bce-wasm, probabilities, zero-copy': ['probabilities', bceWasmMethod('probabilities', true)],
  'bce-wasm, probabilities, arrays': ['probabilities', bceWasmMethod('probabilities', false)],
  'bce-wasm scalar build, logits, zero-copy': ['logits', bceWasmMethod('logits', true, 'scalar')],
  'bce-wasm scalar build, probabilities, zero-copy': ['probabilities', bceWasmMethod('probabilities', true, 'scalar')],
  'TF.js CPU, logits': ['logits', (d) => tfjs('cpu', d)],
  'TF.js WASM (SIMD), logits': ['logits', (d) => tfjs('wasm', d)],
  'onnxruntime-node, 1 thread, logits': ['logits', (d) => ort('node', 1, d)],
  'onnxruntime-node, 2 threads, logits': ['logits', (d) => ort('node', 2, d)],
  'onnxruntime-web (WASM), logits': ['logits', (d) => ort('web', 1, d)],
  'WASM memory floor (2 in, 1 out)': ['logits', floor],
};

/** The float64 reference of the mean loss and of the first gradient element (docs/semantics.md). */
export function reference(kind, x, y) {
  const n = x.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (kind === 'logits') sum += (1 - yi) * xi - (Math.min(xi, 0) - Math.log1p(Math.exp(-Math.abs(xi))));
    else sum -= yi * Math.max(Math.log(xi), -100) + (1 - yi) * Math.max(Math.log1p(-xi), -100);
  }
  const x0 = x[0];
  const y0 = y[0];
  const grad0 =
    kind === 'logits'
      ? (1 / (1 + Math.exp(-x0)) - y0) / n
      : (x0 - y0) / Math.max((1 - x0) * x0, 1e-12) / n;
  return { loss: sum / n, grad0 };
}
