// A module Web Worker with its own bce-wasm instance. Import maps do not reach workers, so it imports
// the package by path; init() then fetches bce_wasm.wasm beside it.
import * as bce from '/dist/index.js';

const ready = bce.init();
self.onmessage = async ({ data }) => {
  await ready;
  self.postMessage(bce.binaryCrossEntropy(bce.sigmoid(data.logits), data.target));
};
