//! The u8 box filter on vectors, columns first: per band, a running sum of the window's `k`
//! source rows per column (one row enters and one leaves per output row), then `k`
//! neighbouring column sums per output pixel. Source rows are read in place (no padded
//! copy) and the division is one u16 multiply ([`RoundDiv`]); OpenCV sums rows first, which
//! needs a padded row and a ring of row sums. Integer sums are exact, so the result is the
//! scalar engine's.

use rayon::prelude::*;
use yam_plugin_api::kernels::BorderMode;

use crate::isa::Isa;
use crate::ops::blur::{band_rows, Plane};
use crate::ops::border::{index_table, prefetch};
use crate::recycle::output_vec;
use crate::simd;
use crate::simd::box_sums::{ColumnUpdate, RoundDiv, RowFinish};

/// `k`×`k` box filter of a u8 plane: `round(sum / k²)` when `normalize`, else the sum
/// saturated to 255; `None` (the caller runs the scalar engine) when `isa` is scalar, `k` is
/// even or above 15 (sums must fit u16), or `k` is 1 and normalised ([`RoundDiv`] has no
/// constants for it).
pub(crate) fn box_u8(
    src: Plane<'_, u8>,
    k: usize,
    normalize: bool,
    mode: BorderMode,
    constant: u8,
    isa: Isa,
) -> Option<Vec<u8>> {
    if isa.usable() == Isa::Scalar || k % 2 == 0 || k > 15 {
        return None;
    }
    let div = if normalize {
        Some(RoundDiv::for_box(k)?)
    } else {
        None
    };
    let (w, c) = (src.width, src.channels);
    let row_len = w * c;
    let mut out = output_vec::<u8>(row_len * src.height);
    if out.is_empty() {
        return Some(out);
    }
    let r = k / 2;
    // Padded row / column p is image row / column p - r, or the constant.
    let rows = index_table(mode, src.height, r, r);
    let columns = index_table(mode, w, r, r);
    let constant_row = vec![constant; row_len];
    let row = |p: usize| match rows[p] {
        Some(y) => &src.data[y * row_len..][..row_len],
        None => &constant_row[..],
    };
    let update = |sums: &mut [u16], enter, leave| {
        let pass = ColumnUpdate { sums, enter, leave };
        let ran = simd::dispatch(isa, pass).is_ok();
        debug_assert!(ran, "isa checked above");
    };
    let band = band_rows(src.height, 4 * k);
    out.par_chunks_mut(band * row_len)
        .enumerate()
        .for_each(|(b, chunk)| {
            // Column sums of the padded columns; the image's columns start at r · c.
            let mut sums = vec![0u16; columns.len() * c];
            for (i, out_row) in chunk.chunks_mut(row_len).enumerate() {
                let y = b * band + i;
                let inner = &mut sums[r * c..][..row_len];
                if i == 0 {
                    for p in y..y + k {
                        update(inner, row(p), None);
                    }
                } else {
                    update(inner, row(y + k - 1), Some(row(y - 1)));
                }
                // The row that enters next: its load overlaps this row's arithmetic.
                if let Some(&Some(next)) = rows.get(y + k) {
                    prefetch(&src.data[next * row_len..][..row_len]);
                }
                // A padded column's sum is its source column's, or k constants.
                for p in (0..r).chain(r + w..columns.len()) {
                    for ch in 0..c {
                        sums[p * c + ch] = match columns[p] {
                            Some(x) => sums[(r + x) * c + ch],
                            None => k as u16 * u16::from(constant),
                        };
                    }
                }
                let pass = RowFinish {
                    sums: &sums,
                    k,
                    c,
                    div,
                    out: out_row,
                };
                let ran = simd::dispatch(isa, pass).is_ok();
                debug_assert!(ran, "isa checked above");
            }
        });
    Some(out)
}
