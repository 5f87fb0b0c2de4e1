//! Elementwise kernels: `sigmoid`, `logsigmoid`, and the raw `exp`, `log`, `log1p` approximations
//! (exported so that their accuracy can be measured over every float32 input).
//! Each takes `(x, out, n)`; `out` may equal `x`.

use crate::math;
use crate::stream::map;

/// `out[i] = sigmoid(x[i])`.
///
/// # Safety
/// `x` and `out` point to `n` floats in linear memory.
#[no_mangle]
pub unsafe extern "C" fn bce_sigmoid(x: *const f32, out: *mut f32, n: usize) {
    map(x, out, n, math::sigmoid)
}

/// `out[i] = logsigmoid(x[i])`.
///
/// # Safety
/// As for `bce_sigmoid`.
#[no_mangle]
pub unsafe extern "C" fn bce_logsigmoid(x: *const f32, out: *mut f32, n: usize) {
    map(x, out, n, math::logsigmoid)
}

/// `out[i] = exp(x[i])` (the approximation the other kernels use).
///
/// # Safety
/// As for `bce_sigmoid`.
#[no_mangle]
pub unsafe extern "C" fn bce_exp(x: *const f32, out: *mut f32, n: usize) {
    map(x, out, n, math::exp)
}

/// `out[i] = log(x[i])` (unclamped).
///
/// # Safety
/// As for `bce_sigmoid`.
#[no_mangle]
pub unsafe extern "C" fn bce_log(x: *const f32, out: *mut f32, n: usize) {
    map(x, out, n, math::log)
}

/// `out[i] = log1p(x[i])` (unclamped).
///
/// # Safety
/// As for `bce_sigmoid`.
#[no_mangle]
pub unsafe extern "C" fn bce_log1p(x: *const f32, out: *mut f32, n: usize) {
    map(x, out, n, math::log1p)
}
