//! Per-row passes of Canny: 3×3 Sobel, magnitude and non-maximum suppression.
//!
//! Plain loops over equal-length slices, `#[inline(always)]` so that they are compiled (and
//! autovectorised) inside the caller's `#[target_feature]` function.

use super::{CANDIDATE, EDGE, NOT_EDGE};

// Only `EDGE` has its bit: the states OR-ed together show whether a block has one.
const _: () = assert!(EDGE & (CANDIDATE | NOT_EDGE) == 0);

/// `tan(22.5°)·2¹⁵`, rounded, as OpenCV uses it.
pub(super) const TG22: i32 = 13573;

/// `dx`, `dy` and the magnitudes (as [`magnitude`]) of one row for aperture 3 with a
/// replicate border: `above`, `row`, `below` are the source rows (clamped by the caller),
/// `vs`, `vd` scratch of `width + 2`.
///
/// Separable: vertical `[1 2 1]` and `[-1 0 1]` sums first, then horizontal `[-1 0 1]` and
/// `[1 2 1]` with the magnitude in the same loop. Every sum fits i16 (|dx|, |dy| ≤ 1020), so
/// i16 arithmetic is exact.
#[inline(always)]
#[allow(
    clippy::too_many_arguments,
    reason = "three source rows, two scratch, three outputs"
)]
pub(super) fn sobel3(
    [above, row, below]: [&[u8]; 3],
    vs: &mut [i16],
    vd: &mut [i16],
    dx: &mut [i16],
    dy: &mut [i16],
    l2: bool,
    mag: &mut [i32],
) {
    let w = row.len();
    let (above, below) = (&above[..w], &below[..w]);
    {
        let (s, d) = (&mut vs[1..=w], &mut vd[1..=w]);
        for x in 0..w {
            let (a, b, c) = (i16::from(above[x]), i16::from(row[x]), i16::from(below[x]));
            s[x] = a + 2 * b + c;
            d[x] = c - a;
        }
    }
    // Replicate: the column outside the image has the sums of the edge column.
    vs[0] = vs[1];
    vs[w + 1] = vs[w];
    vd[0] = vd[1];
    vd[w + 1] = vd[w];
    let (sl, sr) = (&vs[..w], &vs[2..w + 2]);
    let (dl, dc, dr) = (&vd[..w], &vd[1..=w], &vd[2..w + 2]);
    let (dx, dy) = (&mut dx[..w], &mut dy[..w]);
    mag[0] = 0;
    mag[w + 1] = 0;
    let m = &mut mag[1..=w];
    // The magnitude choice outside the loop, so that each loop is straight vector code.
    if l2 {
        for x in 0..w {
            let (a, b) = (sr[x] - sl[x], dl[x] + 2 * dc[x] + dr[x]);
            (dx[x], dy[x]) = (a, b);
            let (a, b) = (i32::from(a), i32::from(b));
            m[x] = a * a + b * b;
        }
    } else {
        for x in 0..w {
            let (a, b) = (sr[x] - sl[x], dl[x] + 2 * dc[x] + dr[x]);
            (dx[x], dy[x]) = (a, b);
            m[x] = i32::from(a).abs() + i32::from(b).abs();
        }
    }
}

/// `mag[1..=w]` = `|dx| + |dy|` or `dx² + dy²`; `mag[0]` and `mag[w + 1]` are 0 (magnitudes
/// outside the image). Every magnitude of a u8 image fits i32 (at most 2·12240²).
#[inline(always)]
pub(super) fn magnitude(dx: &[i16], dy: &[i16], l2: bool, mag: &mut [i32]) {
    let w = dx.len();
    let dy = &dy[..w];
    mag[0] = 0;
    mag[w + 1] = 0;
    let m = &mut mag[1..=w];
    if l2 {
        for x in 0..w {
            let (a, b) = (i32::from(dx[x]), i32::from(dy[x]));
            m[x] = a * a + b * b;
        }
    } else {
        for x in 0..w {
            m[x] = i32::from(dx[x]).abs() + i32::from(dy[x]).abs();
        }
    }
}

/// The rows non-maximum suppression reads: gradients of one row and the magnitude rows
/// (`width + 2`, zero framed) above, at and below it.
pub(super) struct Around<'a> {
    pub dx: &'a [i16],
    pub dy: &'a [i16],
    pub prev: &'a [i32],
    pub cur: &'a [i32],
    pub next: &'a [i32],
}

