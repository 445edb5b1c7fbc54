//! u8 bilateral over a band of rows, with each pair's weight computed once.
//!
//! Taps `(dy, dx)` and `(−dy, −dx)` have the same spatial weight, and the colour weight of a
//! pair of pixels does not depend on which one is the centre. So only the "forward" taps
//! (`dy > 0`, or `dy = 0` and `dx >= 0`) look up the colour table; their weights are kept for
//! the last `r + 1` rows of a strip, and a backward tap reads its mirror's weight from the
//! row (and column) it points at. The accumulation then runs taps outside and pixels inside
//! over f32 row accumulators, in window order with the same float32 operations as the
//! per-pixel loop, so the result is bit-identical to it.
//!
//! The loop bodies are `#[inline(always)]` and compiled once per ISA inside
//! `#[target_feature]` wrappers chosen at run time (the table lookup is a gather).

use super::lookup::{Lookup, Plain};
use crate::isa::Isa;

/// Pixels per strip: the kept weights (forward taps · (r + 1) rows · strip) stay in L2.
const STRIP: usize = 256;

/// Pixels whose sums stay in registers while the taps are added (4 AVX-512 vectors).
const BLOCK: usize = 64;

/// Bytes of kept weights a band may hold (about an L2 cache; d 9 needs 132 KiB).
const MAX_KEPT: usize = 2 << 20;

/// Whether a window of `taps` taps and radius `r` fits [`MAX_KEPT`] (the kept weights grow
/// as r³: d 21 is the largest disc that fits).
pub(super) fn fits(taps: usize, r: usize) -> bool {
    let forward = taps.div_ceil(2);
    forward * (r + 1) * (STRIP + 2 * r) * std::mem::size_of::<f32>() <= MAX_KEPT
}

/// The padded image and window shared by every band.
pub(super) struct Plan<'a> {
    /// Padded by `r` rows above and below and `2r` columns left and right.
    pub padded: &'a [u8],
    /// Elements per padded row.
    pub plen: usize,
    pub width: usize,
    pub channels: usize,
    pub radius: usize,
    /// Taps in window order and their spatial weights.
    pub taps: &'a [(isize, isize)],
    pub space: &'a [f32],
    /// Weights for L1 distances 0 … 255·channels.
    pub color: &'a [f32],
}

/// Where a tap's weight comes from: forward tap `fwd`'s kept row at `dy` rows and `dx`
/// pixels from the pixel (0, 0 for a forward tap itself).
#[derive(Clone, Copy)]
struct Source {
    fwd: usize,
    dy: isize,
    dx: isize,
}

/// The forward taps (indices into the window) and each tap's [`Source`], in window order.
fn sources(taps: &[(isize, isize)]) -> (Vec<usize>, Vec<Source>) {
    let forward = |&(dy, dx): &(isize, isize)| dy > 0 || (dy == 0 && dx >= 0);
    let fwd: Vec<usize> = (0..taps.len()).filter(|&k| forward(&taps[k])).collect();
    let find = |t: (isize, isize)| {
        fwd.iter()
            .position(|&k| taps[k] == t)
            .expect("disc is symmetric")
    };
    let src = taps
        .iter()
        .map(|&(dy, dx)| {
            if forward(&(dy, dx)) {
                Source {
                    fwd: find((dy, dx)),
                    dy: 0,
                    dx: 0,
                }
            } else {
                Source {
                    fwd: find((-dy, -dx)),
                    dy,
                    dx,
                }
            }
        })
        .collect();
    (fwd, src)
}

