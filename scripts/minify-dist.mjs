// node scripts/minify-dist.mjs DIR: rewrites every .js file under DIR without whitespace and with
// terser's compression, and with local names shortened (`mangle`: the variables, parameters and
// functions inside each module, never an export, a property, a class's own name, which messages show,
// nor any error message; the public functions' names are exports, or set by losses.ts), for the default
// entry's gzipped size budget (test/web-entry.test.ts). The .d.ts files keep every doc comment.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { minify } from 'terser';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node scripts/minify-dist.mjs DIR');
let before = 0;
let after = 0;
for (const entry of readdirSync(dir, { recursive: true })) {
  const file = join(dir, String(entry));
  if (!file.endsWith('.js')) continue;
  const code = readFileSync(file, 'utf8');
  // (terser keeps a hashbang, the CLI's, as the first line.)
  const r = await minify(code, {
    module: true,
    compress: { passes: 2 },
    mangle: { keep_classnames: true },
    keep_classnames: true,
    format: { comments: false },
  });
  writeFileSync(file, r.code + '\n');
  before += code.length;
  after += r.code.length + 1;
}
console.log(`minify-dist: ${before} -> ${after} bytes of JavaScript`);
