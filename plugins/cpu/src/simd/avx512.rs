//! [`Simd`] on AVX-512 (F, BW, VL): 512-bit vectors.

#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::{Kernel, Simd};
use crate::isa::Isa;

/// Token for AVX-512; created only by [`run`] after detection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512(());

/// Runs `k` compiled with AVX-512 F, BW and VL enabled.
pub(super) fn run<K: Kernel>(k: K) -> K::Output {
    assert!(
        Isa::detected() >= Isa::Avx512,
        "AVX-512 kernel on a CPU without it"
    );
    // SAFETY: the CPU supports AVX2 and AVX-512 F, BW and VL (asserted just above: the
    // Avx512 level needs all of them).
    unsafe { entry(k) }
}

/// # Safety
/// The CPU must support AVX2 and AVX-512 F, BW and VL.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
unsafe fn entry<K: Kernel>(k: K) -> K::Output {
    k.run(Avx512(()))
}

// SAFETY (every block below): an `Avx512` token exists only inside `entry`, which runs after
// AVX-512 F, BW and VL were detected; loads and stores check their slice length first.
impl Simd for Avx512 {
    type V = __m512i;
    const BYTES: usize = 64;

    #[inline(always)]
    fn load(self, src: &[u8]) -> __m512i {
        assert!(src.len() >= 64);
        unsafe { _mm512_loadu_si512(src.as_ptr().cast()) }
    }
    #[inline(always)]
    unsafe fn load_unchecked(self, src: *const u8) -> __m512i {
        // SAFETY: the caller guarantees BYTES readable bytes at `src`.
        unsafe { _mm512_loadu_si512(src.cast()) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [u8], v: __m512i) {
        assert!(dst.len() >= 64);
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), v) }
    }
    #[inline(always)]
    fn splat_u8(self, x: u8) -> __m512i {
        unsafe { _mm512_set1_epi8(x as i8) }
    }
    #[inline(always)]
    fn splat_u16(self, x: u16) -> __m512i {
        unsafe { _mm512_set1_epi16(x as i16) }
    }
    #[inline(always)]
    fn and(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_and_si512(a, b) }
    }
    #[inline(always)]
    fn andnot(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_andnot_si512(a, b) }
    }
    #[inline(always)]
    fn min_u8(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_min_epu8(a, b) }
    }
    #[inline(always)]
    fn max_u8(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_max_epu8(a, b) }
    }
    #[inline(always)]
    fn subs_u8(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_subs_epu8(a, b) }
    }
    #[inline(always)]
    fn eq_u8(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_movm_epi8(_mm512_cmpeq_epi8_mask(a, b)) }
    }
    #[inline(always)]
    fn or(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_or_si512(a, b) }
    }
    #[inline(always)]
    fn add_u8(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_add_epi8(a, b) }
    }
    #[inline(always)]
    fn count_ge_u8(self, count: __m512i, v: __m512i, t: __m512i, one: __m512i) -> __m512i {
        // A compare into a mask and a masked add: two instructions per value (three when
        // LLVM knows `one` is 1: it then subtracts the mask widened to a vector).
        unsafe { _mm512_mask_add_epi8(count, _mm512_cmpge_epu8_mask(v, t), count, one) }
    }
    #[inline(always)]
    fn min_u16(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_min_epu16(a, b) }
    }
    #[inline(always)]
    fn max_u16(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_max_epu16(a, b) }
    }
    #[inline(always)]
    fn subs_u16(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_subs_epu16(a, b) }
    }
    #[inline(always)]
    fn eq_u16(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_movm_epi16(_mm512_cmpeq_epi16_mask(a, b)) }
    }
    #[inline(always)]
    fn min_i32(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_min_epi32(a, b) }
    }
    #[inline(always)]
    fn max_i32(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_max_epi32(a, b) }
    }
    #[inline(always)]
    fn load_widen_u8(self, src: &[u8]) -> __m512i {
        assert!(src.len() >= 32);
        unsafe { _mm512_cvtepu8_epi16(_mm256_loadu_si256(src.as_ptr().cast())) }
    }
    #[inline(always)]
    fn splat_u32(self, x: u32) -> __m512i {
        unsafe { _mm512_set1_epi32(x as i32) }
    }
    #[inline(always)]
    fn add_u16(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_add_epi16(a, b) }
    }
    #[inline(always)]
    fn add_u32(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_add_epi32(a, b) }
    }
    #[inline(always)]
    fn mullo_u16(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_mullo_epi16(a, b) }
    }
    #[inline(always)]
    fn mulhi_u16(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_mulhi_epu16(a, b) }
    }
    #[inline(always)]
    fn mulhi_i16(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_mulhi_epi16(a, b) }
    }
    #[inline(always)]
    fn sign_mask_i16(self, a: __m512i) -> __m512i {
        unsafe { _mm512_srai_epi16::<15>(a) }
    }
    #[inline(always)]
    fn shr_u16(self, a: __m512i, n: u32) -> __m512i {
        unsafe { _mm512_srl_epi16(a, _mm_cvtsi32_si128(n as i32)) }
    }
    #[inline(always)]
    fn unpack_lo_u16(self, lo: __m512i, hi: __m512i) -> __m512i {
        unsafe { _mm512_unpacklo_epi16(lo, hi) }
    }
    #[inline(always)]
    fn unpack_hi_u16(self, lo: __m512i, hi: __m512i) -> __m512i {
        unsafe { _mm512_unpackhi_epi16(lo, hi) }
    }
    #[inline(always)]
    fn shr16_u32(self, a: __m512i) -> __m512i {
        unsafe { _mm512_srli_epi32::<16>(a) }
    }
    #[inline(always)]
    fn pack_u32_u16(self, lo: __m512i, hi: __m512i) -> __m512i {
        // Both work per 128-bit block, so they undo the unpacks exactly.
        unsafe { _mm512_packus_epi32(lo, hi) }
    }
    #[inline(always)]
    fn zip_u8(self, a: __m512i, b: __m512i) -> (__m512i, __m512i) {
        // unpack works within 128-bit blocks: block k of lo interleaves bytes 16k..16k+8,
        // of hi bytes 16k+8..16k+16; the permutes put the blocks in order.
        unsafe {
            let (lo, hi) = (_mm512_unpacklo_epi8(a, b), _mm512_unpackhi_epi8(a, b));
            let first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
            let second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
            (
                _mm512_permutex2var_epi64(lo, first, hi),
                _mm512_permutex2var_epi64(lo, second, hi),
            )
        }
    }
    #[inline(always)]
    fn pack_u16_u8(self, a: __m512i, b: __m512i) -> __m512i {
        // packus interleaves the 128-bit blocks of a and b (8 bytes each per block);
        // gather a's four quarters first, then b's.
        unsafe {
            let order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
            _mm512_permutexvar_epi64(order, _mm512_packus_epi16(a, b))
        }
    }
}
