// npm run bench:alignment [-- --processes P] [-- --quick]
//
// How much a kernel's speed depends on where the caller's stack happens to be (README, "Why single
// processes stray"). V8 keeps JavaScript frames 8-byte aligned and spills 16-byte vector values to
// slots aligned relative to the WebAssembly frame: with the frame at 8 mod 16 some spills straddle a
// cache line, and where the frame also straddles a 4 KiB page, a page. Which one a call gets depends
// on the JavaScript frames above it, not on the data.
//
// Each fused pass (1M elements, WasmBuffers in, the gradient into a WasmBuffer, reduction 'mean') is
// called through a chain of 0 to 7 nested JavaScript calls (each frame of its own size), the depths
// interleaved round by round; each depth's figure is the median over rounds. Per pass it prints the
// fastest and the slowest depth and their ratio: the spread that the stack's alignment makes. Runs
// under the Node that runs it, then under every other Node binary it finds (NODE_BINARIES, a
// colon-separated list, or ~/.cache/bce-wasm/node-*/package/bin/node), each in P processes (default
// 3; 1 with --quick), and prints each process's ratio and their median.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { otherNodes } from './nodes.mjs';

const quick = process.argv.includes('--quick');
const PROCESSES = Number(process.argv[process.argv.indexOf('--processes') + 1]) || (quick ? 1 : 3);
const ROUNDS = quick ? 3 : 7;
const DEPTHS = 8;

if (process.argv.includes('--child')) {
  process.stdout.write(JSON.stringify(await measure()));
} else {
  const self = fileURLToPath(import.meta.url);
  for (const node of [process.execPath, ...otherNodes()]) {
    const runs = [];
    for (let p = 0; p < PROCESSES; p++) {
      runs.push(JSON.parse(execFileSync(node, [self, '--child', ...(quick ? ['--quick'] : [])], { encoding: 'utf8', maxBuffer: 1 << 24 })));
    }
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    console.log(`\nNode ${version}: ms per call at 1M elements, over call depths 0-${DEPTHS - 1} (${PROCESSES} process(es), ${ROUNDS} rounds each)\n`);
    console.log('| pass | fastest depth (ms) | slowest depth (ms) | slowest / fastest, each process | median |');
    console.log('|---|---:|---:|---|---:|');
    for (const name of Object.keys(runs[0])) {
      const per = runs.map((r) => r[name]);
      const ratios = per.map((d) => Math.max(...d) / Math.min(...d));
      const mid = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
      console.log(`| ${name} | ${mid(per.map((d) => Math.min(...d))).toFixed(2)} | ${mid(per.map((d) => Math.max(...d))).toFixed(2)} | ${ratios.map((r) => r.toFixed(2) + 'x').join(', ')} | ${mid(ratios).toFixed(2)}x |`);
    }
  }
}

/** Each pass's median time per call (ms) at each call depth. */
async function measure() {
  const bce = await import('../dist/index.js');
  await bce.init();
  const n = 1 << 20;
  let s = 7;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const buf = (f) => {
    const b = bce.createBuffer(n);
    for (let i = 0; i < n; i++) b.view[i] = f();
    return b;
  };
  const logits = buf(() => rnd() * 16 - 8);
  const probs = buf(() => rnd() * 0.98 + 0.01);
  const target = buf(() => (rnd() < 0.5 ? 0 : 1));
  const gradOut = bce.createBuffer(n);
  const maskBuffer = bce.createBuffer(n / 4); // created last: a later createBuffer could detach its bytes' view
  const mask = new Uint8Array(maskBuffer.view.buffer, maskBuffer.view.byteOffset, n);
  for (let i = 0; i < n; i++) mask[i] = rnd() < 0.8 ? 1 : 0;
  const passes = {
    'logits, plain': () => bce.binaryCrossEntropyWithLogitsForwardBackward(logits, target, { gradOut }),
    'probabilities, plain': () => bce.binaryCrossEntropyForwardBackward(probs, target, { gradOut }),
    'logits, mask in memory': () => bce.binaryCrossEntropyWithLogitsForwardBackward(logits, target, { gradOut, mask }),
    'focal, gamma 2': () => bce.sigmoidFocalLossForwardBackward(logits, target, { gradOut, reduction: 'mean' }),
  };
  // A chain of `d` calls, each frame holding a few values of its own, before the pass.
  const nest = (d, f, a = 0, b = 1) => (d === 0 ? f() : nest(d - 1, f, a + b, a * 2 + d) ?? a + b);
  const out = {};
  for (const [name, f] of Object.entries(passes)) {
    const times = Array.from({ length: DEPTHS }, () => []);
    for (let r = 0; r < ROUNDS; r++) {
      for (let d = 0; d < DEPTHS; d++) {
        nest(d, f);
        let calls = 0;
        const t0 = performance.now();
        let ms;
        do {
          nest(d, f);
          calls++;
          ms = performance.now() - t0;
        } while (ms < 20);
        times[d].push(ms / calls);
      }
    }
    out[name] = times.map((t) => t.sort((x, y) => x - y)[t.length >> 1]);
  }
  for (const b of [logits, probs, target, gradOut, maskBuffer]) b.free();
  return out;
}
