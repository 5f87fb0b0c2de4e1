// node scripts/hoist-constants.mjs IN.wasm OUT.wasm [--enable-relaxed-simd]
//
// Rewrites a built module so that every function sets each distinct `v128.const` it uses into a new
// local at its entry and reads that local at every use. Same instructions, same results; only where V8
// materialises the constants changes.
//
// Why: V8's Turboshaft (the wasm compiler from Node 22 on) emits a `v128.const` where it is used, two
// 64-bit immediate moves and a shuffle (about four instructions) each time, inside the kernels' loops;
// Turbofan (Node 20) scheduled them before the loop. A local that is set before the loop is computed
// there once (and spilled, then reloaded with one instruction where registers run out). wasm-opt
// folds such locals back into constants (precompute, local propagation), so this must run after it.
//
// binaryen's JS API: a tree walk over every function body, replacing each v128 `Const` child in place
// by a `local.get`, and one block of `local.set`s before the old body.
import { readFileSync, writeFileSync } from 'node:fs';
import binaryen from 'binaryen';

const [input, output, ...flags] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node scripts/hoist-constants.mjs IN.wasm OUT.wasm [--enable-relaxed-simd]');
  process.exit(2);
}

const F = binaryen.Features;
// build.sh's wasm-opt feature list (its --enable-bulk-memory and --enable-reference-types imply the
// -opt and -overlong parts).
let features =
  F.MVP | F.SignExt | F.MutableGlobals | F.NontrappingFPToInt | F.BulkMemory | F.BulkMemoryOpt |
  F.Multivalue | F.ReferenceTypes | F.CallIndirectOverlong | F.SIMD128;
if (flags.includes('--enable-relaxed-simd')) features |= F.RelaxedSIMD;

// Expression classes and their expression-valued operands, by binaryen's accessor names (get/set + X).
// Everything the kernels can contain is listed; anything else stops the build rather than be skipped.
const SLOTS = {
  If: ['Condition', 'IfTrue', 'IfFalse'],
  Loop: ['Body'],
  Break: ['Condition', 'Value'],
  Switch: ['Condition', 'Value'],
  CallIndirect: ['Target'],
  LocalSet: ['Value'],
  GlobalSet: ['Value'],
  MemoryGrow: ['Delta'],
  Load: ['Ptr'],
  Store: ['Ptr', 'Value'],
  Unary: ['Value'],
  Binary: ['Left', 'Right'],
  Select: ['IfTrue', 'IfFalse', 'Condition'],
  Drop: ['Value'],
  Return: ['Value'],
  SIMDExtract: ['Vec'],
  SIMDReplace: ['Vec', 'Value'],
  SIMDShuffle: ['Left', 'Right'],
  SIMDTernary: ['A', 'B', 'C'],
  SIMDShift: ['Vec', 'Shift'],
  SIMDLoad: ['Ptr'],
  SIMDLoadStoreLane: ['Ptr', 'Vec'],
  MemoryInit: ['Dest', 'Offset', 'Size'],
  MemoryCopy: ['Dest', 'Source', 'Size'],
  MemoryFill: ['Dest', 'Value', 'Size'],
  TupleExtract: ['Tuple'],
};
// Classes with a list of operands: [count getter, getter, setter].
const LISTS = {
  Block: ['getNumChildren', 'getChildAt', 'setChildAt'],
  Call: ['getNumOperands', 'getOperandAt', 'setOperandAt'],
  CallIndirect: ['getNumOperands', 'getOperandAt', 'setOperandAt'],
  TupleMake: ['getNumOperands', 'getOperandAt', 'setOperandAt'],
};
const LEAVES = ['Nop', 'Unreachable', 'LocalGet', 'GlobalGet', 'Const', 'MemorySize', 'DataDrop', 'AtomicFence'];

const classById = new Map();
for (const name of [...Object.keys(SLOTS), ...Object.keys(LISTS), ...LEAVES]) {
  classById.set(binaryen[`${name}Id`], name);
}

const module = binaryen.readBinary(readFileSync(input));
module.setFeatures(features);
const v128 = binaryen.v128;
let hoisted = 0;
let uses = 0;
let functionsChanged = 0;

for (let f = 0; f < module.getNumFunctions(); f++) {
  const func = module.getFunctionByIndex(f);
  const info = binaryen.getFunctionInfo(func);
  if (info.module !== '') continue; // an import: no body
  /** hex of the 16 bytes -> local index */
  const locals = new Map();
  const order = [];
  let nextLocal = binaryen.Function.getNumLocals(func);

  /** The replacement for `expr` when it is a v128 constant, else 0 (and its operands are visited). */
  const visit = (expr) => {
    const name = classById.get(binaryen.getExpressionId(expr));
    if (name === undefined) {
      throw new Error(
        `hoist-constants: unhandled expression id ${binaryen.getExpressionId(expr)} in ${info.name}`,
      );
    }
    if (name === 'Const') {
      if (binaryen.getExpressionType(expr) !== v128) return 0;
      const bytes = binaryen.Const.getValueV128(expr);
      const key = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      let index = locals.get(key);
      if (index === undefined) {
        index = nextLocal++;
        locals.set(key, index);
        order.push([index, bytes]);
      }
      uses++;
      return module.local.get(index, v128);
    }
    const cls = binaryen[name];
    for (const slot of SLOTS[name] ?? []) {
      const child = cls[`get${slot}`](expr);
      if (!child) continue;
      const replacement = visit(child);
      if (replacement) cls[`set${slot}`](expr, replacement);
    }
    const list = LISTS[name];
    if (list) {
      const [count, get, set] = list;
      for (let i = 0; i < cls[count](expr); i++) {
        const replacement = visit(cls[get](expr, i));
        if (replacement) cls[set](expr, i, replacement);
      }
    }
    return 0;
  };

  const body = binaryen.Function.getBody(func);
  const replacement = visit(body);
  if (order.length === 0) continue;
  for (const [index] of order) {
    const added = binaryen._BinaryenFunctionAddVar(func, v128);
    if (added !== index) throw new Error(`hoist-constants: local ${added} where ${index} was expected`);
  }
  const sets = order.map(([index, bytes]) => module.local.set(index, module.v128.const(bytes)));
  const oldBody = replacement || body;
  binaryen.Function.setBody(func, module.block(null, [...sets, oldBody], binaryen.getExpressionType(oldBody)));
  hoisted += order.length;
  functionsChanged++;
}

if (!module.validate()) throw new Error('hoist-constants: the rewritten module does not validate');
writeFileSync(output, module.emitBinary());
console.log(
  `hoist-constants: ${hoisted} constants (${uses} uses) into locals in ${functionsChanged} functions, ` +
    `${readFileSync(input).length} -> ${readFileSync(output).length} bytes`,
);
module.dispose();
