//! The two passes of a u8 separable filter with non-negative integer taps, on vectors: a row
//! pass to u16 sums, and a column pass over those sums to `(Σ + round) >> shift` in u8.
//! Integer sums are exact, so the results equal the scalar engine's whatever the order.

use super::{Kernel, Simd};

/// Start of each vector of `n` lanes covering `0..len` (`len >= n`); the last one is moved
/// back to end at `len`, recomputing a few elements.
#[inline(always)]
fn starts(len: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..len.div_ceil(n)).map(move |i| (i * n).min(len - n))
}

/// `out[x] = Σ_t taps[t] · src[x + t·c]` (u8 → u16; the caller ensures
/// `255 · Σ taps < 2^16`, so the wrapping u16 sums are exact).
#[derive(Debug)]
pub(crate) struct RowPass<'a> {
    pub src: &'a [u8],
    pub taps: &'a [u16],
    pub c: usize,
    pub out: &'a mut [u16],
}

impl Kernel for RowPass<'_> {
    type Output = ();

    #[inline(always)]
    fn run<S: Simd>(self, s: S) {
        let n = S::BYTES / 2;
        let len = self.out.len();
        if len < n {
            return row_scalar(self);
        }
        let (src, c) = (self.src, self.c);
        match self.taps.len() {
            3 => weighted_row::<S, 3>(s, src, c, self.taps, self.out),
            5 => weighted_row::<S, 5>(s, src, c, self.taps, self.out),
            7 => weighted_row::<S, 7>(s, src, c, self.taps, self.out),
            _ => {
                for x in starts(len, n) {
                    let mut acc = s.splat_u16(0);
                    for (t, &k) in self.taps.iter().enumerate() {
                        let v = s.load_widen_u8(&src[x + t * c..]);
                        acc = s.add_u16(acc, s.mullo_u16(v, s.splat_u16(k)));
                    }
                    s.store(u16_bytes_mut(&mut self.out[x..]), acc);
                }
            }
        }
    }
}

/// `out[x] = Σ_{t<K} taps[t] · src[x + t·c]` on vectors, unrolled (wrapping u16 sums, exact
/// as [`RowPass`] requires; `out` at least one vector long).
#[inline(always)]
fn weighted_row<S: Simd, const K: usize>(
    s: S,
    src: &[u8],
    c: usize,
    taps: &[u16],
    out: &mut [u16],
) {
    let n = S::BYTES / 2;
    let taps: [S::V; K] = std::array::from_fn(|t| s.splat_u16(taps[t]));
    for x in starts(out.len(), n) {
        let window = &src[x..x + (K - 1) * c + n];
        let mut acc = s.mullo_u16(s.load_widen_u8(window), taps[0]);
        for (t, &k) in taps.iter().enumerate().skip(1) {
            acc = s.add_u16(acc, s.mullo_u16(s.load_widen_u8(&window[t * c..]), k));
        }
        s.store(u16_bytes_mut(&mut out[x..]), acc);
    }
}

fn row_scalar(p: RowPass<'_>) {
    for (x, o) in p.out.iter_mut().enumerate() {
        let sum = p.taps.iter().enumerate();
        *o = sum.fold(0u16, |a, (t, &k)| {
            a.wrapping_add(k.wrapping_mul(u16::from(p.src[x + t * p.c])))
        });
    }
}

/// `out[x] = (Σ_j taps[j] · rows[j][x] + round) >> 16` (u16 sums → u8), where `rows[j]` is
/// slot `(first + j) % taps.len()` of `ring` (slots of `out.len()` elements). The caller
/// ensures `65535 · Σ taps + round < 2^32` and that results fit u8 (they saturate).
#[derive(Debug)]
pub(crate) struct ColumnPass<'a> {
    pub ring: &'a [u16],
    pub first: usize,
    pub taps: &'a [u16],
    pub round: u32,
    pub out: &'a mut [u8],
}

impl ColumnPass<'_> {
    #[inline(always)]
    fn row(&self, j: usize) -> &[u16] {
        let len = self.out.len();
        // first < taps.len() and j < taps.len(): one subtraction instead of a division.
        let slot = self.first + j;
        let slot = if slot >= self.taps.len() {
            slot - self.taps.len()
        } else {
            slot
        };
        &self.ring[slot * len..][..len]
    }
}

