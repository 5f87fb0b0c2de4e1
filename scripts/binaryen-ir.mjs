// The part of binaryen's IR that the build's post-wasm-opt steps (hoist-constants.mjs,
// schedule-loops.mjs) walk: which expression classes hold which operands, read and written through
// binaryen's JS accessors (`binaryen.<Class>.get<Slot>` / `set<Slot>`). Anything else in a function
// stops the build (`classOf` throws) rather than be walked past.
import binaryen from 'binaryen';

/** Expression classes and their expression-valued operands, in evaluation order. */
export const SLOTS = {
  If: ['Condition', 'IfTrue', 'IfFalse'],
  Loop: ['Body'],
  Break: ['Value', 'Condition'],
  Switch: ['Value', 'Condition'],
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

/** Classes with a list of operands: [count getter, getter, setter] (after the SLOTS ones). */
export const LISTS = {
  Block: ['getNumChildren', 'getChildAt', 'setChildAt'],
  Call: ['getNumOperands', 'getOperandAt', 'setOperandAt'],
  CallIndirect: ['getNumOperands', 'getOperandAt', 'setOperandAt'],
  TupleMake: ['getNumOperands', 'getOperandAt', 'setOperandAt'],
};

export const LEAVES = ['Nop', 'Unreachable', 'LocalGet', 'GlobalGet', 'Const', 'MemorySize', 'DataDrop', 'AtomicFence'];

const classById = new Map();
for (const name of [...Object.keys(SLOTS), ...Object.keys(LISTS), ...LEAVES]) {
  classById.set(binaryen[`${name}Id`], name);
}

/** The class name of `expr` ('Binary', 'LocalGet', ...); throws for a class not listed above. */
export function classOf(expr) {
  const name = classById.get(binaryen.getExpressionId(expr));
  if (name === undefined) {
    throw new Error(`unhandled binaryen expression id ${binaryen.getExpressionId(expr)}: ${binaryen.emitText(expr).slice(0, 200)}`);
  }
  return name;
}

/**
 * Calls `visit(child, replace)` for each operand of `expr` in evaluation order; `replace(e)` puts
 * `e` in that operand's place.
 */
export function forEachChild(expr, visit) {
  const name = classOf(expr);
  const cls = binaryen[name];
  for (const slot of SLOTS[name] ?? []) {
    const child = cls[`get${slot}`](expr);
    if (child) visit(child, (e) => cls[`set${slot}`](expr, e));
  }
  const list = LISTS[name];
  if (list) {
    const [count, get, set] = list;
    for (let i = 0; i < cls[count](expr); i++) visit(cls[get](expr, i), (e) => cls[set](expr, i, e));
  }
}

/** build.sh's wasm-opt feature list (its --enable-bulk-memory and --enable-reference-types imply the
 * -opt and -overlong parts), plus relaxed SIMD when asked for. */
export function features(relaxedSimd) {
  const F = binaryen.Features;
  let f =
    F.MVP | F.SignExt | F.MutableGlobals | F.NontrappingFPToInt | F.BulkMemory | F.BulkMemoryOpt |
    F.Multivalue | F.ReferenceTypes | F.CallIndirectOverlong | F.SIMD128;
  if (relaxedSimd) f |= F.RelaxedSIMD;
  return f;
}
