//! The two vector passes of the u8 box filter, columns first: a running sum of the window's
//! source rows per column (u16), then the sum of `k` neighbouring column sums per output
//! pixel, divided. Integer sums are exact, so any order gives the scalar engine's result.

use super::{Kernel, Simd};

/// `round(s / d)` for every box sum `s ≤ 255 · d` as `((s + add) · mul) >> (16 + shift)`:
/// one high-half u16 multiply instead of OpenCV's u32 `((s + delta) · scale) >> 23`, with
/// the same results (checked for every sum by this module's tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoundDiv {
    pub add: u16,
    pub mul: u16,
    pub shift: u32,
}

impl RoundDiv {
    /// The constants for a normalised `k`×`k` box, odd `k` from 3 to 15 (sums below 2^16).
    /// `mul = ceil(2^(16 + shift) / k²)` with the smallest shift that is exact for every sum.
    pub(crate) fn for_box(k: usize) -> Option<RoundDiv> {
        let (mul, shift) = match k {
            3 => (7282, 0),
            5 => (5243, 1),
            7 => (2675, 1),
            9 => (6473, 3),
            11 => (4333, 3),
            13 => (49637, 7),
            15 => (37283, 7),
            _ => return None,
        };
        let add = (k * k / 2) as u16;
        Some(RoundDiv { add, mul, shift })
    }

    /// Whether the multiplier, and so the sums, reach 2^15 (k 13 and 15; below, the largest
    /// operand is 255 · 121 + 60).
    pub(crate) fn wide(self) -> bool {
        self.mul >= 1 << 15
    }

    #[inline(always)]
    pub(crate) fn apply(self, s: u16) -> u16 {
        ((u32::from(s + self.add) * u32::from(self.mul)) >> (16 + self.shift)) as u16
    }
}

/// `sums[x] += enter[x] - leave[x]` (`leave` absent: only the add): one row enters a column
/// window and one leaves. The caller ensures the true sums fit u16.
#[derive(Debug)]
pub(crate) struct ColumnUpdate<'a> {
    pub sums: &'a mut [u16],
    pub enter: &'a [u8],
    pub leave: Option<&'a [u8]>,
}

impl Kernel for ColumnUpdate<'_> {
    type Output = ();

    #[inline(always)]
    fn run<S: Simd>(self, s: S) {
        let n = S::BYTES / 2;
        let len = self.sums.len();
        assert!(self.enter.len() >= len && self.leave.is_none_or(|l| l.len() >= len));
        // Whole vectors only: `sums` is updated in place, so an overlapping last vector
        // would count a row twice.
        let whole = len / n * n;
        for x in (0..whole).step_by(n) {
            let at = u16_bytes(&self.sums[x..]);
            let mut a = s.add_u16(s.load(at), s.load_widen_u8(&self.enter[x..]));
            if let Some(leave) = self.leave {
                // Added first, so never below zero.
                a = s.subs_u16(a, s.load_widen_u8(&leave[x..]));
            }
            s.store(u16_bytes_mut(&mut self.sums[x..]), a);
        }
        for x in whole..len {
            let a = self.sums[x] + u16::from(self.enter[x]);
            self.sums[x] = a - self.leave.map_or(0, |l| u16::from(l[x]));
        }
    }
}

/// `out[x] = finish(Σ_{t<k} sums[x + t·c])`, `finish` being [`RoundDiv`] or, without one,
/// saturation to 255: the row pass over column sums padded by `k / 2` columns each side.
/// The caller ensures the sums fit u16 (`sums` holds `out.len() + (k - 1)·c` of them).
#[derive(Debug)]
pub(crate) struct RowFinish<'a> {
    pub sums: &'a [u16],
    pub k: usize,
    pub c: usize,
    pub div: Option<RoundDiv>,
    pub out: &'a mut [u8],
}

impl RowFinish<'_> {
    fn scalar(self) {
        for (x, o) in self.out.iter_mut().enumerate() {
            let s = (0..self.k).map(|t| self.sums[x + t * self.c]).sum::<u16>();
            *o = self.div.map_or(s.min(255), |d| d.apply(s)) as u8;
        }
    }
}

impl Kernel for RowFinish<'_> {
    type Output = ();

    #[inline(always)]
    fn run<S: Simd>(self, s: S) {
        let len = self.out.len();
        assert!(self.sums.len() >= len + (self.k - 1) * self.c);
        if len < S::BYTES {
            return self.scalar();
        }
        match (self.k, self.div.map(RoundDiv::wide)) {
            (3, Some(false)) => finish_row::<S, 3, DIVIDE>(s, self),
            (5, Some(false)) => finish_row::<S, 5, DIVIDE>(s, self),
            (_, Some(false)) => finish_row::<S, 0, DIVIDE>(s, self),
            (_, Some(true)) => finish_row::<S, 0, DIVIDE_WIDE>(s, self),
            (_, None) => finish_row::<S, 0, SATURATE>(s, self),
        }
    }
}

