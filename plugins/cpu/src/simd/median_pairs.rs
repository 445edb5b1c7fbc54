//! 5×5 median of one-channel u8 rows, two neighbouring outputs per network: the windows of
//! pixels 2i and 2i + 1 share four of their five columns. Each column of five is sorted once;
//! a network on the four shared sorted columns leaves the six middle values of their twenty
//! (ranks 7 to 12: only those can be the median once five more values join), and each output
//! merges them with its own fifth column. About 2.4 times fewer min/max operations per pixel
//! than the full 25-input network of [`super::median::MedianRow`].
//!
//! Lanes hold pairs: the padded rows are split into even and odd columns (`E`, `O`), so one
//! vector of lanes i computes the outputs 2i and 2i + 1 of `n` pairs at once.

use super::{Kernel, Simd};

/// One output row: `rows` are the window's five source rows, each replicate-padded by two
/// pixels on both sides, `sorted` scratch of at least [`MedianPairs::scratch_len`] bytes.
/// False (nothing written) when the row is shorter than two vectors; the caller then runs
/// the 25-input network.
#[derive(Debug)]
pub(crate) struct MedianPairs<'a> {
    pub rows: [&'a [u8]; 5],
    pub sorted: &'a mut [u8],
    pub out: &'a mut [u8],
}

impl MedianPairs<'_> {
    /// Scratch bytes for a row of `width` pixels: the sorted even and odd padded columns.
    pub(crate) fn scratch_len(width: usize) -> usize {
        10 * ((width + 4) / 2)
    }
}

impl Kernel for MedianPairs<'_> {
    type Output = bool;

    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> bool {
        let n = S::BYTES;
        let w = self.out.len();
        // Complete (even, odd) column pairs of a padded row, and output pairs.
        let (columns, pairs) = ((w + 4) / 2, w / 2);
        if pairs < n || self.sorted.len() < 10 * columns {
            return false;
        }
        assert!(self.rows.iter().all(|r| r.len() == w + 4));
        // even[rank · columns + j] / odd[rank · columns + j]: rank `rank` of padded column
        // 2j / 2j + 1.
        let (even, odd) = self.sorted[..10 * columns].split_at_mut(5 * columns);
        for j in (0..columns.div_ceil(n)).map(|b| (b * n).min(columns - n)) {
            let mut e = [s.splat_u8(0); 5];
            let mut o = [s.splat_u8(0); 5];
            for (r, row) in self.rows.iter().enumerate() {
                let row = &row[2 * j..2 * j + 2 * n];
                (e[r], o[r]) = deinterleave(s, s.load(row), s.load(&row[n..]));
            }
            sort5(s, &mut e);
            sort5(s, &mut o);
            for rank in 0..5 {
                s.store(&mut even[rank * columns + j..], e[rank]);
                s.store(&mut odd[rank * columns + j..], o[rank]);
            }
        }
        let (even, odd) = (&*even, &*odd);
        for i in (0..pairs.div_ceil(n)).map(|b| (b * n).min(pairs - n)) {
            // Output 2i reads padded columns 2i..2i+4, output 2i+1 reads 2i+1..2i+5.
            let [o0, o1, o2, o3, o4] = column(s, odd, columns, i);
            let [e5, e6, e7, e8, e9] = column(s, even, columns, i + 1);
            let [o10, o11, o12, o13, o14] = column(s, odd, columns, i + 1);
            let [e15, e16, e17, e18, e19] = column(s, even, columns, i + 2);
            let mut shared = [
                o0, o1, o2, o3, o4, e5, e6, e7, e8, e9, o10, o11, o12, o13, o14, e15, e16, e17,
                e18, e19,
            ];
            let middle = middle6(s, &mut shared);
            let left = merge_rank5(s, &middle, &column(s, even, columns, i));
            let right = merge_rank5(s, &middle, &column(s, odd, columns, i + 2));
            let (lo, hi) = interleave(s, left, right);
            s.store(&mut self.out[2 * i..], lo);
            s.store(&mut self.out[2 * i + n..], hi);
        }
        if w % 2 == 1 {
            // The last pixel has no odd partner: one scalar window.
            let x = w - 1;
            let mut window = [0u8; 25];
            for (dst, row) in window.chunks_mut(5).zip(self.rows) {
                dst.copy_from_slice(&row[x..x + 5]);
            }
            window.sort_unstable();
            self.out[x] = window[12];
        }
        true
    }
}

