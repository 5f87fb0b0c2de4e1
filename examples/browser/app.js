// The demo page: every number and every curve comes from bce-wasm's kernels.
import * as bce from 'bce-wasm';
import { naiveLogits } from '/bench/naive.mjs';

await bce.init();
const $ = (id) => document.getElementById(id);
$('backend').textContent = `${bce.backend()} (WebAssembly SIMD ${bce.simdSupported() ? 'available' : 'not available'})`;

// ---- 1. The seed walk-through -------------------------------------------------------------------
const LOGITS = [1.9072, 1.1079, 1.4906, -0.6584, -0.0512, 0.7608, -0.0614, 0.6583, 0.1095];
const TARGET = [0, 1, 1, 1, 1, 1, 0, 0, 0];

function table(id, values, digits = 4, cols = 3) {
  const rows = [];
  for (let r = 0; r < values.length; r += cols) {
    const cells = Array.from(values.slice(r, r + cols), (v) => `<td>${Number(v).toFixed(digits)}</td>`);
    rows.push(`<tr>${cells.join('')}</tr>`);
  }
  $(id).innerHTML = rows.join('');
}

const probs = bce.sigmoid(LOGITS);
table('seed-input', LOGITS);
table('seed-sigmoid', probs);
table('seed-target', TARGET, 0);
let hand = 0;
for (let i = 0; i < 9; i++) {
  const p = Number(probs[i].toFixed(4));
  hand += TARGET[i] * Math.log(p) + (1 - TARGET[i]) * Math.log(1 - p);
}
$('seed-hand').textContent = String(-hand / 9);
const seedLoss = bce.binaryCrossEntropy(probs, TARGET);
$('seed-loss').textContent = String(seedLoss);
$('seed-torch').textContent = seedLoss.toFixed(4);
table('seed-grad-p', bce.binaryCrossEntropyBackward(probs, TARGET));
table('seed-grad-x', bce.binaryCrossEntropyWithLogitsBackward(LOGITS, TARGET));

// The same loss from a Web Worker (module worker, its own wasm instance).
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const workerLoss = new Promise((resolve) => (worker.onmessage = (e) => resolve(e.data)));
worker.postMessage({ logits: LOGITS, target: TARGET });
const seedP = $('seed-loss').parentElement;
seedP.insertAdjacentHTML('beforeend', '<br>The same in a Web Worker: <span id="worker-loss">…</span>');
workerLoss.then((v) => ($('worker-loss').textContent = String(v)));

// ---- 2. Plots -----------------------------------------------------------------------------------
const SVG = 'http://www.w3.org/2000/svg';

function plot(svg, series, { xmin, xmax, ymin, ymax, logY = false, xlabel, yticks }) {
  const W = +svg.getAttribute('width');
  const H = +svg.getAttribute('height');
  const m = { l: 46, r: 10, t: 10, b: 34 };
  const fy = logY ? (v) => Math.log10(v) : (v) => v;
  const X = (x) => m.l + ((x - xmin) / (xmax - xmin)) * (W - m.l - m.r);
  const Y = (y) => H - m.b - ((fy(Math.min(Math.max(y, ymin), ymax)) - fy(ymin)) / (fy(ymax) - fy(ymin))) * (H - m.t - m.b);
  const parts = [];
  for (const t of yticks) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${m.l - 4}" y="${Y(t) + 4}" font-size="10" text-anchor="end">${logY ? `1e${Math.log10(t)}` : t}</text>`);
  }
  for (const t of [xmin, (xmin + xmax) / 2, xmax]) {
    parts.push(`<text x="${X(t)}" y="${H - m.b + 14}" font-size="10" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 4}" font-size="11" text-anchor="middle">${xlabel}</text>`);
  let ly = m.t + 12;
  for (const s of series) {
    const pts = [];
    for (let i = 0; i < s.xs.length; i++) if (Number.isFinite(s.ys[i])) pts.push(`${X(s.xs[i]).toFixed(1)},${Y(s.ys[i]).toFixed(1)}`);
    parts.push(`<polyline class="curve" points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`);
    parts.push(`<text x="${m.l + 8}" y="${ly}" font-size="11" fill="${s.color}">${s.label}</text>`);
    ly += 14;
  }
  svg.innerHTML = parts.join('');
  svg.setAttribute('xmlns', SVG);
}

const grid = (a, b, n) => Float32Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
const zeros = (n) => new Float32Array(n);
const ones = (n) => new Float32Array(n).fill(1);

const P = grid(0, 1, 801);
const lossY0 = bce.binaryCrossEntropy(P, zeros(P.length), { reduction: 'none' });
const lossY1 = bce.binaryCrossEntropy(P, ones(P.length), { reduction: 'none' });
plot($('plot-loss'), [
  { xs: P, ys: lossY1, color: '#d62728', label: 'target 1: -max(log p, -100)' },
  { xs: P, ys: lossY0, color: '#1f77b4', label: 'target 0: -max(log(1 - p), -100)' },
  { xs: [0, 1], ys: [100, 100], color: '#999', dash: '4,4', label: 'the clamp: 100' },
], { xmin: 0, xmax: 1, ymin: 0, ymax: 110, xlabel: 'prediction p', yticks: [0, 25, 50, 75, 100] });

