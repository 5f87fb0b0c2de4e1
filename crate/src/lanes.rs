//! Four float32 lanes, `V`, and a lane mask, `M`: the only vocabulary the kernels use.
//!
//! With `-C target-feature=+simd128` they are one WebAssembly `v128` each; without it they are
//! `[f32; 4]` and `[bool; 4]` with one scalar operation per lane. Every operation here is exact
//! IEEE-754 float32 arithmetic in both forms (wasm has no fused multiply-add and no flush to zero),
//! and `pmin`/`pmax`/`floor`/`select` are defined lane by lane, so the SIMD and the scalar build
//! return bit-identical results. This is the only file whose code differs between the two forms
//! (`lib.rs` only reports which one was built).

use core::ops::{Add, Div, Mul, Sub};

/// Lane masks for the first `k` lanes of a partial block, `LANE_MASKS[k]`.
const LANE_MASKS: [[bool; 4]; 5] = [
    [false, false, false, false],
    [true, false, false, false],
    [true, true, false, false],
    [true, true, true, false],
    [true, true, true, true],
];

/// `2^23 + 127`: adding it to an integral `n` in [-127, 128] leaves `127 + n` in the low mantissa
/// bits of the sum, which a left shift by 23 moves into the exponent field (the rest shifts out).
/// No float-to-int conversion, which V8 lowers to a long sequence for `i32x4.trunc_sat_f32x4`.
const EXP2I_MAGIC: f32 = 8_388_735.0;

/// The bits of sqrt(1/2). For a positive normal float with bits `b`, `k = (b - SPLIT_OFFSET) >> 23`
/// (arithmetic) is the exponent that puts the mantissa `m`, whose bits are `b - (k << 23)`, into
/// [sqrt(1/2), sqrt(2)): the reduction a log needs, in five integer operations (as in musl's logf).
const SPLIT_OFFSET: i32 = core::f32::consts::FRAC_1_SQRT_2.to_bits() as i32;

#[cfg(target_feature = "simd128")]
mod imp {
    use super::{EXP2I_MAGIC, LANE_MASKS, SPLIT_OFFSET};
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct V(pub v128);
    #[derive(Clone, Copy)]
    pub struct M(pub v128);
    /// Four float64 partial sums (lanes 0,1 and 2,3).
    #[derive(Clone, Copy)]
    pub struct Acc(v128, v128);

