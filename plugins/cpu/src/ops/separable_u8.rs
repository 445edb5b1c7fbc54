//! Vector paths of the u8 separable filters (Gaussian, Sobel → i16): the same banded
//! row-then-column scheme as [`super::blur::separable`], with u16 row sums (half the ring
//! traffic of u32) and the passes in [`crate::simd::separable`]. Integer sums are exact, so
//! outputs equal the scalar engine's.

use rayon::prelude::*;
use yam_plugin_api::kernels::BorderMode;

use super::blur::{band_rows, Plane};
use super::border::{index_table, RowPadder};
use crate::isa::Isa;
use crate::recycle::{output_vec, Recyclable};
use crate::simd;
use crate::simd::separable::{ColumnPass, ColumnPassI16, RowPass};

/// u8 Gaussian: `(Σ_j ky[j] · Σ_i kx[i] · src + 2^15) >> 16` with the border rule, or `None`
/// when `isa` is scalar or the taps do not fit the u16 row sums (the caller then runs the
/// scalar engine). Q8 Gaussian taps (each axis summing to 256) always fit.
pub(crate) fn gaussian_u8(
    src: Plane<'_, u8>,
    kx: &[u32],
    ky: &[u32],
    mode: BorderMode,
    constant: u8,
    isa: Isa,
) -> Option<Vec<u8>> {
    let (sx, sy) = (kx.iter().sum::<u32>(), ky.iter().sum::<u32>());
    // Row sums below 2^16; column sums plus rounding below 2^32.
    if isa.usable() == Isa::Scalar || 255 * u64::from(sx) >= 1 << 16 || sy > 1 << 16 {
        return None;
    }
    let kx: Vec<u16> = kx.iter().map(|&t| t as u16).collect();
    let ky: Vec<u16> = ky.iter().map(|&t| t as u16).collect();
    Some(separable_u8(
        src,
        &kx,
        ky.len(),
        mode,
        constant,
        isa,
        |ring, first, out| {
            let pass = ColumnPass {
                ring,
                first,
                taps: &ky,
                round: 1 << 15,
                out,
            };
            let ran = simd::dispatch(isa, pass).is_ok();
            debug_assert!(ran, "isa checked above");
        },
    ))
}

/// u8 → i16 derivative filter whose exact sums always fit i16 (`255 · Σ|kx| · Σ|ky| <
/// 2^15`), output unscaled; `None` when `isa` is scalar or the bound does not hold. The
/// passes wrap in 16 bits, which is exact because every final sum fits.
pub(crate) fn derivative_u8_i16(
    src: Plane<'_, u8>,
    kx: &[i32],
    ky: &[i32],
    mode: BorderMode,
    constant: u8,
    isa: Isa,
) -> Option<Vec<i16>> {
    let abs_sum = |k: &[i32]| k.iter().map(|t| u64::from(t.unsigned_abs())).sum::<u64>();
    if isa.usable() == Isa::Scalar || 255 * abs_sum(kx) * abs_sum(ky) >= 1 << 15 {
        return None;
    }
    // Two's complement: u16 wrapping products and sums are the i16 ones.
    let kx: Vec<u16> = kx.iter().map(|&t| t as i16 as u16).collect();
    let ky: Vec<u16> = ky.iter().map(|&t| t as i16 as u16).collect();
    Some(separable_u8(
        src,
        &kx,
        ky.len(),
        mode,
        constant,
        isa,
        |ring, first, out| {
            let pass = ColumnPassI16 {
                ring,
                first,
                taps: &ky,
                out,
            };
            let ran = simd::dispatch(isa, pass).is_ok();
            debug_assert!(ran, "isa checked above");
        },
    ))
}

/// Runs the row pass with `kx` into a ring of `kyl` u16 row-sum rows per band, then
/// `column(ring, first, out_row)` per output row, where ring row j of the window is slot
/// `(first + j) % kyl`. The caller has checked that `isa` is not scalar.
fn separable_u8<O: Recyclable>(
    src: Plane<'_, u8>,
    kx: &[u16],
    kyl: usize,
    mode: BorderMode,
    constant: u8,
    isa: Isa,
    column: impl Fn(&[u16], usize, &mut [O]) + Sync,
) -> Vec<O> {
    let c = src.channels;
    let row_len = src.width * c;
    let mut out = output_vec::<O>(row_len * src.height);
    if out.is_empty() {
        return out;
    }
    let (rx, ry) = (kx.len() / 2, kyl / 2);
    let padder = RowPadder::new(mode, src.width, c, rx, rx);
    let rows = index_table(mode, src.height, ry, ry);
    let band = band_rows(src.height, 4 * kyl);
    out.par_chunks_mut(band * row_len)
        .enumerate()
        .for_each(|(b, chunk)| {
            let mut padded = vec![constant; padder.padded_len()];
            let mut ring = vec![0u16; kyl * row_len];
            for (i, out_row) in chunk.chunks_mut(row_len).enumerate() {
                let y = b * band + i;
                // The ring holds padded row p in slot p % kyl; after the first row of the
                // band only one new row is needed.
                let first_new = if i == 0 { y } else { y + kyl - 1 };
                for p in first_new..y + kyl {
                    padder.pad_source(src.data, rows[p], constant, &mut padded);
                    let pass = RowPass {
                        src: &padded,
                        taps: kx,
                        c,
                        out: &mut ring[(p % kyl) * row_len..][..row_len],
                    };
                    let ran = simd::dispatch(isa, pass).is_ok();
                    debug_assert!(ran, "isa checked above");
                }
                column(&ring, y % kyl, out_row);
            }
        });
    out
}
