// npm run bench:node [-- --quick]
//
// 1. The pool against the single thread: fused BCE-with-logits forward+backward (mean loss and
//    gradient) on 1M, 16M and 64M elements, inputs and gradient in SharedArrayBuffers (zero-copy to
//    the workers), medians after a warm-up long enough for the workers' optimizing compiler. The
//    single thread is measured both on the same shared arrays and on WasmBuffers (its zero-copy path).
// 2. The CLI scoring a 1 GiB .npy pair (two 512 MiB float32 files, 134M values each): elements per
//    second and peak memory (maximum resident set size, from /usr/bin/time).
// Writes bench/results/node-batches.{json,md}. --quick: 1M and 16M only, a 256 MiB pair.

import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
// The built package (dist/) by path: bench/ is a package of its own (bench/package.json).
import * as bce from '../dist/index.js';
import { createPool } from '../dist/node/pool.js';

const quick = process.argv.includes('--quick');
await bce.init();

function median(times) {
  const t = [...times].sort((a, b) => a - b);
  return t[t.length >> 1];
}

async function measure(f, { warmMs = 1500, reps = 15 } = {}) {
  const w0 = performance.now();
  while (performance.now() - w0 < warmMs) await f();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return median(t);
}

function fill(n) {
  let s = 7;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const x = new Float32Array(new SharedArrayBuffer(n * 4));
  const y = new Float32Array(new SharedArrayBuffer(n * 4));
  for (let i = 0; i < n; i++) {
    x[i] = (rand() - 0.5) * 16;
    y[i] = rand() < 0.5 ? 0 : 1;
  }
  return { x, y };
}

// 0. Where the pool starts to pay: plain (non-shared) Float32Arrays, copied into the pool's shared
//    scratch, against the single thread, every call forced through the pool.
const crossover = [];
{
  const forced = createPool({ threshold: 0 });
  for (const n of [16384, 65536, 262144, 1048576]) {
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 8);
    const y = Float32Array.from({ length: n }, (_, i) => i % 2);
    const g = new Float32Array(n);
    const single = await measure(() => bce.binaryCrossEntropyWithLogitsForwardBackward(x, y, { gradOut: g }), { warmMs: 800, reps: 101 });
    const pooled = await measure(() => forced.binaryCrossEntropyWithLogitsForwardBackward(x, y, { gradOut: g }), { warmMs: 800, reps: 101 });
    crossover.push({ n, singleUs: single * 1000, poolUs: pooled * 1000, ratio: single / pooled });
    console.log(`crossover n = ${n}: single ${(single * 1000).toFixed(0)} us, pool ${(pooled * 1000).toFixed(0)} us: ${(single / pooled).toFixed(2)}x`);
  }
  await forced.close();
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, date: new Date().toISOString() };
const pool = createPool();
const poolRows = [];
for (const n of quick ? [1 << 20, 1 << 24] : [1 << 20, 1 << 24, 1 << 26]) {
  const { x, y } = fill(n);
  const g = new Float32Array(new SharedArrayBuffer(n * 4));
  const bx = bce.createBuffer(x);
  const by = bce.createBuffer(y);
  const bg = bce.createBuffer(n);
  const reps = n >= 1 << 26 ? 7 : 15;
  const single = await measure(() => bce.binaryCrossEntropyWithLogitsForwardBackward(x, y, { gradOut: g }), { reps });
  const singleZero = await measure(() => bce.binaryCrossEntropyWithLogitsForwardBackward(bx, by, { gradOut: bg }), { reps });
  const pooled = await measure(() => pool.binaryCrossEntropyWithLogitsForwardBackward(x, y, { gradOut: g }), { reps });
  // The check: the pool's loss against the single thread's.
  const a = bce.binaryCrossEntropyWithLogitsForwardBackward(bx, by, { gradOut: bg }).loss;
  const b = (await pool.binaryCrossEntropyWithLogitsForwardBackward(x, y, { gradOut: g })).loss;
  for (const buf of [bx, by, bg]) buf.free();
  const row = {
    n,
    singleSharedMs: single,
    singleWasmBufferMs: singleZero,
    poolMs: pooled,
    speedupVsShared: single / pooled,
    speedupVsWasmBuffer: singleZero / pooled,
    lossRelDiff: Math.abs(a - b) / Math.abs(a),
  };
  poolRows.push(row);
  console.log(
    `pool ${pool.threads} threads, n = ${n}: single (shared arrays) ${(n / single / 1e3).toFixed(0)} M/s, ` +
      `single (WasmBuffers) ${(n / singleZero / 1e3).toFixed(0)} M/s, pool ${(n / pooled / 1e3).toFixed(0)} M/s: ` +
      `${row.speedupVsShared.toFixed(2)}x / ${row.speedupVsWasmBuffer.toFixed(2)}x (loss differs by ${row.lossRelDiff.toExponential(1)})`,
  );
}
await pool.close();

