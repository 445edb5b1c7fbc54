//! Median filter (OpenCV `medianBlur`): replicate border, element of rank (k²−1)/2.

use rayon::prelude::*;
use yam_plugin_api::{
    kernels::{BorderMode, MedianBlurParams},
    Image, PixelData, PluginError,
};

use super::blur::{band_rows, plane, Plane};
use super::border::{index_table, prefetch, prefetch_row, RowPadder};
use crate::isa::Isa;
use crate::recycle::{output_vec, Recyclable};
use crate::simd::{
    self,
    median::{replicate_edges, Median3Sorted, MedianRow},
    median_bits::{MedianBits, MAX_K as MEDIAN_BITS_MAX_K},
    median_pairs::MedianPairs,
    Lane,
};

/// Element types the median compares (f32 is filtered as [`f32_key`]s): the vector lane types,
/// ordered by value.
trait Ordered: Recyclable + Lane + PartialOrd {}

impl<T: Recyclable + Lane + PartialOrd> Ordered for T {}

/// One output row of a 5×5 median from its `window` with vectors at `isa`; false if it did
/// not (a scalar level, or a row narrower than a vector).
fn vector_row<T: Lane>(isa: Isa, window: Window<'_, T>, c: usize, out: &mut [T]) -> bool {
    let row = MedianRow {
        k: window.k,
        rows: window.first_rows::<5>(),
        c,
        out,
    };
    simd::dispatch(isa, row).unwrap_or(false)
}

/// An i32 whose order is IEEE `totalOrder` of `x` (as `f32::total_cmp`: −0 < +0, NaN last);
/// for every other pair of values this is the order OpenCV's min/max networks use. The
/// mapping is its own inverse (see [`f32_from_key`]).
fn f32_key(x: f32) -> i32 {
    let b = x.to_bits() as i32;
    // Negative floats: flip all but the sign bit so larger magnitudes sort lower.
    b ^ (((b >> 31) as u32) >> 1) as i32
}

/// Inverse of [`f32_key`].
fn f32_from_key(k: i32) -> f32 {
    f32::from_bits((k ^ (((k >> 31) as u32) >> 1) as i32) as u32)
}

/// Runs an integer median on the [`f32_key`]s of an f32 plane.
fn via_keys(src: Plane<'_, f32>, median: impl Fn(Plane<'_, i32>) -> Vec<i32>) -> Vec<f32> {
    let keys: Vec<i32> = src.data.iter().map(|&x| f32_key(x)).collect();
    let out = median(Plane {
        data: &keys,
        width: src.width,
        height: src.height,
        channels: src.channels,
    });
    out.into_iter().map(f32_from_key).collect()
}

fn min2<T: Ordered>(a: T, b: T) -> T {
    if b < a {
        b
    } else {
        a
    }
}

fn max2<T: Ordered>(a: T, b: T) -> T {
    if b < a {
        a
    } else {
        b
    }
}

/// The middle of three values.
fn med3<T: Ordered>(a: T, b: T, c: T) -> T {
    max2(min2(a, b), min2(max2(a, b), c))
}

/// The `k` rows of one output row's window, each replicate-padded by `k / 2` pixels on both
/// sides (`plen` elements): window row `j` is slot `(first + j) % k` of a ring.
#[derive(Debug, Clone, Copy)]
struct Window<'a, T> {
    ring: &'a [T],
    first: usize,
    k: usize,
    plen: usize,
}

impl<'a, T> Window<'a, T> {
    fn row(&self, j: usize) -> &'a [T] {
        let slot = (self.first + j) % self.k;
        &self.ring[slot * self.plen..][..self.plen]
    }

    fn rows(self) -> impl Iterator<Item = &'a [T]> {
        (0..self.k).map(move |j| self.row(j))
    }

    /// The first `min(k, N)` rows (the rest empty).
    fn first_rows<const N: usize>(&self) -> [&'a [T]; N] {
        let mut rows: [&[T]; N] = [&[]; N];
        for (j, r) in rows.iter_mut().enumerate().take(self.k) {
            *r = self.row(j);
        }
        rows
    }
}