    impl V {
        #[inline(always)]
        pub fn splat(v: f32) -> V {
            V(f32x4_splat(v))
        }
        #[inline(always)]
        pub fn from_array(a: [f32; 4]) -> V {
            V(f32x4(a[0], a[1], a[2], a[3]))
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            [
                f32x4_extract_lane::<0>(self.0),
                f32x4_extract_lane::<1>(self.0),
                f32x4_extract_lane::<2>(self.0),
                f32x4_extract_lane::<3>(self.0),
            ]
        }
        /// Loads 4 floats; `p` needs no alignment.
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> V {
            V(v128_load(p as *const v128))
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            v128_store(p as *mut v128, self.0)
        }
        #[inline(always)]
        pub fn lt(self, o: V) -> M {
            M(f32x4_lt(self.0, o.0))
        }
        #[inline(always)]
        pub fn le(self, o: V) -> M {
            M(f32x4_le(self.0, o.0))
        }
        #[inline(always)]
        pub fn ge(self, o: V) -> M {
            M(f32x4_ge(self.0, o.0))
        }
        #[inline(always)]
        pub fn eq(self, o: V) -> M {
            M(f32x4_eq(self.0, o.0))
        }
        /// `m ? a : b`, lane by lane.
        #[inline(always)]
        pub fn select(m: M, a: V, b: V) -> V {
            V(v128_bitselect(a.0, b.0, m.0))
        }
        /// `select(m, self, +0)`, as one `v128.and` (a bitselect is three x86 operations).
        #[inline(always)]
        pub fn keep(self, m: M) -> V {
            V(v128_and(self.0, m.0))
        }
        /// `o < self ? o : self` (C++ `std::min(self, o)`: a NaN in `self` is kept): `f32x4.pmin`,
        /// which V8 lowers to a single `minps`. (The LLVM of Rust 1.63 turned it into the NaN-propagating
        /// `f32x4.min`, about nine x86 instructions in V8, when `o` was a constant; LLVM 22 keeps it.)
        #[inline(always)]
        pub fn pmin(self, o: V) -> V {
            V(f32x4_pmin(self.0, o.0))
        }
        /// `self < o ? o : self` (C++ `std::max(self, o)`: a NaN in `self` is kept): `f32x4.pmax`.
        #[inline(always)]
        pub fn pmax(self, o: V) -> V {
            V(f32x4_pmax(self.0, o.0))
        }
        #[inline(always)]
        pub fn abs(self) -> V {
            V(f32x4_abs(self.0))
        }
        #[inline(always)]
        pub fn neg(self) -> V {
            V(f32x4_neg(self.0))
        }
        /// `-|self|`: the sign bit set, one `v128.or` (abs then neg are two operations).
        #[inline(always)]
        pub fn neg_abs(self) -> V {
            V(v128_or(self.0, f32x4_splat(-0.0)))
        }
        #[inline(always)]
        pub fn floor(self) -> V {
            V(f32x4_floor(self.0))
        }
        #[inline(always)]
        pub fn sqrt(self) -> V {
            V(f32x4_sqrt(self.0))
        }
        /// `2^n` for lanes holding integers in [-126, 127]; 0 for a NaN lane.
        #[inline(always)]
        pub fn exp2i(n: V) -> V {
            V(i32x4_shl(f32x4_add(n.0, f32x4_splat(EXP2I_MAGIC)), 23))
        }
        /// For positive normal lanes: `(m, e)` with `self = m * 2^e`, `m` in [sqrt(1/2), sqrt(2)) and
        /// `e` integral (see `SPLIT_OFFSET`).
        #[inline(always)]
        pub fn split(self) -> (V, V) {
            let bits = self.0;
            let k = i32x4_shr(i32x4_sub(bits, i32x4_splat(SPLIT_OFFSET)), 23);
            let m = i32x4_sub(bits, i32x4_shl(k, 23));
            (V(m), V(f32x4_convert_i32x4(k)))
        }
    }

