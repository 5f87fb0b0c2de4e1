// The TypeScript view of the kernels' ABI against the real modules. `KernelExports` (dist/memory.d.ts)
// is typed from wasm-bindgen's declarations of the raw exports (dist/kernels.d.ts); the TypeScript
// compiler reads it here as the facade's code sees it, and every export it declares must exist in
// both builds with the declared kind (and, for a function, the declared number of parameters), and
// neither build may export anything it does not declare.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const dist = join(dirname(require.resolve('bce-wasm/package.json')), 'dist');

type Kind = WebAssembly.ImportExportKind;
interface Declared {
  kind: Kind;
  /** The number of parameters of a function. */
  arity?: number;
}

/** The members of `KernelExports` as the type checker resolves them: name, kind, arity. */
function declaredExports(): { exports: Map<string, Declared>; diagnostics: string[] } {
  const file = join(dist, 'memory.d.ts');
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts', 'lib.dom.d.ts'],
    types: [],
  });
  const diagnostics = ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const alias = checker
    .getExportsOfModule(checker.getSymbolAtLocation(source)!)
    .find((s) => s.name === 'KernelExports');
  if (alias === undefined) throw new Error('dist/memory.d.ts exports no KernelExports');
  const type = checker.getDeclaredTypeOfSymbol(alias);
  const exports = new Map<string, Declared>();
  for (const member of checker.getPropertiesOfType(type)) {
    const memberType = checker.getTypeOfSymbol(member);
    const calls = memberType.getCallSignatures();
    if (calls.length > 0) {
      expect(calls, `${member.name} has one signature`).toHaveLength(1);
      exports.set(member.name, { kind: 'function', arity: calls[0]!.getParameters().length });
      continue;
    }
    const name = checker.typeToString(memberType, undefined, ts.TypeFormatFlags.UseFullyQualifiedType);
    const kind = ({
      'WebAssembly.Memory': 'memory',
      'WebAssembly.Table': 'table',
      'WebAssembly.Global': 'global',
    } as Record<string, Kind>)[name];
    if (kind === undefined) throw new Error(`${member.name}: a type that is no wasm export: ${name}`);
    exports.set(member.name, { kind });
  }
  return { exports, diagnostics };
}