/// Runs `row_fn(window, out_row, scratch)` for every output row y, in parallel bands, where
/// `window` holds the `k` source rows `y-r..=y+r`, padded, and `scratch` is reused by all rows
/// of a band. Each band pads every source row it needs once, into a ring of `k` rows.
fn for_each_window_row<T: Recyclable, S: Default>(
    src: Plane<'_, T>,
    k: usize,
    row_fn: impl Fn(Window<'_, T>, &mut [T], &mut S) + Sync,
) -> Vec<T> {
    let r = k / 2;
    let row_len = src.width * src.channels;
    let mut out = output_vec::<T>(row_len * src.height);
    if out.is_empty() {
        return out;
    }
    let padder = RowPadder::new(BorderMode::Replicate, src.width, src.channels, r, r);
    let plen = padder.padded_len();
    // Padded row p is source row p - r, clamped.
    let rows = index_table(BorderMode::Replicate, src.height, r, r);
    let band = band_rows(src.height, 8);
    out.par_chunks_mut(band * row_len)
        .enumerate()
        .for_each(|(b, chunk)| {
            let mut ring = T::zeroed_vec(k * plen);
            let mut scratch = S::default();
            for (i, out_row) in chunk.chunks_mut(row_len).enumerate() {
                let y = b * band + i;
                // Output row y reads padded rows y..y+k; after the band's first row only the
                // last of them is new.
                let first_new = if i == 0 { y } else { y + k - 1 };
                for p in first_new..y + k {
                    let sy = rows[p].expect("replicate always maps inside");
                    let row = &src.data[sy * row_len..(sy + 1) * row_len];
                    padder.pad(row, T::default(), &mut ring[(p % k) * plen..][..plen]);
                    prefetch_row(src.data, row_len, sy + 1);
                }
                let window = Window {
                    ring: &ring,
                    first: y % k,
                    k,
                    plen,
                };
                row_fn(window, out_row, &mut scratch);
            }
        });
    out
}

/// 3×3 median: sort each column of three once, then each window's median is
/// `med3(max of lows, med3 of mids, min of highs)` (the classic column-sorted reduction).
///
/// The three source rows are read where they are (no padded copies): the sorted columns are
/// written one pixel in from each end of `lo`/`mid`/`hi`, and the replicate border's columns
/// are the sorted edge columns copied outward.
fn median3<T: Ordered + Default>(src: Plane<'_, T>, isa: Isa) -> Vec<T> {
    let c = src.channels;
    let row_len = src.width * c;
    let mut out = output_vec::<T>(row_len * src.height);
    if out.is_empty() {
        return out;
    }
    let plen = row_len + 2 * c;
    let last = src.height - 1;
    let row = |y: usize| &src.data[y * row_len..(y + 1) * row_len];
    let band = band_rows(src.height, 8);
    out.par_chunks_mut(band * row_len)
        .enumerate()
        .for_each(|(b, chunk)| {
            let mut sorted = vec![T::default(); 3 * plen];
            for (i, out_row) in chunk.chunks_mut(row_len).enumerate() {
                let y = b * band + i;
                // Replicate: the rows above the first and below the last are those rows.
                let rows = [row(y.saturating_sub(1)), row(y), row((y + 1).min(last))];
                if y + 2 <= last {
                    prefetch(row(y + 2));
                }
                let (lo, rest) = sorted.split_at_mut(plen);
                let (mid, hi) = rest.split_at_mut(plen);
                let pass = Median3Sorted {
                    rows,
                    c,
                    sorted: [lo, mid, hi],
                    out: out_row,
                };
                if simd::dispatch(isa, pass).unwrap_or(false) {
                    continue;
                }
                let [a, bb, cc] = rows;
                for (x, ((&a, &b), &cc)) in a.iter().zip(bb).zip(cc).enumerate() {
                    let (l, h) = (min2(a, b), max2(a, b));
                    lo[c + x] = min2(l, cc);
                    hi[c + x] = max2(h, cc);
                    mid[c + x] = max2(l, min2(h, cc));
                }
                for v in [&mut *lo, &mut *mid, &mut *hi] {
                    replicate_edges(v, c);
                }
                for (t, o) in out_row.iter_mut().enumerate() {
                    let (t1, t2) = (t + c, t + 2 * c);
                    let l = max2(max2(lo[t], lo[t1]), lo[t2]);
                    let m = med3(mid[t], mid[t1], mid[t2]);
                    let h = min2(min2(hi[t], hi[t1]), hi[t2]);
                    *o = med3(l, m, h);
                }
            }
        });
    out
}

/// Comparators `(a, b)` (afterwards wire `a` holds the smaller value) of a network that
/// leaves the element of rank `rank` of `n` inputs on the returned wire.
///
/// Built from Batcher's odd-even merge sort on the next power of two: the missing inputs are
/// treated as +∞ (a comparator against +∞ is dropped or becomes a wire relabelling), then
/// comparators that cannot reach the output wire are pruned.
fn selection_network(n: usize, rank: usize) -> (Vec<(usize, usize)>, usize) {
    fn merge(lo: usize, hi: usize, r: usize, out: &mut Vec<(usize, usize)>) {
        let step = 2 * r;
        if step < hi - lo {
            merge(lo, hi, step, out);
            merge(lo + r, hi, step, out);
            out.extend((lo + r..hi - r).step_by(step).map(|i| (i, i + r)));
        } else {
            out.push((lo, lo + r));
        }
    }
    // Sorts positions lo..=hi.
    fn sort(lo: usize, hi: usize, out: &mut Vec<(usize, usize)>) {
        if hi > lo {
            let mid = lo + (hi - lo) / 2;
            sort(lo, mid, out);
            sort(mid + 1, hi, out);
            merge(lo, hi, 1, out);
        }
    }
    let size = n.next_power_of_two();
    let mut batcher = Vec::new();
    sort(0, size - 1, &mut batcher);
    // Wire carried by each network position; None = +∞.
    let mut wire: Vec<Option<usize>> = (0..size).map(|p| (p < n).then_some(p)).collect();
    let mut net = Vec::new();
    for (i, j) in batcher {
        match (wire[i], wire[j]) {
            (Some(a), Some(b)) => net.push((a, b)),
            (None, Some(b)) => {
                wire[i] = Some(b);
                wire[j] = None;
            }
            _ => {}
        }
    }
    let out = wire[rank].expect("ranks below n hold real inputs");
    // Keep only comparators whose result can still flow into `out`.
    let mut needed = vec![false; n];
    needed[out] = true;
    let mut kept = Vec::new();
    for &(a, b) in net.iter().rev() {
        if needed[a] || needed[b] {
            needed[a] = true;
            needed[b] = true;
            kept.push((a, b));
        }
    }
    kept.reverse();
    (kept, out)
}

/// 5×5 median by a selection network applied to whole tiles of a row at once: wire `w`
/// holds window element `w` for every position in the tile, so each comparator is an
/// element-wise min/max over arrays (which the compiler vectorises).
fn median5<T: Ordered + Default>(src: Plane<'_, T>, isa: Isa) -> Vec<T> {
    let c = src.channels;
    let network = selection_network(25, 12);
    for_each_window_row(src, 5, |w, out, wires: &mut Vec<T>| {
        median5_row(w, c, &network, isa, out, wires)
    })
}

/// u8 5×5 median: one-channel rows two outputs per network ([`MedianPairs`]), everything
/// else as [`median5`].
fn median5_u8(src: Plane<'_, u8>, isa: Isa) -> Vec<u8> {
    if src.channels != 1 {
        return median5(src, isa);
    }
    let network = selection_network(25, 12);
    for_each_window_row(src, 5, |w, out, scratch: &mut Vec<u8>| {
        grow(scratch, MedianPairs::scratch_len(out.len()));
        let pairs = MedianPairs {
            rows: w.first_rows::<5>(),
            sorted: scratch,
            out: &mut *out,
        };
        if !simd::dispatch(isa, pairs).unwrap_or(false) {
            median5_row(w, 1, &network, isa, out, scratch);
        }
    })
}

/// One output row of [`median5`]: the 25-input network on vectors, or on tiles of `wires`.
fn median5_row<T: Ordered + Default>(
    w: Window<'_, T>,
    c: usize,
    (net, out_wire): &(Vec<(usize, usize)>, usize),
    isa: Isa,
    out: &mut [T],
    wires: &mut Vec<T>,
) {
    const TILE: usize = 256;
    if vector_row(isa, w, c, out) {
        return;
    }
    grow(wires, 25 * TILE);
    for (tile, out) in out.chunks_mut(TILE).enumerate() {
        let (start, len) = (tile * TILE, out.len());
        for (dy, row) in w.rows().enumerate() {
            for dx in 0..5 {
                let src = &row[start + dx * c..][..len];
                wires[(dy * 5 + dx) * TILE..][..len].copy_from_slice(src);
            }
        }
        for &(a, b) in net {
            let (lo, hi) = two_wires(wires, a, b, TILE);
            for (p, q) in lo[..len].iter_mut().zip(&mut hi[..len]) {
                let (x, y) = (*p, *q);
                *p = min2(x, y);
                *q = max2(x, y);
            }
        }
        out.copy_from_slice(&wires[out_wire * TILE..][..len]);
    }
}

/// Makes `v` at least `len` long. Scratch shared by two row paths only grows: resizing it
/// to each path's length would shrink it and zero-fill it again on every row.
fn grow<T: Default + Clone>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize(len, T::default());
    }
}

