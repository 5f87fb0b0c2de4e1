// node scripts/shift-entries.mjs IN.wasm OUT.wasm [KERNELS.d.ts]
//
// Adds, for each loss kernel's export NAME (ENTRIES below), an export NAME_b that calls NAME with the
// same arguments one wasm frame deeper: a function of its own that keeps one 64-bit value live across
// the call, so that its frame holds one 8-byte spill slot more than nothing. Same kernel, same
// results (bit for bit: NAME_b returns NAME's value minus 0 * that value, an exact +0, which leaves
// every value as it is, -0 and NaN included); only where
// the native stack sits when NAME runs moves, by 8 bytes modulo 16 on the V8 of Node 22, 24 and 26
// (measured with the stack pointer sampled by `perf record --user-regs=sp`; on Node 20 it moves by
// a multiple of 16, and the two entries run alike).
//
// Why: V8 spills the kernels' 16-byte vector values to slots aligned to 16 relative to the frame,
// and keeps JavaScript frames 8-byte aligned only, so a kernel called with the frame at 8 mod 16
// makes its spills straddle cache lines (and pages), up to twice its time (README, "Why single
// processes stray"). Neither JavaScript nor WebAssembly can read that alignment; the facade
// (ts/pass.ts, generalPass) times a call's first pieces through both entries and runs the rest
// through the faster one. With KERNELS.d.ts (wasm-bindgen's declarations, as build.sh copies them
// into ts/kernels.d.ts), the NAME_b declarations are appended to it.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import binaryen from 'binaryen';
import { features } from './binaryen-ir.mjs';

const ENTRIES = [
  'bce_binary_cross_entropy',
  'bce_binary_cross_entropy_options',
  'bce_binary_cross_entropy_with_logits',
  'bce_binary_cross_entropy_with_logits_options',
  'bce_sigmoid_focal_loss',
];

const [input, output, dts] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node scripts/shift-entries.mjs IN.wasm OUT.wasm [KERNELS.d.ts]');
  process.exit(2);
}
const module = binaryen.readBinary(readFileSync(input));
module.setFeatures(features(false));
const { i32, i64, f64 } = binaryen;
const declarations = [];
const declared = dts ? readFileSync(dts, 'utf8').split('\n') : [];
for (const name of ENTRIES) {
  const target = binaryen.getExportInfo(module.getExport(name)).value;
  const { params, results } = binaryen.getFunctionInfo(module.getFunction(target));
  if (results !== f64) throw new Error(`${name}: expected a kernel returning f64`);
  const types = binaryen.expandType(params);
  const kept = types.length; // the one local of its own: the first argument, widened
  const call = module.call(target, types.map((t, i) => module.local.get(i, t)), f64);
  const zero = module.f64.mul(module.f64.convert_u.i64(module.local.get(kept, i64)), module.f64.const(0));
  const body = module.block(null, [module.local.set(kept, module.i64.extend_u(module.local.get(0, i32))), module.f64.sub(call, zero)], f64);
  // (Idempotent: a module that has them already keeps them.)
  if (module.getExport(`${name}_b`) === 0) {
    module.addFunction(`${name}_b`, params, f64, [i64], body);
    module.addFunctionExport(`${name}_b`, `${name}_b`);
  }
  if (dts) {
    const line = declared.find((l) => l.startsWith(`export const ${name}: `));
    if (line === undefined) throw new Error(`${dts}: no declaration of ${name}`);
    declarations.push(line.replace(`export const ${name}: `, `export const ${name}_b: `));
  }
}
if (!module.validate()) throw new Error('shift-entries: the module does not validate');
writeFileSync(output, module.emitBinary());
if (dts) appendFileSync(dts, `${declarations.join('\n')}\n`);