// ---- The CLI on a large .npy pair --------------------------------------------------------------
const values = quick ? 1 << 25 : 1 << 27; // 128 MiB or 512 MiB per file
const cols = 4;
const dir = join(tmpdir(), 'bce-wasm-bench');
mkdirSync(dir, { recursive: true });
function writeNpy(file, gen) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${values / cols}, ${cols}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  const fd = openSync(file, 'w');
  writeSync(fd, Buffer.concat([head, Buffer.from(header, 'latin1')]));
  const block = new Float32Array(1 << 20);
  for (let done = 0; done < values; done += block.length) {
    for (let i = 0; i < block.length; i++) block[i] = gen(done + i);
    writeSync(fd, new Uint8Array(block.buffer));
  }
  closeSync(fd);
}
const zFile = join(dir, 'logits.npy');
const yFile = join(dir, 'targets.npy');
writeNpy(zFile, (i) => Math.sin(i * 0.7) * 8);
writeNpy(yFile, (i) => ((i * 2654435761) >>> 0) % 3 === 0 ? 1 : 0);
const cli = new URL('../dist/node/cli.js', import.meta.url).pathname;
const report = join(dir, 'time.txt');
const t0 = performance.now();
const out = execFileSync('/usr/bin/time', ['-v', '-o', report, process.execPath, cli, 'score', zFile, yFile, '--logits', '--json', '--quiet'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
const seconds = (performance.now() - t0) / 1000;
const maxRssKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(report, 'utf8'))[1]);
const result = JSON.parse(out);
const cliRow = {
  bytes: 2 * (values * 4 + 128),
  values,
  seconds,
  elementsPerSecond: values / seconds,
  maxRssMiB: maxRssKiB / 1024,
  mean: result.mean,
};
console.log(
  `CLI: ${(cliRow.bytes / 2 ** 30).toFixed(2)} GiB pair, ${values} values: ${seconds.toFixed(2)} s, ` +
    `${(cliRow.elementsPerSecond / 1e6).toFixed(0)} M elements/s, peak memory ${cliRow.maxRssMiB.toFixed(0)} MiB (mean loss ${result.mean})`,
);
rmSync(dir, { recursive: true, force: true });

const md = [
  `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}${quick ? ' (quick mode)' : ''}.`,
  '',
  '| n | single thread, shared arrays | single thread, WasmBuffers | pool | speed-up vs shared arrays | vs WasmBuffers |',
  '|---:|---:|---:|---:|---:|---:|',
  ...poolRows.map(
    (r) =>
      `| ${r.n.toLocaleString('en')} | ${(r.n / r.singleSharedMs / 1e3).toFixed(0)} M/s | ${(r.n / r.singleWasmBufferMs / 1e3).toFixed(0)} M/s | ` +
      `${(r.n / r.poolMs / 1e3).toFixed(0)} M/s | **${r.speedupVsShared.toFixed(2)}x** | ${r.speedupVsWasmBuffer.toFixed(2)}x |`,
  ),
  '',
  'Where the pool starts to pay (plain Float32Arrays, copied into the pool\'s shared scratch; default threshold 65,536):',
  '',
  `| n | ${crossover.map((r) => r.n.toLocaleString('en')).join(' | ')} |`,
  `|---|${crossover.map(() => '---:').join('|')}|`,
  `| single thread | ${crossover.map((r) => `${r.singleUs.toFixed(0)} µs`).join(' | ')} |`,
  `| pool, every call pooled | ${crossover.map((r) => `${r.poolUs.toFixed(0)} µs (${r.ratio.toFixed(2)}x)`).join(' | ')} |`,
  '',
  `CLI (\`bce-wasm score --logits\`, ${cpus().length} threads): a ${(cliRow.bytes / 2 ** 30).toFixed(2)} GiB .npy pair ` +
    `(${values.toLocaleString('en')} float32 values per file) in ${seconds.toFixed(2)} s, ` +
    `**${(cliRow.elementsPerSecond / 1e6).toFixed(0)} M elements/s**, peak memory (max RSS) **${cliRow.maxRssMiB.toFixed(0)} MiB**.`,
  '',
].join('\n');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const prefix = quick ? 'quick-' : '';
writeFileSync(new URL(`./results/${prefix}node-batches.json`, import.meta.url), JSON.stringify({ machine, crossover, pool: poolRows, cli: cliRow }, null, 2) + '\n');
writeFileSync(new URL(`./results/${prefix}node-batches.md`, import.meta.url), md);
console.log('\n' + md);
