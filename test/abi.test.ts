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
