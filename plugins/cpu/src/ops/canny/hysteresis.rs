//! Hysteresis: grows edges through 8-connected candidates with an explicit stack.

use super::{CANDIDATE, EDGE};

/// Marks `EDGE` every `CANDIDATE` of `map` (rows of `width`) 8-connected through candidates
/// to a pixel `(y, x)` on `stack`; the pixels on `stack` must already be `EDGE`. Neighbours
/// outside `map` are skipped, so a band of rows grows only within itself; the edges on the
/// last row, whose neighbours below are not known yet, are appended to `frontier`.
pub(super) fn grow(
    map: &mut [u8],
    width: usize,
    stack: &mut Vec<(usize, usize)>,
    frontier: &mut Vec<(usize, usize)>,
) {
    let rows = map.len() / width;
    while let Some((y, x)) = stack.pop() {
        if y + 1 == rows {
            frontier.push((y, x));
        }
        // Coordinates on the stack (not indices) spare a division per pixel.
        let (x0, x1) = (x.saturating_sub(1), (x + 1).min(width - 1));
        for ny in y.saturating_sub(1)..=(y + 1).min(rows - 1) {
            let row = &mut map[ny * width..(ny + 1) * width];
            for (nx, s) in row[..=x1].iter_mut().enumerate().skip(x0) {
                if *s == CANDIDATE {
                    *s = EDGE;
                    stack.push((ny, nx));
                }
            }
        }
    }
}
