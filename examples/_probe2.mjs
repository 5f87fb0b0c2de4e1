import * as b from 'bce-wasm';
await b.init();
const n = 1 << 20;
const xs = b.createBuffer(n), out = b.createBuffer(n);
for (let i = 0; i < n; i++) xs.view[i] = 0.01 + 0.98 * ((i * 7919) % n) / n;
function time(f, reps = 40) { for (let i = 0; i < 5; i++) f(); const t = []; for (let i = 0; i < reps; i++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); } t.sort((a, b) => a - b); return t[t.length >> 1]; }
for (const [name, f] of [['exp', () => b.approximations.exp(xs, out)], ['log', () => b.approximations.log(xs, out)], ['log1p', () => b.approximations.log1p(xs, out)], ['sigmoid', () => b.sigmoid(xs, out)], ['logsigmoid', () => b.logSigmoid(xs, out)]]) {
  const t = time(f); console.log(name.padEnd(11), (n / t / 1e3).toFixed(0), 'M/s', (2.5e9 * t / 1e3 / n * 4).toFixed(1), 'cycles/vector @2.5GHz');
}