    impl M {
        #[inline(always)]
        pub fn first_lanes(k: usize) -> M {
            let a = LANE_MASKS[k];
            M(i32x4(-(a[0] as i32), -(a[1] as i32), -(a[2] as i32), -(a[3] as i32)))
        }
        /// The four bytes at `p` (no alignment needed) as lanes: `(byte != 0, byte > 1)`.
        #[inline(always)]
        pub unsafe fn load_bytes(p: *const u8) -> (M, M) {
            let v = u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(v128_load32_zero(p as *const u32)));
            // Kept: 0 - 1 is all ones, 0 - 0 none (one operation; a byte above 1 is bad, and a
            // block with a bad byte is refused whatever its kept lanes are).
            (M(i32x4_neg(v)), M(u32x4_gt(v, i32x4_splat(1))))
        }
        #[inline(always)]
        pub fn not(self) -> M {
            M(v128_not(self.0))
        }
        #[inline(always)]
        pub fn any(self) -> bool {
            v128_any_true(self.0)
        }
        #[inline(always)]
        pub fn lane(self, k: usize) -> bool {
            (u32x4_bitmask(self.0) >> k) & 1 == 1
        }
    }

    /// The mask bytes of a loop iteration (16, or 8 and zeros), loaded once: whether one is above 1
    /// (`above_one`, for `any()` only), and the kept lanes of each block of four (`kept4`, `kept2`).
    #[derive(Clone, Copy)]
    pub struct MaskBytes(v128);

    impl MaskBytes {
        #[inline(always)]
        pub fn zero() -> MaskBytes {
            MaskBytes(u8x16_splat(0))
        }
        #[inline(always)]
        pub unsafe fn load<const K: usize>(p: *const u8) -> MaskBytes {
            MaskBytes(if K == 16 { v128_load(p as *const v128) } else { v128_load64_zero(p as *const u64) })
        }
        /// `load::<8>` again, as a load of its own (volatile: not merged with the first; through a
        /// packed wrapper, whose alignment is 1, as `p` has none).
        #[inline(always)]
        pub unsafe fn reload8(p: *const u8) -> MaskBytes {
            #[repr(C, packed)]
            struct Bytes8(u64);
            MaskBytes(u64x2(core::ptr::read_volatile(p as *const Bytes8).0, 0))
        }
        /// The kept lanes of the block of four bytes at `p`, from a load of its own (volatile: not
        /// merged with the iteration's first load, whose value then dies at its test).
        #[inline(always)]
        pub unsafe fn kept_at(p: *const u8) -> M {
            #[repr(C, packed)]
            struct Bytes4(u32);
            let b = u32x4_splat(core::ptr::read_volatile(p as *const Bytes4).0);
            M(i32x4_extend_low_i16x8(i16x8_extend_low_i8x16(i8x16_neg(b))))
        }
        #[inline(always)]
        pub fn above_one(self) -> M {
            M(u8x16_gt(self.0, u8x16_splat(1)))
        }
        /// The kept lanes of the four blocks, for bytes 0 and 1 (each byte negated to 0 or 0xff, then
        /// sign-extended to its lane: seven operations for sixteen lanes).
        #[inline(always)]
        pub fn kept4(self) -> (M, M, M, M) {
            let k = i8x16_neg(self.0);
            let (lo, hi) = (i16x8_extend_low_i8x16(k), i16x8_extend_high_i8x16(k));
            (M(i32x4_extend_low_i16x8(lo)), M(i32x4_extend_high_i16x8(lo)), M(i32x4_extend_low_i16x8(hi)), M(i32x4_extend_high_i16x8(hi)))
        }
        /// The kept lanes of the first two blocks.
        #[inline(always)]
        pub fn kept2(self) -> (M, M) {
            let lo = i16x8_extend_low_i8x16(i8x16_neg(self.0));
            (M(i32x4_extend_low_i16x8(lo)), M(i32x4_extend_high_i16x8(lo)))
        }
    }

    /// The number of 1 bytes among the `n` bytes at `p`, or None if one of them is above 1: sixteen
    /// bytes an operation, summed as bytes over up to 255 rows (no byte's sum passes 255 while every
    /// byte is 0 or 1; a byte above 1 makes the result None whatever the sums), then widened.
    ///
    /// # Safety
    /// `p` points to `n` readable bytes.
    #[inline(always)]
    pub unsafe fn count_ones(p: *const u8, n: usize) -> Option<usize> {
        let mut count = 0;
        let mut above = u8x16_splat(0);
        let mut i = 0;
        while i + 16 <= n {
            let rows = core::cmp::min((n - i) / 16, 255);
            let mut sums = u8x16_splat(0);
            for _ in 0..rows {
                let b = v128_load(p.add(i) as *const v128);
                above = v128_or(above, b);
                sums = i8x16_add(sums, b);
                i += 16;
            }
            let s = u32x4_extadd_pairwise_u16x8(u16x8_extadd_pairwise_u8x16(sums));
            count += (u32x4_extract_lane::<0>(s) + u32x4_extract_lane::<1>(s) + u32x4_extract_lane::<2>(s) + u32x4_extract_lane::<3>(s)) as usize;
        }
        let mut tail = 0;
        while i < n {
            let b = *p.add(i);
            tail |= b;
            count += b as usize;
            i += 1;
        }
        if v128_any_true(v128_and(above, u8x16_splat(0xfe))) || tail & 0xfe != 0 {
            None
        } else {
            Some(count)
        }
    }

    impl Acc {
        #[inline(always)]
        pub fn zero() -> Acc {
            Acc(f64x2_splat(0.0), f64x2_splat(0.0))
        }
        #[inline(always)]
        pub fn add(&mut self, v: V) {
            self.0 = f64x2_add(self.0, f64x2_promote_low_f32x4(v.0));
            let hi = i32x4_shuffle::<2, 3, 0, 1>(v.0, v.0);
            self.1 = f64x2_add(self.1, f64x2_promote_low_f32x4(hi));
        }
        #[inline(always)]
        pub fn total(self) -> f64 {
            let a = [f64x2_extract_lane::<0>(self.0), f64x2_extract_lane::<1>(self.0)];
            let b = [f64x2_extract_lane::<0>(self.1), f64x2_extract_lane::<1>(self.1)];
            (a[0] + b[0]) + (a[1] + b[1])
        }
    }

    impl core::ops::BitAnd for M {
        type Output = M;
        #[inline(always)]
        fn bitand(self, o: M) -> M {
            M(v128_and(self.0, o.0))
        }
    }
    impl core::ops::BitOr for M {
        type Output = M;
        #[inline(always)]
        fn bitor(self, o: M) -> M {
            M(v128_or(self.0, o.0))
        }
    }

    #[inline(always)]
    pub fn add(a: V, b: V) -> V {
        V(f32x4_add(a.0, b.0))
    }
    #[inline(always)]
    pub fn sub(a: V, b: V) -> V {
        V(f32x4_sub(a.0, b.0))
    }
    #[inline(always)]
    pub fn mul(a: V, b: V) -> V {
        V(f32x4_mul(a.0, b.0))
    }
    #[inline(always)]
    pub fn div(a: V, b: V) -> V {
        V(f32x4_div(a.0, b.0))
    }
}