const Z = grid(-120, 120, 961);
const zs = bce.sigmoid(Z);
plot($('plot-logits'), [
  { xs: Z, ys: bce.binaryCrossEntropyWithLogits(Z, ones(Z.length), { reduction: 'none' }), color: '#d62728', label: 'with logits, target 1' },
  { xs: Z, ys: bce.binaryCrossEntropyWithLogits(Z, zeros(Z.length), { reduction: 'none' }), color: '#1f77b4', label: 'with logits, target 0' },
  { xs: Z, ys: bce.binaryCrossEntropy(zs, ones(Z.length), { reduction: 'none' }), color: '#ff9896', dash: '6,3', label: 'BCELoss(sigmoid z), target 1' },
  { xs: Z, ys: bce.binaryCrossEntropy(zs, zeros(Z.length), { reduction: 'none' }), color: '#9ecae1', dash: '6,3', label: 'BCELoss(sigmoid z), target 0' },
], { xmin: -120, xmax: 120, ymin: 0, ymax: 125, xlabel: 'logit z', yticks: [0, 25, 50, 75, 100, 125] });

const gY0 = bce.binaryCrossEntropyBackward(P, zeros(P.length), { reduction: 'none' }).map(Math.abs);
const gY1 = bce.binaryCrossEntropyBackward(P, ones(P.length), { reduction: 'none' }).map(Math.abs);
plot($('plot-grad'), [
  { xs: P, ys: gY1, color: '#d62728', label: 'target 1: (1 - p) / max(p (1 - p), 1e-12)' },
  { xs: P, ys: gY0, color: '#1f77b4', label: 'target 0: p / max(p (1 - p), 1e-12)' },
], { xmin: 0, xmax: 1, ymin: 1, ymax: 1e13, logY: true, xlabel: 'prediction p', yticks: [1, 1e3, 1e6, 1e9, 1e12] });

// ---- 3. Editable inputs -------------------------------------------------------------------------
const parse = (text) => text.split(/[\s,;\[\]]+/).filter(Boolean).map(Number);
$('edit-logits').value = '1.9072, 1.1079, 1.4906\n-0.6584, -0.0512, 0.7608\n-0.0614, 0.6583, 0.1095';
$('edit-target').value = '0, 1, 1\n1, 1, 1\n0, 0, 0';

function update() {
  const out = $('edit-out');
  try {
    const x = parse($('edit-logits').value);
    const y = parse($('edit-target').value);
    const pos = parse($('edit-pos').value);
    if (x.some(Number.isNaN) || y.some(Number.isNaN) || pos.some(Number.isNaN)) throw new TypeError('not a number in the input');
    const options = pos.length ? { posWeight: pos } : {};
    const s = bce.sigmoid(x);
    const { loss, grad } = bce.binaryCrossEntropyWithLogitsForwardBackward(x, y, options);
    const viaProbs = pos.length ? null : bce.binaryCrossEntropy(s, y);
    out.innerHTML =
      `<p>sigmoid: <code>${Array.from(s, (v) => v.toFixed(4)).join(', ')}</code><br>` +
      `BCEWithLogitsLoss (mean): <b id="edit-loss">${loss}</b>` +
      (viaProbs === null ? '' : ` &nbsp; BCELoss(sigmoid) (mean): <b>${viaProbs}</b>`) +
      `<br>d loss / d logits: <code>${Array.from(grad, (v) => v.toFixed(5)).join(', ')}</code></p>`;
  } catch (err) {
    out.innerHTML = `<p class="error" id="edit-error">${err.name}: ${err.message}</p>`;
  }
}
for (const id of ['edit-logits', 'edit-target', 'edit-pos']) $(id).addEventListener('input', update);
update();

// ---- 4. Focal loss, and the logits loss in its tails ---------------------------------------------
const GAMMAS = [0, 0.5, 1, 2, 5];
const GAMMA_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
// p_t from 0.001 to 0.999 (target 1, so p_t = sigmoid(logit)): the logits log(p_t / (1 - p_t)).
const PT = grid(0.001, 0.999, 999);
const PT_LOGITS = PT.map((p) => Math.log(p / (1 - p)));
const focalCurves = GAMMAS.map((gamma, k) => {
  const opts = { gamma, alpha: -1, reduction: 'none' };
  const { loss, grad } = bce.sigmoidFocalLossForwardBackward(PT_LOGITS, ones(PT.length), opts);
  return { gamma, color: GAMMA_COLORS[k], loss, grad };
});
plot($('plot-focal'), focalCurves.map((c) => ({ xs: PT, ys: c.loss, color: c.color, label: `gamma = ${c.gamma}` })),
  { xmin: 0, xmax: 1, ymin: 0, ymax: 5, xlabel: 'probability of the true class p_t', yticks: [0, 1, 2, 3, 4, 5] });
