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
}