/// How [`finish_row`] turns a sum into a pixel: saturation, or [`RoundDiv`] when every
/// operand is below 2^15 (a signed high multiply), or when they may not be (the unsigned
/// high half rebuilt from the signed one). Signed because LLVM turns the unsigned high
/// multiply of these operands into u32 arithmetic.
const SATURATE: u8 = 0;
const DIVIDE: u8 = 1;
const DIVIDE_WIDE: u8 = 2;

/// [`RowFinish`] on vectors; `K` is `k` unrolled, or 0 for any `k`; `FINISH` one of the
/// consts above.
#[inline(always)]
fn finish_row<S: Simd, const K: usize, const FINISH: u8>(s: S, p: RowFinish<'_>) {
    let (n, half) = (S::BYTES, S::BYTES / 2);
    let k = if K == 0 { p.k } else { K };
    let c = p.c;
    let div = p.div.unwrap_or(RoundDiv {
        add: 0,
        mul: 0,
        shift: 0,
    });
    let (add, mul, max) = (s.splat_u16(div.add), s.splat_u16(div.mul), s.splat_u16(255));
    // Hidden from the optimiser: knowing it a splat of a small constant, LLVM widens the
    // multiply to u32 lanes (vpmulld) instead of one vpmulhw.
    let mul = std::hint::black_box(mul);
    let len = p.out.len();
    // The last vector moves back to end at `len` (outputs are not read, so recomputing a
    // few is harmless).
    for x in (0..len.div_ceil(n)).map(|i| (i * n).min(len - n)) {
        let mut halves = [max; 2];
        for (h, v) in halves.iter_mut().enumerate() {
            // One bounds check for the k loads.
            let window = &p.sums[x + h * half..x + h * half + (k - 1) * c + half];
            let mut acc = s.load(u16_bytes(window));
            for t in 1..k {
                acc = s.add_u16(acc, s.load(u16_bytes(&window[t * c..])));
            }
            if FINISH == SATURATE {
                *v = s.min_u16(acc, max);
                continue;
            }
            let a = s.add_u16(acc, add);
            let mut high = s.mulhi_i16(a, mul);
            if FINISH == DIVIDE_WIDE {
                // Unsigned from signed, mod 2^16: + mul where a ≥ 2^15, + a (mul ≥ 2^15).
                high = s.add_u16(high, s.add_u16(s.and(mul, s.sign_mask_i16(a)), a));
            }
            *v = s.shr_u16(high, div.shift);
        }
        s.store(&mut p.out[x..], s.pack_u16_u8(halves[0], halves[1]));
    }
}

fn u16_bytes(v: &[u16]) -> &[u8] {
    <u16 as super::Lane>::bytes(v)
}

fn u16_bytes_mut(v: &mut [u16]) -> &mut [u8] {
    <u16 as super::Lane>::bytes_mut(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::Isa;

    /// Runs [`RowFinish`] at `isa` (its scalar loop at the scalar level).
    fn finish_at(isa: Isa, p: RowFinish<'_>) {
        if let Err(p) = super::super::dispatch(isa, p) {
            p.scalar();
        }
    }

    #[test]
    fn row_finish_gives_every_window_sum_its_rounded_mean_or_saturation() {
        // One output pixel of many channels: channel j sums `k` column sums (stride c) that
        // add up to the j-th target, and every sum from 0 to 255·k² is a target once.
        const BATCH: usize = 4096;
        for k in (3..=15).step_by(2) {
            let d = (k * k) as u32;
            let targets: Vec<u32> = (0..=255 * d).collect();
            for batch in targets.chunks(BATCH) {
                let c = batch.len();
                let mut sums = vec![0u16; k * c];
                for (j, &t) in batch.iter().enumerate() {
                    // r columns of q + 1 and the rest q: each within a column's 0..=255·k.
                    let (q, r) = (t / k as u32, (t % k as u32) as usize);
                    for col in 0..k {
                        sums[j + col * c] = (q + u32::from(col < r)) as u16;
                    }
                }
                for isa in Isa::available() {
                    for div in [RoundDiv::for_box(k), None] {
                        let mut out = vec![0u8; c];
                        let p = RowFinish {
                            sums: &sums,
                            k,
                            c,
                            div,
                            out: &mut out,
                        };
                        finish_at(isa, p);
                        for (j, (&o, &t)) in out.iter().zip(batch).enumerate() {
                            let want = if div.is_some() {
                                (t + d / 2) / d
                            } else {
                                t.min(255)
                            };
                            let what = format!("{isa} k {k} sum {t} divided {}", div.is_some());
                            assert_eq!(u32::from(o), want, "{what} (channel {j})");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn round_div_equals_rounded_division_for_every_box_sum() {
        for k in (3..=15).step_by(2) {
            let d = RoundDiv::for_box(k).unwrap();
            let kk = (k * k) as u32;
            for s in 0..=255 * kk {
                // Odd k² has no ties.
                let want = (s + kk / 2) / kk;
                assert_eq!(u32::from(d.apply(s as u16)), want, "k {k}, sum {s}");
            }
        }
        assert_eq!(RoundDiv::for_box(1), None);
        assert_eq!(RoundDiv::for_box(17), None);
    }
}
