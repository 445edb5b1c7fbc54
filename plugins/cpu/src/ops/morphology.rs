//! Morphology: OpenCV `erode`, `dilate` and `morphologyEx`.
//!
//! Rect elements are separable: a horizontal then a vertical running extremum. From size 5 up
//! the horizontal one doubles its window (log2 k vectorised passes) and the vertical one uses
//! van Herk / Gil-Werman (three comparisons per element whatever the size, whole rows at a
//! time); below, taps are read directly. Ellipse and cross elements are decomposed per element
//! row: every row of an OpenCV element is one horizontal run, and the extremum of a run is read
//! from a sparse table of the padded source row (two lookups per run). Row bands run in
//! parallel. Channels are independent and no arithmetic is done, so every dtype is exact.

use super::aligned::map_aligned;
use super::blur::Plane;
use super::border::prefetch_row;
use crate::isa::Isa;
use crate::pixel::Pixel;
use crate::simd;
use crate::with_pixel_type;
use rayon::prelude::*;
use std::marker::PhantomData;
use yam_plugin_api::{
    kernels::{Border, BorderMode, MorphOp, MorphParams, MorphShape, MorphologyParams},
    Image, PluginError,
};

/// Window size from which running extrema use a logarithmic scheme (rows: doubling; columns:
/// van Herk / Gil-Werman) instead of direct taps.
const LONG_WINDOW: usize = 5;

/// Output rows per parallel band, at least (smaller bands recompute too much overlap).
const MIN_BAND_ROWS: usize = 16;

/// OpenCV `erode`: minimum over the structuring element.
pub fn erode(src: &Image, p: &MorphParams) -> Result<Image, PluginError> {
    morph_image::<Min>("erode", src, p.shape, p.ksize, p.iterations, p.border)
}

/// OpenCV `dilate`: maximum over the structuring element (not reflected).
pub fn dilate(src: &Image, p: &MorphParams) -> Result<Image, PluginError> {
    morph_image::<Max>("dilate", src, p.shape, p.ksize, p.iterations, p.border)
}

/// OpenCV `morphologyEx` (open, close, gradient, tophat, blackhat) with the neutral border;
/// each erode/dilate inside runs `iterations` times. Differences saturate at 0 for u8/u16.
pub fn morphology(src: &Image, p: &MorphologyParams) -> Result<Image, PluginError> {
    let el = element("morphology", p.shape, p.ksize)?;
    let (w, h, c) = (src.width, src.height, src.channels);
    let it = p.iterations as usize;
    with_pixel_type!(src, T => {
        let s = T::slice(src).expect("dtype checked by the macro");
        let ero = |x: &[T]| morph::<T, Min>(x, w, h, c, &el, it, None);
        let dil = |x: &[T]| morph::<T, Max>(x, w, h, c, &el, it, None);
        let out = match p.op {
            MorphOp::Open => dil(&ero(s)),
            MorphOp::Close => ero(&dil(s)),
            MorphOp::Gradient => difference(&dil(s), &ero(s)),
            MorphOp::Tophat => difference(s, &dil(&ero(s))),
            MorphOp::Blackhat => difference(&ero(&dil(s)), s),
        };
        Ok(Image { width: w, height: h, channels: c, data: T::wrap(out) })
    }, _ => Err(unsupported_dtype("morphology", src)))
}

fn unsupported_dtype(kernel: &str, src: &Image) -> PluginError {
    PluginError::unsupported(format!(
        "{kernel}: dtype {} is not supported (u8, u16, f32)",
        src.dtype()
    ))
}

fn morph_image<E: Extremum>(
    kernel: &str,
    src: &Image,
    shape: MorphShape,
    ksize: u32,
    iterations: u32,
    border: Option<Border>,
) -> Result<Image, PluginError> {
    let el = element(kernel, shape, ksize)?;
    let (w, h, c) = (src.width, src.height, src.channels);
    with_pixel_type!(src, T => {
        let s = T::slice(src).expect("dtype checked by the macro");
        let out = morph::<T, E>(s, w, h, c, &el, iterations as usize, border);
        Ok(Image { width: w, height: h, channels: c, data: T::wrap(out) })
    }, _ => Err(unsupported_dtype(kernel, src)))
}

/// Minimum (erode) or maximum (dilate), and the value that never wins.
trait Extremum: Copy + Send + Sync + 'static {
    fn pick<T: Pixel>(a: T, b: T) -> T;
    fn neutral<T: Pixel>() -> T;
}

#[derive(Debug, Clone, Copy)]
struct Min;

#[derive(Debug, Clone, Copy)]
struct Max;

impl Extremum for Min {
    #[inline(always)]
    fn pick<T: Pixel>(a: T, b: T) -> T {
        if b < a {
            b
        } else {
            a
        }
    }
    fn neutral<T: Pixel>() -> T {
        T::MAX
    }
}

impl Extremum for Max {
    #[inline(always)]
    fn pick<T: Pixel>(a: T, b: T) -> T {
        if b > a {
            b
        } else {
            a
        }
    }
    fn neutral<T: Pixel>() -> T {
        T::MIN
    }
}

/// `a - b`, saturating at 0 for integers (OpenCV `Mat` subtraction).
trait Difference: Pixel {
    fn minus(self, b: Self) -> Self;
}

impl Difference for u8 {
    fn minus(self, b: u8) -> u8 {
        self.saturating_sub(b)
    }
}

impl Difference for u16 {
    fn minus(self, b: u16) -> u16 {
        self.saturating_sub(b)
    }
}

impl Difference for f32 {
    fn minus(self, b: f32) -> f32 {
        self - b
    }
}

fn difference<T: Difference>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().zip(b).map(|(&x, &y)| x.minus(y)).collect()
}

