//! [`Simd`] on AVX2: 256-bit vectors.

#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::{Kernel, Simd};
use crate::isa::Isa;

/// Token for AVX2; created only by [`run`] after detection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2(());

/// Runs `k` compiled with AVX2 enabled.
pub(super) fn run<K: Kernel>(k: K) -> K::Output {
    assert!(
        Isa::detected() >= Isa::Avx2,
        "AVX2 kernel on a CPU without it"
    );
    // SAFETY: the CPU supports AVX2 (asserted just above).
    unsafe { entry(k) }
}

/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn entry<K: Kernel>(k: K) -> K::Output {
    k.run(Avx2(()))
}

// SAFETY (every block below): an `Avx2` token exists only inside `entry`, which runs after
// AVX2 was detected; loads and stores check their slice length first.
impl Simd for Avx2 {
    type V = __m256i;
    const BYTES: usize = 32;

    #[inline(always)]
    fn load(self, src: &[u8]) -> __m256i {
        assert!(src.len() >= 32);
        unsafe { _mm256_loadu_si256(src.as_ptr().cast()) }
    }
    #[inline(always)]
    unsafe fn load_unchecked(self, src: *const u8) -> __m256i {
        // SAFETY: the caller guarantees BYTES readable bytes at `src`.
        unsafe { _mm256_loadu_si256(src.cast()) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [u8], v: __m256i) {
        assert!(dst.len() >= 32);
        unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
    }
    #[inline(always)]
    fn splat_u8(self, x: u8) -> __m256i {
        unsafe { _mm256_set1_epi8(x as i8) }
    }
    #[inline(always)]
    fn splat_u16(self, x: u16) -> __m256i {
        unsafe { _mm256_set1_epi16(x as i16) }
    }
    #[inline(always)]
    fn and(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_and_si256(a, b) }
    }
    #[inline(always)]
    fn andnot(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_andnot_si256(a, b) }
    }
    #[inline(always)]
    fn min_u8(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_min_epu8(a, b) }
    }
    #[inline(always)]
    fn max_u8(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_max_epu8(a, b) }
    }
    #[inline(always)]
    fn subs_u8(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_subs_epu8(a, b) }
    }
    #[inline(always)]
    fn eq_u8(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_cmpeq_epi8(a, b) }
    }
    #[inline(always)]
    fn or(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_or_si256(a, b) }
    }
    #[inline(always)]
    fn add_u8(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_add_epi8(a, b) }
    }
    #[inline(always)]
    fn count_ge_u8(self, count: __m256i, v: __m256i, t: __m256i, _one: __m256i) -> __m256i {
        // max(v, t) == v is all ones (-1) exactly where v >= t.
        unsafe { _mm256_sub_epi8(count, _mm256_cmpeq_epi8(_mm256_max_epu8(v, t), v)) }
    }
    #[inline(always)]
    fn min_u16(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_min_epu16(a, b) }
    }
    #[inline(always)]
    fn max_u16(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_max_epu16(a, b) }
    }
    #[inline(always)]
    fn subs_u16(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_subs_epu16(a, b) }
    }
    #[inline(always)]
    fn eq_u16(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_cmpeq_epi16(a, b) }
    }

    #[inline(always)]
    fn min_i32(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_min_epi32(a, b) }
    }
    #[inline(always)]
    fn max_i32(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_max_epi32(a, b) }
    }
    #[inline(always)]
    fn load_widen_u8(self, src: &[u8]) -> __m256i {
        assert!(src.len() >= 16);
        unsafe { _mm256_cvtepu8_epi16(_mm_loadu_si128(src.as_ptr().cast())) }
    }
    #[inline(always)]
    fn splat_u32(self, x: u32) -> __m256i {
        unsafe { _mm256_set1_epi32(x as i32) }
    }
    #[inline(always)]
    fn add_u16(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_add_epi16(a, b) }
    }
    #[inline(always)]
    fn add_u32(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_add_epi32(a, b) }
    }
    #[inline(always)]
    fn mullo_u16(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_mullo_epi16(a, b) }
    }
    #[inline(always)]
    fn mulhi_u16(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_mulhi_epu16(a, b) }
    }
    #[inline(always)]
    fn mulhi_i16(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_mulhi_epi16(a, b) }
    }
    #[inline(always)]
    fn sign_mask_i16(self, a: __m256i) -> __m256i {
        unsafe { _mm256_srai_epi16::<15>(a) }
    }
    #[inline(always)]
    fn shr_u16(self, a: __m256i, n: u32) -> __m256i {
        unsafe { _mm256_srl_epi16(a, _mm_cvtsi32_si128(n as i32)) }
    }
    #[inline(always)]
    fn unpack_lo_u16(self, lo: __m256i, hi: __m256i) -> __m256i {
        unsafe { _mm256_unpacklo_epi16(lo, hi) }
    }
    #[inline(always)]
    fn unpack_hi_u16(self, lo: __m256i, hi: __m256i) -> __m256i {
        unsafe { _mm256_unpackhi_epi16(lo, hi) }
    }
    #[inline(always)]
    fn shr16_u32(self, a: __m256i) -> __m256i {
        unsafe { _mm256_srli_epi32::<16>(a) }
    }
    #[inline(always)]
    fn pack_u32_u16(self, lo: __m256i, hi: __m256i) -> __m256i {
        // Both work per 128-bit block, so they undo the unpacks exactly.
        unsafe { _mm256_packus_epi32(lo, hi) }
    }
    #[inline(always)]
    fn zip_u8(self, a: __m256i, b: __m256i) -> (__m256i, __m256i) {
        // unpack works within 128-bit blocks: (a0..7|b0..7, a16..23|b16..23) and the 8..15
        // and 24..31 halves; the block permutes put them in order.
        unsafe {
            let (lo, hi) = (_mm256_unpacklo_epi8(a, b), _mm256_unpackhi_epi8(a, b));
            (
                _mm256_permute2x128_si256::<0x20>(lo, hi),
                _mm256_permute2x128_si256::<0x31>(lo, hi),
            )
        }
    }
    #[inline(always)]
    fn pack_u16_u8(self, a: __m256i, b: __m256i) -> __m256i {
        // packus interleaves the 128-bit blocks of a and b; put a's two blocks first.
        unsafe { _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi16(a, b)) }
    }
}
