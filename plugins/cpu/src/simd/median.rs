//! 3×3 and 5×5 medians of u8/u16/i32 on vectors: every lane is one output pixel, and min/max
//! networks run on whole vectors (OpenCV's approach), reading the window rows directly.

use super::{Kernel, Lane, Simd};

/// One output row of a `k`×`k` median (k = 5; 3×3 is [`Median3Sorted`]) from the first `k`
/// of `rows`, each padded by `k / 2` pixels on both sides (`c` channels), as `ops::median`
/// builds them.
#[derive(Debug)]
pub(crate) struct MedianRow<'a, T> {
    pub k: usize,
    pub rows: [&'a [T]; 5],
    pub c: usize,
    pub out: &'a mut [T],
}

impl<T: Lane> Kernel for MedianRow<'_, T> {
    /// False when the row is narrower than one vector (the caller then runs its scalar row).
    type Output = bool;

    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> bool {
        let n = T::lanes::<S>();
        let len = self.out.len();
        if len < n {
            return false;
        }
        let (c, rows) = (self.c, self.rows);
        // The last vector is moved back to end at the row's end (recomputing some pixels).
        let starts = (0..len.div_ceil(n)).map(|i| (i * n).min(len - n));
        // No closures below: they would not inherit the target features, and the intrinsics
        // in them would become calls.
        match self.k {
            5 => {
                for x in starts {
                    // Straight-line loads (a loop here stayed a loop, with a division by 5).
                    let [a0, a1, a2, a3, a4] = load5::<S, T>(s, rows[0], x, c);
                    let [b0, b1, b2, b3, b4] = load5::<S, T>(s, rows[1], x, c);
                    let [c0, c1, c2, c3, c4] = load5::<S, T>(s, rows[2], x, c);
                    let [d0, d1, d2, d3, d4] = load5::<S, T>(s, rows[3], x, c);
                    let [e0, e1, e2, e3, e4] = load5::<S, T>(s, rows[4], x, c);
                    let mut w = [
                        a0, a1, a2, a3, a4, b0, b1, b2, b3, b4, c0, c1, c2, c3, c4, d0, d1, d2, d3,
                        d4, e0, e1, e2, e3, e4,
                    ];
                    net25::<S, T>(s, &mut w);
                    T::store(s, &mut self.out[x..], w[12]);
                }
            }
            _ => unreachable!("this vector median is 5x5 (3x3 is Median3Sorted)"),
        }
        true
    }
}

/// One output row of a 3×3 median in two passes: every column of the three source `rows`
/// (unpadded, `c` channels) sorted once into `sorted` (lows, middles, highs; each one pixel
/// longer than a row at both ends, where the replicate border's columns go), then each output
/// is `med3(max of lows, med3 of middles, min of highs)` over three sorted columns. Sorting
/// each column once instead of once per window that holds it saves two thirds of the
/// sorting. False when a row is narrower than one vector.
pub(crate) struct Median3Sorted<'a, T> {
    pub rows: [&'a [T]; 3],
    pub c: usize,
    pub sorted: [&'a mut [T]; 3],
    pub out: &'a mut [T],
}

impl<T: Lane> Kernel for Median3Sorted<'_, T> {
    type Output = bool;

    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> bool {
        let n = T::lanes::<S>();
        let (len, c) = (self.out.len(), self.c);
        let [lo, mid, hi] = self.sorted;
        if len < n || self.rows.iter().any(|r| r.len() != len) || lo.len() != len + 2 * c {
            return false;
        }
        let [a, b, cc] = self.rows;
        let (mid, hi) = (&mut mid[..len + 2 * c], &mut hi[..len + 2 * c]);
        // The last vector is moved back to end at the row's end (recomputing some elements).
        for x in (0..len.div_ceil(n)).map(|i| (i * n).min(len - n)) {
            let (l, m, h) = sort3::<S, T>(
                s,
                T::load(s, &a[x..]),
                T::load(s, &b[x..]),
                T::load(s, &cc[x..]),
            );
            T::store(s, &mut lo[c + x..], l);
            T::store(s, &mut mid[c + x..], m);
            T::store(s, &mut hi[c + x..], h);
        }
        for v in [&mut *lo, &mut *mid, &mut *hi] {
            replicate_edges(v, c);
        }
        let (lo, mid, hi) = (&*lo, &*mid, &*hi);
        for x in (0..len.div_ceil(n)).map(|i| (i * n).min(len - n)) {
            let at = |row: &[T], t: usize| T::load(s, &row[x + t * c..]);
            let l = T::vmax(s, T::vmax(s, at(lo, 0), at(lo, 1)), at(lo, 2));
            let h = T::vmin(s, T::vmin(s, at(hi, 0), at(hi, 1)), at(hi, 2));
            let m = med3::<S, T>(s, at(mid, 0), at(mid, 1), at(mid, 2));
            T::store(s, &mut self.out[x..], med3::<S, T>(s, l, m, h));
        }
        true
    }
}