/// A square structuring element with its anchor at the centre, stored as one half-open column
/// run `[j1, j2)` per row (every OpenCV shape has exactly one run per row).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Element {
    size: usize,
    runs: Vec<(usize, usize)>,
}

/// Checks `ksize` and builds the element.
fn element(kernel: &str, shape: MorphShape, ksize: u32) -> Result<Element, PluginError> {
    if ksize == 0 || ksize % 2 == 0 {
        return Err(PluginError::invalid(format!(
            "{kernel}: ksize {ksize} is not allowed (an odd size >= 1)"
        )));
    }
    Ok(Element::new(shape, ksize as usize))
}

impl Element {
    /// OpenCV `getStructuringElement(shape, (k, k))` with the default (centre) anchor.
    fn new(shape: MorphShape, k: usize) -> Element {
        let c = k / 2;
        let runs = (0..k)
            .map(|i| match shape {
                MorphShape::Rect => (0, k),
                MorphShape::Cross if i == c => (0, k),
                MorphShape::Cross => (c, c + 1),
                MorphShape::Ellipse => {
                    // r = rows/2 and c = cols/2 coincide for a square element.
                    let r = c as i64;
                    let inv_r2 = if r > 0 { 1.0 / (r * r) as f64 } else { 0.0 };
                    let dy = i as i64 - r;
                    let dx = (c as f64 * (((r * r - dy * dy) as f64) * inv_r2).sqrt())
                        .round_ties_even() as i64;
                    let j1 = (c as i64 - dx).max(0) as usize;
                    let j2 = (c as i64 + dx + 1).min(k as i64) as usize;
                    (j1, j2)
                }
            })
            .collect();
        Element { size: k, runs }
    }

    fn is_full(&self) -> bool {
        self.runs.iter().all(|&(a, b)| a == 0 && b == self.size)
    }
}

/// How made-up pixels are read: a fixed value, or a mapped in-image pixel.
#[derive(Debug, Clone, Copy)]
enum Pad<T> {
    Const(T),
    Map(BorderMode),
}

impl<T: Pixel> Pad<T> {
    /// `None` is OpenCV's default border: a constant that never wins.
    fn new<E: Extremum>(border: Option<Border>) -> Pad<T> {
        match border {
            None => Pad::Const(E::neutral()),
            Some(Border {
                mode: BorderMode::Constant,
                value,
            }) => Pad::Const(T::saturate_from_f64(value)),
            Some(b) => Pad::Map(b.mode),
        }
    }

    /// The in-image index read for coordinate `i` of an axis of length `n`, `None` for the
    /// constant.
    fn index(self, i: isize, n: usize) -> Option<usize> {
        match self {
            Pad::Const(_) if (0..n as isize).contains(&i) => Some(i as usize),
            Pad::Const(_) => None,
            Pad::Map(m) => m.map(i, n),
        }
    }
}

/// Erodes (`E = Min`) or dilates (`E = Max`) `src` (`h` rows of `w` pixels of `c` channels)
/// `iterations` times, following OpenCV's `morphOp`: nothing to do for 0 iterations or a 1×1
/// element; a full (rect) element with several iterations becomes one larger rect of size
/// `k + (iterations-1)(k-1)` applied once; other elements are applied repeatedly.
fn morph<T: Pixel, E: Extremum>(
    src: &[T],
    w: usize,
    h: usize,
    c: usize,
    el: &Element,
    iterations: usize,
    border: Option<Border>,
) -> Vec<T> {
    if iterations == 0 || el.size == 1 || src.is_empty() {
        return src.to_vec();
    }
    let pad = Pad::<T>::new::<E>(border);
    let plane = Plane {
        data: src,
        width: w,
        height: h,
        channels: c,
    };
    if el.is_full() {
        let k = el.size + (iterations - 1) * (el.size - 1);
        return rect::<T, E>(plane, k, pad);
    }
    let mut out = general::<T, E>(plane, el, pad);
    for _ in 1..iterations {
        let previous = Plane {
            data: &out,
            ..plane
        };
        out = general::<T, E>(previous, el, pad);
    }
    out
}

/// Runs `f(first_row, band)` on bands of whole rows of `out` in parallel.
fn for_each_band<T: Send>(
    out: &mut [T],
    row_len: usize,
    f: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    let rows = out.len() / row_len;
    let band = rows
        .div_ceil(rayon::current_num_threads() * 2)
        .max(MIN_BAND_ROWS);
    out.par_chunks_mut(band * row_len)
        .enumerate()
        .for_each(|(b, chunk)| f(b * band, chunk));
}

/// `dst[e] = pick(dst[e], src[e])`.
#[inline(always)]
fn pick_into<T: Pixel, E: Extremum>(dst: &mut [T], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = E::pick(*d, s);
    }
}

/// `out[e] = pick(src(0)[e], .., src(k-1)[e])` for `k` < [`LONG_WINDOW`], in one pass.
#[inline(always)]
fn pick_shifted<'s, T: Pixel + 's, E: Extremum>(
    out: &mut [T],
    k: usize,
    src: impl Fn(usize) -> &'s [T],
) {
    match k {
        1 => out.copy_from_slice(&src(0)[..out.len()]),
        2 => pick_n::<T, E, 2>(out, std::array::from_fn(&src)),
        3 => pick_n::<T, E, 3>(out, std::array::from_fn(&src)),
        _ => pick_n::<T, E, 4>(out, std::array::from_fn(&src)),
    }
}