/// Filters output rows `y0 .. y0 + out.len() / (width·channels)` into `out` at `isa`.
pub(super) fn u8_band(isa: Isa, plan: &Plan, y0: usize, out: &mut [u8]) {
    match isa.usable() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Sse41 => {
            // SAFETY: `usable` checked that the CPU has SSE4.1.
            unsafe { x86::band_sse41(plan, y0, out) }
        }
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Isa::Avx2 => {
            // SAFETY: `usable` checked that the CPU has AVX2.
            unsafe { x86::band_avx2(plan, y0, out) }
        }
        #[cfg(all(yam_avx512, any(target_arch = "x86", target_arch = "x86_64")))]
        Isa::Avx512 => {
            // SAFETY: `usable` checked that the CPU has AVX-512 F/BW/VL.
            unsafe { x86::band_avx512(plan, y0, out) }
        }
        // Compilers without AVX-512 support run the AVX2 code at this level.
        #[cfg(all(not(yam_avx512), any(target_arch = "x86", target_arch = "x86_64")))]
        Isa::Avx512 => {
            // SAFETY: `usable` checked that the CPU has AVX-512, hence AVX2.
            unsafe { x86::band_avx2(plan, y0, out) }
        }
        _ => band_body(Plain, plan, y0, out),
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86 {
    use super::super::lookup::{self, Plain};
    use super::{band_body, Plan};

    /// # Safety
    /// The CPU must support SSE4.1.
    #[target_feature(enable = "sse4.1")]
    pub(super) unsafe fn band_sse41(plan: &Plan, y0: usize, out: &mut [u8]) {
        band_body(Plain, plan, y0, out)
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn band_avx2(plan: &Plan, y0: usize, out: &mut [u8]) {
        // SAFETY: the caller guarantees AVX2.
        band_body(unsafe { lookup::Avx2::new() }, plan, y0, out)
    }

    /// # Safety
    /// The CPU must support AVX-512 F, BW and VL.
    #[cfg(yam_avx512)]
    #[allow(
        clippy::incompatible_msrv,
        reason = "compiled only with rustc >= 1.89 (build.rs)"
    )]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
    pub(super) unsafe fn band_avx512(plan: &Plan, y0: usize, out: &mut [u8]) {
        // SAFETY: the caller guarantees AVX-512 F.
        band_body(unsafe { lookup::Avx512::new() }, plan, y0, out)
    }
}

#[inline(always)]
fn band_body<L: Lookup>(lk: L, plan: &Plan, y0: usize, out: &mut [u8]) {
    if plan.channels == 1 {
        band_c::<1, L>(lk, plan, y0, out)
    } else {
        band_c::<3, L>(lk, plan, y0, out)
    }
}

/// The band in strips of [`STRIP`] pixels; in each strip the `r` rows above the band only
/// fill the kept weights.
#[inline(always)]
fn band_c<const C: usize, L: Lookup>(lk: L, plan: &Plan, y0: usize, out: &mut [u8]) {
    let (w, r) = (plan.width, plan.radius);
    let rows = out.len() / (w * C);
    let (fwd, src) = sources(plan.taps);
    let ext = STRIP + 2 * r;
    // Kept weights: forward tap j, row y at slot y mod (r + 1), pixel x0 − r + i at i.
    let mut kept = vec![0f32; fwd.len() * (r + 1) * ext];
    let mut idx = vec![0u32; ext];
    // The neighbours as f32 (converted once, not once per tap): padded row yy at slot
    // yy mod (2r + 1), padded columns x0 + r … x0 + n + 3r − 1.
    let qring = 2 * r + 1;
    let mut qrows = vec![0f32; qring * ext * C];
    let mut starts = Vec::with_capacity(plan.taps.len());
    let mut slots = Vec::with_capacity(2 * r + 1);
    let mut x0 = 0;
    while x0 < w {
        let n = STRIP.min(w - x0);
        // Padded row y + r holds image row y; pixel x is at column x + 2r.
        let at = |y: usize, x: usize| y * plan.plen + x * C;
        let convert = |qrows: &mut [f32], yy: usize| {
            let src = &plan.padded[at(yy, x0 + r)..at(yy, x0 + n + 3 * r)];
            let slot = yy % qring * ext * C;
            for (d, &s) in qrows[slot..slot + src.len()].iter_mut().zip(src) {
                *d = f32::from(s);
            }
        };
        (y0..y0 + r).for_each(|yy| convert(&mut qrows, yy));
        for yy in y0..y0 + rows + r {
            convert(&mut qrows, yy + r);
            // yy − r is the image row; yy is its padded row.
            let slot = yy % (r + 1);
            for (j, &k) in fwd.iter().enumerate() {
                let (dy, dx) = plan.taps[k];
                let base = ((j * (r + 1)) + slot) * ext;
                let wrow = &mut kept[base..base + n + 2 * r];
                // Pixels x0 − r … x0 + n + r − 1 (padded columns x0 + r …).
                let p0 = at(yy, x0 + r);
                let q0 = at(
                    yy.wrapping_add_signed(dy),
                    x0.wrapping_add_signed(dx + r as isize),
                );
                let len = (n + 2 * r) * C;
                let cen = &plan.padded[p0..p0 + len];
                let nb = &plan.padded[q0..q0 + len];
                if C == 1 {
                    lk.weights_gray(plan.space[k], plan.color, cen, nb, wrow);
                } else {
                    distances::<C>(cen, nb, &mut idx);
                    lk.weights(plan.space[k], plan.color, &idx, wrow);
                }
            }
            if yy < y0 + r {
                continue;
            }
            // Where each tap's neighbours and weights start for this row of the strip.
            starts.clear();
            // Ring slots of rows yy − r … yy + r (a division per row, not per tap).
            slots.clear();
            slots.extend((yy - r..=yy + r).map(|y| (y % (r + 1), y % qring)));
            let slot = |dy: isize| slots[(dy + r as isize) as usize];
            starts.extend(plan.taps.iter().zip(&src).map(|(&(dy, dx), s)| {
                let wk = (s.fwd * (r + 1) + slot(s.dy).0) * ext + (r as isize + s.dx) as usize;
                let qk = (slot(dy).1 * ext + (r as isize + dx) as usize) * C;
                (qk, wk)
            }));
            let row = yy - r - y0;
            let o = &mut out[(row * w + x0) * C..(row * w + x0 + n) * C];
            let mut x = 0;
            while x < n {
                let m = BLOCK.min(n - x);
                let o = &mut o[x * C..(x + m) * C];
                if m == BLOCK {
                    block::<C>(BLOCK, &qrows, &kept, &starts, x, o);
                } else {
                    block::<C>(m, &qrows, &kept, &starts, x, o);
                }
                x += m;
            }
        }
        x0 += n;
    }
}

