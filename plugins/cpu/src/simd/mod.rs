//! Explicit SIMD: one vector trait ([`Simd`]), implemented per ISA (`sse41.rs`, `avx2.rs`,
//! `avx512.rs`), and kernels written once over it ([`Kernel`]) and compiled per ISA by
//! [`dispatch`].
//!
//! A [`Simd`] value is a token: it is created only inside a `#[target_feature]` function that
//! [`dispatch`] enters after run-time detection, so its methods may use the intrinsics of its
//! ISA safely. Kernel bodies are `#[inline(always)]` so they are compiled inside that function.
// Off x86 no level has vectors yet: the kernels compile, but nothing instantiates them.
#![cfg_attr(
    not(any(target_arch = "x86", target_arch = "x86_64")),
    allow(dead_code, reason = "no vector ISA is implemented off x86 yet")
)]

use crate::isa::Isa;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod avx2;
// AVX-512 intrinsics need Rust 1.89 (build.rs); the MSRV lint cannot see that gate.
#[cfg(all(yam_avx512, any(target_arch = "x86", target_arch = "x86_64")))]
#[allow(
    clippy::incompatible_msrv,
    reason = "compiled only with rustc >= 1.89 (build.rs)"
)]
mod avx512;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod sse41;

pub(crate) mod box_sums;
pub(crate) mod median;
pub(crate) mod median_bits;
pub(crate) mod median_pairs;
pub(crate) mod separable;
pub(crate) mod threshold;

/// Integer vector operations of one ISA. Lane-wise; `_u8` and `_u16` name the lane type.
pub(crate) trait Simd: Copy {
    /// One vector register.
    type V: Copy;
    /// Bytes per vector.
    const BYTES: usize;

    /// Loads the first [`Self::BYTES`] bytes of `src` (panics if it is shorter).
    fn load(self, src: &[u8]) -> Self::V;
    /// Loads [`Self::BYTES`] bytes from `src` without a bounds check, for hot loops whose
    /// bounds are checked once outside.
    ///
    /// # Safety
    /// `src..src + BYTES` must be readable.
    unsafe fn load_unchecked(self, src: *const u8) -> Self::V;
    /// Stores `v` into the first [`Self::BYTES`] bytes of `dst` (panics if it is shorter).
    fn store(self, dst: &mut [u8], v: Self::V);
    fn splat_u8(self, x: u8) -> Self::V;
    fn splat_u16(self, x: u16) -> Self::V;
    fn and(self, a: Self::V, b: Self::V) -> Self::V;
    /// `!a & b`.
    fn andnot(self, a: Self::V, b: Self::V) -> Self::V;
    fn min_u8(self, a: Self::V, b: Self::V) -> Self::V;
    fn max_u8(self, a: Self::V, b: Self::V) -> Self::V;
    /// Saturating `a - b`.
    fn subs_u8(self, a: Self::V, b: Self::V) -> Self::V;
    /// All ones where equal.
    fn eq_u8(self, a: Self::V, b: Self::V) -> Self::V;
    fn or(self, a: Self::V, b: Self::V) -> Self::V;
    /// Wrapping.
    fn add_u8(self, a: Self::V, b: Self::V) -> Self::V;
    /// `count + 1` where `v >= t`, else `count` (wrapping u8 lanes): one step of counting
    /// the values at or above a threshold. `one` must be `splat_u8(1)`, hidden from the
    /// optimiser (`std::hint::black_box`) so that AVX-512 keeps its masked add.
    fn count_ge_u8(self, count: Self::V, v: Self::V, t: Self::V, one: Self::V) -> Self::V;
    fn min_u16(self, a: Self::V, b: Self::V) -> Self::V;
    fn max_u16(self, a: Self::V, b: Self::V) -> Self::V;
    fn subs_u16(self, a: Self::V, b: Self::V) -> Self::V;
    fn eq_u16(self, a: Self::V, b: Self::V) -> Self::V;
    fn min_i32(self, a: Self::V, b: Self::V) -> Self::V;
    fn max_i32(self, a: Self::V, b: Self::V) -> Self::V;

