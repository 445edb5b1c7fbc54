//! u8 medians of mid-sized windows (7×7 to 15×15) on vectors, one output pixel per lane, by
//! selecting the median bit by bit: from the top bit down, a candidate value is kept when at
//! least half the window is at or above it. Eight counting passes over the `k²` window
//! values, each one compare and one add per value and vector, with no per-pixel state: on
//! 64-lane vectors this beats sliding histograms (whose per-pixel work is serial) up to 15×15,
//! where the u8 counters (at most k² = 225) still fit.

use super::{Kernel, Simd};

/// The largest window side: its k² values must fit a u8 counter.
pub(crate) const MAX_K: usize = 15;

/// One output row of a `k`×`k` u8 median (odd `k` ≤ [`MAX_K`]) from the first `k` of `rows`,
/// each padded by `k / 2` pixels on both sides (`c` channels), as `ops::median` builds them.
pub(crate) struct MedianBits<'a> {
    pub k: usize,
    pub rows: [&'a [u8]; MAX_K],
    pub c: usize,
    pub out: &'a mut [u8],
}

impl Kernel for MedianBits<'_> {
    /// False when the row is narrower than one vector or `k` is not an odd 7 … 15 (the
    /// caller then uses its scalar path).
    type Output = bool;

    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> bool {
        let MedianBits { k, rows, c, out } = self;
        let (n, len) = (S::BYTES, out.len());
        if len < n || !matches!(k, 7 | 9 | 11 | 13 | 15) {
            return false;
        }
        // The median is the largest m with at least need = (k² + 1) / 2 values >= m.
        let need = s.splat_u8((k * k).div_ceil(2) as u8);
        let zero = s.splat_u8(0);
        let one = std::hint::black_box(s.splat_u8(1));
        let span = n + (k - 1) * c;
        // The last vector is moved back to end at the row's end (recomputing some pixels).
        for x in (0..len.div_ceil(n)).map(|i| (i * n).min(len - n)) {
            // Each window row's loads, checked once: k vectors at x, x + c, … x + (k-1)c.
            let window: [*const u8; MAX_K] = std::array::from_fn(|j| match rows[j] {
                row if j < k => row[x..x + span].as_ptr(),
                _ => std::ptr::null(),
            });
            let mut median = zero;
            for bit in (0..8).rev() {
                let candidate = s.or(median, s.splat_u8(1 << bit));
                // SAFETY: row[x..x + span] of each window row was bounds-checked above, and
                // every load reads n bytes at an offset of at most (k - 1)·c.
                let (even, odd) = unsafe {
                    match k {
                        7 => count_ge::<S, 7>(s, &window, c, candidate, one),
                        9 => count_ge::<S, 9>(s, &window, c, candidate, one),
                        11 => count_ge::<S, 11>(s, &window, c, candidate, one),
                        13 => count_ge::<S, 13>(s, &window, c, candidate, one),
                        _ => count_ge::<S, 15>(s, &window, c, candidate, one),
                    }
                };
                let count = s.add_u8(even, odd);
                // All ones where count >= need: keep the candidate there.
                let enough = s.eq_u8(s.max_u8(count, need), count);
                median = s.or(s.and(enough, candidate), s.andnot(enough, median));
            }
            s.store(&mut out[x..], median);
        }
        true
    }
}

/// Counts, per lane, the values of the window at or above `t`, in two halves (two independent
/// add chains) whose sum is the count. `K`, the window side, is a constant so that the loops
/// unroll.
///
/// # Safety
/// The first `K` `window` rows must each have `BYTES + (K - 1)·c` readable bytes.
#[inline(always)]
unsafe fn count_ge<S: Simd, const K: usize>(
    s: S,
    window: &[*const u8],
    c: usize,
    t: S::V,
    one: S::V,
) -> (S::V, S::V) {
    let zero = s.splat_u8(0);
    let (mut even, mut odd) = (zero, zero);
    for &row in &window[..K] {
        // SAFETY: offsets up to (K - 1)·c, as the caller guarantees.
        let at = |i: usize| unsafe { s.load_unchecked(row.add(i * c)) };
        let mut i = 0;
        while i + 1 < K {
            even = s.count_ge_u8(even, at(i), t, one);
            odd = s.count_ge_u8(odd, at(i + 1), t, one);
            i += 2;
        }
        even = s.count_ge_u8(even, at(i), t, one);
    }
    (even, odd)
}