/// `idx[i] = L1(nb_i − cen_i)` for the pixels of `cen` and their neighbours `nb`.
#[inline(always)]
fn distances<const C: usize>(cen: &[u8], nb: &[u8], idx: &mut [u32]) {
    let pixels = cen.chunks_exact(C).zip(nb.chunks_exact(C));
    for (d, (p, q)) in idx.iter_mut().zip(pixels) {
        *d = (0..C).map(|ch| u32::from(q[ch].abs_diff(p[ch]))).sum();
    }
}

/// Output pixels `x … x + m` of a strip row (`m <= BLOCK`): `sum += w·q`, `wsum += w`
/// over the taps in window order (`starts`: each tap's first neighbour element in `qrows`
/// and weight in `kept` for pixel 0), then rounded into `out`. With `m == BLOCK` the sums
/// live in registers across the taps.
#[inline(always)]
fn block<const C: usize>(
    m: usize,
    qrows: &[f32],
    kept: &[f32],
    starts: &[(usize, usize)],
    x: usize,
    out: &mut [u8],
) {
    let mut sum = [0f32; 3 * BLOCK];
    let mut wsum = [0f32; BLOCK];
    let (sum, wsum) = (&mut sum[..m * C], &mut wsum[..m]);
    for &(qk, wk) in starts {
        let q = &qrows[qk + x * C..qk + (x + m) * C];
        let w = &kept[wk + x..wk + x + m];
        for (((q, &wt), s), ws) in q
            .chunks_exact(C)
            .zip(w)
            .zip(sum.chunks_exact_mut(C))
            .zip(wsum.iter_mut())
        {
            for ch in 0..C {
                s[ch] += q[ch] * wt;
            }
            *ws += wt;
        }
    }
    finish::<C>(sum, wsum, out);
}

/// OpenCV's rounding: `sum / wsum` for 1 channel, `sum · (1 / wsum)` for 3. The weight sum
/// is at least the centre's 1, and the quotient lies in 0 … 255.
#[inline(always)]
fn finish<const C: usize>(sum: &[f32], wsum: &[f32], out: &mut [u8]) {
    if C == 1 {
        for ((o, &s), &ws) in out.iter_mut().zip(sum).zip(wsum) {
            *o = (s / ws).round_ties_even() as i32 as u8;
        }
    } else {
        for ((o, s), &ws) in out.chunks_exact_mut(C).zip(sum.chunks_exact(C)).zip(wsum) {
            let inv = 1.0 / ws;
            for ch in 0..C {
                o[ch] = (s[ch] * inv).round_ties_even() as i32 as u8;
            }
        }
    }
}