    // Widening arithmetic for the fixed-point filters.
    /// Loads `BYTES / 2` bytes of `src` zero-extended to u16 lanes.
    fn load_widen_u8(self, src: &[u8]) -> Self::V;
    fn splat_u32(self, x: u32) -> Self::V;
    /// Wrapping.
    fn add_u16(self, a: Self::V, b: Self::V) -> Self::V;
    fn add_u32(self, a: Self::V, b: Self::V) -> Self::V;
    /// Low 16 bits of the products.
    fn mullo_u16(self, a: Self::V, b: Self::V) -> Self::V;
    /// High 16 bits of the unsigned products.
    fn mulhi_u16(self, a: Self::V, b: Self::V) -> Self::V;
    /// High 16 bits of the signed products. (LLVM compiles this one lane for lane; its
    /// unsigned twin [`Simd::mulhi_u16`] is widened to u32 lanes when the operands are not
    /// known to be small.)
    fn mulhi_i16(self, a: Self::V, b: Self::V) -> Self::V;
    /// All ones in the i16 lanes that are negative, else zero (arithmetic shift by 15).
    fn sign_mask_i16(self, a: Self::V) -> Self::V;
    /// Logical right shift of u16 lanes by `n` (0 to 15).
    fn shr_u16(self, a: Self::V, n: u32) -> Self::V;
    /// Interleaves u16 lanes `lo`, `hi` into u32 lanes `hi << 16 | lo`: the first and second
    /// halves of each 128-bit block (undone by [`Simd::pack_u32_u16`]).
    fn unpack_lo_u16(self, lo: Self::V, hi: Self::V) -> Self::V;
    fn unpack_hi_u16(self, lo: Self::V, hi: Self::V) -> Self::V;
    /// Logical right shift of u32 lanes by 16.
    fn shr16_u32(self, a: Self::V) -> Self::V;
    /// Saturating narrowing of the u32 lanes made by `unpack_lo_u16` / `unpack_hi_u16`
    /// back to u16 lanes in the original order.
    fn pack_u32_u16(self, lo: Self::V, hi: Self::V) -> Self::V;
    /// Bytes `a0 b0 a1 b1 …`: the first half of the interleaving, then the second.
    fn zip_u8(self, a: Self::V, b: Self::V) -> (Self::V, Self::V);
    /// Saturating narrowing of two u16 vectors to one u8 vector, `a`'s lanes first.
    fn pack_u16_u8(self, a: Self::V, b: Self::V) -> Self::V;
}

/// A lane type the kernels are generic over (u8, u16, i32).
pub(crate) trait Lane: Copy + Default + Send + Sync + 'static {
    fn vsplat<S: Simd>(s: S, x: Self) -> S::V;
    fn vmin<S: Simd>(s: S, a: S::V, b: S::V) -> S::V;
    fn vmax<S: Simd>(s: S, a: S::V, b: S::V) -> S::V;
    /// The elements as bytes (native order), for loads and stores.
    fn bytes(v: &[Self]) -> &[u8];
    fn bytes_mut(v: &mut [Self]) -> &mut [u8];

    /// Lanes per vector.
    #[inline(always)]
    fn lanes<S: Simd>() -> usize {
        S::BYTES / std::mem::size_of::<Self>()
    }

    /// Loads the first [`Self::lanes`] elements of `src`.
    #[inline(always)]
    fn load<S: Simd>(s: S, src: &[Self]) -> S::V {
        s.load(Self::bytes(src))
    }

    /// Stores `v` into the first [`Self::lanes`] elements of `dst`.
    #[inline(always)]
    fn store<S: Simd>(s: S, dst: &mut [Self], v: S::V) {
        s.store(Self::bytes_mut(dst), v)
    }
}

impl Lane for u8 {
    #[inline(always)]
    fn vsplat<S: Simd>(s: S, x: u8) -> S::V {
        s.splat_u8(x)
    }
    #[inline(always)]
    fn vmin<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.min_u8(a, b)
    }
    #[inline(always)]
    fn vmax<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.max_u8(a, b)
    }
    #[inline(always)]
    fn bytes(v: &[u8]) -> &[u8] {
        v
    }
    #[inline(always)]
    fn bytes_mut(v: &mut [u8]) -> &mut [u8] {
        v
    }
}

impl Lane for u16 {
    #[inline(always)]
    fn vsplat<S: Simd>(s: S, x: u16) -> S::V {
        s.splat_u16(x)
    }
    #[inline(always)]
    fn vmin<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.min_u16(a, b)
    }
    #[inline(always)]
    fn vmax<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.max_u16(a, b)
    }
    #[inline(always)]
    fn bytes(v: &[u16]) -> &[u8] {
        // SAFETY: u16 has no padding and every byte pattern is a valid u8; the length covers
        // exactly the same memory.
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
    }
    #[inline(always)]
    fn bytes_mut(v: &mut [u16]) -> &mut [u8] {
        // SAFETY: as in `bytes`; also every byte pattern is a valid u16, so writes through
        // the byte view keep the elements valid.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), std::mem::size_of_val(v)) }
    }
}