/// `out[e]` = the extremum of the N sources at `e`, kept in a register across sources.
#[inline(always)]
fn pick_n<T: Pixel, E: Extremum, const N: usize>(out: &mut [T], src: [&[T]; N]) {
    map_aligned(out, src, |v| {
        let mut m = v[0];
        for &s in &v[1..] {
            m = E::pick(m, s);
        }
        m
    });
}

/// `dst[e] = pick(a[e], b[e])`.
#[inline(always)]
fn pick_from<T: Pixel, E: Extremum>(dst: &mut [T], a: &[T], b: &[T]) {
    for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
        *d = E::pick(x, y);
    }
}

/// Writes source row `row` (`w` pixels of `c` channels) into `out` with `r` made-up pixels
/// on each side.
#[inline(always)]
fn pad_row<T: Pixel>(row: &[T], c: usize, r: usize, pad: Pad<T>, out: &mut [T]) {
    let w = row.len() / c;
    out[r * c..(r + w) * c].copy_from_slice(row);
    for px in (0..r).chain(r + w..w + 2 * r) {
        let dst = &mut out[px * c..(px + 1) * c];
        match pad {
            Pad::Const(v) => dst.fill(v),
            Pad::Map(m) => {
                let sx = m
                    .map(px as isize - r as isize, w)
                    .expect("non-constant border modes always map");
                dst.copy_from_slice(&row[sx * c..(sx + 1) * c]);
            }
        }
    }
}

/// Running extremum over windows of `k` pixels of the padded row `p` (`c` channels):
/// `out[x] = pick(p[x .. x + k])`, for every `x` with a whole window. `g`, `s` are scratch of
/// `p.len()` elements.
#[inline(always)]
fn running_row<T: Pixel, E: Extremum>(
    p: &[T],
    c: usize,
    k: usize,
    out: &mut [T],
    g: &mut [T],
    s: &mut [T],
) {
    let m = out.len();
    if k < LONG_WINDOW {
        return pick_shifted::<T, E>(out, k, |t| &p[t * c..t * c + m]);
    }
    // Doubling: after each pass g[x] covers twice as many pixels; two overlapping windows of
    // the largest power of two <= k then cover k. Every pass is a plain vectorisable loop,
    // unlike van Herk's serial prefix chains along a row.
    let n = p.len();
    let (mut g, mut s) = (g, s);
    g.copy_from_slice(p);
    let mut len = 1;
    while 2 * len <= k {
        let half = len * c;
        pick_from::<T, E>(&mut s[..n - half], &g[..n - half], &g[half..]);
        std::mem::swap(&mut g, &mut s);
        len *= 2;
    }
    let off = (k - len) * c;
    pick_from::<T, E>(out, &g[..m], &g[off..off + m]);
}

/// Separable rect erosion/dilation with a `k`×`k` window: per chunk of output rows, the
/// horizontal extrema of the rows it reads (a small buffer, so no image-sized intermediate),
/// then the vertical extrema.
fn rect<T: Pixel, E: Extremum>(src: Plane<'_, T>, k: usize, pad: Pad<T>) -> Vec<T> {
    // Output rows per chunk: re-filtering the 2r halo rows costs at most a third extra.
    rect_chunked::<T, E>(src, k, pad, (4 * k).max(64))
}

/// [`rect`] with the chunk size exposed to tests.
fn rect_chunked<T: Pixel, E: Extremum>(
    src: Plane<'_, T>,
    k: usize,
    pad: Pad<T>,
    chunk: usize,
) -> Vec<T> {
    let row_len = src.width * src.channels;
    let mut out = crate::recycle::output_vec::<T>(src.data.len());
    let isa = Isa::active();
    for_each_band(&mut out, row_len, |y0, band| {
        let job = RectBand::<T, E> {
            src,
            k,
            pad,
            chunk,
            y0,
            band,
            _extremum: PhantomData,
        };
        simd::vectorised(isa, job);
    });
    out
}

/// One band of [`rect_chunked`]: output rows `y0..` into `band`, compiled per ISA.
struct RectBand<'a, T, E> {
    src: Plane<'a, T>,
    k: usize,
    pad: Pad<T>,
    chunk: usize,
    y0: usize,
    band: &'a mut [T],
    _extremum: PhantomData<E>,
}

impl<T: Pixel, E: Extremum> simd::PlainKernel for RectBand<'_, T, E> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        if self.k < LONG_WINDOW {
            return self.small();
        }
        let RectBand {
            src,
            k,
            pad,
            chunk,
            y0,
            band,
            ..
        } = self;
        let Plane {
            data: src,
            width: w,
            height: h,
            channels: c,
        } = src;
        let r = k / 2;
        let row_len = w * c;
        let padded_len = (w + 2 * r) * c;
        let mut arena = Vec::new();
        let [p, g, s, hor, suffix, prefix] = staggered(
            &mut arena,
            [
                padded_len,
                padded_len,
                padded_len,
                (chunk + k - 1) * row_len,
                k * row_len,
                row_len,
            ],
        );
        for (i, part) in band.chunks_mut(chunk * row_len).enumerate() {
            let first = y0 + i * chunk;
            let rows = part.len() / row_len + k - 1;
            // Row q of `hor` is image row first - r + q, made up by the border if outside.
            for (q, dst) in hor[..rows * row_len].chunks_mut(row_len).enumerate() {
                match pad.index((first + q) as isize - r as isize, h) {
                    Some(y) => {
                        pad_row(&src[y * row_len..(y + 1) * row_len], c, r, pad, p);
                        prefetch_row(src, row_len, y + 1);
                        running_row::<T, E>(p, c, k, dst, g, s);
                    }
                    None => {
                        let Pad::Const(v) = pad else {
                            unreachable!("only the constant border leaves rows unmapped")
                        };
                        dst.fill(v);
                    }
                }
            }
            running_column::<T, E>(hor, row_len, k, part, suffix, prefix);
        }
    }
}

