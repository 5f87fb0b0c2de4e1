//! bce-wasm kernels: sigmoid, log-sigmoid and PyTorch's binary cross-entropy (on probabilities and
//! on logits), forward, backward and fused forward+backward, on float32 arrays in WebAssembly
//! linear memory.
//!
//! The ABI is numbers in, a status code out: every export is a `#[wasm_bindgen]` function whose
//! arguments are lengths, scalars and addresses in linear memory (`usize`), so that its generated
//! glue is a direct call and the TypeScript facade in `ts/` can call the instance's exports
//! themselves, typed by the generated declarations. No kernel panics or traps on any input: bad
//! values come back as a status plus an index.
//!
//! Build with `-C target-feature=+simd128` for the SIMD form; without it the same code runs one
//! lane at a time and returns bit-identical results (see `lanes.rs`).

pub mod bce;
pub mod bce_with_logits;
pub mod focal;
pub mod lanes;
pub mod math;
pub mod memory;
pub mod pass;
pub mod sigmoid;
pub mod stream;

use wasm_bindgen::prelude::wasm_bindgen;

/// Which build this is: 1 for `+simd128`, 0 for the scalar one (the facade's `backend()`).
#[wasm_bindgen]
pub fn bce_build() -> u32 {
    cfg!(target_feature = "simd128") as u32
}
