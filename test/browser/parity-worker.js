// Runs the parity cases with one build of bce-wasm (?build=simd128 or ?build=scalar) in its own realm.
import * as bce from '/dist/index.js';
import { runCases } from './cases.js';

const build = new URL(self.location.href).searchParams.get('build');
await bce.init(new URL(build === 'scalar' ? '/dist/bce_wasm_scalar.wasm' : '/dist/bce_wasm.wasm', self.location.href));
self.postMessage({ backend: bce.backend(), results: runCases(bce) });