/// Copies the first and last pixel (`c` elements) of `v[c..len - c]` one pixel outward: the
/// replicate border of a row of sorted columns.
pub(crate) fn replicate_edges<T: Copy>(v: &mut [T], c: usize) {
    let len = v.len();
    v.copy_within(c..2 * c, 0);
    v.copy_within(len - 2 * c..len - c, len - c);
}

/// The five vectors of `row` starting at `x`, `x + c`, … `x + 4c`.
#[inline(always)]
fn load5<S: Simd, T: Lane>(s: S, row: &[T], x: usize, c: usize) -> [S::V; 5] {
    // One bounds check for the five loads.
    let row = &row[x..x + 4 * c + T::lanes::<S>()];
    [
        T::load(s, row),
        T::load(s, &row[c..]),
        T::load(s, &row[2 * c..]),
        T::load(s, &row[3 * c..]),
        T::load(s, &row[4 * c..]),
    ]
}

/// The middle of three vectors.
#[inline(always)]
fn med3<S: Simd, T: Lane>(s: S, a: S::V, b: S::V, c: S::V) -> S::V {
    T::vmax(s, T::vmin(s, a, b), T::vmin(s, T::vmax(s, a, b), c))
}

/// Sorts three vectors lane-wise: (low, middle, high).
#[inline(always)]
fn sort3<S: Simd, T: Lane>(s: S, a: S::V, b: S::V, c: S::V) -> (S::V, S::V, S::V) {
    let (l, h) = (T::vmin(s, a, b), T::vmax(s, a, b));
    (
        T::vmin(s, l, c),
        T::vmax(s, l, T::vmin(s, h, c)),
        T::vmax(s, h, c),
    )
}

/// Defines the 25-input network twice: as data ([`NET25`], checked against
/// `ops::median::selection_network(25, 12)` by its tests) and as straight-line code with
/// constant indices, so the wires stay in registers.
macro_rules! network25 {
    ($($a:literal $b:literal),* $(,)?) => {
        /// Comparators of the network (median on wire 12).
        #[cfg(test)]
        pub(crate) const NET25: &[(usize, usize)] = &[$(($a, $b)),*];

        /// Applies the network: afterwards `w[12]` holds the median of the 25 inputs.
        #[inline(always)]
        fn net25<S: Simd, T: Lane>(s: S, w: &mut [S::V; 25]) {
            $(
                let (x, y) = (w[$a], w[$b]);
                w[$a] = T::vmin(s, x, y);
                w[$b] = T::vmax(s, x, y);
            )*
        }
    };
}

network25!(
    0 1, 2 3, 0 2, 1 3, 1 2, 4 5, 6 7, 4 6, 5 7, 5 6, 0 4, 2 6, 2 4, 1 5, 3 7, 3 5, 1 2, 3 4,
    5 6, 8 9, 10 11, 8 10, 9 11, 9 10, 12 13, 14 15, 12 14, 13 15, 13 14, 8 12, 10 14, 10 12,
    9 13, 11 15, 11 13, 9 10, 11 12, 13 14, 0 8, 4 12, 4 8, 2 10, 6 14, 6 10, 2 4, 6 8, 10 12,
    1 9, 5 13, 5 9, 3 11, 7 15, 7 11, 3 5, 7 9, 11 13, 1 2, 3 4, 5 6, 7 8, 9 10, 11 12, 13 14,
    16 17, 18 19, 16 18, 17 19, 17 18, 20 21, 22 23, 20 22, 21 23, 21 22, 16 20, 18 22, 18 20,
    17 21, 19 23, 19 21, 17 18, 19 20, 21 22, 16 24, 20 24, 18 20, 22 24, 19 21, 17 18, 19 20,
    21 22, 23 24, 0 16, 8 24, 8 16, 4 20, 12 20, 12 16, 2 18, 10 18, 6 22, 6 10, 10 12, 1 17,
    9 17, 5 21, 13 21, 13 17, 3 19, 11 19, 7 23, 7 11, 11 13, 11 12
);
