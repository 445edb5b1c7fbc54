//! The colour-table lookup `out[i] = sw · table[idx[i]]`: a plain loop, or AVX2 / AVX-512
//! gathers (LLVM leaves this loop scalar on its own; the gather is what makes the forward
//! weights cheap), and on AVX-512 for gray pixels register permutes for distances under 64.
//! The product is the same single float32 multiply of the same table entry either way.

#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// One way of looking weights up; implementations are `#[inline(always)]` so that they
/// compile inside their ISA's `#[target_feature]` function.
pub(super) trait Lookup: Copy {
    /// `out[i] = sw · table[idx[i]]` for `i < out.len()` (`idx` at least as long).
    /// Panics (plain) or clamps (gathers) on an index past the table.
    fn weights(self, sw: f32, table: &[f32], idx: &[u32], out: &mut [f32]);

    /// Gray pixels: `out[i] = sw · table[|nb[i] − cen[i]|]` (`cen`, `nb` at least as long as
    /// `out`; `table` at least 256 entries), the distance computed in registers.
    fn weights_gray(self, sw: f32, table: &[f32], cen: &[u8], nb: &[u8], out: &mut [f32]);
}

/// Scalar lookups.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plain;

impl Lookup for Plain {
    #[inline(always)]
    fn weights(self, sw: f32, table: &[f32], idx: &[u32], out: &mut [f32]) {
        for (o, &i) in out.iter_mut().zip(idx) {
            *o = sw * table[i as usize];
        }
    }

    #[inline(always)]
    fn weights_gray(self, sw: f32, table: &[f32], cen: &[u8], nb: &[u8], out: &mut [f32]) {
        let table: &[f32; 256] = table[..256].try_into().expect("256 entries");
        for ((o, &p), &q) in out.iter_mut().zip(cen).zip(nb) {
            *o = sw * table[usize::from(q.abs_diff(p))];
        }
    }
}

/// AVX2 gathers, 8 lanes; a token that exists only where AVX2 was detected.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx2(());

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Avx2 {
    /// # Safety
    /// The CPU must support AVX2.
    pub unsafe fn new() -> Avx2 {
        Avx2(())
    }
}

// SAFETY (both gathers): the tokens exist only after detection; loads and stores stay
// inside `idx`/`cen`/`nb` and `out` (`i + LANES <= n`), and indices are clamped to the table
// (or are byte distances, at most 255, into a table of at least 256).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Lookup for Avx2 {
    #[inline(always)]
    fn weights(self, sw: f32, table: &[f32], idx: &[u32], out: &mut [f32]) {
        let n = out.len();
        assert!(idx.len() >= n && !table.is_empty() && table.len() <= i32::MAX as usize);
        let mut i = 0;
        unsafe {
            let last = _mm256_set1_epi32(table.len() as i32 - 1);
            let swv = _mm256_set1_ps(sw);
            while i + 8 <= n {
                let v = _mm256_loadu_si256(idx.as_ptr().add(i).cast());
                let v = _mm256_min_epu32(v, last);
                let g = _mm256_i32gather_ps::<4>(table.as_ptr(), v);
                _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_mul_ps(swv, g));
                i += 8;
            }
        }
        Plain.weights(sw, table, &idx[i..n], &mut out[i..]);
    }

    #[inline(always)]
    fn weights_gray(self, sw: f32, table: &[f32], cen: &[u8], nb: &[u8], out: &mut [f32]) {
        let n = out.len();
        // Distances are at most 255.
        assert!(cen.len() >= n && nb.len() >= n && table.len() >= 256);
        let mut i = 0;
        unsafe {
            let swv = _mm256_set1_ps(sw);
            while i + 8 <= n {
                let p = _mm_loadl_epi64(cen.as_ptr().add(i).cast());
                let q = _mm_loadl_epi64(nb.as_ptr().add(i).cast());
                let d = _mm_sub_epi8(_mm_max_epu8(p, q), _mm_min_epu8(p, q));
                let g = _mm256_i32gather_ps::<4>(table.as_ptr(), _mm256_cvtepu8_epi32(d));
                _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_mul_ps(swv, g));
                i += 8;
            }
        }
        Plain.weights_gray(sw, table, &cen[i..n], &nb[i..n], &mut out[i..]);
    }
}