// The gradient reaches below -1 where p_t is small and gamma large (-ce gamma (1-p_t)^(gamma-1) p_t (1-p_t) adds to p_t - 1).
const gradMin = Math.floor(Math.min(...focalCurves.map((c) => Math.min(...c.grad))) * 4) / 4;
plot($('plot-focal-grad'), focalCurves.map((c) => ({ xs: PT, ys: c.grad, color: c.color, label: `gamma = ${c.gamma}` })),
  { xmin: 0, xmax: 1, ymin: gradMin, ymax: 0.05, xlabel: 'probability of the true class p_t',
    yticks: Array.from({ length: Math.round(-gradMin * 4) + 1 }, (_, i) => gradMin + i / 4) });

// F.binary_cross_entropy_with_logits(x, y, reduction='none') as torch 2.15.0 computes it in float32
// on the CPU (printed with .item()), beside ours and the true value (float64, no cancellation).
const TAIL = [
  [-17, 0, 0],
  [-25, 0, 0],
  [-40, 0, 0],
  [-90, 0, 0],
  [16, 1, 1.1253516873921399e-7],
  [30, 1, 9.357622912219837e-14],
  [-3, 0.9, 2.748587131500244],
];
const softplus = (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
const tailOurs = bce.binaryCrossEntropyWithLogits(TAIL.map((r) => r[0]), TAIL.map((r) => r[1]), { reduction: 'none' });
const ulpAt = (v) => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(v))), -126) - 23);
const tailRows = TAIL.map(([x, y, torch], i) => {
  const yf = Math.fround(y);
  const exact = (1 - yf) * softplus(x) + yf * softplus(-x);
  return { x, y, torch, ours: tailOurs[i], exact, ulps: Math.abs(tailOurs[i] - exact) / ulpAt(exact) };
});
const fmt = (v) => (v === 0 ? '0' : v.toPrecision(8));
$('tail-table').querySelector('tbody').innerHTML = tailRows.map((r) =>
  `<tr><td>${r.x}</td><td>${r.y}</td><td class="${r.torch === 0 ? 'zero' : ''}">${fmt(r.torch)}</td><td class="ours">${fmt(r.ours)}</td>` +
  `<td>${fmt(r.exact)}</td><td>${r.ulps.toFixed(2)} ulp</td></tr>`).join('');
window.__focal = {
  gammas: GAMMAS,
  // For the test: the logits plotted, and per gamma the loss and gradient there.
  logits: Array.from(PT_LOGITS),
  curves: focalCurves.map((c) => ({ gamma: c.gamma, loss: Array.from(c.loss), grad: Array.from(c.grad) })),
  tail: tailRows,
};

// ---- 5. In-page benchmark -----------------------------------------------------------------------
const N = 1 << 18;
$('bench-n').textContent = N.toLocaleString('en');
const bx = bce.createBuffer(N);
const by = bce.createBuffer(N);
const bg = bce.createBuffer(N);
const jx = new Float32Array(N);
const jy = new Float32Array(N);
const jg = new Float32Array(N);
for (let i = 0; i < N; i++) {
  jx[i] = Math.sin(i * 12.9898) * 8;
  jy[i] = (i * 7) % 3 === 0 ? 1 : 0;
}
bx.view.set(jx);
by.view.set(jy);

function median(f, reps) {
  // Warm up for half a second: V8 first runs WebAssembly with its baseline compiler and swaps in the
  // optimized code (compiled in the background) only after the function has run for a while.
  const w0 = performance.now();
  while (performance.now() - w0 < 500) f();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

async function bench() {
  $('bench-out').textContent = 'running…';
  await new Promise((r) => setTimeout(r, 30));
  const options = { gradOut: bg };
  const tw = median(() => bce.binaryCrossEntropyWithLogitsForwardBackward(bx, by, options), 15);
  const tj = median(() => naiveLogits(jx, jy, jg), 15);
  const lossW = bce.binaryCrossEntropyWithLogitsForwardBackward(bx, by, options).loss;
  const lossJ = naiveLogits(jx, jy, jg);
  const result = { wasmMps: N / tw / 1e3, jsMps: N / tj / 1e3, ratio: tj / tw, agree: Math.abs(lossW - lossJ) / lossJ };
  $('bench-out').innerHTML =
    `bce-wasm ${result.wasmMps.toFixed(0)} M elements/s, plain JavaScript ${result.jsMps.toFixed(0)} M elements/s: ` +
    `<span id="bench-ratio">${result.ratio.toFixed(1)}x</span> (losses agree to ${result.agree.toExponential(1)})`;
  window.__bench = result;
  return result;
}
$('bench-run').addEventListener('click', bench);

window.__demo = { seedLoss, workerLoss: await workerLoss };
document.body.dataset.ready = '1';
bench();
