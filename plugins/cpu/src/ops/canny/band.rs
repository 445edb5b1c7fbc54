//! One band of rows: gradients, magnitudes and suppression row by row through a ring of
//! three rows (no whole-image temporaries), with hysteresis inside the band as it goes.

use super::hysteresis::grow;
use super::rows::{magnitude, sobel3, suppress, Around};
use crate::isa::Isa;
use crate::simd::{self, Kernel, Simd};

/// Where a band's gradient rows come from.
pub(super) enum Gradients<'a> {
    /// Aperture 3: computed per row from the u8 source.
    Sobel3(&'a [u8]),
    /// Apertures 5 and 7: whole-image `dx`, `dy` computed beforehand.
    Full { dx: &'a [i16], dy: &'a [i16] },
}

/// Rows `first..first + map.len() / width` of an image `width × height`.
pub(super) struct Band<'a> {
    pub grad: &'a Gradients<'a>,
    pub width: usize,
    pub height: usize,
    pub first: usize,
    pub l2: bool,
    pub low: i32,
    pub high: i32,
    /// The band's rows of the state map; every byte is written.
    pub map: &'a mut [u8],
}

/// Gradients and magnitudes of one row.
struct Slot {
    dx: Vec<i16>,
    dy: Vec<i16>,
    /// Zero framed: `width + 2`.
    mag: Vec<i32>,
}

/// Runs `band` compiled for `isa` (plain loops, vectorised by the compiler at that level).
pub(super) fn run(band: Band<'_>, isa: Isa) {
    if let Err(band) = simd::dispatch(isa, band) {
        band.rows();
    }
}

impl Kernel for Band<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Simd>(self, _: S) {
        self.rows();
    }
}

impl Band<'_> {
    #[inline(always)]
    fn rows(mut self) {
        let w = self.width;
        // Out of `self`, so that `fill` can borrow the rest.
        let map = std::mem::take(&mut self.map);
        let mut scratch = (vec![0i16; w + 2], vec![0i16; w + 2]);
        let mut ring: [Slot; 3] = std::array::from_fn(|_| Slot {
            dx: vec![0; w],
            dy: vec![0; w],
            mag: vec![0; w + 2],
        });
        // ring[0], ring[1], ring[2]: the rows above, at and below the one suppressed.
        self.fill(&mut ring[0], self.first.checked_sub(1), &mut scratch);
        self.fill(&mut ring[1], Some(self.first), &mut scratch);
        let (mut stack, mut frontier) = (Vec::new(), Vec::new());
        for r in 0..map.len() / w {
            let y = self.first + r;
            self.fill(&mut ring[2], Some(y + 1), &mut scratch);
            let [above, at, below] = &ring;
            let out = &mut map[r * w..(r + 1) * w];
            let rows = Around {
                dx: &at.dx,
                dy: &at.dy,
                prev: &above.mag,
                cur: &at.mag,
                next: &below.mag,
            };
            suppress(&rows, (self.low, self.high), out, r, &mut stack);
            ring.rotate_left(1);
            // Hysteresis while the rows are in cache: the seeds are this row's strong pixels
            // and the edges of the row above, whose neighbours in this row were unknown.
            // Growth stays within the rows done so far.
            stack.append(&mut frontier);
            grow(&mut map[..(r + 1) * w], w, &mut stack, &mut frontier);
        }
    }

    /// Fills `slot` with row `y`, or zero magnitudes when `y` is outside the image.
    #[inline(always)]
    fn fill(&self, slot: &mut Slot, y: Option<usize>, scratch: &mut (Vec<i16>, Vec<i16>)) {
        let (w, h) = (self.width, self.height);
        let Some(y) = y.filter(|&y| y < h) else {
            slot.mag.fill(0);
            return;
        };
        match *self.grad {
            Gradients::Sobel3(src) => {
                let row = |y: usize| &src[y * w..(y + 1) * w];
                sobel3(
                    [row(y.saturating_sub(1)), row(y), row((y + 1).min(h - 1))],
                    &mut scratch.0,
                    &mut scratch.1,
                    &mut slot.dx,
                    &mut slot.dy,
                    self.l2,
                    &mut slot.mag,
                );
            }
            Gradients::Full { dx, dy } => {
                slot.dx.copy_from_slice(&dx[y * w..(y + 1) * w]);
                slot.dy.copy_from_slice(&dy[y * w..(y + 1) * w]);
                magnitude(&slot.dx, &slot.dy, self.l2, &mut slot.mag);
            }
        }
    }
}
