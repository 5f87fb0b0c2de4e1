//! Elementwise kernels: `sigmoid`, `logsigmoid`, and the raw `exp`, `log`, `log1p` approximations
//! (exported so that their accuracy can be measured over every float32 input; one block per
//! iteration, `map_small`: they are not the fast path of anything).
//! Each takes `(x, out, n)`, addresses of float arrays in linear memory; `out` may equal `x`.

use crate::math;
use crate::stream::{map, map_small};
use wasm_bindgen::prelude::wasm_bindgen;

/// `out[i] = sigmoid(x[i])`.
///
/// # Safety
/// `x` and `out` are the addresses of `n` floats in linear memory.
#[wasm_bindgen]
pub unsafe fn bce_sigmoid(x: usize, out: usize, n: usize) {
    map(x as *const f32, out as *mut f32, n, math::sigmoid)
}

/// `out[i] = logsigmoid(x[i])`.
///
/// # Safety
/// As for `bce_sigmoid`.
#[wasm_bindgen]
pub unsafe fn bce_logsigmoid(x: usize, out: usize, n: usize) {
    map(x as *const f32, out as *mut f32, n, math::logsigmoid)
}

/// `out[i] = exp(x[i])` (the approximation the other kernels use).
///
/// # Safety
/// As for `bce_sigmoid`.
#[wasm_bindgen]
pub unsafe fn bce_exp(x: usize, out: usize, n: usize) {
    map_small(x as *const f32, out as *mut f32, n, math::exp)
}

/// `out[i] = log(x[i])` (unclamped).
///
/// # Safety
/// As for `bce_sigmoid`.
#[wasm_bindgen]
pub unsafe fn bce_log(x: usize, out: usize, n: usize) {
    map_small(x as *const f32, out as *mut f32, n, math::log)
}

/// `out[i] = log1p(x[i])` (unclamped).
///
/// # Safety
/// As for `bce_sigmoid`.
#[wasm_bindgen]
pub unsafe fn bce_log1p(x: usize, out: usize, n: usize) {
    map_small(x as *const f32, out as *mut f32, n, math::log1p)
}
