// node scripts/schedule-loops.mjs IN.wasm OUT.wasm [--enable-relaxed-simd] [--min-ops N] [--window N]
//   [--per-function N] [--exports NAME,...] [--report]
//
// Reorders the straight-line code inside loops for newer V8 (its Turboshaft wasm pipeline: Node 24
// and 26, Chromium 156; Node 22 still behaves like Node 20), which compiles wasm operations in the
// order they come, with no instruction scheduling. LLVM emits each block of four elements as a few
// deep expression trees, one after the other. The kernels' loops are latency-bound (exp, log and a
// division in a chain) and an out-of-order CPU only looks so far ahead, so the four independent
// blocks of a loop iteration overlap little. (Turbofan, Node 20's compiler, schedules itself.)
//
// In each loss kernel (`--exports NAME[!][:K],...`, default DEFAULT_EXPORTS below: the two plain
// kernels, the two kernels of the options and the focal loss's), the longest run of simple
// statements in a loop (`local.set`, stores; the operations in them pure arithmetic, loads,
// `local.get`/`tee`): the fused forward+backward loop, which the loss alone also runs (in the logits
// kernels behind the test that sends an iteration with x = -inf to the per-block path, so inside a
// one-armed `if`). With `NAME!`, runs that every iteration runs, i.e. not inside an `if` of the
// loop, come first: in the focal loss (`bce_sigmoid_focal_loss!`), the two blocks of a pair up to
// the branch on gamma (the branch's non-integral side, exp and log of both, is longer but runs for
// non-integral gamma only). Only that one (`K`, default `--per-function 1`) and only there:
// scheduled code is about twice the size gzipped, and test/web-entry.test.ts allows the default
// entry 40 KiB. Measured costs (gzipped): the plain kernels' gradient-only loops 695 B, the options'
// loops 1,364 B, the focal loss's 560 B (its non-integral side would cost about 800 B more). Runs
// under `--min-ops` (default 64) operations are left alone.
//  1. flatten: every operation's result goes to a local of its own, in evaluation order;
//  2. rename locals that the run sets more than once (all but the last set), so that only true
//     dependencies remain: a value's uses after its definition, stores in order with every other
//     memory access and trapping operation, loads free among themselves;
//  3. list-schedule: of the operations whose operands are computed, the one on the longest latency
//     path to the end of the run first (float add/mul 3 cycles, division 11, loads 5, integer and
//     logic 1), looking at most `--window` operations (default 1000) ahead of the original order;
//     while `--pressure` (default 24; 0: off) v128 values are live, the one that leaves the fewest
//     live first (the operands it reads last, less the value it makes), then by that path;
//  4. fold back into trees wherever a value is used right after it is computed (stack order), which
//     keeps the scheduled order exactly;
//  5. map the run's own locals onto as few as the order allows (smaller code, compresses better).
// The operations themselves are not changed, so results are bit-identical; the parity tests check.
// Runs after wasm-opt (which would re-nest the code) and after hoist-constants.mjs.
import { readFileSync, writeFileSync } from 'node:fs';
import binaryen from 'binaryen';
import { classOf, features, forEachChild } from './binaryen-ir.mjs';

const args = process.argv.slice(2);
const [input, output] = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--min-ops', '--window', '--per-function', '--exports'].includes(args[i - 1])));
if (!input || !output) {
  console.error('usage: node scripts/schedule-loops.mjs IN.wasm OUT.wasm [--enable-relaxed-simd] [--min-ops N] [--window N] [--per-function N] [--exports NAME,...] [--report]');
  process.exit(2);
}
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const MIN_OPS = option('--min-ops', 64);
const WINDOW = option('--window', 1000);
const PRESSURE = option('--pressure', 24);
const PER_FUNCTION = option('--per-function', 1);
const DEFAULT_EXPORTS = 'bce_binary_cross_entropy,bce_binary_cross_entropy_with_logits,bce_binary_cross_entropy_options,bce_binary_cross_entropy_with_logits_options,bce_sigmoid_focal_loss!';
// The functions to schedule, by export name: the loss kernels.
// `NAME:K` schedules the K longest runs of that one (default `--per-function`).
// `NAME!`: runs that every iteration executes first (see the header), for the focal loss.
// Each export's name -> [K, whether runs every iteration executes come first].
const EXPORT_RUNS = new Map(
  (args.includes('--exports') ? args[args.indexOf('--exports') + 1] : DEFAULT_EXPORTS).split(',').map((spec) => {
    const [name, k] = spec.split(':');
    return [name.replace(/!$/, ''), [Number(k ?? PER_FUNCTION), name.endsWith('!')]];
  }),
);
const EXPORTS = [...EXPORT_RUNS.keys()];
const B = binaryen;