/// Padded column pair `at` of one half (`even` or `odd`), all five ranks (`columns` apart).
/// (A function, not a closure: closures do not inherit the target features.)
#[inline(always)]
fn column<S: Simd>(s: S, half: &[u8], columns: usize, at: usize) -> [S::V; 5] {
    [
        s.load(&half[at..]),
        s.load(&half[columns + at..]),
        s.load(&half[2 * columns + at..]),
        s.load(&half[3 * columns + at..]),
        s.load(&half[4 * columns + at..]),
    ]
}

/// Even and odd bytes of `a` then `b`.
#[inline(always)]
fn deinterleave<S: Simd>(s: S, a: S::V, b: S::V) -> (S::V, S::V) {
    let low = s.splat_u16(0x00ff);
    (
        s.pack_u16_u8(s.and(a, low), s.and(b, low)),
        s.pack_u16_u8(s.shr_u16(a, 8), s.shr_u16(b, 8)),
    )
}

/// Bytes `e0 o0 e1 o1 …`: the first vector's worth, then the second's.
#[inline(always)]
fn interleave<S: Simd>(s: S, e: S::V, o: S::V) -> (S::V, S::V) {
    s.zip_u8(e, o)
}

#[inline(always)]
fn sort2<S: Simd>(s: S, v: &mut [S::V], a: usize, b: usize) {
    let (x, y) = (v[a], v[b]);
    v[a] = s.min_u8(x, y);
    v[b] = s.max_u8(x, y);
}

/// Sorts five vectors lane-wise (the optimal 9-comparator network).
#[inline(always)]
fn sort5<S: Simd>(s: S, v: &mut [S::V; 5]) {
    for (a, b) in SORT5 {
        sort2(s, v, a, b);
    }
}

/// Comparators `(a, b)` of a 5-input sorting network (afterwards wire `a` holds the smaller).
const SORT5: [(usize, usize); 9] = [
    (0, 1),
    (3, 4),
    (2, 4),
    (2, 3),
    (0, 3),
    (0, 2),
    (1, 4),
    (1, 3),
    (1, 2),
];

/// Rank 5 (of 0..=10) of six sorted vectors `m` and five sorted `b`: the sixth smallest of
/// the union is the smallest of `m[5]` and `max(m[5 - t], b[t - 1])` for t = 1..=5.
#[inline(always)]
fn merge_rank5<S: Simd>(s: S, m: &[S::V; 6], b: &[S::V; 5]) -> S::V {
    let mut r = m[5];
    for t in 1..=5 {
        r = s.min_u8(r, s.max_u8(m[5 - t], b[t - 1]));
    }
    r
}

/// Defines the shared-column network twice: as data ([`MIDDLE6`], proved by this module's
/// tests) and as straight-line code with constant indices, so the wires stay in registers.
macro_rules! middle_network {
    (outputs: [$($o:literal),*], comparators: [$($a:literal $b:literal),* $(,)?]) => {
        /// The network's comparators (wire `a` takes the smaller) and the wires that end up
        /// holding ranks 7 to 12 of its twenty inputs, when those are four sorted columns
        /// (wires 5c..5c+4 = column c, ascending).
        #[cfg(test)]
        pub(crate) const MIDDLE6: (&[(usize, usize)], [usize; 6]) =
            (&[$(($a, $b)),*], [$($o),*]);

        /// Applies the network to four sorted columns; returns ranks 7 to 12, ascending.
        #[inline(always)]
        fn middle6<S: Simd>(s: S, w: &mut [S::V; 20]) -> [S::V; 6] {
            $(sort2(s, w, $a, $b);)*
            [$(w[$o]),*]
        }
    };
}