#[cfg(not(target_feature = "simd128"))]
mod imp {
    use super::{EXP2I_MAGIC, LANE_MASKS, SPLIT_OFFSET};

    #[derive(Clone, Copy)]
    pub struct V(pub [f32; 4]);
    #[derive(Clone, Copy)]
    pub struct M(pub [bool; 4]);
    /// Four float64 partial sums, one per lane.
    #[derive(Clone, Copy)]
    pub struct Acc([f64; 4]);

    #[inline(always)]
    fn map(a: V, f: impl Fn(f32) -> f32) -> V {
        V([f(a.0[0]), f(a.0[1]), f(a.0[2]), f(a.0[3])])
    }
    #[inline(always)]
    fn zip(a: V, b: V, f: impl Fn(f32, f32) -> f32) -> V {
        V([f(a.0[0], b.0[0]), f(a.0[1], b.0[1]), f(a.0[2], b.0[2]), f(a.0[3], b.0[3])])
    }
    #[inline(always)]
    fn cmp(a: V, b: V, f: impl Fn(f32, f32) -> bool) -> M {
        M([f(a.0[0], b.0[0]), f(a.0[1], b.0[1]), f(a.0[2], b.0[2]), f(a.0[3], b.0[3])])
    }

    impl V {
        #[inline(always)]
        pub fn splat(v: f32) -> V {
            V([v; 4])
        }
        #[inline(always)]
        pub fn from_array(a: [f32; 4]) -> V {
            V(a)
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            self.0
        }
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> V {
            V((p as *const [f32; 4]).read_unaligned())
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            (p as *mut [f32; 4]).write_unaligned(self.0)
        }
        #[inline(always)]
        pub fn lt(self, o: V) -> M {
            cmp(self, o, |a, b| a < b)
        }
        #[inline(always)]
        pub fn le(self, o: V) -> M {
            cmp(self, o, |a, b| a <= b)
        }
        #[inline(always)]
        pub fn ge(self, o: V) -> M {
            cmp(self, o, |a, b| a >= b)
        }
        #[inline(always)]
        pub fn eq(self, o: V) -> M {
            cmp(self, o, |a, b| a == b)
        }
        #[inline(always)]
        pub fn select(m: M, a: V, b: V) -> V {
            let s = |k: usize| if m.0[k] { a.0[k] } else { b.0[k] };
            V([s(0), s(1), s(2), s(3)])
        }
        #[inline(always)]
        pub fn keep(self, m: M) -> V {
            V::select(m, self, V::splat(0.0))
        }
        #[inline(always)]
        pub fn pmin(self, o: V) -> V {
            zip(self, o, |a, b| if b < a { b } else { a })
        }
        #[inline(always)]
        pub fn pmax(self, o: V) -> V {
            zip(self, o, |a, b| if a < b { b } else { a })
        }
        #[inline(always)]
        pub fn abs(self) -> V {
            map(self, |a| f32::from_bits(a.to_bits() & 0x7fff_ffff))
        }
        #[inline(always)]
        pub fn neg(self) -> V {
            map(self, |a| f32::from_bits(a.to_bits() ^ 0x8000_0000))
        }
        #[inline(always)]
        pub fn neg_abs(self) -> V {
            map(self, |a| f32::from_bits(a.to_bits() | 0x8000_0000))
        }
        #[inline(always)]
        pub fn floor(self) -> V {
            map(self, f32::floor)
        }
        #[inline(always)]
        pub fn sqrt(self) -> V {
            map(self, f32::sqrt)
        }
        #[inline(always)]
        pub fn exp2i(n: V) -> V {
            map(n, |a| f32::from_bits((a + EXP2I_MAGIC).to_bits() << 23))
        }
        #[inline(always)]
        pub fn split(self) -> (V, V) {
            let k = map(self, |a| ((a.to_bits().wrapping_sub(SPLIT_OFFSET as u32) as i32) >> 23) as f32);
            let m = map(self, |a| {
                let k = (a.to_bits().wrapping_sub(SPLIT_OFFSET as u32) as i32) >> 23;
                f32::from_bits(a.to_bits().wrapping_sub((k << 23) as u32))
            });
            (m, k)
        }
    }

