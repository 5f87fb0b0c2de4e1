// What bench/options.mjs times, in a form that runs unchanged in Node and in a browser page (no Node
// imports): each option of issue 10 and the pass it is compared with, at 1M elements (WasmBuffers
// in, the gradient into a WasmBuffer, reduction 'mean'), rows interleaved round by round.

const n = 1 << 20;

/**
 * Runs every row `rounds` times, interleaved (each time: one call, then enough calls to last `minMs`
 * by `clock()`, in ms). Returns the rows as `[name, base]` (the row its cost is measured over) and
 * each row's times per call (ms), round by round.
 */
export function measureOptions(bce, { rounds = 9, clock = () => performance.now(), minMs = 20 } = {}) {
  const buf = (f) => {
    const b = bce.createBuffer(n);
    for (let i = 0; i < n; i++) b.view[i] = f(i);
    return b;
  };
  let s = 7;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const logits = buf(() => rnd() * 16 - 8);
  const probs = buf(() => rnd() * 0.98 + 0.01);
  const target = buf(() => (rnd() < 0.5 ? 0 : 1));
  const weight = buf(() => rnd() + 0.5);
  const gradOut = bce.createBuffer(n);
  const mask = Uint8Array.from({ length: n }, () => (rnd() < 0.8 ? 1 : 0));
  // The same mask in the module's memory: its bytes over a WasmBuffer (created last: a later
  // createBuffer could grow memory and detach the view).
  const maskBuffer = bce.createBuffer(n / 4);
  const wasmMask = new Uint8Array(maskBuffer.view.buffer, maskBuffer.view.byteOffset, n);
  wasmMask.set(mask);

  const rows = [];
  for (const [loss, x, fb] of [
    ['logits', logits, bce.binaryCrossEntropyWithLogitsForwardBackward],
    ['probabilities', probs, bce.binaryCrossEntropyForwardBackward],
  ]) {
    const run = (o) => () => fb(x, target, { gradOut, ...o });
    rows.push([`${loss}: plain`, run({}), `${loss}: plain`]);
    rows.push([`${loss}: labelSmoothing 0.1`, run({ labelSmoothing: 0.1 }), `${loss}: plain`]);
    rows.push([`${loss}: mask (80% kept), a Uint8Array`, run({ mask }), `${loss}: plain`]);
    rows.push([`${loss}: mask (80% kept), in WebAssembly memory`, run({ mask: wasmMask }), `${loss}: plain`]);
    rows.push([`${loss}: weight, 'mean'`, run({ weight }), `${loss}: weight, 'mean'`]);
    rows.push([`${loss}: weight, 'weightedMean'`, run({ weight, reduction: 'weightedMean' }), `${loss}: weight, 'mean'`]);
  }
  const focal = (gamma) => () => bce.sigmoidFocalLossForwardBackward(logits, target, { gradOut, reduction: 'mean', gamma });
  rows.push(['focal, gamma 2', focal(2), 'logits: plain']);
  rows.push(['focal, gamma 0.5', focal(0.5), 'logits: plain']);

  const times = Object.fromEntries(rows.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, f] of rows) {
      f();
      let k = 0;
      const t0 = clock();
      let ms;
      do {
        f();
        k++;
        ms = clock() - t0;
      } while (ms < minMs);
      times[name].push(ms / k);
    }
  }
  for (const b of [logits, probs, target, weight, gradOut, maskBuffer]) b.free();
  return { rows: rows.map(([name, , base]) => [name, base]), times };
}