impl<T: Pixel, E: Extremum> RectBand<'_, T, E> {
    /// A window under [`LONG_WINDOW`]: the vertical extremum straight from the source rows (no
    /// padded copy of them, no chunk buffer), then the horizontal one over that single row,
    /// padded.
    #[inline(always)]
    fn small(self) {
        let RectBand {
            src,
            k,
            pad,
            y0,
            band,
            ..
        } = self;
        let Plane {
            data: src,
            width: w,
            height: h,
            channels: c,
        } = src;
        let r = k / 2;
        let row_len = w * c;
        // Rows outside the image under a constant border read this row.
        let constant = match pad {
            Pad::Const(v) => vec![v; row_len],
            Pad::Map(_) => Vec::new(),
        };
        let mut vertical = vec![T::default(); row_len];
        let mut padded = vec![T::default(); (w + 2 * r) * c];
        for (i, out_row) in band.chunks_mut(row_len).enumerate() {
            let y = (y0 + i) as isize;
            let rows: [&[T]; LONG_WINDOW - 1] = std::array::from_fn(|j| {
                match pad.index(y + j.min(k - 1) as isize - r as isize, h) {
                    Some(sy) => &src[sy * row_len..(sy + 1) * row_len],
                    None => &constant[..],
                }
            });
            prefetch_row(src, row_len, (y0 + i + r + 1).min(h - 1));
            pick_shifted::<T, E>(&mut vertical, k, |j| rows[j]);
            pad_row(&vertical, c, r, pad, &mut padded);
            pick_shifted::<T, E>(out_row, k, |t| &padded[t * c..t * c + row_len]);
        }
    }
}

/// `N` scratch buffers of `lens` elements carved out of `arena`, each starting at a different
/// offset within a 4 KiB page (384 bytes apart and from the page start, where image rows of
/// 4 KiB multiples start). A load whose address matches an earlier, still pending store in its
/// low 12 bits waits for it (4K aliasing); separate allocations landed wherever the allocator
/// put them, and erosion with a 15x15 rectangle ran 3.4 to 4.3 ms by that luck.
fn staggered<T: Default + Clone, const N: usize>(
    arena: &mut Vec<T>,
    lens: [usize; N],
) -> [&mut [T]; N] {
    const PAGE: usize = 4096;
    let size = std::mem::size_of::<T>().max(1);
    let offset = |i: usize| (384 + i * 640) % PAGE / size;
    let page = PAGE / size;
    let total: usize = lens
        .iter()
        .map(|l| l.div_ceil(page) * page + page)
        .sum::<usize>()
        + page;
    arena.clear();
    arena.resize(total, T::default());
    // Elements to the first 4 KiB boundary of the arena.
    let misalign = (arena.as_ptr() as usize % PAGE) / size;
    let mut rest: &mut [T] = &mut arena[(page - misalign) % page..];
    let mut pieces: [&mut [T]; N] = std::array::from_fn(|_| <&mut [T]>::default());
    for (i, (piece, &len)) in pieces.iter_mut().zip(&lens).enumerate() {
        let (_, tail) = rest.split_at_mut(offset(i));
        let (this, tail) = tail.split_at_mut(len);
        // The next piece starts on the next page boundary, plus its own offset.
        let used = offset(i) + len;
        let skip = used.div_ceil(page) * page - used;
        rest = &mut tail[skip..];
        *piece = this;
    }
    pieces
}

/// `out` row `t` = extremum of rows `t .. t + k` of `rows` (rows of `row_len` elements).
/// `suffix` (k rows) and `prefix` (1 row) are scratch.
#[inline(always)]
fn running_column<T: Pixel, E: Extremum>(
    rows: &[T],
    row_len: usize,
    k: usize,
    out: &mut [T],
    suffix: &mut [T],
    prefix: &mut [T],
) {
    let row = |q: usize| &rows[q * row_len..(q + 1) * row_len];
    let n_out = out.len() / row_len;
    if k < LONG_WINDOW {
        for (t, o) in out.chunks_mut(row_len).enumerate() {
            pick_shifted::<T, E>(o, k, |d| row(t + d));
        }
        return;
    }
    // van Herk along columns: blocks of k rows; every block that holds the first row of a
    // window is complete, and the rest of the window lies in the next block.
    for b in (0..n_out).step_by(k) {
        suffix[(k - 1) * row_len..].copy_from_slice(row(b + k - 1));
        for j in (0..k - 1).rev() {
            let (head, tail) = suffix.split_at_mut((j + 1) * row_len);
            pick_from::<T, E>(&mut head[j * row_len..], row(b + j), &tail[..row_len]);
        }
        out[b * row_len..(b + 1) * row_len].copy_from_slice(&suffix[..row_len]);
        for t in b + 1..(b + k).min(n_out) {
            let j = t - b;
            if j == 1 {
                prefix.copy_from_slice(row(b + k));
            } else {
                pick_into::<T, E>(prefix, row(b + k + j - 1));
            }
            pick_from::<T, E>(
                &mut out[t * row_len..(t + 1) * row_len],
                &suffix[j * row_len..(j + 1) * row_len],
                prefix,
            );
        }
    }
}