    impl M {
        #[inline(always)]
        pub fn first_lanes(k: usize) -> M {
            M(LANE_MASKS[k])
        }
        #[inline(always)]
        pub unsafe fn load_bytes(p: *const u8) -> (M, M) {
            let b = (p as *const [u8; 4]).read_unaligned();
            (M([b[0] != 0, b[1] != 0, b[2] != 0, b[3] != 0]), M([b[0] > 1, b[1] > 1, b[2] > 1, b[3] > 1]))
        }
        #[inline(always)]
        pub fn not(self) -> M {
            M([!self.0[0], !self.0[1], !self.0[2], !self.0[3]])
        }
        #[inline(always)]
        pub fn any(self) -> bool {
            self.0[0] | self.0[1] | self.0[2] | self.0[3]
        }
        #[inline(always)]
        pub fn lane(self, k: usize) -> bool {
            self.0[k & 3]
        }
    }

    #[derive(Clone, Copy)]
    pub struct MaskBytes([u8; 16]);

    impl MaskBytes {
        #[inline(always)]
        pub fn zero() -> MaskBytes {
            MaskBytes([0; 16])
        }
        #[inline(always)]
        pub unsafe fn load<const K: usize>(p: *const u8) -> MaskBytes {
            let mut b = [0u8; 16];
            for (j, b) in b.iter_mut().enumerate().take(K) {
                *b = *p.add(j);
            }
            MaskBytes(b)
        }
        #[inline(always)]
        pub unsafe fn reload8(p: *const u8) -> MaskBytes {
            Self::load::<8>(p)
        }
        #[inline(always)]
        pub unsafe fn kept_at(p: *const u8) -> M {
            Self::load::<4>(p).kept(0)
        }
        #[inline(always)]
        pub fn above_one(self) -> M {
            M([self.0.iter().any(|&b| b > 1), false, false, false])
        }
        #[inline(always)]
        fn kept(self, block: usize) -> M {
            let b = &self.0[4 * block..4 * block + 4];
            M([b[0] != 0, b[1] != 0, b[2] != 0, b[3] != 0])
        }
        #[inline(always)]
        pub fn kept4(self) -> (M, M, M, M) {
            (self.kept(0), self.kept(1), self.kept(2), self.kept(3))
        }
        #[inline(always)]
        pub fn kept2(self) -> (M, M) {
            (self.kept(0), self.kept(1))
        }
    }

