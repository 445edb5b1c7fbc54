//! Hysteresis: grows edges through 8-connected candidates with an explicit stack.

use super::{CANDIDATE, EDGE};

/// Marks `EDGE` every `CANDIDATE` of `map` (rows of `width`) 8-connected through candidates
/// to a pixel on `stack`; the pixels on `stack` must already be `EDGE`. Neighbours outside
/// `map` are skipped, so a band of rows grows only within itself.
pub(super) fn grow(map: &mut [u8], width: usize, stack: &mut Vec<usize>) {
    let rows = map.len() / width;
    while let Some(i) = stack.pop() {
        let (y, x) = (i / width, i % width);
        let (x0, x1) = (x.saturating_sub(1), (x + 1).min(width - 1));
        for ny in y.saturating_sub(1)..=(y + 1).min(rows - 1) {
            let start = ny * width + x0;
            for (k, s) in map[start..=ny * width + x1].iter_mut().enumerate() {
                if *s == CANDIDATE {
                    *s = EDGE;
                    stack.push(start + k);
                }
            }
        }
    }
}