impl Kernel for ColumnPass<'_> {
    type Output = ();

    #[inline(always)]
    fn run<S: Simd>(self, s: S) {
        // Two u16 vectors in, one u8 vector out.
        let (n, half) = (S::BYTES, S::BYTES / 2);
        let len = self.out.len();
        if len < n {
            return column_scalar(self);
        }
        let round = s.splat_u32(self.round);
        for x in starts(len, n) {
            let mut acc = [round; 4];
            for (j, &k) in self.taps.iter().enumerate() {
                let row = u16_bytes(&self.row(j)[x..]);
                let k = s.splat_u16(k);
                for (h, v) in [s.load(row), s.load(&row[2 * half..])]
                    .into_iter()
                    .enumerate()
                {
                    let (lo, hi) = (s.mullo_u16(v, k), s.mulhi_u16(v, k));
                    acc[2 * h] = s.add_u32(acc[2 * h], s.unpack_lo_u16(lo, hi));
                    acc[2 * h + 1] = s.add_u32(acc[2 * h + 1], s.unpack_hi_u16(lo, hi));
                }
            }
            let a = s.pack_u32_u16(s.shr16_u32(acc[0]), s.shr16_u32(acc[1]));
            let b = s.pack_u32_u16(s.shr16_u32(acc[2]), s.shr16_u32(acc[3]));
            s.store(&mut self.out[x..], s.pack_u16_u8(a, b));
        }
    }
}

fn column_scalar(p: ColumnPass<'_>) {
    for x in 0..p.out.len() {
        let sum = (0..p.taps.len()).map(|j| u32::from(p.taps[j]) * u32::from(p.row(j)[x]));
        p.out[x] = ((sum.sum::<u32>() + p.round) >> 16).min(255) as u8;
    }
}

/// `out[x] = Σ_j taps[j] · rows[j][x]` wrapping in 16 bits (rows as in [`ColumnPass`]); the
/// caller ensures the exact sums fit i16, so the wrapping ones are those sums.
#[derive(Debug)]
pub(crate) struct ColumnPassI16<'a> {
    pub ring: &'a [u16],
    pub first: usize,
    pub taps: &'a [u16],
    pub out: &'a mut [i16],
}

impl ColumnPassI16<'_> {
    #[inline(always)]
    fn row(&self, j: usize) -> &[u16] {
        let len = self.out.len();
        let slot = self.first + j;
        let slot = if slot >= self.taps.len() {
            slot - self.taps.len()
        } else {
            slot
        };
        &self.ring[slot * len..][..len]
    }
}

impl Kernel for ColumnPassI16<'_> {
    type Output = ();

    #[inline(always)]
    fn run<S: Simd>(self, s: S) {
        let n = S::BYTES / 2;
        let len = self.out.len();
        if len < n {
            for x in 0..len {
                let sum = (0..self.taps.len()).map(|j| self.taps[j].wrapping_mul(self.row(j)[x]));
                self.out[x] = sum.fold(0u16, u16::wrapping_add) as i16;
            }
            return;
        }
        for x in starts(len, n) {
            let mut acc = s.splat_u16(0);
            for (j, &k) in self.taps.iter().enumerate() {
                let v = s.load(u16_bytes(&self.row(j)[x..]));
                acc = s.add_u16(acc, s.mullo_u16(v, s.splat_u16(k)));
            }
            s.store(i16_bytes_mut(&mut self.out[x..]), acc);
        }
    }
}

fn i16_bytes_mut(v: &mut [i16]) -> &mut [u8] {
    // SAFETY: i16 has no padding and every byte pattern is a valid i16 and u8; the length
    // covers exactly the same memory.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), std::mem::size_of_val(v)) }
}

fn u16_bytes(v: &[u16]) -> &[u8] {
    <u16 as super::Lane>::bytes(v)
}

fn u16_bytes_mut(v: &mut [u16]) -> &mut [u8] {
    <u16 as super::Lane>::bytes_mut(v)
}