/// Mutable views of wires `a` and `b` (distinct) of `wires`, each `tile` long.
fn two_wires<T>(wires: &mut [T], a: usize, b: usize, tile: usize) -> (&mut [T], &mut [T]) {
    if a < b {
        let (x, y) = wires.split_at_mut(b * tile);
        (&mut x[a * tile..][..tile], &mut y[..tile])
    } else {
        let (x, y) = wires.split_at_mut(a * tile);
        (&mut y[..tile], &mut x[b * tile..][..tile])
    }
}

/// u8 median for odd `k` ≥ 7: bit-by-bit selection on vectors ([`MedianBits`]) where it is
/// the faster one, else Huang's sliding histogram ([`median_u8_hist`]).
fn median_u8_large(src: Plane<'_, u8>, k: usize, isa: Isa) -> Vec<u8> {
    let bytes = simd::vector_bytes(isa);
    let c = src.channels;
    if !bits_pay_off(bytes, k) || src.width * c < bytes {
        return median_u8_hist(src, k);
    }
    for_each_window_row(src, k, |w, out, _: &mut ()| {
        let row = MedianBits {
            k,
            rows: w.first_rows::<MEDIAN_BITS_MAX_K>(),
            c,
            out,
        };
        let done = simd::dispatch(isa, row).unwrap_or(false);
        assert!(
            done,
            "the bit median takes every row at least one vector wide"
        );
    })
}