    /// The number of 1 bytes among the `n` bytes at `p`, or None if one of them is above 1 (eight
    /// bytes at a time).
    ///
    /// # Safety
    /// `p` points to `n` readable bytes.
    #[inline(always)]
    pub unsafe fn count_ones(p: *const u8, n: usize) -> Option<usize> {
        let mut count = 0;
        let mut above = 0;
        let mut i = 0;
        while i + 8 <= n {
            let b = (p.add(i) as *const u64).read_unaligned();
            above |= b;
            count += b.count_ones() as usize;
            i += 8;
        }
        while i < n {
            let b = *p.add(i) as u64;
            above |= b;
            count += b as usize;
            i += 1;
        }
        // Every byte 0 or 1: then no bit but the lowest of any byte is set, and the popcount is the count.
        if above & 0xfefe_fefe_fefe_fefe != 0 {
            None
        } else {
            Some(count)
        }
    }

    impl Acc {
        #[inline(always)]
        pub fn zero() -> Acc {
            Acc([0.0; 4])
        }
        #[inline(always)]
        pub fn add(&mut self, v: V) {
            for k in 0..4 {
                self.0[k] += v.0[k] as f64;
            }
        }
        #[inline(always)]
        pub fn total(self) -> f64 {
            let a = self.0;
            (a[0] + a[2]) + (a[1] + a[3])
        }
    }

    impl core::ops::BitAnd for M {
        type Output = M;
        #[inline(always)]
        fn bitand(self, o: M) -> M {
            M([self.0[0] & o.0[0], self.0[1] & o.0[1], self.0[2] & o.0[2], self.0[3] & o.0[3]])
        }
    }
    impl core::ops::BitOr for M {
        type Output = M;
        #[inline(always)]
        fn bitor(self, o: M) -> M {
            M([self.0[0] | o.0[0], self.0[1] | o.0[1], self.0[2] | o.0[2], self.0[3] | o.0[3]])
        }
    }

    #[inline(always)]
    pub fn add(a: V, b: V) -> V {
        zip(a, b, |x, y| x + y)
    }
    #[inline(always)]
    pub fn sub(a: V, b: V) -> V {
        zip(a, b, |x, y| x - y)
    }
    #[inline(always)]
    pub fn mul(a: V, b: V) -> V {
        zip(a, b, |x, y| x * y)
    }
    #[inline(always)]
    pub fn div(a: V, b: V) -> V {
        zip(a, b, |x, y| x / y)
    }
}

pub use imp::{count_ones, Acc, MaskBytes, M, V};

impl Add for V {
    type Output = V;
    #[inline(always)]
    fn add(self, o: V) -> V {
        imp::add(self, o)
    }
}
impl Sub for V {
    type Output = V;
    #[inline(always)]
    fn sub(self, o: V) -> V {
        imp::sub(self, o)
    }
}
impl Mul for V {
    type Output = V;
    #[inline(always)]
    fn mul(self, o: V) -> V {
        imp::mul(self, o)
    }
}
impl Div for V {
    type Output = V;
    #[inline(always)]
    fn div(self, o: V) -> V {
        imp::div(self, o)
    }
}

impl V {
    /// Loads the first `k` (1..=4) floats at `p` and fills the other lanes with `pad`.
    /// (Element by element: a variable-length copy would become a call to `memcpy`.)
    #[inline(always)]
    pub unsafe fn load_partial(p: *const f32, k: usize, pad: f32) -> V {
        let mut a = [pad; 4];
        a[0] = *p;
        if k > 1 {
            a[1] = *p.add(1);
        }
        if k > 2 {
            a[2] = *p.add(2);
        }
        if k > 3 {
            a[3] = *p.add(3);
        }
        V::from_array(a)
    }
    /// Stores the first `k` (1..=4) lanes at `p`.
    #[inline(always)]
    pub unsafe fn store_partial(self, p: *mut f32, k: usize) {
        let a = self.to_array();
        *p = a[0];
        if k > 1 {
            *p.add(1) = a[1];
        }
        if k > 2 {
            *p.add(2) = a[2];
        }
        if k > 3 {
            *p.add(3) = a[3];
        }
    }
}
