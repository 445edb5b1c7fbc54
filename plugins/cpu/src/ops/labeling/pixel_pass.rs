//! The last pass of 8-connectivity labeling: every pixel gets its 2×2 block's final label
//! (`table[block]`) where the mask is set, else 0. Plain code, and on AVX-512 a gather of 16
//! block labels, each widened to its two pixels, for the bulk of every row (LLVM keeps the
//! table lookup scalar on its own).

use crate::isa::Isa;
use crate::simd;

/// One band of the pass: its image rows (`out`, `mask`, `w` wide), its block rows (`blocks`)
/// and its table of final labels.
pub(super) struct PixelPass<'a> {
    pub out: &'a mut [i32],
    pub mask: &'a [u8],
    pub blocks: &'a [u32],
    pub table: &'a [u32],
    pub w: usize,
}

impl PixelPass<'_> {
    /// Runs the pass at `isa` (lowered to what the CPU has).
    pub(super) fn run_at(self, isa: Isa) {
        match isa.usable() {
            #[cfg(all(yam_avx512, target_arch = "x86_64"))]
            // SAFETY: `usable` checked that the CPU has AVX-512 F/BW/VL.
            Isa::Avx512 => unsafe { x86::band_avx512(self) },
            isa => simd::vectorised(isa, self),
        }
    }

    /// Each block row with `rows`, which writes a prefix of its pixel pairs and returns how
    /// many pairs it wrote; the plain code writes the rest.
    #[inline(always)]
    fn block_rows(self, mut rows: impl FnMut(Rows<'_>) -> usize) {
        let PixelPass {
            out,
            mask,
            blocks,
            table,
            w,
        } = self;
        let bw = w.div_ceil(2);
        for ((o, m), b) in out
            .chunks_mut(2 * w)
            .zip(mask.chunks(2 * w))
            .zip(blocks.chunks(bw))
        {
            let (o0, o1) = o.split_at_mut(w.min(o.len()));
            let (m0, m1) = m.split_at(w.min(m.len()));
            let done = rows(Rows {
                o0,
                o1,
                m0,
                m1,
                blocks: b,
                table,
            });
            Rows {
                o0: &mut o0[2 * done..],
                o1: if o1.is_empty() {
                    o1
                } else {
                    &mut o1[2 * done..]
                },
                m0: &m0[2 * done..],
                m1: if m1.is_empty() { m1 } else { &m1[2 * done..] },
                blocks: &b[done..],
                table,
            }
            .write_plain();
        }
    }
}

impl simd::PlainKernel for PixelPass<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        self.block_rows(|_| 0);
    }
}

/// One block row: its top image row (`o0`, `m0`) and bottom one (`o1`, `m1`; empty for the
/// last block row of an odd height), from the same column on.
struct Rows<'a> {
    o0: &'a mut [i32],
    o1: &'a mut [i32],
    m0: &'a [u8],
    m1: &'a [u8],
    blocks: &'a [u32],
    table: &'a [u32],
}

impl Rows<'_> {
    /// Writes every pixel; branch-free, as on noisy masks a branch here mispredicts half the
    /// time.
    #[inline(always)]
    fn write_plain(self) {
        let Rows {
            o0,
            o1,
            m0,
            m1,
            blocks,
            table,
        } = self;
        let w = o0.len();
        let keep = |m: u8| -i32::from(m != 0);
        let pairs = w / 2;
        // One loop per row count, so that each is a straight loop.
        if o1.is_empty() {
            for bx in 0..pairs {
                let l = table[blocks[bx] as usize] as i32;
                o0[2 * bx] = l & keep(m0[2 * bx]);
                o0[2 * bx + 1] = l & keep(m0[2 * bx + 1]);
            }
        } else {
            let (o1, m1) = (&mut o1[..2 * pairs], &m1[..2 * pairs]);
            for bx in 0..pairs {
                let l = table[blocks[bx] as usize] as i32;
                o0[2 * bx] = l & keep(m0[2 * bx]);
                o0[2 * bx + 1] = l & keep(m0[2 * bx + 1]);
                o1[2 * bx] = l & keep(m1[2 * bx]);
                o1[2 * bx + 1] = l & keep(m1[2 * bx + 1]);
            }
        }
        if w % 2 == 1 {
            let l = table[blocks[pairs] as usize] as i32;
            o0[w - 1] = l & keep(m0[w - 1]);
            if !o1.is_empty() {
                o1[w - 1] = l & keep(m1[w - 1]);
            }
        }
    }
}

#[cfg(all(yam_avx512, target_arch = "x86_64"))]
mod x86 {
    use std::arch::x86_64::*;

    use super::{PixelPass, Rows};

    /// [`PixelPass`] with 16 blocks (32 pixels of each row) at a time.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VL.
    #[allow(
        clippy::incompatible_msrv,
        reason = "compiled only with rustc >= 1.89 (build.rs)"
    )]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
    pub(super) unsafe fn band_avx512(pass: PixelPass<'_>) {
        assert!(pass.table.len() <= i32::MAX as usize, "labels fit in i32");
        pass.block_rows(|rows| {
            // SAFETY: this function's caller guarantees AVX-512.
            unsafe { vector_pairs(rows) }
        });
    }

    /// Writes the first `16·k` pixel pairs of `rows` (all whole groups of 16 blocks); returns
    /// how many. A block label past the table reads 0, as a masked-off gather lane.
    #[allow(
        clippy::incompatible_msrv,
        reason = "compiled only with rustc >= 1.89 (build.rs)"
    )]
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
    unsafe fn vector_pairs(rows: Rows<'_>) -> usize {
        let two_rows = !rows.o1.is_empty();
        let groups = (rows.o0.len() / 2).min(rows.blocks.len()) / 16;
        assert!(rows.m0.len() >= 32 * groups);
        if two_rows {
            assert!(rows.o1.len() >= 32 * groups && rows.m1.len() >= 32 * groups);
        }
        // SAFETY: every load and store is inside the first 32·groups pixels of a row or the
        // first 16·groups blocks (checked above); gather lanes are masked to labels below the
        // table's length, which fits in i32.
        unsafe {
            let len = _mm512_set1_epi32(rows.table.len() as i32);
            let first = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
            let second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
            let zero = _mm256_setzero_si256();
            let write = |o: *mut i32, m: *const u8, lo: __m512i, hi: __m512i| {
                let set = _mm256_cmpneq_epi8_mask(_mm256_loadu_si256(m.cast()), zero);
                _mm512_storeu_si512(o.cast(), _mm512_maskz_mov_epi32(set as u16, lo));
                _mm512_storeu_si512(
                    o.add(16).cast(),
                    _mm512_maskz_mov_epi32((set >> 16) as u16, hi),
                );
            };
            for g in 0..groups {
                let b = _mm512_loadu_si512(rows.blocks.as_ptr().add(16 * g).cast());
                let inside = _mm512_cmplt_epu32_mask(b, len);
                let l = _mm512_mask_i32gather_epi32::<4>(
                    _mm512_setzero_si512(),
                    inside,
                    b,
                    rows.table.as_ptr().cast(),
                );
                let (lo, hi) = (
                    _mm512_permutexvar_epi32(first, l),
                    _mm512_permutexvar_epi32(second, l),
                );
                write(
                    rows.o0.as_mut_ptr().add(32 * g),
                    rows.m0.as_ptr().add(32 * g),
                    lo,
                    hi,
                );
                if two_rows {
                    write(
                        rows.o1.as_mut_ptr().add(32 * g),
                        rows.m1.as_ptr().add(32 * g),
                        lo,
                        hi,
                    );
                }
            }
        }
        16 * groups
    }
}