/// Non-maximum suppression of row `y` into map states; the strong pixels are appended to
/// `seeds`. Blocks with no magnitude above `low` (most of a natural image) are skipped.
#[inline(always)]
pub(super) fn suppress(
    rows: &Around<'_>,
    thresholds: (i32, i32),
    out: &mut [u8],
    y: usize,
    seeds: &mut Vec<(usize, usize)>,
) {
    const BLOCK: usize = 32;
    let width = out.len();
    // Whole blocks have a constant length, so their loops compile to straight vector code.
    let mut blocks = out.chunks_exact_mut(BLOCK);
    for (b, out) in blocks.by_ref().enumerate() {
        suppress_or_skip(rows, thresholds, b * BLOCK, out, y, seeds);
    }
    let tail = blocks.into_remainder();
    if !tail.is_empty() {
        suppress_or_skip(rows, thresholds, width - tail.len(), tail, y, seeds);
    }
}

/// [`suppress`] of the pixels `x..x + out.len()`.
#[inline(always)]
fn suppress_or_skip(
    rows: &Around<'_>,
    (low, high): (i32, i32),
    x: usize,
    out: &mut [u8],
    y: usize,
    seeds: &mut Vec<(usize, usize)>,
) {
    let n = out.len();
    if rows.cur[x + 1..=x + n]
        .iter()
        .fold(false, |a, &m| a | (m > low))
    {
        let strong = suppress_block(
            &rows.dx[x..x + n],
            &rows.dy[x..x + n],
            &rows.prev[x..x + n + 2],
            &rows.cur[x..x + n + 2],
            &rows.next[x..x + n + 2],
            low,
            high,
            out,
        );
        if strong {
            seeds.extend(
                (x..)
                    .zip(out.iter())
                    .filter(|&(_, &s)| s == EDGE)
                    .map(|(i, _)| (y, i)),
            );
        }
    } else {
        out.fill(NOT_EDGE);
    }
}

/// Suppression of the pixels of `out`, the magnitude rows starting one pixel to the left;
/// whether any is strong.
///
/// Branch-free so it vectorises: the bound a magnitude must exceed is selected by direction.
#[inline(always)]
#[allow(
    clippy::too_many_arguments,
    reason = "gradients, three magnitude rows, thresholds"
)]
fn suppress_block(
    dx: &[i16],
    dy: &[i16],
    prev: &[i32],
    cur: &[i32],
    next: &[i32],
    low: i32,
    high: i32,
    out: &mut [u8],
) -> bool {
    let w = out.len();
    let (dx, dy) = (&dx[..w], &dy[..w]);
    let (pl, pc, pr) = (&prev[..w], &prev[1..=w], &prev[2..w + 2]);
    let (cl, cm, cr) = (&cur[..w], &cur[1..=w], &cur[2..w + 2]);
    let (nl, nc, nr) = (&next[..w], &next[1..=w], &next[2..w + 2]);
    let mut seen = 0u8;
    for x in 0..w {
        let m = cm[x];
        let (xs, ys) = (i32::from(dx[x]), i32::from(dy[x]));
        let ax = xs.abs();
        let ay = ys.abs() << 15;
        let tg22x = ax * TG22;
        let tg67x = tg22x + (ax << 16);
        // The larger neighbour of each direction, unconditionally: selecting between loads
        // would compile to gathers. `>=` is `> n - 1` (magnitudes are ≥ 0).
        let horizontal = cl[x].max(cr[x] - 1);
        let vertical = pc[x].max(nc[x] - 1);
        let rising = pr[x].max(nl[x]);
        let falling = pl[x].max(nr[x]);
        // Diagonal along the gradient's sign: up-right/down-left when the signs differ.
        let diagonal = if (xs ^ ys) < 0 { rising } else { falling };
        let bound = if ay < tg22x {
            horizontal
        } else if ay > tg67x {
            vertical
        } else {
            diagonal
        };
        // `&`, `|` rather than `&&`, `||`: short circuits would stop the vectorisation.
        let keep = (m > low) & (m > bound);
        let state = if !keep {
            NOT_EDGE
        } else if m > high {
            EDGE
        } else {
            CANDIDATE
        };
        seen |= state;
        out[x] = state;
    }
    seen & EDGE != 0
}

/// Appends `(y, x)` for every `EDGE` in `row`.
pub(super) fn push_row_edges(row: &[u8], y: usize, seeds: &mut Vec<(usize, usize)>) {
    seeds.extend(
        row.iter()
            .enumerate()
            .filter(|&(_, &s)| s == EDGE)
            .map(|(x, _)| (y, x)),
    );
}
