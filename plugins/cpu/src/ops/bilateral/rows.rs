//! u8 bilateral rows, taps outside and pixels inside: for each tap, one pass over a chunk of
//! the row adds `w·q` and `w` into f32 accumulators, a plain loop LLVM vectorises (the colour
//! weight is a table gather). Each pixel still sums its taps in window order with the same
//! float32 operations, so the result is bit-identical to the per-pixel loop.
//!
//! The bodies are `#[inline(always)]` and compiled once per ISA inside `#[target_feature]`
//! wrappers chosen at run time.

use crate::isa::Isa;

/// Pixels per chunk: the accumulators (≤ 16 bytes a pixel) stay in L1.
const CHUNK: usize = 512;

/// The u8 colour table for 3 channels is padded to this length so that a masked index needs
/// no bounds check (distances are at most 3·255).
pub(super) const C3_TABLE: usize = 1024;

/// One output row's inputs: the padded image, the index of pixel 0's centre, the tap
/// offsets (window order) and their spatial weights.
#[derive(Clone, Copy)]
pub(super) struct Row<'a> {
    pub padded: &'a [u8],
    pub centre: usize,
    pub ofs: &'a [isize],
    pub space: &'a [f32],
}

/// Scratch accumulators for [`u8_row`], one per band.
pub(super) struct Acc {
    sum: Vec<f32>,
    wsum: Vec<f32>,
}

impl Acc {
    pub fn new() -> Acc {
        Acc {
            sum: vec![0.0; 3 * CHUNK],
            wsum: vec![0.0; CHUNK],
        }
    }
}

/// Filters one row of `out.len() / c` pixels with `c` (1 or 3) channels at `isa`.
/// `color` has 256 entries for 1 channel and [`C3_TABLE`] for 3.
pub(super) fn u8_row(isa: Isa, row: Row, color: &[f32], c: usize, acc: &mut Acc, out: &mut [u8]) {
    match isa.usable() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Sse41 => {
            // SAFETY: `usable` checked that the CPU has SSE4.1.
            unsafe { x86::row_sse41(row, color, c, acc, out) }
        }
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Avx2 => {
            // SAFETY: `usable` checked that the CPU has AVX2.
            unsafe { x86::row_avx2(row, color, c, acc, out) }
        }
        #[cfg(all(yam_avx512, any(target_arch = "x86", target_arch = "x86_64")))]
        Isa::Avx512 => {
            // SAFETY: `usable` checked that the CPU has AVX-512 F/BW/VL.
            unsafe { x86::row_avx512(row, color, c, acc, out) }
        }
        // Compilers without AVX-512 support run the AVX2 code at this level.
        #[cfg(all(not(yam_avx512), any(target_arch = "x86", target_arch = "x86_64")))]
        Isa::Avx512 => {
            // SAFETY: `usable` checked that the CPU has AVX-512, hence AVX2.
            unsafe { x86::row_avx2(row, color, c, acc, out) }
        }
        _ => row_body(row, color, c, acc, out),
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86 {
    use super::{row_body, Acc, Row};

    /// # Safety
    /// The CPU must support SSE4.1.
    #[target_feature(enable = "sse4.1")]
    pub(super) unsafe fn row_sse41(
        row: Row,
        color: &[f32],
        c: usize,
        acc: &mut Acc,
        out: &mut [u8],
    ) {
        row_body(row, color, c, acc, out)
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn row_avx2(
        row: Row,
        color: &[f32],
        c: usize,
        acc: &mut Acc,
        out: &mut [u8],
    ) {
        row_body(row, color, c, acc, out)
    }

    /// # Safety
    /// The CPU must support AVX-512 F, BW and VL.
    #[cfg(yam_avx512)]
    #[allow(
        clippy::incompatible_msrv,
        reason = "compiled only with rustc >= 1.89 (build.rs)"
    )]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
    pub(super) unsafe fn row_avx512(
        row: Row,
        color: &[f32],
        c: usize,
        acc: &mut Acc,
        out: &mut [u8],
    ) {
        row_body(row, color, c, acc, out)
    }
}

#[inline(always)]
fn row_body(row: Row, color: &[f32], c: usize, acc: &mut Acc, out: &mut [u8]) {
    let w = out.len() / c;
    let mut x0 = 0;
    while x0 < w {
        let n = CHUNK.min(w - x0);
        let centre = row.centre + x0 * c;
        let cen = &row.padded[centre..centre + n * c];
        let out = &mut out[x0 * c..(x0 + n) * c];
        if c == 1 {
            let color: &[f32; 256] = color.try_into().expect("256-entry table");
            chunk_c1(row, centre, cen, color, acc, out);
        } else {
            let color: &[f32; C3_TABLE] = color.try_into().expect("padded 3-channel table");
            chunk_c3(row, centre, cen, color, acc, out);
        }
        x0 += n;
    }
}

/// One chunk of a gray row: `cen` is the chunk's centre pixels, `centre` the index of its
/// first one.
#[inline(always)]
fn chunk_c1(
    row: Row,
    centre: usize,
    cen: &[u8],
    color: &[f32; 256],
    acc: &mut Acc,
    out: &mut [u8],
) {
    let n = cen.len();
    let (sum, wsum) = (&mut acc.sum[..n], &mut acc.wsum[..n]);
    sum.fill(0.0);
    wsum.fill(0.0);
    for (&of, &sw) in row.ofs.iter().zip(row.space) {
        let start = centre.wrapping_add_signed(of);
        let src = &row.padded[start..start + n];
        for (((&q, &p), s), ws) in src.iter().zip(cen).zip(sum.iter_mut()).zip(wsum.iter_mut()) {
            let wt = sw * color[usize::from(q.abs_diff(p))];
            *s += f32::from(q) * wt;
            *ws += wt;
        }
    }
    for ((o, &s), &ws) in out.iter_mut().zip(sum.iter()).zip(wsum.iter()) {
        *o = (s / ws).round_ties_even() as u8;
    }
}

/// One chunk of a 3-channel row (interleaved), colour distance L1 over the channels.
#[inline(always)]
fn chunk_c3(
    row: Row,
    centre: usize,
    cen: &[u8],
    color: &[f32; C3_TABLE],
    acc: &mut Acc,
    out: &mut [u8],
) {
    let n = cen.len() / 3;
    let (sum, wsum) = (&mut acc.sum[..3 * n], &mut acc.wsum[..n]);
    sum.fill(0.0);
    wsum.fill(0.0);
    for (&of, &sw) in row.ofs.iter().zip(row.space) {
        let start = centre.wrapping_add_signed(of);
        let src = &row.padded[start..start + 3 * n];
        let pixels = src.chunks_exact(3).zip(cen.chunks_exact(3));
        for ((q, p), (s, ws)) in pixels.zip(sum.chunks_exact_mut(3).zip(wsum.iter_mut())) {
            let dist = usize::from(q[0].abs_diff(p[0]))
                + usize::from(q[1].abs_diff(p[1]))
                + usize::from(q[2].abs_diff(p[2]));
            let wt = sw * color[dist & (C3_TABLE - 1)];
            s[0] += f32::from(q[0]) * wt;
            s[1] += f32::from(q[1]) * wt;
            s[2] += f32::from(q[2]) * wt;
            *ws += wt;
        }
    }
    for ((o, s), &ws) in out
        .chunks_exact_mut(3)
        .zip(sum.chunks_exact(3))
        .zip(wsum.iter())
    {
        let inv = 1.0 / ws;
        for ch in 0..3 {
            o[ch] = (s[ch] * inv).round_ties_even() as u8;
        }
    }
}