// Batcher's odd-even merge sort of 32 wires with the columns on wires 0, 8, 16, 24 (+∞
// elsewhere), less every comparator that no column-sorted input needs (a greedy search, each
// removal checked on all 6⁴ column-sorted 0-1 inputs).
middle_network!(
    outputs: [8, 5, 9, 12, 13, 14],
    comparators: [
        0 5, 4 9, 4 5, 2 7, 2 4, 7 5, 1 6, 3 8, 3 6, 1 2, 3 4, 6 7, 8 5, 10 15, 14 19, 14 15,
        12 17, 12 14, 17 15, 11 16, 13 18, 13 16, 11 12, 13 14, 16 17, 18 15, 0 10, 5 15, 5 10,
        4 14, 4 5, 14 10, 2 12, 7 17, 7 12, 7 5, 12 14, 1 11, 9 19, 9 11, 6 16, 6 9, 16 11,
        3 13, 8 18, 8 13, 8 9, 13 16, 8 5, 9 12, 13 14,
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input of `cols` sorted 0-1 columns of five: column c has `zeros[c]` zeros.
    fn column_sorted_01(cols: usize) -> impl Iterator<Item = Vec<Vec<u8>>> {
        (0..6usize.pow(cols as u32)).map(move |code| {
            (0..cols)
                .map(|c| {
                    let zeros = code / 6usize.pow(c as u32) % 6;
                    (0..5).map(|r| u8::from(r >= zeros)).collect()
                })
                .collect()
        })
    }

    fn apply(net: &[(usize, usize)], w: &mut [u8]) {
        for &(a, b) in net {
            if w[a] > w[b] {
                w.swap(a, b);
            }
        }
    }

    #[test]
    fn sort5_sorts_every_01_input() {
        // 0-1 principle: a comparator network that sorts every 0-1 input sorts every input.
        for bits in 0..32u8 {
            let mut v: Vec<u8> = (0..5).map(|i| bits >> i & 1).collect();
            apply(&SORT5, &mut v);
            assert!(v.windows(2).all(|p| p[0] <= p[1]), "{bits:05b}: {v:?}");
        }
    }

    #[test]
    fn pair_medians_are_the_window_medians_for_every_column_sorted_01_input() {
        // The 0-1 principle again: thresholding keeps columns sorted, so the composite
        // (middle six of the shared columns, then one merge per output) is a median for
        // every input with sorted columns if it is one for these 6⁶.
        let (net, outs) = MIDDLE6;
        for cols in column_sorted_01(6) {
            let mut shared: Vec<u8> = cols[1..5].concat();
            apply(net, &mut shared);
            let middle: Vec<u8> = outs.iter().map(|&o| shared[o]).collect();
            let merge =
                |b: &[u8]| (1..=5).fold(middle[5], |r, t| r.min(middle[5 - t].max(b[t - 1])));
            for (extra, window) in [(&cols[0], &cols[0..5]), (&cols[5], &cols[1..6])] {
                let mut all = window.concat();
                all.sort_unstable();
                assert_eq!(merge(extra), all[12], "{cols:?}");
            }
        }
    }

    #[test]
    fn middle_network_leaves_ranks_7_to_12_in_order() {
        let (net, outs) = MIDDLE6;
        for cols in column_sorted_01(4) {
            let mut w = cols.concat();
            let mut want = w.clone();
            want.sort_unstable();
            apply(net, &mut w);
            let got: Vec<u8> = outs.iter().map(|&o| w[o]).collect();
            assert_eq!(got, want[7..13], "{cols:?}");
        }
    }
}