/// Erosion/dilation with any element of one run per row: for every element row, the extremum
/// of its run over the matching padded source row, read from that row's sparse table
/// (`level[p][x]` = extremum of pixels `x .. x + 2^p`), kept in a ring of `k` rows.
fn general<T: Pixel, E: Extremum>(src: Plane<'_, T>, el: &Element, pad: Pad<T>) -> Vec<T> {
    let c = src.channels;
    let k = el.size;
    let row_len = src.width * c;
    let longest = el.runs.iter().map(|&(a, b)| b - a).max().unwrap_or(1);
    let levels = longest.ilog2() as usize + 1;
    // Per element row: (level, first offset, second offset), in elements; empty rows skipped.
    let taps: Vec<(usize, usize, usize, usize)> = el
        .runs
        .iter()
        .enumerate()
        .filter(|(_, run)| run.1 > run.0)
        .map(|(i, &(a, b))| {
            let p = (b - a).ilog2() as usize;
            (i, p, a * c, (b - (1 << p)) * c)
        })
        .collect();
    let mut out = crate::recycle::output_vec::<T>(src.data.len());
    let isa = Isa::active();
    for_each_band(&mut out, row_len, |y0, band| {
        let job = GeneralBand::<T, E> {
            src,
            k,
            levels,
            pad,
            taps: &taps,
            y0,
            band,
            _extremum: PhantomData,
        };
        simd::vectorised(isa, job);
    });
    out
}

/// One band of [`general`]: output rows `y0..` into `band`, compiled per ISA.
struct GeneralBand<'a, T, E> {
    src: Plane<'a, T>,
    k: usize,
    levels: usize,
    pad: Pad<T>,
    /// Per element row: (row, level, first offset, second offset), empty rows skipped.
    taps: &'a [(usize, usize, usize, usize)],
    y0: usize,
    band: &'a mut [T],
    _extremum: PhantomData<E>,
}

