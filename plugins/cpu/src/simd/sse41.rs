//! [`Simd`] on SSE4.1: 128-bit vectors.

#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::{Kernel, Simd};
use crate::isa::Isa;

/// Token for SSE4.1; created only by [`run`] after detection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sse41(());

/// Runs `k` compiled with SSE4.1 enabled.
pub(super) fn run<K: Kernel>(k: K) -> K::Output {
    assert!(
        Isa::detected() >= Isa::Sse41,
        "SSE4.1 kernel on a CPU without it"
    );
    // SAFETY: the CPU supports SSE4.1 (asserted just above).
    unsafe { entry(k) }
}

/// # Safety
/// The CPU must support SSE4.1.
#[target_feature(enable = "sse4.1")]
unsafe fn entry<K: Kernel>(k: K) -> K::Output {
    k.run(Sse41(()))
}

// SAFETY (every block below): an `Sse41` token exists only inside `entry`, which runs after
// SSE4.1 was detected; loads and stores check their slice length first.
impl Simd for Sse41 {
    type V = __m128i;
    const BYTES: usize = 16;

    #[inline(always)]
    fn load(self, src: &[u8]) -> __m128i {
        assert!(src.len() >= 16);
        unsafe { _mm_loadu_si128(src.as_ptr().cast()) }
    }
    #[inline(always)]
    unsafe fn load_unchecked(self, src: *const u8) -> __m128i {
        // SAFETY: the caller guarantees BYTES readable bytes at `src`.
        unsafe { _mm_loadu_si128(src.cast()) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [u8], v: __m128i) {
        assert!(dst.len() >= 16);
        unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), v) }
    }
    #[inline(always)]
    fn splat_u8(self, x: u8) -> __m128i {
        unsafe { _mm_set1_epi8(x as i8) }
    }
    #[inline(always)]
    fn splat_u16(self, x: u16) -> __m128i {
        unsafe { _mm_set1_epi16(x as i16) }
    }
    #[inline(always)]
    fn and(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_and_si128(a, b) }
    }
    #[inline(always)]
    fn andnot(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_andnot_si128(a, b) }
    }
    #[inline(always)]
    fn min_u8(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_min_epu8(a, b) }
    }
    #[inline(always)]
    fn max_u8(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_max_epu8(a, b) }
    }
    #[inline(always)]
    fn subs_u8(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_subs_epu8(a, b) }
    }
    #[inline(always)]
    fn eq_u8(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_cmpeq_epi8(a, b) }
    }
    #[inline(always)]
    fn or(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_or_si128(a, b) }
    }
    #[inline(always)]
    fn add_u8(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_add_epi8(a, b) }
    }
    #[inline(always)]
    fn count_ge_u8(self, count: __m128i, v: __m128i, t: __m128i, _one: __m128i) -> __m128i {
        // max(v, t) == v is all ones (-1) exactly where v >= t.
        unsafe { _mm_sub_epi8(count, _mm_cmpeq_epi8(_mm_max_epu8(v, t), v)) }
    }
    #[inline(always)]
    fn min_u16(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_min_epu16(a, b) }
    }
    #[inline(always)]
    fn max_u16(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_max_epu16(a, b) }
    }
    #[inline(always)]
    fn subs_u16(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_subs_epu16(a, b) }
    }
    #[inline(always)]
    fn eq_u16(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_cmpeq_epi16(a, b) }
    }

    #[inline(always)]
    fn min_i32(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_min_epi32(a, b) }
    }
    #[inline(always)]
    fn max_i32(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_max_epi32(a, b) }
    }
    #[inline(always)]
    fn load_widen_u8(self, src: &[u8]) -> __m128i {
        assert!(src.len() >= 8);
        unsafe { _mm_cvtepu8_epi16(_mm_loadl_epi64(src.as_ptr().cast())) }
    }
    #[inline(always)]
    fn splat_u32(self, x: u32) -> __m128i {
        unsafe { _mm_set1_epi32(x as i32) }
    }
    #[inline(always)]
    fn add_u16(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_add_epi16(a, b) }
    }
    #[inline(always)]
    fn add_u32(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_add_epi32(a, b) }
    }
    #[inline(always)]
    fn mullo_u16(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_mullo_epi16(a, b) }
    }
    #[inline(always)]
    fn mulhi_u16(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_mulhi_epu16(a, b) }
    }
    #[inline(always)]
    fn mulhi_i16(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_mulhi_epi16(a, b) }
    }
    #[inline(always)]
    fn sign_mask_i16(self, a: __m128i) -> __m128i {
        unsafe { _mm_srai_epi16::<15>(a) }
    }
    #[inline(always)]
    fn shr_u16(self, a: __m128i, n: u32) -> __m128i {
        unsafe { _mm_srl_epi16(a, _mm_cvtsi32_si128(n as i32)) }
    }
    #[inline(always)]
    fn unpack_lo_u16(self, lo: __m128i, hi: __m128i) -> __m128i {
        unsafe { _mm_unpacklo_epi16(lo, hi) }
    }
    #[inline(always)]
    fn unpack_hi_u16(self, lo: __m128i, hi: __m128i) -> __m128i {
        unsafe { _mm_unpackhi_epi16(lo, hi) }
    }
    #[inline(always)]
    fn shr16_u32(self, a: __m128i) -> __m128i {
        unsafe { _mm_srli_epi32::<16>(a) }
    }
    #[inline(always)]
    fn pack_u32_u16(self, lo: __m128i, hi: __m128i) -> __m128i {
        unsafe { _mm_packus_epi32(lo, hi) }
    }
    #[inline(always)]
    fn zip_u8(self, a: __m128i, b: __m128i) -> (__m128i, __m128i) {
        unsafe { (_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b)) }
    }
    #[inline(always)]
    fn pack_u16_u8(self, a: __m128i, b: __m128i) -> __m128i {
        unsafe { _mm_packus_epi16(a, b) }
    }
}