/// AVX-512 gathers, 16 lanes; a token that exists only where AVX-512 F was detected.
#[cfg(all(yam_avx512, any(target_arch = "x86", target_arch = "x86_64")))]
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx512(());

#[cfg(all(yam_avx512, any(target_arch = "x86", target_arch = "x86_64")))]
impl Avx512 {
    /// # Safety
    /// The CPU must support AVX-512 F.
    pub unsafe fn new() -> Avx512 {
        Avx512(())
    }
}

#[cfg(all(yam_avx512, any(target_arch = "x86", target_arch = "x86_64")))]
#[allow(
    clippy::incompatible_msrv,
    reason = "compiled only with rustc >= 1.89 (build.rs)"
)]
impl Lookup for Avx512 {
    #[inline(always)]
    fn weights(self, sw: f32, table: &[f32], idx: &[u32], out: &mut [f32]) {
        let n = out.len();
        assert!(idx.len() >= n && !table.is_empty() && table.len() <= i32::MAX as usize);
        let mut i = 0;
        unsafe {
            let last = _mm512_set1_epi32(table.len() as i32 - 1);
            let swv = _mm512_set1_ps(sw);
            while i + 16 <= n {
                let v = _mm512_loadu_si512(idx.as_ptr().add(i).cast());
                let v = _mm512_min_epu32(v, last);
                let g = _mm512_i32gather_ps::<4>(v, table.as_ptr());
                _mm512_storeu_ps(out.as_mut_ptr().add(i), _mm512_mul_ps(swv, g));
                i += 16;
            }
        }
        Plain.weights(sw, table, &idx[i..n], &mut out[i..]);
    }

    #[inline(always)]
    fn weights_gray(self, sw: f32, table: &[f32], cen: &[u8], nb: &[u8], out: &mut [f32]) {
        let n = out.len();
        // Distances are at most 255.
        assert!(cen.len() >= n && nb.len() >= n && table.len() >= 256);
        let mut i = 0;
        unsafe {
            let swv = _mm512_set1_ps(sw);
            // Distances under 64 (neighbours in all but the noisiest images) read the table
            // from four registers with two-table permutes; a gather (16 loads) only where
            // some lane is farther. Same table entries, so the same weights.
            let t = table.as_ptr();
            let (t0, t1) = (_mm512_loadu_ps(t), _mm512_loadu_ps(t.add(16)));
            let (t2, t3) = (_mm512_loadu_ps(t.add(32)), _mm512_loadu_ps(t.add(48)));
            let (c32, c64) = (_mm_set1_epi8(32), _mm_set1_epi8(64));
            while i + 16 <= n {
                let p = _mm_loadu_si128(cen.as_ptr().add(i).cast());
                let q = _mm_loadu_si128(nb.as_ptr().add(i).cast());
                let d = _mm_sub_epi8(_mm_max_epu8(p, q), _mm_min_epu8(p, q));
                let d32 = _mm512_cvtepu8_epi32(d);
                // Each permute takes the low 5 bits of the index: entries 0-31, 32-63.
                let near = _mm512_permutex2var_ps(t0, d32, t1);
                let mid = _mm512_permutex2var_ps(t2, d32, t3);
                let mut g = _mm512_mask_blend_ps(_mm_cmpge_epu8_mask(d, c32), near, mid);
                let far = _mm_cmpge_epu8_mask(d, c64);
                if far != 0 {
                    g = _mm512_mask_i32gather_ps::<4>(g, far, d32, t);
                }
                _mm512_storeu_ps(out.as_mut_ptr().add(i), _mm512_mul_ps(swv, g));
                i += 16;
            }
        }
        Plain.weights_gray(sw, table, &cen[i..n], &nb[i..n], &mut out[i..]);
    }
}