impl<T: Pixel, E: Extremum> simd::PlainKernel for GeneralBand<'_, T, E> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let GeneralBand {
            src,
            k,
            levels,
            pad,
            taps,
            y0,
            band,
            ..
        } = self;
        let Plane {
            data: src,
            width: w,
            height: h,
            channels: c,
        } = src;
        let r = k / 2;
        let row_len = w * c;
        let padded_len = (w + 2 * r) * c;
        let slot_len = levels * padded_len;
        let mut ring = vec![T::default(); k * slot_len];
        // Fills the slot of padded row q (image row y0 - r + q) with its sparse table.
        let fill = |ring: &mut [T], q: usize| {
            let slot = &mut ring[(q % k) * slot_len..(q % k + 1) * slot_len];
            let (first, mut rest) = slot.split_at_mut(padded_len);
            match pad.index((y0 + q) as isize - r as isize, h) {
                Some(y) => {
                    pad_row(&src[y * row_len..(y + 1) * row_len], c, r, pad, first);
                    prefetch_row(src, row_len, y + 1);
                }
                None => {
                    let Pad::Const(v) = pad else {
                        unreachable!("only the constant border leaves rows unmapped")
                    };
                    first.fill(v);
                }
            }
            let mut prev: &[T] = first;
            for p in 1..levels {
                let (cur, next) = std::mem::take(&mut rest).split_at_mut(padded_len);
                let half = (1 << (p - 1)) * c;
                let valid = padded_len - half;
                pick_from::<T, E>(&mut cur[..valid], &prev[..valid], &prev[half..]);
                prev = cur;
                rest = next;
            }
        };
        for q in 0..k - 1 {
            fill(&mut ring, q);
        }
        for (t, o) in band.chunks_mut(row_len).enumerate() {
            fill(&mut ring, t + k - 1);
            for (n, &(i, p, a, b)) in taps.iter().enumerate() {
                let slot = (t + i) % k;
                let level = &ring[slot * slot_len + p * padded_len..][..padded_len];
                let (x, y) = (&level[a..a + row_len], &level[b..b + row_len]);
                match (n, a == b) {
                    (0, true) => o.copy_from_slice(x),
                    (0, false) => pick_from::<T, E>(o, x, y),
                    (_, true) => pick_into::<T, E>(o, x),
                    (_, false) => {
                        for ((d, &u), &v) in o.iter_mut().zip(x).zip(y) {
                            *d = E::pick(*d, E::pick(u, v));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;
    use yam_plugin_api::{DType, PixelData};

    fn check_staggered<T: Default + Clone>() {
        let size = std::mem::size_of::<T>();
        let mut arena = Vec::new();
        for lens in [[1, 0, 4096, 5000, 3, 77], [8192, 4095, 1, 12289, 64, 4097]] {
            let pieces = staggered::<T, 6>(&mut arena, lens);
            let mut starts = Vec::new();
            for (i, (piece, len)) in pieces.into_iter().zip(lens).enumerate() {
                assert_eq!(piece.len(), len);
                let at = piece.as_ptr() as usize;
                assert_eq!(
                    at % 4096,
                    (384 + i * 640) % 4096,
                    "piece {i}, {size}-byte elements"
                );
                starts.push((at, at + len * size));
            }
            starts.sort();
            assert!(
                starts.windows(2).all(|w| w[0].1 <= w[1].0),
                "overlap: {starts:?}"
            );
        }
    }

    #[test]
    fn staggered_pieces_have_their_lengths_and_page_offsets_and_do_not_overlap() {
        check_staggered::<u8>();
        check_staggered::<u16>();
        check_staggered::<f32>();
    }

    /// `getStructuringElement` written from SEMANTICS.md §5 as a 0/1 matrix.
    fn naive_element(shape: MorphShape, k: usize) -> Vec<Vec<u8>> {
        let mut e = vec![vec![0u8; k]; k];
        let c = k / 2;
        for (i, row) in e.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = match shape {
                    MorphShape::Rect => 1,
                    MorphShape::Cross => u8::from(i == c || j == c),
                    MorphShape::Ellipse => {
                        let r = c as f64;
                        let dy = i as f64 - r;
                        let inv_r2 = if c == 0 { 0.0 } else { 1.0 / (r * r) };
                        let dx = (r * ((r * r - dy * dy) * inv_r2).sqrt()).round_ties_even();
                        let j = j as f64;
                        u8::from(j >= (r - dx).max(0.0) && j < (r + dx + 1.0).min(k as f64))
                    }
                };
            }
        }
        e
    }

    /// One erosion/dilation by definition: extremum over every set tap, out-of-image taps read
    /// through `BorderMode::map` or the constant (the neutral value for `None`).
    #[allow(clippy::too_many_arguments, reason = "a direct definition, kept flat")]
    fn naive_once(
        src: &[f64],
        w: usize,
        h: usize,
        c: usize,
        se: &[Vec<u8>],
        erode: bool,
        outside: Option<BorderMode>,
        constant: f64,
    ) -> Vec<f64> {
        let k = se.len();
        let r = (k / 2) as isize;
        let mut out = vec![0.0; src.len()];
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let mut acc: Option<f64> = None;
                    for (i, row) in se.iter().enumerate() {
                        for (j, &on) in row.iter().enumerate() {
                            if on == 0 {
                                continue;
                            }
                            let sy = y as isize + i as isize - r;
                            let sx = x as isize + j as isize - r;
                            let v = match outside {
                                Some(m) => {
                                    let (yy, xx) = (m.map(sy, h).unwrap(), m.map(sx, w).unwrap());
                                    src[(yy * w + xx) * c + ch]
                                }
                                None => {
                                    if sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < w
                                    {
                                        src[(sy as usize * w + sx as usize) * c + ch]
                                    } else {
                                        constant
                                    }
                                }
                            };
                            acc = Some(match acc {
                                None => v,
                                Some(a) if erode => a.min(v),
                                Some(a) => a.max(v),
                            });
                        }
                    }
                    out[(y * w + x) * c + ch] = acc.unwrap();
                }
            }
        }
        out
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Ty {
        U8,
        U16,
        F32,
    }

    impl Ty {
        fn lo_hi(self) -> (f64, f64) {
            match self {
                Ty::U8 => (0.0, 255.0),
                Ty::U16 => (0.0, 65535.0),
                Ty::F32 => (-(f32::MAX as f64), f32::MAX as f64),
            }
        }
        /// The constant border value as the kernel saturates it.
        fn saturate(self, v: f64) -> f64 {
            match self {
                Ty::U8 => v.round_ties_even().clamp(0.0, 255.0),
                Ty::U16 => v.round_ties_even().clamp(0.0, 65535.0),
                Ty::F32 => v as f32 as f64,
            }
        }
        fn image(self, w: usize, h: usize, c: usize, v: &[f64]) -> Image {
            let data = match self {
                Ty::U8 => PixelData::U8(v.iter().map(|&x| x as u8).collect()),
                Ty::U16 => PixelData::U16(v.iter().map(|&x| x as u16).collect()),
                Ty::F32 => PixelData::F32(v.iter().map(|&x| x as f32).collect()),
            };
            Image::new(w, h, c, data).unwrap()
        }
    }

    fn values(img: &Image) -> Vec<f64> {
        match &img.data {
            PixelData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            PixelData::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            PixelData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            _ => panic!("unexpected dtype"),
        }
    }

    /// erode/dilate by definition, with OpenCV's iteration rule for full elements written
    /// out separately.
    #[allow(clippy::too_many_arguments, reason = "a direct definition, kept flat")]
    fn naive_morph(
        ty: Ty,
        src: &[f64],
        (w, h, c): (usize, usize, usize),
        shape: MorphShape,
        k: usize,
        iterations: usize,
        border: Option<Border>,
        erode: bool,
    ) -> Vec<f64> {
        let (lo, hi) = ty.lo_hi();
        let (outside, constant) = match border {
            None => (None, if erode { hi } else { lo }),
            Some(Border {
                mode: BorderMode::Constant,
                value,
            }) => (None, ty.saturate(value)),
            Some(b) => (Some(b.mode), 0.0),
        };
        let se = naive_element(shape, k);
        let full = se.iter().flatten().all(|&v| v == 1);
        if iterations == 0 || k == 1 {
            return src.to_vec();
        }
        if full && iterations > 1 {
            let big =
                vec![vec![1u8; k + (iterations - 1) * (k - 1)]; k + (iterations - 1) * (k - 1)];
            return naive_once(src, w, h, c, &big, erode, outside, constant);
        }
        let mut cur = src.to_vec();
        for _ in 0..iterations {
            cur = naive_once(&cur, w, h, c, &se, erode, outside, constant);
        }
        cur
    }

    fn ty_strategy() -> impl Strategy<Value = Ty> {
        prop_oneof![Just(Ty::U8), Just(Ty::U16), Just(Ty::F32)]
    }

    fn shape_strategy() -> impl Strategy<Value = MorphShape> {
        prop_oneof![
            Just(MorphShape::Rect),
            Just(MorphShape::Ellipse),
            Just(MorphShape::Cross)
        ]
    }

    fn border_strategy() -> impl Strategy<Value = Option<Border>> {
        let mode = prop_oneof![
            Just(BorderMode::Reflect101),
            Just(BorderMode::Reflect),
            Just(BorderMode::Replicate),
            Just(BorderMode::Constant),
            Just(BorderMode::Wrap),
        ];
        prop_oneof![
            Just(None),
            (mode, -300.0f64..70000.0).prop_map(|(mode, value)| Some(Border { mode, value })),
        ]
    }

    /// An image of the dtype, with few distinct values (ties) and, for f32, infinities.
    fn image_strategy() -> impl Strategy<Value = (Ty, usize, usize, usize, Vec<f64>)> {
        (
            ty_strategy(),
            1usize..24,
            1usize..24,
            prop_oneof![Just(1usize), Just(3), Just(4)],
        )
            .prop_flat_map(|(ty, w, h, c)| {
                let v = match ty {
                    Ty::U8 => prop_oneof![0.0..4.0f64, 0.0..256.0]
                        .prop_map(f64::floor)
                        .boxed(),
                    Ty::U16 => prop_oneof![0.0..4.0f64, 0.0..65536.0]
                        .prop_map(f64::floor)
                        .boxed(),
                    Ty::F32 => prop_oneof![
                        8 => (-1e6f64..1e6).prop_map(|x| x as f32 as f64),
                        1 => Just(f64::INFINITY),
                        1 => Just(f64::NEG_INFINITY),
                    ]
                    .boxed(),
                };
                (
                    Just(ty),
                    Just(w),
                    Just(h),
                    Just(c),
                    proptest::collection::vec(v, w * h * c),
                )
            })
    }

    fn ksize_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![
            Just(1u32),
            Just(3),
            Just(5),
            Just(7),
            Just(9),
            Just(13),
            Just(21)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn erode_dilate_match_naive(
            (ty, w, h, c, v) in image_strategy(),
            shape in shape_strategy(),
            ksize in ksize_strategy(),
            iterations in 0u32..4,
            border in border_strategy(),
        ) {
            let img = ty.image(w, h, c, &v);
            let p = MorphParams { shape, ksize, iterations, border };
            let e = erode(&img, &p).unwrap();
            let d = dilate(&img, &p).unwrap();
            prop_assert_eq!(e.dtype(), img.dtype());
            let dims = (w, h, c);
            let k = ksize as usize;
            let it = iterations as usize;
            prop_assert_eq!(values(&e), naive_morph(ty, &v, dims, shape, k, it, border, true));
            prop_assert_eq!(values(&d), naive_morph(ty, &v, dims, shape, k, it, border, false));
        }

        #[test]
        fn morphology_ops_match_naive(
            (ty, w, h, c, v) in image_strategy(),
            shape in shape_strategy(),
            ksize in prop_oneof![Just(1u32), Just(3), Just(5), Just(9)],
            iterations in 0u32..3,
            op in prop_oneof![
                Just(MorphOp::Open),
                Just(MorphOp::Close),
                Just(MorphOp::Gradient),
                Just(MorphOp::Tophat),
                Just(MorphOp::Blackhat),
            ],
        ) {
            let img = ty.image(w, h, c, &v);
            let got = morphology(&img, &MorphologyParams { op, shape, ksize, iterations }).unwrap();
            let dims = (w, h, c);
            let (k, it) = (ksize as usize, iterations as usize);
            let ero = |x: &[f64]| naive_morph(ty, x, dims, shape, k, it, None, true);
            let dil = |x: &[f64]| naive_morph(ty, x, dims, shape, k, it, None, false);
            let sub = |a: &[f64], b: &[f64]| -> Vec<f64> {
                a.iter()
                    .zip(b)
                    .map(|(&x, &y)| match ty {
                        Ty::F32 => (x as f32 - y as f32) as f64,
                        _ => (x - y).max(0.0),
                    })
                    .collect()
            };
            let want = match op {
                MorphOp::Open => dil(&ero(&v)),
                MorphOp::Close => ero(&dil(&v)),
                MorphOp::Gradient => sub(&dil(&v), &ero(&v)),
                MorphOp::Tophat => sub(&v, &dil(&ero(&v))),
                MorphOp::Blackhat => sub(&ero(&dil(&v)), &v),
            };
            let got = values(&got);
            // inf - inf is NaN in both; compare bit patterns of the f64 values.
            prop_assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }

        /// Tall images cross band and chunk boundaries (bands of >= 16 rows, chunks of >= 64).
        #[test]
        fn tall_images_match_naive(
            w in 1usize..5,
            h in 60usize..200,
            v in proptest::collection::vec(0u8..=255, 1000),
            shape in shape_strategy(),
            ksize in prop_oneof![Just(3u32), Just(5), Just(21), Just(31)],
            border in border_strategy(),
            erode_op in any::<bool>(),
            chunk in 1usize..9,
        ) {
            let vals: Vec<f64> = (0..w * h).map(|i| f64::from(v[i % v.len()])).collect();
            let img = Ty::U8.image(w, h, 1, &vals);
            let p = MorphParams { shape, ksize, iterations: 1, border };
            let got = if erode_op { erode(&img, &p) } else { dilate(&img, &p) }.unwrap();
            let k = ksize as usize;
            let want = naive_morph(Ty::U8, &vals, (w, h, 1), shape, k, 1, border, erode_op);
            prop_assert_eq!(values(&got), want.clone());
            if shape == MorphShape::Rect {
                // Several chunks per band, whatever the machine's thread count.
                let src: Vec<u8> = vals.iter().map(|&x| x as u8).collect();
                let plane = Plane { data: &src[..], width: w, height: h, channels: 1 };
                let chunked = if erode_op {
                    rect_chunked::<u8, Min>(plane, k, Pad::new::<Min>(border), chunk)
                } else {
                    rect_chunked::<u8, Max>(plane, k, Pad::new::<Max>(border), chunk)
                };
                let chunked: Vec<f64> = chunked.iter().map(|&x| f64::from(x)).collect();
                prop_assert_eq!(chunked, want);
            }
        }

        /// OpenCV enlarges a rect instead of iterating it; by definition (naive, every border)
        /// both give the same result, so the rule cannot change output.
        #[test]
        fn rect_enlargement_equals_iteration(
            (ty, w, h, c, v) in image_strategy(),
            ksize in prop_oneof![Just(3usize), Just(5)],
            iterations in 2usize..4,
            border in border_strategy(),
            erode in any::<bool>(),
        ) {
            let rect = MorphShape::Rect;
            let enlarged = naive_morph(ty, &v, (w, h, c), rect, ksize, iterations, border, erode);
            let mut cur = v.clone();
            for _ in 0..iterations {
                cur = naive_morph(ty, &cur, (w, h, c), rect, ksize, 1, border, erode);
            }
            prop_assert_eq!(enlarged, cur);
        }
    }

    #[test]
    fn ellipse_5x5_is_opencv_not_skimage_disk() {
        let want = [
            [0, 0, 1, 0, 0],
            [1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1],
            [0, 0, 1, 0, 0],
        ];
        let e = Element::new(MorphShape::Ellipse, 5);
        assert_eq!(e.runs, vec![(2, 3), (0, 5), (0, 5), (0, 5), (2, 3)]);
        let naive = naive_element(MorphShape::Ellipse, 5);
        for (i, row) in want.iter().enumerate() {
            assert_eq!(naive[i], row.to_vec());
        }
        // 3×3 ellipse is the cross; 1×1 of any shape is the single centre pixel.
        assert_eq!(
            Element::new(MorphShape::Ellipse, 3),
            Element::new(MorphShape::Cross, 3)
        );
        assert_eq!(Element::new(MorphShape::Ellipse, 1).runs, vec![(0, 1)]);
    }

    #[test]
    fn ellipse_runs_match_matrix() {
        for k in (1..40).step_by(2) {
            for shape in [MorphShape::Rect, MorphShape::Ellipse, MorphShape::Cross] {
                let runs = Element::new(shape, k).runs;
                let m = naive_element(shape, k);
                for (i, &(a, b)) in runs.iter().enumerate() {
                    let row: Vec<u8> = (0..k).map(|j| u8::from(j >= a && j < b)).collect();
                    assert_eq!(row, m[i], "{shape:?} k={k} row {i}");
                }
            }
        }
    }

    fn u8_image(w: usize, h: usize, v: &[u8]) -> Image {
        Image::new(w, h, 1, PixelData::U8(v.to_vec())).unwrap()
    }

    fn params(ksize: u32, border: Option<Border>) -> MorphParams {
        MorphParams {
            shape: MorphShape::Rect,
            ksize,
            iterations: 1,
            border,
        }
    }

    #[test]
    fn hand_checked_rect_3x3() {
        let img = u8_image(3, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let e = erode(&img, &params(3, None)).unwrap();
        assert_eq!(e.data, PixelData::U8(vec![1, 1, 2, 1, 1, 2, 4, 4, 5]));
        let d = dilate(&img, &params(3, None)).unwrap();
        assert_eq!(d.data, PixelData::U8(vec![5, 6, 6, 8, 9, 9, 8, 9, 9]));
        // A constant border that wins: 300 saturates to 255 for dilate, -5 to 0 for erode.
        let c = |value| {
            Some(Border {
                mode: BorderMode::Constant,
                value,
            })
        };
        let d = dilate(&img, &params(3, c(300.0))).unwrap();
        assert_eq!(
            d.data,
            PixelData::U8(vec![255, 255, 255, 255, 9, 255, 255, 255, 255])
        );
        let e = erode(&img, &params(3, c(-5.0))).unwrap();
        assert_eq!(e.data, PixelData::U8(vec![0, 0, 0, 0, 1, 0, 0, 0, 0]));
    }

    #[test]
    fn hand_checked_cross_and_wrap() {
        // 1 row [5 1 7 3]; wrap makes x=-1 read x=3 and x=4 read x=0.
        let img = u8_image(4, 1, &[5, 1, 7, 3]);
        let wrap = Some(Border {
            mode: BorderMode::Wrap,
            value: 0.0,
        });
        let d = dilate(&img, &params(3, wrap)).unwrap();
        assert_eq!(d.data, PixelData::U8(vec![5, 7, 7, 7]));
        let e = erode(&img, &params(3, wrap)).unwrap();
        assert_eq!(e.data, PixelData::U8(vec![1, 1, 1, 3]));
        // Cross on a single bright pixel draws a plus sign.
        let mut v = vec![0u8; 25];
        v[12] = 9;
        let p = MorphParams {
            shape: MorphShape::Cross,
            ..params(3, None)
        };
        let d = dilate(&u8_image(5, 5, &v), &p).unwrap();
        let mut want = vec![0u8; 25];
        for i in [7, 11, 12, 13, 17] {
            want[i] = 9;
        }
        assert_eq!(d.data, PixelData::U8(want));
    }

    #[test]
    fn f32_neutral_border_is_flt_max() {
        // The neutral border is +FLT_MAX for erode, so an all-+inf image erodes to FLT_MAX
        // wherever the window reaches outside (as OpenCV) but stays +inf inside.
        let img = Image::new(5, 3, 1, PixelData::F32(vec![f32::INFINITY; 15])).unwrap();
        let e = erode(&img, &params(3, None)).unwrap();
        let (m, inf) = (f32::MAX, f32::INFINITY);
        let mut want = vec![m; 15];
        want[6..9].fill(inf);
        assert_eq!(e.data, PixelData::F32(want));
    }

    #[test]
    fn rejects_even_ksize_and_other_dtypes() {
        let img = u8_image(3, 3, &[0; 9]);
        let err = erode(&img, &params(4, None)).unwrap_err();
        assert!(err.message.contains("erode") && err.message.contains('4'));
        let i32_img = Image::zeros(3, 3, 1, DType::I32);
        let err = dilate(&i32_img, &params(3, None)).unwrap_err();
        assert!(err.message.contains("dilate"));
    }
}