/// An unsigned lane type (u8, u16) with saturating subtraction and equality.
pub(crate) trait UnsignedLane: Lane {
    /// Saturating `a - b`.
    fn vsubs<S: Simd>(s: S, a: S::V, b: S::V) -> S::V;
    /// All ones where equal.
    fn veq<S: Simd>(s: S, a: S::V, b: S::V) -> S::V;
}

impl UnsignedLane for u8 {
    #[inline(always)]
    fn vsubs<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.subs_u8(a, b)
    }
    #[inline(always)]
    fn veq<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.eq_u8(a, b)
    }
}

impl UnsignedLane for u16 {
    #[inline(always)]
    fn vsubs<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.subs_u16(a, b)
    }
    #[inline(always)]
    fn veq<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.eq_u16(a, b)
    }
}

impl Lane for i32 {
    #[inline(always)]
    fn vsplat<S: Simd>(s: S, x: i32) -> S::V {
        s.splat_u32(x as u32)
    }
    #[inline(always)]
    fn vmin<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.min_i32(a, b)
    }
    #[inline(always)]
    fn vmax<S: Simd>(s: S, a: S::V, b: S::V) -> S::V {
        s.max_i32(a, b)
    }
    #[inline(always)]
    fn bytes(v: &[i32]) -> &[u8] {
        // SAFETY: i32 has no padding and every byte pattern is a valid u8; the length covers
        // exactly the same memory.
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
    }
    #[inline(always)]
    fn bytes_mut(v: &mut [i32]) -> &mut [u8] {
        // SAFETY: as in `bytes`; also every byte pattern is a valid i32, so writes through
        // the byte view keep the elements valid.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), std::mem::size_of_val(v)) }
    }
}

/// A kernel body written over [`Simd`]; implementations mark `run` `#[inline(always)]`.
pub(crate) trait Kernel {
    type Output;
    fn run<S: Simd>(self, s: S) -> Self::Output;
}

/// A kernel written as plain loops (no intrinsics), for [`vectorised`]. Implementations mark
/// `run` `#[inline(always)]` so it is compiled inside each ISA's entry point.
pub(crate) trait PlainKernel {
    type Output;
    fn run(self) -> Self::Output;
}

struct AsKernel<P>(P);

impl<P: PlainKernel> Kernel for AsKernel<P> {
    type Output = P::Output;
    #[inline(always)]
    fn run<S: Simd>(self, _: S) -> P::Output {
        self.0.run()
    }
}

/// Runs `k` compiled for `isa` (plain scalar code where `isa` has no vectors): LLVM
/// vectorises its loops with the ISA's registers, and as Rust never fuses or reorders float
/// operations, the results are the same at every level.
pub(crate) fn vectorised<P: PlainKernel>(isa: Isa, k: P) -> P::Output {
    match dispatch(isa, AsKernel(k)) {
        Ok(out) => out,
        Err(AsKernel(k)) => k.run(),
    }
}

/// Bytes per vector of the code [`dispatch`] runs at `isa` (0 for the scalar path).
pub(crate) fn vector_bytes(isa: Isa) -> usize {
    struct Width;
    impl Kernel for Width {
        type Output = usize;
        #[inline(always)]
        fn run<S: Simd>(self, _: S) -> usize {
            S::BYTES
        }
    }
    dispatch(isa, Width).unwrap_or(0)
}

/// Runs `k` compiled for `isa` (lowered to what the CPU has), or hands it back for the
/// scalar path when that level is [`Isa::Scalar`].
pub(crate) fn dispatch<K: Kernel>(isa: Isa, k: K) -> Result<K::Output, K> {
    match isa.usable() {
        Isa::Scalar => Err(k),
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Sse41 => Ok(sse41::run(k)),
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Avx2 => Ok(avx2::run(k)),
        #[cfg(all(yam_avx512, any(target_arch = "x86", target_arch = "x86_64")))]
        Isa::Avx512 => Ok(avx512::run(k)),
        // Compilers without AVX-512 support run the AVX2 code at this level.
        #[cfg(all(not(yam_avx512), any(target_arch = "x86", target_arch = "x86_64")))]
        Isa::Avx512 => Ok(avx2::run(k)),
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        _ => Err(k),
    }
}