describe('ABI: KernelExports (typed from the generated declarations) = the modules\' exports', () => {
  const { exports: declared, diagnostics } = declaredExports();

  it('the declarations type-check and declare the memory and the kernels', () => {
    expect(diagnostics).toEqual([]);
    expect(declared.get('memory')).toEqual({ kind: 'memory' });
    const functions = [...declared].filter(([, d]) => d.kind === 'function');
    expect(functions.length).toBeGreaterThan(10);
    expect(functions.every(([name]) => name.startsWith('bce_'))).toBe(true);
  });

  it.each(['bce_wasm.wasm', 'bce_wasm_scalar.wasm'])('%s: every declared export, no undeclared one', (file) => {
    const module = new WebAssembly.Module(readFileSync(join(dist, file)));
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    const real = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
    const instance = new WebAssembly.Instance(module, {});
    const actual = new Map<string, Declared>();
    for (const [name, kind] of real) {
      const value = instance.exports[name];
      actual.set(name, kind === 'function' ? { kind, arity: (value as (...a: never[]) => unknown).length } : { kind });
    }
    const sorted = (m: Map<string, Declared>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
    expect(sorted(actual)).toEqual(sorted(declared));
  });
});

describe("each loss kernel's second entry (NAME_b, one wasm frame deeper: scripts/shift-entries.mjs)", () => {
  // The facade runs a call's pieces through either entry (whichever its first pieces ran faster
  // through): they must be the same kernel, results and outputs bit for bit, failures too.
  const f32 = (v: number) => Math.fround(v);
  const n = 37;
  const specials = [0, -0, 1, -1, 1e-45, -1e-45, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 88.9, -104, 0.5];
  // [kernel, arguments after (x, y, n): as in ts/pass.ts, pointers filled in below]
  type Args = (p: { x: number; y: number; w: number; g: number; loss: number; grad: number; m: number }) => number[];
  const cases: [string, boolean, Args][] = [
    ['bce_binary_cross_entropy', true, (p) => [p.w, n, 0, 0, 0, n, p.loss, p.grad, 0.95, 0.025, 7]],
    ['bce_binary_cross_entropy_options', true, (p) => [p.w, 3, 1, p.g, n, 1, p.loss, p.grad, 1, -0, p.m, 7]],
    ['bce_binary_cross_entropy_with_logits', false, (p) => [p.w, 3, 2, p.w, 3, 0, p.g, n, f32(0.3), p.loss, p.grad, 1, -0, 7]],
    ['bce_binary_cross_entropy_with_logits_options', false, (p) => [0, 0, 0, p.w, n, 0, 0, 0, n, p.loss, p.grad, 0.9, 0.05, p.m, 7]],
    ['bce_sigmoid_focal_loss', false, (p) => [p.w, 3, 0, p.g, n, 1, p.loss, p.grad, 1, -0, p.m, 0.25, 0.75, 2.5, 7]],
  ];
  it.each(['bce_wasm.wasm', 'bce_wasm_scalar.wasm'])('%s: every kernel, special values, a bad mask byte and a bad probability', (file) => {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(join(dist, file))), {});
    const k = instance.exports as Record<string, (...a: number[]) => number> & { memory: WebAssembly.Memory };
    const heap = () => new Float32Array(k.memory.buffer);
    const bytes = () => new Uint8Array(k.memory.buffer);
    const at = k.bce_alloc(4 * n * 8);
    const p = { x: at, y: at + 4 * n, w: at + 8 * n, g: at + 12 * n, loss: at + 16 * n, grad: at + 20 * n, m: at + 24 * n };
    for (const [name, probabilities, args] of cases) {
      for (const bad of ['none', 'mask', 'input'] as const) {
        for (let i = 0; i < n; i++) {
          const v = specials[i % specials.length]!;
          heap()[p.x / 4 + i] = probabilities ? (i % 5) / 4 : v;
          heap()[p.y / 4 + i] = probabilities ? ((i * 7) % 9) / 8 : (i % 3) / 2;
          heap()[p.w / 4 + i] = specials[(i * 5) % specials.length]!;
          heap()[p.g / 4 + i] = (i % 4) - 1.5;
          bytes()[p.m + i] = i % 3 === 0 ? 0 : 1;
        }
        if (bad === 'mask') bytes()[p.m + 20] = 2;
        if (bad === 'input') heap()[p.x / 4 + 31] = probabilities ? 1.5 : NaN;
        const run = (entry: string) => {
          heap().fill(-7, p.loss / 4, p.loss / 4 + 2 * n);
          const s = k[entry]!(p.x, p.y, n, ...args(p));
          return { s, status: k.bce_status!(), index: k.bce_error_index!(), out: Array.from(new Uint32Array(k.memory.buffer, p.loss, 2 * n)) };
        };
        const a = run(name);
        const b = run(`${name}_b`);
        // (Not vacuous: the failures are failures.)
        const masked = name.endsWith('_options') || name.includes('focal');
        const status = bad === 'mask' && masked ? 4 : bad === 'input' && probabilities ? 1 : 0;
        expect(a.status, `${name}, ${bad}`).toBe(status);
        if (status !== 0) expect(a.s).toBeNaN();
        expect(Object.is(a.s, b.s) || (Number.isNaN(a.s) && Number.isNaN(b.s)), `${name}, ${bad}: ${a.s} vs ${b.s}`).toBe(true);
        expect(b, `${name}, ${bad}`).toEqual(a);
      }
    }
  });
});

describe("the facade's choice between the two entries", () => {
  it('takes the clock as it was at load: a performance replaced later (absent, throwing, nonsense) changes nothing', async () => {
    const bce = await import('bce-wasm');
    await bce.init();
    const n = 9 * 16_384 + 5; // probed pieces 1-4, then the rest
    const x = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 2001) / 100 - 10);
    const y = Float32Array.from({ length: n }, (_, i) => (i % 3) / 2);
    const want = bce.binaryCrossEntropyWithLogitsForwardBackward(x, y, { reduction: 'none' });
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'performance')!;
    try {
      const throwing = { now: () => { throw new Error('no clock'); } };
      for (const stand of [undefined, throwing, { now: () => 1n }, { now: () => NaN }, { now: () => -Math.random() * 1e9 }]) {
        Object.defineProperty(globalThis, 'performance', { value: stand, configurable: true, writable: true });
        const got = bce.binaryCrossEntropyWithLogitsForwardBackward(x, y, { reduction: 'none' });
        expect(got.loss).toEqual(want.loss);
        expect(got.grad).toEqual(want.grad);
      }
    } finally {
      Object.defineProperty(globalThis, 'performance', saved);
    }
  });
});