/// Whether [`MedianBits`] beats the sliding histogram for a `k`×`k` window on vectors of
/// `bytes` (0: no vectors). Its work grows with k² / lanes, the histogram's barely with k;
/// measured on 4096² u8, 1 thread (ms, bits vs histogram): 16 lanes k 7 128 vs 308, k 11 302
/// vs 331; 32 lanes k 15 354 vs 385; 64 lanes k 15 244 vs 385.
fn bits_pay_off(bytes: usize, k: usize) -> bool {
    bytes > 0 && k <= MEDIAN_BITS_MAX_K && k * k <= 8 * bytes
}

/// u8 median for any odd `k` ≥ 7 (Huang's sliding histogram): per output row, one 256-bin
/// histogram per channel slides along x, adding and removing one column of `k` values per
/// step, and the median bin is tracked incrementally (it moves little between neighbours).
/// The window is also kept column by column (`columns`: each padded column's `k` values
/// contiguous, in ring-slot order, which a histogram does not care about), updated by one
/// value per column when a row enters, so each step reads two contiguous runs instead of
/// `2k` rows.
fn median_u8_hist(src: Plane<'_, u8>, k: usize) -> Vec<u8> {
    let c = src.channels;
    let rank = (k * k - 1) / 2;
    for_each_window_row(src, k, |w, out, scratch: &mut HistScratch| {
        let HistScratch {
            hist,
            med,
            below,
            columns,
            filled,
        } = scratch;
        let padded = w.plen / c;
        columns.resize(c * padded * k, 0);
        // Ring slot s of the window holds padded row (first + j) for j = (s - first) mod k;
        // the band's first row fills every slot, later rows only the slot that changed.
        let fresh = if *filled { k - 1..k } else { 0..k };
        for j in fresh {
            let (row, slot) = (w.row(j), (w.first + j) % k);
            for ch in 0..c {
                let dst = &mut columns[ch * padded * k..][..padded * k];
                for (x, v) in row.iter().skip(ch).step_by(c).enumerate() {
                    dst[x * k + slot] = *v;
                }
            }
        }
        *filled = true;
        // Padded column x' (source column x' - r, replicated) of channel ch.
        let column = |x: usize, ch: usize| &columns[(ch * padded + x) * k..][..k];
        hist.clear();
        hist.resize(c, [0; 512]);
        for (ch, h) in hist.iter_mut().enumerate() {
            for x in 0..k {
                for (i, &v) in column(x, ch).iter().enumerate() {
                    h[(i % 2) * 256 + usize::from(v)] += 1;
                }
            }
        }
        // Median bin and the count of values below it, per channel.
        med.clear();
        med.resize(c, 0);
        below.clear();
        below.resize(c, 0);
        for x in 0..src.width {
            for ch in 0..c {
                let h = &mut hist[ch];
                // Locals, so the per-element updates stay in registers (through memory they
                // form a store-to-load chain that triples the time).
                let (mut m, mut b) = (med[ch], below[ch]);
                let (h, g) = h.split_at_mut(256);
                if x > 0 {
                    // Window moves from padded columns x-1..x-1+k to x..x+k. Alternate
                    // values go to two tables: neighbouring values are often equal, and
                    // updates of one counter form a chain through memory.
                    for pair in column(x - 1, ch).chunks(2) {
                        let v = usize::from(pair[0]);
                        h[v] -= 1;
                        b -= usize::from(v < m);
                        if let Some(&u) = pair.get(1) {
                            let u = usize::from(u);
                            g[u] -= 1;
                            b -= usize::from(u < m);
                        }
                    }
                    for pair in column(x + k - 1, ch).chunks(2) {
                        let v = usize::from(pair[0]);
                        h[v] += 1;
                        b += usize::from(v < m);
                        if let Some(&u) = pair.get(1) {
                            let u = usize::from(u);
                            g[u] += 1;
                            b += usize::from(u < m);
                        }
                    }
                }
                while b > rank {
                    m -= 1;
                    b -= (h[m] + g[m]) as usize;
                }
                while b + (h[m] + g[m]) as usize <= rank {
                    b += (h[m] + g[m]) as usize;
                    m += 1;
                }
                (med[ch], below[ch]) = (m, b);
                out[x * c + ch] = m as u8;
            }
        }
    })
}