/** Classes that may appear inside a simple statement (besides its top). */
const PURE = new Set(['LocalGet', 'Const', 'GlobalGet', 'Unary', 'Binary', 'Select', 'SIMDExtract', 'SIMDReplace',
  'SIMDShuffle', 'SIMDTernary', 'SIMDShift']);
const LOADS = new Set(['Load', 'SIMDLoad']);
const STORES = new Set(['Store', 'SIMDLoadStoreLane']);

/** The text name of a flat operation ('f32x4.mul'), from binaryen's printer (cached per class/op). */
const opNames = new Map();
function opName(e) {
  const cls = classOf(e);
  const op = B[cls].getOp ? B[cls].getOp(e) : -1;
  const key = `${cls}:${op}`;
  let name = opNames.get(key);
  if (name === undefined) {
    name = B.emitText(e).match(/^\(([\w.]+)/)?.[1] ?? cls;
    opNames.set(key, name);
  }
  return name;
}

/** Cycles from an operation's issue to its result (a generic x64 core with AVX). */
function latency(e) {
  const cls = classOf(e);
  if (cls === 'LocalGet' || cls === 'Const' || cls === 'GlobalGet') return 0;
  if (LOADS.has(cls)) return 5;
  if (STORES.has(cls)) return 1;
  const name = opName(e);
  if (/^f(32x4|64x2|32|64)\.div/.test(name)) return 11;
  if (/^f(32x4|64x2|32|64)\.sqrt/.test(name)) return 14;
  if (/relaxed_n?madd/.test(name)) return 4;
  if (/^f(32x4|64x2|32|64)\.(add|sub|mul|eq|ne|lt|gt|le|ge)/.test(name)) return 3;
  if (/convert|promote|demote|trunc|floor|ceil|nearest/.test(name)) return 4;
  if (/bitselect|splat|extract_lane|replace_lane/.test(name)) return 2;
  return 1;
}

/** Whether an operation may trap (then it keeps its place among memory accesses). */
function mayTrap(e) {
  const cls = classOf(e);
  if (cls !== 'Unary' && cls !== 'Binary') return false;
  const name = opName(e);
  return /^i(32|64)\.(div|rem)/.test(name) || (/^i(32|64)\.trunc_f/.test(name) && !/_sat_/.test(name));
}

/** Whether a statement is simple (see above); counts its operations into `ops.n`. */
function isSimple(stmt, ops) {
  const cls = classOf(stmt);
  let top;
  if (cls === 'LocalSet' && !B.LocalSet.isTee(stmt)) top = [B.LocalSet.getValue(stmt)];
  else if (STORES.has(cls)) {
    if (cls === 'SIMDLoadStoreLane' && !B.SIMDLoadStoreLane.isStore(stmt)) return false;
    top = [];
    forEachChild(stmt, (c) => top.push(c));
    ops.n++;
  } else return false;
  const ok = (e) => {
    const c = classOf(e);
    if (c === 'Block') {
      // A sequence as a value (wasm-opt makes them): simple statements, then the value.
      if (B.Block.getName(e)) return false;
      const k = B.Block.getNumChildren(e);
      if (k === 0) return false;
      for (let i = 0; i < k - 1; i++) if (!isSimple(B.Block.getChildAt(e, i), ops)) return false;
      return ok(B.Block.getChildAt(e, k - 1));
    }
    if (c === 'LocalSet') {
      if (!B.LocalSet.isTee(e)) return false;
    } else if (!PURE.has(c) && !LOADS.has(c)) return false;
    if (c !== 'LocalGet' && c !== 'Const' && c !== 'GlobalGet' && c !== 'LocalSet') ops.n++;
    let good = true;
    forEachChild(e, (child) => (good = good && ok(child)));
    return good;
  };
  return top.every(ok);
}

function scheduleFunction(module, func, count, unconditionalFirst, stats) {
  /** Locals made here: read only inside their run. */
  const fresh = new Set();
  /** The locals that `coalesce` hands out (some of `fresh`). */
  const pooled = new Set();
  const newLocal = (type) => {
    const index = B._BinaryenFunctionAddVar(func, type);
    fresh.add(index);
    return index;
  };

  /** Flattens `stmt` into `out` (a list of flat statements) in evaluation order. */
  function flattenStatement(stmt, out) {
    // Locals that a tee inside the statement writes: a read of one of them is copied where it is
    // evaluated (the operation that uses it comes later, after sets that flattening moved before it).
    const teed = new Set();
    const findTees = (e) => {
      if (classOf(e) === 'LocalSet') teed.add(B.LocalSet.getIndex(e));
      forEachChild(e, findTees);
    };
    forEachChild(stmt, findTees); // not the statement's own set: that comes last anyway
    /** Makes `e`'s operands local.gets or constants (emitting their computation), returns `e`. */
    const flatOp = (e) => {
      forEachChild(e, (child, replace) => replace(operand(child)));
      return e;
    };
    /** An operand for `e`: a constant, or a local.get of a local that holds its value. */
    const operand = (e) => {
      const cls = classOf(e);
      if (cls === 'Block') {
        const k = B.Block.getNumChildren(e);
        for (let i = 0; i < k - 1; i++) flattenStatement(B.Block.getChildAt(e, i), out);
        return operand(B.Block.getChildAt(e, k - 1));
      }
      if (cls === 'Const') return e;
      if (cls === 'LocalGet' && !teed.has(B.LocalGet.getIndex(e))) return e;
      const type = B.getExpressionType(e);
      if (cls === 'LocalSet') {
        // A tee: set the local, then read it into a copy (a later tee may set it again before the
        // operation that uses this value).
        const index = B.LocalSet.getIndex(e);
        out.push(module.local.set(index, value(B.LocalSet.getValue(e))));
        return operand(module.local.get(index, type));
      }
      const t = newLocal(type);
      out.push(module.local.set(t, flatOp(e)));
      return module.local.get(t, type);
    };
    /** A flat value for a set: an operation on operands, a local.get or a constant. */
    const value = (e) => (classOf(e) === 'LocalSet' || classOf(e) === 'Block' ? operand(e) : flatOp(e));
    if (classOf(stmt) === 'LocalSet') {
      B.LocalSet.setValue(stmt, value(B.LocalSet.getValue(stmt)));
    } else {
      flatOp(stmt);
    }
    out.push(stmt);
  }

  /** Dependency graph, list schedule and stack-order folding of one run of flat statements. */
  function scheduleRun(stmts) {
    const items = stmts.map((s) => {
      const isSet = classOf(s) === 'LocalSet';
      const value = isSet ? B.LocalSet.getValue(s) : s;
      const cls = classOf(value);
      const gets = cls === 'LocalGet' ? [value] : [];
      forEachChild(value, (c) => classOf(c) === 'LocalGet' && gets.push(c));
      return {
        s,
        def: isSet ? B.LocalSet.getIndex(s) : -1,
        type: isSet ? B.getExpressionType(value) : B.none,
        gets,
        load: LOADS.has(cls),
        ordered: STORES.has(cls) || mayTrap(value),
        lat: latency(value),
      };
    });
    const n = items.length;
    // Rename every set of a local but the last; reads follow.
    const lastDef = new Map();
    items.forEach((it, i) => it.def >= 0 && lastDef.set(it.def, i));
    const current = new Map();
    items.forEach((it, i) => {
      for (const g of it.gets) {
        const L = B.LocalGet.getIndex(g);
        if (current.has(L)) B.LocalGet.setIndex(g, current.get(L));
      }
      if (it.def < 0) return;
      if (lastDef.get(it.def) !== i) {
        const t = newLocal(it.type);
        B.LocalSet.setIndex(it.s, t);
        current.set(it.def, t);
        it.def = t;
        stats.renamed++;
      } else current.delete(it.def);
    });
    // Dependencies.
    const preds = items.map(() => new Set());
    const defAt = new Map();
    const readers = new Map(); // local -> statements that read its incoming value
    let lastOrdered = -1;
    const loadsSince = [];
    const operands = items.map(() => new Set()); // the statements whose values it reads
    items.forEach((it, i) => {
      for (const g of it.gets) {
        const L = B.LocalGet.getIndex(g);
        if (defAt.has(L)) {
          preds[i].add(defAt.get(L));
          operands[i].add(defAt.get(L));
        } else {
          if (!readers.has(L)) readers.set(L, []);
          readers.get(L).push(i);
        }
      }
      if (it.def >= 0) {
        for (const r of readers.get(it.def) ?? []) if (r !== i) preds[i].add(r);
        if (defAt.has(it.def)) preds[i].add(defAt.get(it.def));
        defAt.set(it.def, i);
      }
      if (it.ordered) {
        if (lastOrdered >= 0) preds[i].add(lastOrdered);
        for (const l of loadsSince) preds[i].add(l);
        loadsSince.length = 0;
        lastOrdered = i;
      } else if (it.load) {
        if (lastOrdered >= 0) preds[i].add(lastOrdered);
        loadsSince.push(i);
      }
    });
    const succs = items.map(() => []);
    preds.forEach((ps, i) => ps.forEach((p) => succs[p].push(i)));
    // Priority: the longest latency path from the operation to the end of the run.
    const height = new Array(n).fill(0);
    for (let i = n - 1; i >= 0; i--) {
      let h = 0;
      for (const s of succs[i]) h = Math.max(h, height[s]);
      height[i] = h + items[i].lat;
    }
    // List scheduling: of the operations whose operands are computed, the one with the longest path
    // to the end of the run, but only from the next WINDOW statements of the original order (from
    // the oldest not yet placed). LLVM's order keeps few values live at once (it evaluates trees
    // depth first); the window bounds how far the schedule strays from it, and so how many values
    // are live at once for x64's 16 vector registers. Measured on Node 24 (fused passes, 1M
    // elements; a logits quad is about 575 statements, the pairs of the other loops fewer than
    // 480): a window of 160-320 gains less than 480; since the logits loops send x = -inf to the
    // per-block path, a window covering their whole quad (the default, the same as none) runs the
    // plain logits pass in 0.89x the time of 480 on Node 24 and 26, and its mask loop in 0.92x
    // (Node 20 and 22, which schedule themselves, unchanged); the other loops are the same at
    // either. Turboshaft allocates registers in the order given, and the critical-path order left
    // about 200 spill reloads in a logits quad of 1,050 x64 instructions (perf annotate, Node 24):
    // so while PRESSURE vector values are live, the pick is the candidate that leaves the fewest live
    // (ties by height). bench:engines, fastest of 9 rounds, M elements/s at 1M, critical path only ->
    // pressure 16 / 20 / 24: logits Node 24 297 -> 321 / 327 / 328, Node 26 322 -> 327 / 340 / 337,
    // Chromium 295 -> 318 / 328 / 323; probabilities Node 24 264 -> 302 / 294 / 304, Node 26 280 ->
    // 307 / 299 / 307; Node 20 the same (287 and 231 each); 64 elements the same or up to 7% faster.
    const order = [];
    const placed = new Array(n + 1).fill(false);
    const waiting = preds.map((p) => p.size);
    const ready = new Set();
    for (let i = 0; i < n; i++) if (!waiting[i]) ready.add(i);
    let oldest = 0;
    const isVec = items.map((it) => it.type === B.v128);
    const usesLeft = items.map(() => 0);
    operands.forEach((ops) => ops.forEach((d) => usesLeft[d]++));
    let live = 0;
    const delta = (r) => (isVec[r] && usesLeft[r] > 0 ? 1 : 0) - [...operands[r]].filter((d) => isVec[d] && usesLeft[d] === 1).length;
    while (order.length < n) {
      while (placed[oldest]) oldest++;
      let pick = oldest; // always ready: its predecessors come before it
      const tight = PRESSURE > 0 && live >= PRESSURE;
      let dPick = tight ? delta(pick) : 0;
      for (const r of ready) {
        if (r >= oldest + WINDOW) continue;
        const dr = tight ? delta(r) : 0;
        if (dr < dPick || (dr === dPick && (height[r] > height[pick] || (height[r] === height[pick] && r < pick)))) {
          pick = r;
          dPick = dr;
        }
      }
      placed[pick] = true;
      ready.delete(pick);
      order.push(pick);
      for (const d of operands[pick]) if (--usesLeft[d] === 0 && isVec[d]) live--;
      if (isVec[pick] && usesLeft[pick] > 0) live++;
      for (const s of succs[pick]) if (--waiting[s] === 0) ready.add(s);
    }
    // Fold in stack order: a local that only this run reads, read once, by the statement right
    // after its set.
    const reads = new Map();
    for (const it of items) for (const g of it.gets) {
      const L = B.LocalGet.getIndex(g);
      reads.set(L, (reads.get(L) ?? 0) + 1);
    }
    const out = [];
    for (const k of order) {
      const stmt = items[k].s;
      const host = classOf(stmt) === 'LocalSet' ? B.LocalSet.getValue(stmt) : stmt;
      const operands = [];
      forEachChild(host, (c, replace) => operands.push([c, replace]));
      for (let j = operands.length - 1; j >= 0 && out.length; j--) {
        const [c, replace] = operands[j];
        if (classOf(c) !== 'LocalGet') continue;
        const L = B.LocalGet.getIndex(c);
        const top = out[out.length - 1];
        if (classOf(top) !== 'LocalSet' || B.LocalSet.getIndex(top) !== L) continue;
        if (!fresh.has(L) || reads.get(L) !== 1) continue;
        replace(B.LocalSet.getValue(top));
        out.pop();
        stats.folded++;
      }
      out.push(stmt);
    }
    coalesce(out);
    return out;
  }

  /** Locals (by type) that `coalesce` hands out; reused from run to run. */
  const pool = new Map();

  /**
   * Maps this run's own locals (each set once and read only in the run) onto as few locals as the
   * final order allows (linear scan): smaller and more repetitive code, which compresses well.
   */
  function coalesce(stmts) {
    const first = new Map();
    const last = new Map();
    const type = new Map();
    const refs = new Map();
    const note = (e, pos) => {
      const cls = classOf(e);
      if (cls === 'LocalGet' || cls === 'LocalSet') {
        const L = cls === 'LocalGet' ? B.LocalGet.getIndex(e) : B.LocalSet.getIndex(e);
        if (fresh.has(L) && !pooled.has(L)) {
          if (!first.has(L)) first.set(L, pos);
          last.set(L, pos);
          type.set(L, cls === 'LocalGet' ? B.getExpressionType(e) : B.getExpressionType(B.LocalSet.getValue(e)));
          if (!refs.has(L)) refs.set(L, []);
          refs.get(L).push(e);
        }
      }
      forEachChild(e, (c) => note(c, pos));
    };
    stmts.forEach((s, pos) => note(s, pos));
    const byStart = [...first.keys()].sort((a, b) => first.get(a) - first.get(b));
    const active = []; // [end, local, type]
    const free = new Map(); // type -> locals
    const used = new Map(); // type -> how many pool locals this run has taken
    for (const L of byStart) {
      const start = first.get(L);
      for (let k = active.length - 1; k >= 0; k--) {
        if (active[k][0] <= start) {
          const [, local, t] = active[k];
          if (!free.has(t)) free.set(t, []);
          free.get(t).push(local);
          active.splice(k, 1);
        }
      }
      const t = type.get(L);
      let local = free.get(t)?.pop();
      if (local === undefined) {
        if (!pool.has(t)) pool.set(t, []);
        const n = used.get(t) ?? 0;
        if (n === pool.get(t).length) {
          const index = newLocal(t);
          pooled.add(index);
          pool.get(t).push(index);
        }
        local = pool.get(t)[n];
        used.set(t, n + 1);
      }
      active.push([last.get(L), local, t]);
      for (const e of refs.get(L)) {
        if (classOf(e) === 'LocalGet') B.LocalGet.setIndex(e, local);
        else B.LocalSet.setIndex(e, local);
      }
    }
  }

  /** The runs of simple statements in loops: { block, stmts, ops, cond } (cond: inside an `if` of the loop). */
  const runs = [];

  /** Collects the runs of simple statements in the children of `block` (`cond`: inside an `if` of a loop). */
  function collectRuns(block, cond) {
    const count = B.Block.getNumChildren(block);
    let run = [];
    let ops = { n: 0 };
    const flush = () => {
      if (run.length && ops.n >= MIN_OPS) runs.push({ block, stmts: run, ops: ops.n, cond });
      run = [];
      ops = { n: 0 };
    };
    for (let i = 0; i < count; i++) {
      const c = B.Block.getChildAt(block, i);
      const before = ops.n;
      if (isSimple(c, ops)) run.push(c);
      else {
        ops.n = before;
        flush();
        walk(c, true, cond);
      }
    }
    flush();
  }

  /** Finds the blocks inside loops and collects their runs (`cond`: below an `if` inside a loop). */
  function walk(e, inLoop, cond = false) {
    const cls = classOf(e);
    if (cls === 'Block') {
      if (inLoop) return collectRuns(e, cond);
      const count = B.Block.getNumChildren(e);
      for (let i = 0; i < count; i++) walk(B.Block.getChildAt(e, i), false);
      return;
    }
    if (cls === 'Loop') {
      const body = B.Loop.getBody(e);
      if (classOf(body) !== 'Block') B.Loop.setBody(e, module.block(null, [body], B.getExpressionType(body)));
      return walk(B.Loop.getBody(e), true);
    }
    forEachChild(e, (child) => walk(child, inLoop, cond || (inLoop && cls === 'If')));
  }

  walk(B.Function.getBody(func), false);
  // The longest run of each function only (in the loss kernels: the fused forward+backward loop);
  // with `NAME!`, runs that every iteration executes before those inside an `if` of the loop.
  const first = unconditionalFirst ? (x, y) => x.cond - y.cond : () => 0;
  const chosen = runs.sort((x, y) => first(x, y) || y.ops - x.ops).slice(0, count);
  for (const { block, stmts, ops } of chosen) {
    const children = [];
    for (let i = 0; i < B.Block.getNumChildren(block); i++) children.push(B.Block.getChildAt(block, i));
    const start = children.indexOf(stmts[0]);
    const flat = [];
    for (const st of stmts) flattenStatement(st, flat);
    children.splice(start, stmts.length, ...scheduleRun(flat));
    B.Block.setChildren(block, children);
    stats.runs++;
    stats.ops += ops;
    if (args.includes('--report')) console.log(`  ${B.getFunctionInfo(func).name}: run of ${ops} operations`);
  }
  if (args.includes('--report')) {
    for (const r of runs.slice(count)) console.log(`  (not scheduled: a run of ${r.ops} operations${r.cond ? ', inside an if' : ''})`);
  }
  // Drop the locals that coalescing left unused (V8's baseline compiler zeroes every declared local
  // on entry) and number the most used first (one-byte indices).
  if (fresh.size) module.runPassesOnFunction(func, ['reorder-locals']);
}

const bytesIn = readFileSync(input);
const module = B.readBinary(bytesIn);
module.setFeatures(features(args.includes('--enable-relaxed-simd')));
const stats = { runs: 0, ops: 0, renamed: 0, folded: 0 };
const chosen = new Map();
for (let i = 0; i < module.getNumExports(); i++) {
  const e = B.getExportInfo(module.getExportByIndex(i));
  if (e.kind === B.ExternalFunction && EXPORTS.includes(e.name)) chosen.set(e.value, EXPORT_RUNS.get(e.name));
}
if (chosen.size !== EXPORTS.length) throw new Error(`schedule-loops: not all of ${EXPORTS} are exported functions`);
for (const [name, [count, unconditionalFirst]] of chosen) scheduleFunction(module, module.getFunction(name), count, unconditionalFirst, stats);
if (!module.validate()) throw new Error('schedule-loops: the rewritten module does not validate');
const bytesOut = module.emitBinary();
writeFileSync(output, bytesOut);
console.log(
  `schedule-loops: ${stats.runs} runs of ${stats.ops} operations scheduled (${stats.renamed} locals renamed, ` +
    `${stats.folded} values folded back), ${bytesIn.length} -> ${bytesOut.length} bytes`,
);
module.dispose();
