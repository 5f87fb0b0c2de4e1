// node scripts/hoist-constants.mjs IN.wasm OUT.wasm [--enable-relaxed-simd]
//
// Rewrites a built module so that every function sets each distinct `v128.const` it uses into a new
// local at its entry and reads that local at every use. Same instructions, same results; only where V8
// materialises the constants changes.
//
// Why: newer V8 (its Turboshaft wasm pipeline; seen in Node 24 and 26 and Chromium 156, while Node 22
// still behaves like Node 20) emits a `v128.const` where it is used, two 64-bit immediate moves and a
// shuffle (about four instructions) each time, inside the kernels' loops; Turbofan (Node 20) scheduled
// them before the loop. A local that is set before the loop is computed
// there once (and spilled, then reloaded with one instruction where registers run out). wasm-opt
// folds such locals back into constants (precompute, local propagation), so this must run after it.
import { readFileSync, writeFileSync } from 'node:fs';
import binaryen from 'binaryen';
import { classOf, features, forEachChild } from './binaryen-ir.mjs';

const [input, output, ...flags] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node scripts/hoist-constants.mjs IN.wasm OUT.wasm [--enable-relaxed-simd]');
  process.exit(2);
}

const bytesIn = readFileSync(input);
const module = binaryen.readBinary(bytesIn);
module.setFeatures(features(flags.includes('--enable-relaxed-simd')));
const v128 = binaryen.v128;
let hoisted = 0;
let uses = 0;
let functionsChanged = 0;

for (let f = 0; f < module.getNumFunctions(); f++) {
  const func = module.getFunctionByIndex(f);
  if (binaryen.getFunctionInfo(func).module !== '') continue; // an import: no body
  /** hex of the 16 bytes -> local index */
  const locals = new Map();
  const order = [];
  let nextLocal = binaryen.Function.getNumLocals(func);

  /** The replacement for `expr` when it is a v128 constant, else 0 (and its operands are visited). */
  const visit = (expr) => {
    if (classOf(expr) === 'Const') {
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
    forEachChild(expr, (child, replace) => {
      const replacement = visit(child);
      if (replacement) replace(replacement);
    });
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
const bytesOut = module.emitBinary();
writeFileSync(output, bytesOut);
console.log(
  `hoist-constants: ${hoisted} constants (${uses} uses) into locals in ${functionsChanged} functions, ` +
    `${bytesIn.length} -> ${bytesOut.length} bytes`,
);
module.dispose();
