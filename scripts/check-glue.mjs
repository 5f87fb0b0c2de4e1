// Checks wasm-bindgen's output for each build directory given (target/pkg-NAME): the JS glue of every
// export is a direct call of the raw export with the same arguments (at most `>>> 0` on the result:
// no allocation, copying or conversion per call), the glue wraps exactly the functions that
// bce_wasm_kernels_bg.wasm.d.ts declares, and every build declares the same raw exports.
// Usage: node scripts/check-glue.mjs DIR...   (build.sh runs it; exits 1 with the reasons otherwise)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const NAME = 'bce_wasm_kernels';
const problems = [];
let firstDeclarations;

for (const dir of process.argv.slice(2)) {
  const js = readFileSync(join(dir, `${NAME}.js`), 'utf8');
  const dts = readFileSync(join(dir, `${NAME}_bg.wasm.d.ts`), 'utf8');

  // export const NAME: (a: number, ...) => R;  and  export const memory: WebAssembly.Memory;
  const declared = new Map();
  for (const m of dts.matchAll(/^export const (\w+): (.*);$/gm)) declared.set(m[1], m[2]);
  const declaredFunctions = [...declared].filter(([, type]) => type.includes('=>')).map(([name]) => name);
  if (firstDeclarations === undefined) firstDeclarations = dts;
  else if (dts !== firstDeclarations) problems.push(`${dir}: its raw exports differ from the first build's`);

  const wrapped = new Set();
  for (const m of js.matchAll(/^export function (\w+)\(([^)]*)\) \{\n([\s\S]*?)\n\}$/gm)) {
    const [, name, params, body] = m;
    wrapped.add(name);
    const call = `wasm.${name}(${params})`;
    const direct = [
      `    ${call};`,
      `    const ret = ${call};\n    return ret;`,
      `    const ret = ${call};\n    return ret >>> 0;`,
    ];
    if (!direct.includes(body)) problems.push(`${dir}: the glue of ${name} is not a direct call:\n${body}`);
  }
  for (const name of declaredFunctions) {
    if (!wrapped.has(name)) problems.push(`${dir}: ${name} is declared but has no glue function`);
  }
  for (const name of wrapped) {
    if (!declared.has(name)) problems.push(`${dir}: the glue exports ${name}, which is not a raw export`);
  }
  if (declaredFunctions.length === 0) problems.push(`${dir}: no exported functions found`);
}

if (problems.length > 0) {
  console.error(`check-glue: ${problems.join('\n')}`);
  process.exit(1);
}