/// Per-band state of [`median_u8_hist`].
#[derive(Default)]
struct HistScratch {
    /// Two 256-bin tables per channel (even and odd places of each column).
    hist: Vec<[u32; 512]>,
    med: Vec<usize>,
    below: Vec<usize>,
    /// The window by channel and padded column, `k` values each.
    columns: Vec<u8>,
    /// Whether `columns` holds the band's window (after its first row).
    filled: bool,
}

/// OpenCV `medianBlur`: each element becomes the median of its `ksize`×`ksize` neighbourhood
/// (replicate border), channels independent. u8 takes any odd `ksize` ≥ 3; u16 and f32 take
/// 3 or 5, as in OpenCV.
pub fn median_blur(src: &Image, p: &MedianBlurParams) -> Result<Image, PluginError> {
    median_blur_isa(src, p, Isa::active())
}

/// [`median_blur`] with the 3×3 and 5×5 u8/u16 paths run at `isa`.
pub(crate) fn median_blur_isa(
    src: &Image,
    p: &MedianBlurParams,
    isa: Isa,
) -> Result<Image, PluginError> {
    let k = p.ksize as usize;
    let invalid = |allowed: &str| {
        Err(PluginError::invalid(format!(
            "median_blur: ksize {k} is not supported for {} input ({allowed})",
            src.dtype()
        )))
    };
    let data = match &src.data {
        PixelData::U8(v) => match k {
            3 => PixelData::U8(median3(plane(src, v), isa)),
            5 => PixelData::U8(median5_u8(plane(src, v), isa)),
            k if k % 2 == 1 && k > 5 && k <= 255 => {
                PixelData::U8(median_u8_large(plane(src, v), k, isa))
            }
            _ => return invalid("odd, 3 to 255"),
        },
        PixelData::U16(v) => match k {
            3 => PixelData::U16(median3(plane(src, v), isa)),
            5 => PixelData::U16(median5(plane(src, v), isa)),
            _ => return invalid("3 or 5"),
        },
        PixelData::F32(v) => match k {
            3 => PixelData::F32(via_keys(plane(src, v), |p| median3(p, isa))),
            5 => PixelData::F32(via_keys(plane(src, v), |p| median5(p, isa))),
            _ => return invalid("3 or 5"),
        },
        other => {
            return Err(PluginError::invalid(format!(
                "median_blur: dtype {} is not supported (u8, u16 or f32)",
                other.dtype()
            )))
        }
    };
    Ok(Image {
        width: src.width,
        height: src.height,
        channels: src.channels,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Gathers each window with `BorderMode::map` per tap, sorts it, takes the middle.
    fn naive<T: Copy>(
        data: &[T],
        (w, h, c): (usize, usize, usize),
        k: usize,
        less: impl Fn(T, T) -> bool,
    ) -> Vec<T> {
        let r = (k / 2) as isize;
        let m = BorderMode::Replicate;
        let mut out = Vec::with_capacity(data.len());
        for y in 0..h as isize {
            for x in 0..w as isize {
                for ch in 0..c {
                    let mut win = Vec::with_capacity(k * k);
                    for dy in -r..=r {
                        for dx in -r..=r {
                            let (sy, sx) = (m.map(y + dy, h).unwrap(), m.map(x + dx, w).unwrap());
                            win.push(data[(sy * w + sx) * c + ch]);
                        }
                    }
                    // Insertion sort: independent of the selection used by the kernel.
                    for i in 1..win.len() {
                        let mut j = i;
                        while j > 0 && less(win[j], win[j - 1]) {
                            win.swap(j, j - 1);
                            j -= 1;
                        }
                    }
                    out.push(win[(k * k - 1) / 2]);
                }
            }
        }
        out
    }

    fn naive_image(img: &Image, k: usize) -> PixelData {
        let shape = (img.width, img.height, img.channels);
        match &img.data {
            PixelData::U8(v) => PixelData::U8(naive(v, shape, k, |a, b| a < b)),
            PixelData::U16(v) => PixelData::U16(naive(v, shape, k, |a, b| a < b)),
            PixelData::F32(v) => PixelData::F32(naive(v, shape, k, |a, b| a.total_cmp(&b).is_lt())),
            _ => unreachable!(),
        }
    }

    /// Images with many repeated values (so ties and plateaus are common) and a ksize valid
    /// for the dtype.
    fn arb_case(max_side: usize) -> impl Strategy<Value = (Image, usize)> {
        (
            1..=max_side,
            1..=max_side,
            prop::sample::select(vec![1usize, 3, 4]),
            0..3u8,
        )
            .prop_flat_map(|(w, h, c, d)| {
                let n = w * h * c;
                let data = match d {
                    0 => prop_oneof![
                        prop::collection::vec(any::<u8>(), n),
                        prop::collection::vec(0u8..4, n),
                    ]
                    .prop_map(PixelData::U8)
                    .boxed(),
                    1 => prop::collection::vec(prop_oneof![any::<u16>(), 0u16..3], n)
                        .prop_map(PixelData::U16)
                        .boxed(),
                    _ => prop::collection::vec(
                        prop_oneof![
                            -1e6f32..1e6,
                            (-3i8..3).prop_map(f32::from),
                            prop::sample::select(vec![-0.0f32, f32::INFINITY, f32::NEG_INFINITY]),
                        ],
                        n,
                    )
                    .prop_map(PixelData::F32)
                    .boxed(),
                };
                let ks = if d == 0 {
                    vec![3usize, 5, 7, 9, 15]
                } else {
                    vec![3, 5]
                };
                (data, prop::sample::select(ks))
                    .prop_map(move |(d, k)| (Image::new(w, h, c, d).unwrap(), k))
            })
    }

    proptest! {
        #[test]
        fn optimised_equals_naive((img, k) in arb_case(16)) {
            let got = median_blur(&img, &MedianBlurParams { ksize: k as u32 }).unwrap();
            prop_assert_eq!((got.width, got.height, got.channels), (img.width, img.height, img.channels));
            prop_assert_eq!(got.data, naive_image(&img, k));
        }
    }

    #[test]
    fn histogram_median_equals_naive_across_bands_and_narrow_images() {
        // 130 and 61 rows make several bands (each starts its histograms afresh); 2- and
        // 5-wide images are narrower than the window; values in a narrow range make long
        // plateaus of equal counts around the median.
        let gen = |i: usize| ((i * 7919) ^ (i / 5 * 131)) % 256;
        for (w, h, c) in [(53, 130, 1), (29, 61, 3), (2, 40, 1), (5, 33, 4)] {
            for narrow in [false, true] {
                let data = (0..w * h * c)
                    .map(|i| if narrow { 100 + gen(i) % 40 } else { gen(i) } as u8)
                    .collect();
                let img = Image::new(w, h, c, PixelData::U8(data)).unwrap();
                let ks: &[u32] = if w * h > 2000 { &[7, 15] } else { &[7, 15, 31] };
                let PixelData::U8(v) = &img.data else {
                    unreachable!()
                };
                for &k in ks {
                    // The histogram itself (median_blur takes the bit median up to 15x15).
                    let got = PixelData::U8(median_u8_hist(plane(&img, v), k as usize));
                    assert_eq!(got, naive_image(&img, k as usize), "{w}x{h}x{c} k {k}");
                }
            }
        }
    }

    #[test]
    fn bit_median_equals_naive_at_every_isa_level() {
        // Rows around the vector widths (16, 32, 64 lanes: the last vector overlaps; narrower
        // rows take the histogram), every window side the bit median takes, and values that
        // test its counting: the full range, ties in a narrow range, the extremes 0 and 255
        // only (every count at its limit), and one constant.
        let mut next = crate::test_rng::lcg(0x9e37_79b9_7f4a_7c15);
        for (w, h, c) in [
            (15, 9, 1),
            (16, 17, 1),
            (33, 4, 1),
            (64, 16, 1),
            (65, 5, 1),
            (43, 6, 3),
            (33, 3, 4),
        ] {
            for values in 0..4 {
                let n = w * h * c;
                let data: Vec<u8> = (0..n)
                    .map(|_| match values {
                        0 => next() as u8,
                        1 => 120 + (next() % 5) as u8,
                        2 => [0, 255][(next() % 2) as usize],
                        _ => 255,
                    })
                    .collect();
                let img = Image::new(w, h, c, PixelData::U8(data)).unwrap();
                for k in [7, 9, 11, 13, 15] {
                    let want = naive_image(&img, k);
                    for isa in Isa::available() {
                        let got = median_blur_isa(&img, &MedianBlurParams { ksize: k as u32 }, isa);
                        assert_eq!(
                            got.unwrap().data,
                            want,
                            "{isa} {w}x{h}x{c} k {k} values {values}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn several_bands_and_large_windows_equal_naive() {
        let (w, h) = (41, 77);
        let gen = |i: usize| ((i * 7919) ^ (i / 5 * 131)) % 256;
        let img = Image::new(
            w,
            h,
            3,
            PixelData::U8((0..w * h * 3).map(|i| gen(i) as u8).collect()),
        )
        .unwrap();
        for k in [3, 5, 21] {
            let got = median_blur(&img, &MedianBlurParams { ksize: k }).unwrap();
            assert_eq!(got.data, naive_image(&img, k as usize), "k = {k}");
        }
        let img16 = Image::new(
            w,
            h,
            1,
            PixelData::U16((0..w * h).map(|i| (gen(i) * 255) as u16).collect()),
        )
        .unwrap();
        let got = median_blur(&img16, &MedianBlurParams { ksize: 5 }).unwrap();
        assert_eq!(got.data, naive_image(&img16, 5));
    }

    #[test]
    fn vector_network_is_the_checked_network() {
        // `selection_networks_select` proves this network; the vector code must use it.
        assert_eq!(
            selection_network(25, 12),
            (simd::median::NET25.to_vec(), 12)
        );
    }

    #[test]
    fn every_isa_level_equals_naive() {
        // Widths around the vector sizes (16 and 32 u8 lanes, 8 and 16 u16 lanes), so the
        // last vector overlaps, and rows narrower than a vector take the scalar row.
        let mut next = crate::test_rng::lcg(0x2545_f491_4f6c_dd1d);
        for (w, h) in [
            (1, 3),
            (7, 5),
            (16, 2),
            (17, 6),
            (31, 1),
            (33, 7),
            (64, 3),
            (130, 3),
            (257, 2),
            (1023, 4),
        ] {
            for c in [1, 3] {
                let n = w * h * c;
                // Few distinct values half the time, so ties are common.
                let m = if next() % 2 == 0 { 4 } else { 65536 };
                let raw: Vec<u32> = (0..n).map(|_| next() % m).collect();
                let u8s = PixelData::U8(raw.iter().map(|&x| (x * 97 % 256) as u8).collect());
                let u16s =
                    PixelData::U16(raw.iter().map(|&x| (x * 16411 % 65536) as u16).collect());
                // Keys of both signs, zeros of both signs, infinities and NaN.
                let special = [-0.0, 0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -1.5];
                let f32s = PixelData::F32(
                    raw.iter()
                        .map(|&x| match x % 8 {
                            0 => special[(x / 8 % 6) as usize],
                            _ => (x as f32 - 30000.0) * 0.37,
                        })
                        .collect(),
                );
                for data in [u8s, u16s, f32s] {
                    let img = Image::new(w, h, c, data).unwrap();
                    for k in [3, 5] {
                        let want = naive_image(&img, k);
                        for isa in Isa::available() {
                            let p = MedianBlurParams { ksize: k as u32 };
                            let got = median_blur_isa(&img, &p, isa).unwrap();
                            assert_eq!(got.data, want, "{isa} {w}x{h}x{c} k {k} {}", img.dtype());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn selection_networks_select() {
        // Every 0/1 input, which proves a comparator network (0-1 principle). 64 inputs run
        // at once as the bits of a u64: input p is lane p % 64 of block p / 64.
        for (n, rank) in [(9, 4), (25, 12), (7, 0), (7, 6)] {
            let (net, out) = selection_network(n, rank);
            let lane_bit = |i: usize| {
                (0..64u64)
                    .filter(|l| l >> i & 1 == 1)
                    .fold(0, |m, l| m | 1 << l)
            };
            for block in 0u64..1 << (n - 6) {
                let mut v: Vec<u64> = (0..n)
                    .map(|i| {
                        if i < 6 {
                            lane_bit(i)
                        } else if block >> (i - 6) & 1 == 1 {
                            !0
                        } else {
                            0
                        }
                    })
                    .collect();
                for &(a, b) in &net {
                    let (x, y) = (v[a], v[b]);
                    v[a] = x & y;
                    v[b] = x | y;
                }
                // The rank-th smallest is 1 exactly when at most `rank` inputs are 0.
                let want = (0..64u64).fold(0u64, |m, l| {
                    let zeros = n - (block << 6 | l).count_ones() as usize;
                    m | u64::from(zeros <= rank) << l
                });
                assert_eq!(v[out], want, "n {n} rank {rank} block {block}");
            }
        }
    }

    #[test]
    fn f32_keys_follow_total_order() {
        let sorted = [
            f32::NEG_INFINITY,
            -f32::MAX,
            -1.5,
            -f32::MIN_POSITIVE,
            -1e-45,
            -0.0,
            0.0,
            1e-45,
            1.0,
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
        ];
        for pair in sorted.windows(2) {
            assert!(f32_key(pair[0]) < f32_key(pair[1]), "{pair:?}");
        }
        for x in sorted {
            assert_eq!(f32_from_key(f32_key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn hand_checked_3x3() {
        // 1 2 3 / 4 5 6 / 7 8 9 with replicate border.
        let img = Image::new(3, 3, 1, PixelData::U8((1..=9).collect())).unwrap();
        let got = median_blur(&img, &MedianBlurParams { ksize: 3 }).unwrap();
        // Top-left window: 1 1 2 / 1 1 2 / 4 4 5 -> sorted 1 1 1 1 2 2 4 4 5 -> 2.
        // Centre: 5. Bottom-right: 5 6 6 / 8 9 9 / 8 9 9 -> 8.
        assert_eq!(got.data, PixelData::U8(vec![2, 3, 3, 4, 5, 6, 7, 7, 8]));
        // A lone spike vanishes; f32 negatives order correctly.
        let img = Image::new(3, 1, 1, PixelData::F32(vec![-1.5, 100.0, -2.5])).unwrap();
        let got = median_blur(&img, &MedianBlurParams { ksize: 3 }).unwrap();
        assert_eq!(got.data, PixelData::F32(vec![-1.5, -1.5, -2.5]));
    }

    #[test]
    fn empty_images_stay_empty() {
        for (w, h, k) in [(0, 3, 3), (3, 0, 5), (0, 0, 7)] {
            let img = Image::new(w, h, 1, PixelData::U8(vec![])).unwrap();
            assert_eq!(
                median_blur(&img, &MedianBlurParams { ksize: k }).unwrap(),
                img
            );
        }
    }

    #[test]
    fn rejects_unsupported_sizes_and_dtypes() {
        let img16 = Image::new(4, 4, 1, PixelData::U16(vec![0; 16])).unwrap();
        assert!(median_blur(&img16, &MedianBlurParams { ksize: 7 }).is_err());
        let img8 = Image::new(4, 4, 1, PixelData::U8(vec![0; 16])).unwrap();
        assert!(median_blur(&img8, &MedianBlurParams { ksize: 4 }).is_err());
        assert!(median_blur(&img8, &MedianBlurParams { ksize: 1 }).is_err());
        let i16img = Image::new(4, 4, 1, PixelData::I16(vec![0; 16])).unwrap();
        let e = median_blur(&i16img, &MedianBlurParams { ksize: 3 }).unwrap_err();
        assert!(e.to_string().contains("median_blur"), "{e}");
    }
}
