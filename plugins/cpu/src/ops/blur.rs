//! Gaussian blur, and the separable row-then-column filter engine it shares with Sobel.

use std::ops::{Add, Mul};

use rayon::prelude::*;
use yam_plugin_api::{
    kernels::{BorderMode, GaussianBlurParams},
    Image, PixelData, PluginError,
};

use super::aligned::map_aligned;
use super::border::{index_table, prefetch_pages_for_write, RowPadder};
use super::separable_u8::gaussian_u8;
use crate::isa::Isa;
use crate::pixel::Pixel;
use crate::simd;

/// Rows per parallel band: about four bands per thread, but at least `min_rows` so that
/// per-band set-up (filling a ring of intermediate rows) stays a small share of the work.
pub(crate) fn band_rows(rows: usize, min_rows: usize) -> usize {
    let per_thread = rows.div_ceil(4 * rayon::current_num_threads());
    per_thread.max(min_rows).max(1)
}

/// One plane of typed pixels: `height` rows of `width` pixels of `channels` elements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plane<'a, T> {
    pub data: &'a [T],
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

/// A separable kernel (correlation, anchor at the centre; both lengths odd) and its border.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SepKernel<'a, H, V> {
    /// Row (horizontal) taps, applied first.
    pub kx: &'a [H],
    /// Column (vertical) taps, applied to the row results.
    pub ky: &'a [V],
    /// Border rule on both axes (the constant value is passed to [`separable`]).
    pub mode: BorderMode,
    /// Both tap lists are symmetric and are summed in pairs, centre first:
    /// `k[r]·x[0] + k[r+1]·(x[-1] + x[1]) + k[r+2]·(x[-2] + x[2]) + …`, two fewer operations
    /// per tap pair than `0 + k[0]·x[-r] + … + k[2r]·x[r]`. Only for sums whose rounding the
    /// f32 Gaussian defines this way (integer sums could overflow in the pair sum).
    pub symmetric: bool,
}

/// Runs a separable filter: `h = Σ kx[i]·widen(src(y, x+i-rx))` per padded row, then
/// `v = Σ ky[j]·lift(h(y+j-ry, x))`, then `finish(v)` per element. Channels are independent;
/// outside pixels follow `k.mode`, with `constant` for [`BorderMode::Constant`].
///
/// Works on bands of rows in parallel; each band keeps a ring of `ky.len()` row results, so
/// every row pass is done once per band and no border lookup happens per tap. Each band is
/// compiled for the active ISA ([`simd::vectorised`]): the loops are plain Rust that LLVM
/// vectorises with that ISA's registers, and the results are the same at every level.
pub(crate) fn separable<T, O, H, V>(
    src: Plane<'_, T>,
    k: SepKernel<'_, H, V>,
    constant: T,
    widen: impl Fn(T) -> H + Sync,
    lift: impl Fn(H) -> V + Sync,
    finish: impl Fn(V) -> O + Sync,
) -> Vec<O>
where
    T: Copy + Send + Sync,
    O: crate::recycle::Recyclable,
    H: Copy + Default + Send + Sync + Add<Output = H> + Mul<Output = H>,
    V: Copy + Default + Send + Sync + Add<Output = V> + Mul<Output = V>,
{
    let c = src.channels;
    let row_len = src.width * c;
    let mut out = crate::recycle::output_vec::<O>(row_len * src.height);
    if out.is_empty() {
        return out;
    }
    let kyl = k.ky.len();
    let (rx, ry) = (k.kx.len() / 2, kyl / 2);
    let padder = RowPadder::new(k.mode, src.width, c, rx, rx);
    // Padded row p is image row p - ry (or the constant row).
    let rows = index_table(k.mode, src.height, ry, ry);
    let band = band_rows(src.height, 4 * kyl);
    let isa = Isa::active();
    out.par_chunks_mut(band * row_len)
        .enumerate()
        .for_each(|(b, chunk)| {
            let job = SepBand {
                src,
                k,
                constant,
                padder: &padder,
                rows: &rows,
                first_row: b * band,
                out: chunk,
                widen: &widen,
                lift: &lift,
                finish: &finish,
            };
            simd::vectorised(isa, job);
        });
    out
}

/// One band of [`separable`]: output rows `first_row..` into `out`.
struct SepBand<'a, T, O, H, V, W, L, F> {
    src: Plane<'a, T>,
    k: SepKernel<'a, H, V>,
    constant: T,
    padder: &'a RowPadder,
    rows: &'a [Option<usize>],
    first_row: usize,
    out: &'a mut [O],
    widen: &'a W,
    lift: &'a L,
    finish: &'a F,
}

impl<T, O, H, V, W, L, F> simd::PlainKernel for SepBand<'_, T, O, H, V, W, L, F>
where
    T: Copy,
    H: Copy + Default + Add<Output = H> + Mul<Output = H>,
    V: Copy + Default + Add<Output = V> + Mul<Output = V>,
    W: Fn(T) -> H,
    L: Fn(H) -> V,
    F: Fn(V) -> O,
{
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let SepBand {
            src,
            k,
            constant,
            padder,
            rows,
            first_row,
            out,
            widen,
            lift,
            finish,
        } = self;
        let c = src.channels;
        let row_len = src.width * c;
        let kyl = k.ky.len();
        let halo = (k.kx.len() - 1) * c;
        let strip = strip_len(row_len, kyl * std::mem::size_of::<H>(), c);
        let mut padded = vec![constant; strip + halo];
        let mut ring = vec![H::default(); kyl * strip];
        let mut acc = vec![V::default(); strip];
        // Column strips, each down the whole band: the ring of row results stays in L1
        // (48 KiB here) where whole rows would not: 5 rows of 2048 f32 are 40 KiB, with the
        // source and output rows beside them.
        for x0 in (0..row_len).step_by(strip) {
            let n = strip.min(row_len - x0);
            for i in 0..out.len() / row_len {
                let y = first_row + i;
                // Output row y needs padded rows y..y+kyl; the ring holds padded row p in
                // slot p % kyl, so after the first row only one new row is computed.
                let first_new = if i == 0 { y } else { y + kyl - 1 };
                for p in first_new..y + kyl {
                    let seg = (x0, n + halo);
                    let seg = padder.segment(src.data, rows[p], constant, seg, &mut padded);
                    let slot = &mut ring[(p % kyl) * strip..][..n];
                    row_sums(slot, seg, k, c, widen);
                }
                let slot = |j: usize| &ring[((y + j) % kyl) * strip..][..n];
                let out_row = &mut out[i * row_len + x0..][..n];
                column_sums(out_row, slot, k, &mut acc[..n], lift, finish);
                // Two rows ahead, as the hardware prefetcher does not cross into their pages:
                // f32 Gaussian 2.25 -> 2.17 ms (9 interleaved A/B rounds, 1 thread).
                if let Some(ahead) = out.get((i + 2) * row_len + x0..(i + 2) * row_len + x0 + n) {
                    prefetch_pages_for_write(ahead);
                }
            }
        }
    }
}

/// One padded row's sums into `slot`: `seg` is the padded source segment (`slot.len()` plus
/// the halo), in the order [`SepKernel::symmetric`] says. Small kernels keep the sum in a
/// register across taps (same order, same result); others add one tap at a time over the row.
#[inline(always)]
fn row_sums<T: Copy, H, V>(
    slot: &mut [H],
    seg: &[T],
    k: SepKernel<'_, H, V>,
    c: usize,
    widen: &impl Fn(T) -> H,
) where
    H: Copy + Default + Add<Output = H> + Mul<Output = H>,
{
    match (k.symmetric, k.kx.len()) {
        (true, 3) => row_pass::<3, _, _>(slot, seg, k.kx, c, widen, symmetric_sum),
        (true, 5) => row_pass::<5, _, _>(slot, seg, k.kx, c, widen, symmetric_sum),
        (true, 7) => row_pass::<7, _, _>(slot, seg, k.kx, c, widen, symmetric_sum),
        (true, _) => {
            let r = k.kx.len() / 2;
            for (s, &v) in slot.iter_mut().zip(&seg[r * c..]) {
                *s = k.kx[r] * widen(v);
            }
            for i in 1..=r {
                let pairs = seg[(r - i) * c..].iter().zip(&seg[(r + i) * c..]);
                for (s, (&a, &b)) in slot.iter_mut().zip(pairs) {
                    *s = *s + k.kx[r + i] * (widen(a) + widen(b));
                }
            }
        }
        (false, 3) => row_pass::<3, _, _>(slot, seg, k.kx, c, widen, tap_sum),
        (false, 5) => row_pass::<5, _, _>(slot, seg, k.kx, c, widen, tap_sum),
        (false, 7) => row_pass::<7, _, _>(slot, seg, k.kx, c, widen, tap_sum),
        (false, _) => {
            slot.fill(H::default());
            for (t, &kv) in k.kx.iter().enumerate() {
                for (s, &v) in slot.iter_mut().zip(&seg[t * c..]) {
                    *s = *s + kv * widen(v);
                }
            }
        }
    }
}

/// One output row from the ring's row sums (`slot(j)` is window row j), in the order
/// [`SepKernel::symmetric`] says; `acc` is scratch of the row's length.
#[inline(always)]
fn column_sums<'r, H: Copy + 'r, V, O>(
    out_row: &mut [O],
    slot: impl Fn(usize) -> &'r [H],
    k: SepKernel<'_, H, V>,
    acc: &mut [V],
    lift: &impl Fn(H) -> V,
    finish: &impl Fn(V) -> O,
) where
    V: Copy + Default + Add<Output = V> + Mul<Output = V>,
{
    let kyl = k.ky.len();
    match (k.symmetric, kyl) {
        (true, 3) => column_pass::<3, _, _, _>(out_row, slot, k.ky, lift, finish, symmetric_sum),
        (true, 5) => column_pass::<5, _, _, _>(out_row, slot, k.ky, lift, finish, symmetric_sum),
        (true, 7) => column_pass::<7, _, _, _>(out_row, slot, k.ky, lift, finish, symmetric_sum),
        (true, _) => {
            let r = kyl / 2;
            for (a, &h) in acc.iter_mut().zip(slot(r)) {
                *a = k.ky[r] * lift(h);
            }
            for i in 1..=r {
                for (a, (&p, &q)) in acc.iter_mut().zip(slot(r - i).iter().zip(slot(r + i))) {
                    *a = *a + k.ky[r + i] * (lift(p) + lift(q));
                }
            }
            for (o, &a) in out_row.iter_mut().zip(acc.iter()) {
                *o = finish(a);
            }
        }
        (false, 3) => column_pass::<3, _, _, _>(out_row, slot, k.ky, lift, finish, tap_sum),
        (false, 5) => column_pass::<5, _, _, _>(out_row, slot, k.ky, lift, finish, tap_sum),
        (false, 7) => column_pass::<7, _, _, _>(out_row, slot, k.ky, lift, finish, tap_sum),
        (false, _) => {
            acc.fill(V::default());
            for (j, &kv) in k.ky.iter().enumerate() {
                for (a, &h) in acc.iter_mut().zip(slot(j)) {
                    *a = *a + kv * lift(h);
                }
            }
            for (o, &a) in out_row.iter_mut().zip(acc.iter()) {
                *o = finish(a);
            }
        }
    }
}

/// Elements per column strip of a row of `row_len` elements (`channels` per pixel) whose ring
/// holds `ring_bytes_per_element` bytes per element: a ring of at most 32 KiB, in equal strips
/// of whole pixels, a multiple of 64 elements where the row allows (whole unrolled vector
/// loops, no scalar epilogue).
fn strip_len(row_len: usize, ring_bytes_per_element: usize, channels: usize) -> usize {
    const RING_BYTES: usize = 32 << 10;
    let target = (RING_BYTES / ring_bytes_per_element.max(1)).max(256);
    if row_len <= target {
        return row_len;
    }
    let strips = row_len.div_ceil(target);
    let unit = 64 * channels;
    row_len.div_ceil(strips).div_ceil(unit) * unit
}

/// `slot[x] = sum(kx, [widen(padded[x + t·c]) for each tap t])`: one row pass of an `N`-tap
/// kernel, the taps' sum kept in a register ([`tap_sum`] or [`symmetric_sum`]).
#[inline(always)]
fn row_pass<const N: usize, T: Copy, H: Copy>(
    slot: &mut [H],
    padded: &[T],
    kx: &[H],
    c: usize,
    widen: &impl Fn(T) -> H,
    sum: impl Fn(&[H; N], [H; N]) -> H,
) {
    let kx: [H; N] = std::array::from_fn(|t| kx[t]);
    let taps: [&[T]; N] = std::array::from_fn(|t| &padded[t * c..]);
    map_aligned(slot, taps, |v| sum(&kx, v.map(widen)));
}

/// `out[x] = finish(sum(ky, [lift(slot(j)[x]) for each tap j]))`: one column pass of an
/// `N`-tap kernel over the ring's row sums.
#[inline(always)]
fn column_pass<'r, const N: usize, H: Copy + 'r, V: Copy, O>(
    out: &mut [O],
    slot: impl Fn(usize) -> &'r [H],
    ky: &[V],
    lift: &impl Fn(H) -> V,
    finish: &impl Fn(V) -> O,
    sum: impl Fn(&[V; N], [V; N]) -> V,
) {
    let ky: [V; N] = std::array::from_fn(|j| ky[j]);
    let rows: [&[H]; N] = std::array::from_fn(slot);
    map_aligned(out, rows, |v| finish(sum(&ky, v.map(lift))));
}

/// `0 + k[0]·v[0] + k[1]·v[1] + …`, in tap order.
#[inline(always)]
fn tap_sum<const N: usize, H>(k: &[H; N], v: [H; N]) -> H
where
    H: Copy + Default + Add<Output = H> + Mul<Output = H>,
{
    let mut a = H::default();
    for t in 0..N {
        a = a + k[t] * v[t];
    }
    a
}

/// `k[r]·v[r] + k[r+1]·(v[r-1] + v[r+1]) + …` in that order, `r = N / 2` (the symmetric
/// f32 Gaussian's order, [`SepKernel::symmetric`]).
#[inline(always)]
fn symmetric_sum<const N: usize, H>(k: &[H; N], v: [H; N]) -> H
where
    H: Copy + Add<Output = H> + Mul<Output = H>,
{
    let r = N / 2;
    let mut a = k[r] * v[r];
    // Not `1..=r`: an inclusive range kept LLVM from vectorising the caller's loop.
    for i in 0..r {
        a = a + k[r + 1 + i] * (v[r - 1 - i] + v[r + 1 + i]);
    }
    a
}

pub use yam_plugin_api::exact::{gaussian_kernel, gaussian_kernel_f32, gaussian_kernel_fixed};
// OpenCV `createGaussianKernels` sizes, shared with the GPU backends.
use yam_plugin_api::exact::gaussian_sizes;

/// OpenCV `GaussianBlur` (no ROI, `ALGO_HINT_ACCURATE`), channels independent.
///
/// u8 and u16 follow OpenCV's bit-exact fixed-point path: Q8 (u8) or Q16 (u16) taps, exact
/// integer row then column sums, `dst = (v + half) >> (2·bits)`. f32 uses the float32-cast
/// kernel with f32 sums of symmetric tap pairs, centre first, unfused (OpenCV pairs the taps
/// too but fuses multiply-adds, so results differ by a few ULP).
/// `Constant` borders use `border.value` saturated to the dtype (OpenCV itself always pads
/// with 0 here).
pub fn gaussian_blur(src: &Image, p: &GaussianBlurParams) -> Result<Image, PluginError> {
    gaussian_blur_isa(src, p, Isa::active())
}

/// [`gaussian_blur`] with the u8 path run at `isa` (the scalar engine at [`Isa::Scalar`]).
pub(crate) fn gaussian_blur_isa(
    src: &Image,
    p: &GaussianBlurParams,
    isa: Isa,
) -> Result<Image, PluginError> {
    let dtype = src.dtype();
    let ((nx, sx), (ny, sy)) = gaussian_sizes(p, dtype)?;
    // OpenCV reuses the x kernel when the sizes match and the sigmas are within DBL_EPSILON.
    let sy = if nx == ny && (sx - sy).abs() < f64::EPSILON {
        sx
    } else {
        sy
    };
    let mode = p.border.mode;
    let data = match &src.data {
        PixelData::U8(v) => {
            let (kx, ky) = (
                gaussian_kernel_fixed(nx, sx, 8),
                gaussian_kernel_fixed(ny, sy, 8),
            );
            let constant = u8::saturate_from_f64(p.border.value);
            let fast = gaussian_u8(plane(src, v), &kx, &ky, mode, constant, isa);
            PixelData::U8(fast.unwrap_or_else(|| {
                let k = SepKernel {
                    kx: &kx,
                    ky: &ky,
                    mode,
                    symmetric: false,
                };
                separable(
                    plane(src, v),
                    k,
                    constant,
                    u32::from,
                    |h| h,
                    // v < 2^32: h <= 255·256 and the column taps sum to 256.
                    |v| ((v + (1 << 15)) >> 16) as u8,
                )
            }))
        }
        PixelData::U16(v) => {
            let kx = gaussian_kernel_fixed(nx, sx, 16);
            let ky: Vec<u64> = gaussian_kernel_fixed(ny, sy, 16)
                .into_iter()
                .map(u64::from)
                .collect();
            let k = SepKernel {
                kx: &kx,
                ky: &ky,
                mode,
                symmetric: false,
            };
            PixelData::U16(separable(
                plane(src, v),
                k,
                u16::saturate_from_f64(p.border.value),
                u32::from,
                u64::from,
                |v| ((v + (1 << 31)) >> 32) as u16,
            ))
        }
        PixelData::F32(v) => {
            // Plain f32 multiplies and adds, tap pairs summed first, centre first (row pass,
            // then column pass), never fused: the GPU backends run the same operations, so
            // every backend agrees bit for bit, even next to a ±3.4e38 constant border.
            let (kx, ky) = (gaussian_kernel_f32(nx, sx), gaussian_kernel_f32(ny, sy));
            let k = SepKernel {
                kx: &kx,
                ky: &ky,
                mode,
                symmetric: true,
            };
            PixelData::F32(separable(
                plane(src, v),
                k,
                p.border.value as f32,
                |x| x,
                |h| h,
                |v| v,
            ))
        }
        other => {
            return Err(PluginError::invalid(format!(
                "gaussian_blur: dtype {} is not supported (u8, u16 or f32)",
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

/// The [`Plane`] view of `img`'s elements `data`.
pub(crate) fn plane<'a, T>(img: &Image, data: &'a [T]) -> Plane<'a, T> {
    Plane {
        data,
        width: img.width,
        height: img.height,
        channels: img.channels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use yam_plugin_api::{kernels::Border, DType};

    use crate::ops::border::ALL_MODES as MODES;

    fn params(
        ksize: u32,
        sigma: f64,
        sigma_y: f64,
        mode: BorderMode,
        value: f64,
    ) -> GaussianBlurParams {
        GaussianBlurParams {
            ksize,
            sigma,
            sigma_y,
            border: Border { mode, value },
        }
    }

    /// Direct 2-D correlation, one `BorderMode::map` per tap, in f64 (exact for the integer
    /// taps used here: every sum stays below 2^53).
    fn naive_sum(img: &Image, kx: &[f64], ky: &[f64], mode: BorderMode, constant: f64) -> Vec<f64> {
        let (w, h, c) = (img.width, img.height, img.channels);
        let px = |y: isize, x: isize, ch: usize| -> f64 {
            match (mode.map(y, h), mode.map(x, w)) {
                (Some(y), Some(x)) => {
                    let i = (y * w + x) * c + ch;
                    match &img.data {
                        PixelData::U8(v) => f64::from(v[i]),
                        PixelData::U16(v) => f64::from(v[i]),
                        PixelData::F32(v) => f64::from(v[i]),
                        _ => unreachable!(),
                    }
                }
                _ => constant,
            }
        };
        let (rx, ry) = ((kx.len() / 2) as isize, (ky.len() / 2) as isize);
        let mut out = Vec::with_capacity(w * h * c);
        for y in 0..h as isize {
            for x in 0..w as isize {
                for ch in 0..c {
                    let mut s = 0.0;
                    for (j, &b) in ky.iter().enumerate() {
                        for (i, &a) in kx.iter().enumerate() {
                            s += b * a * px(y + j as isize - ry, x + i as isize - rx, ch);
                        }
                    }
                    out.push(s);
                }
            }
        }
        out
    }

    /// The naive Gaussian: OpenCV's kernels and rounding on top of [`naive_sum`].
    fn naive(img: &Image, p: &GaussianBlurParams) -> PixelData {
        let ((nx, sx), (ny, sy)) = gaussian_sizes(p, img.dtype()).unwrap();
        let fixed = |n, s, bits| -> Vec<f64> {
            gaussian_kernel_fixed(n, s, bits)
                .into_iter()
                .map(f64::from)
                .collect()
        };
        let v = p.border.value;
        match img.dtype() {
            DType::U8 => {
                let s = naive_sum(
                    img,
                    &fixed(nx, sx, 8),
                    &fixed(ny, sy, 8),
                    p.border.mode,
                    v.round_ties_even().clamp(0.0, 255.0),
                );
                PixelData::U8(
                    s.iter()
                        .map(|s| ((s + 32768.0) / 65536.0).floor() as u8)
                        .collect(),
                )
            }
            DType::U16 => {
                let s = naive_sum(
                    img,
                    &fixed(nx, sx, 16),
                    &fixed(ny, sy, 16),
                    p.border.mode,
                    v.round_ties_even().clamp(0.0, 65535.0),
                );
                let half = 2f64.powi(31);
                let one = 2f64.powi(32);
                PixelData::U16(
                    s.iter()
                        .map(|s| ((s + half) / one).floor() as u16)
                        .collect(),
                )
            }
            DType::F32 => PixelData::F32(naive_f32(
                img,
                &gaussian_kernel_f32(nx, sx),
                &gaussian_kernel_f32(ny, sy),
                p.border.mode,
                v as f32,
            )),
            _ => unreachable!(),
        }
    }

    /// The f32 formula every backend follows, pixel by pixel: each row sum in f32, the centre
    /// tap's product first, then `kx[r+i]·(px(x-i) + px(x+i))` for i = 1..=r (outside pixels
    /// `constant`), then the column sum of row sums likewise; never fused.
    fn naive_f32(img: &Image, kx: &[f32], ky: &[f32], mode: BorderMode, constant: f32) -> Vec<f32> {
        let (w, h, c) = (img.width, img.height, img.channels);
        let PixelData::F32(data) = &img.data else {
            unreachable!()
        };
        let px = |y: isize, x: isize, ch: usize| match (mode.map(y, h), mode.map(x, w)) {
            (Some(y), Some(x)) => data[(y * w + x) * c + ch],
            _ => constant,
        };
        let (rx, ry) = (kx.len() / 2, ky.len() / 2);
        // The row sum at image row y: centre tap first, then each pair (x - i, x + i).
        let row = |y: isize, x: isize, ch: usize| {
            let mut sum = kx[rx] * px(y, x, ch);
            for i in 1..=rx {
                let d = i as isize;
                sum += kx[rx + i] * (px(y, x - d, ch) + px(y, x + d, ch));
            }
            sum
        };
        let mut out = Vec::with_capacity(w * h * c);
        for y in 0..h as isize {
            for x in 0..w as isize {
                for ch in 0..c {
                    let mut s = ky[ry] * row(y, x, ch);
                    for j in 1..=ry {
                        let d = j as isize;
                        s += ky[ry + j] * (row(y - d, x, ch) + row(y + d, x, ch));
                    }
                    out.push(s);
                }
            }
        }
        out
    }

    /// The f32 result is the Gaussian: within the rounding-error bound of its 2(n+1) f32
    /// operations per term of the exact (f64) sum, `γ·Σ|ky·kx·px|` with γ = (nx+ny+2)·ε.
    fn assert_f32_near_exact(img: &Image, p: &GaussianBlurParams, got: &[f32]) {
        let ((nx, sx), (ny, sy)) = gaussian_sizes(p, img.dtype()).unwrap();
        let taps = |n, s| -> Vec<f64> {
            gaussian_kernel_f32(n, s)
                .into_iter()
                .map(f64::from)
                .collect()
        };
        let (kx, ky) = (taps(nx, sx), taps(ny, sy));
        let constant = f64::from(p.border.value as f32);
        let exact = naive_sum(img, &kx, &ky, p.border.mode, constant);
        let abs_img = Image {
            data: match &img.data {
                PixelData::F32(v) => PixelData::F32(v.iter().map(|x| x.abs()).collect()),
                _ => unreachable!(),
            },
            ..img.clone()
        };
        let (akx, aky): (Vec<f64>, Vec<f64>) = (
            kx.iter().map(|t| t.abs()).collect(),
            ky.iter().map(|t| t.abs()).collect(),
        );
        let magnitude = naive_sum(&abs_img, &akx, &aky, p.border.mode, constant.abs());
        let gamma = (nx + ny + 2) as f64 * f64::from(f32::EPSILON);
        for (i, ((&g, &e), &m)) in got.iter().zip(&exact).zip(&magnitude).enumerate() {
            let bound = gamma * m + f64::from(f32::MIN_POSITIVE);
            assert!(
                (f64::from(g) - e).abs() <= bound,
                "element {i}: {g} vs exact {e} (bound {bound})"
            );
        }
    }

    fn arb_image(max_side: usize) -> impl Strategy<Value = Image> {
        (
            1..=max_side,
            1..=max_side,
            prop::sample::select(vec![1usize, 3, 4]),
            0..3u8,
        )
            .prop_flat_map(|(w, h, c, d)| {
                let n = w * h * c;
                let data = match d {
                    0 => prop::collection::vec(any::<u8>(), n)
                        .prop_map(PixelData::U8)
                        .boxed(),
                    1 => prop::collection::vec(any::<u16>(), n)
                        .prop_map(PixelData::U16)
                        .boxed(),
                    _ => prop::collection::vec(-1000f32..1000.0, n)
                        .prop_map(PixelData::F32)
                        .boxed(),
                };
                data.prop_map(move |d| Image::new(w, h, c, d).unwrap())
            })
    }

    fn arb_params() -> impl Strategy<Value = GaussianBlurParams> {
        (
            prop::sample::select(vec![0u32, 1, 3, 5, 7, 9, 11]),
            prop_oneof![Just(0.0), 0.2f64..3.0],
            prop_oneof![Just(0.0), 0.2f64..3.0],
            prop::sample::select(MODES.to_vec()),
            -20f64..300.0,
        )
            .prop_map(|(k, s, sy, mode, value)| {
                // ksize 0 needs a sigma to size the kernel from.
                let s = if k == 0 && s == 0.0 { 1.2 } else { s };
                params(k, s, sy, mode, value)
            })
    }

    proptest! {
        #[test]
        fn optimised_equals_naive(img in arb_image(20), p in arb_params()) {
            let got = gaussian_blur(&img, &p).unwrap();
            prop_assert_eq!((got.width, got.height, got.channels), (img.width, img.height, img.channels));
            prop_assert_eq!(&got.data, &naive(&img, &p));
            if let PixelData::F32(g) = &got.data {
                assert_f32_near_exact(&img, &p, g);
            }
        }
    }

    #[test]
    fn several_bands_equal_naive() {
        // Tall enough for several parallel bands, each refilling its row ring.
        for (d, mode) in [
            (0u8, BorderMode::Reflect101),
            (1, BorderMode::Wrap),
            (2, BorderMode::Constant),
        ] {
            let (w, h, c) = (37, 203, 3);
            let n = w * h * c;
            let gen = |i: usize| (i * 7919 + i / 13 * 31) % 251;
            let data = match d {
                0 => PixelData::U8((0..n).map(|i| gen(i) as u8).collect()),
                1 => PixelData::U16((0..n).map(|i| (gen(i) * 261) as u16).collect()),
                _ => PixelData::F32((0..n).map(|i| gen(i) as f32 / 7.0).collect()),
            };
            let img = Image::new(w, h, c, data).unwrap();
            let p = params(0, 1.7, 2.3, mode, 9.0);
            let got = gaussian_blur(&img, &p).unwrap();
            assert_eq!(got.data, naive(&img, &p));
            if let PixelData::F32(g) = &got.data {
                assert_f32_near_exact(&img, &p, g);
            }
        }
    }

    #[test]
    fn wide_rows_filtered_in_strips_equal_naive() {
        // Rows wider than one column strip (2, 3 and 4 strips of f32 and u16 rings, strips
        // ending inside the border), every border, 1 and 3 channels, several kernel sizes.
        for (i, mode) in MODES.into_iter().enumerate() {
            for (w, c, k) in [(1100, 1, 5), (701, 3, 3), (2500, 1, 11), (830, 3, 7)] {
                let h = 9;
                let n = w * h * c;
                let gen = |j: usize| ((j * 7919 + j / 13 * 31 + i) % 251) as f32;
                for data in [
                    PixelData::F32((0..n).map(|j| gen(j) / 7.0 - 10.0).collect()),
                    PixelData::U16((0..n).map(|j| gen(j) as u16 * 261).collect()),
                ] {
                    let img = Image::new(w, h, c, data).unwrap();
                    let p = params(k, 0.0, 1.1, mode, 3.0);
                    let got = gaussian_blur(&img, &p).unwrap();
                    assert_eq!(got.data, naive(&img, &p), "{mode:?} {w}x{h}x{c} k{k}");
                }
            }
        }
    }

    #[test]
    fn extreme_constant_border_follows_the_f32_formula() {
        // Next to a ±3.4e38 border a one-ulp difference is ~2e31: only the same operations in
        // the same order agree (the GPU backends run them too), overflow to inf included.
        let n = 9 * 7;
        let data: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 100.0).collect();
        let img = Image::new(9, 7, 1, PixelData::F32(data)).unwrap();
        for value in [3.4e38, -3.4e38, 1e30, 255.0] {
            for (k, sigma) in [(5, 1.5), (3, 0.0), (7, 2.5)] {
                let p = params(k, sigma, 0.0, BorderMode::Constant, value);
                let got = gaussian_blur(&img, &p).unwrap();
                assert_eq!(got.data, naive(&img, &p), "border {value} k {k}");
            }
        }
    }

    #[test]
    fn every_isa_level_equals_naive_u8() {
        // Widths around the vector sizes (a u8 vector is 16 or 32 pixels, the row pass
        // covers half that), every border, one size from sigma, unequal axes.
        let mut lcg = crate::test_rng::lcg(0x9e37_79b9_7f4a_7c15);
        let mut next = move || lcg() as u8;
        let sizes = [
            (1, 3, 1),
            (7, 5, 3),
            (16, 2, 1),
            (17, 9, 1),
            (33, 4, 3),
            (64, 6, 1),
        ];
        let kernels = [(3, 0.0, 0.0), (5, 1.5, 0.0), (0, 2.1, 0.7), (7, 1.2, 3.0)];
        for (w, h, c) in sizes.into_iter().chain([(1023, 3, 1)]) {
            let img = Image::new(
                w,
                h,
                c,
                PixelData::U8((0..w * h * c).map(|_| next()).collect()),
            );
            let img = img.unwrap();
            for mode in MODES {
                for (k, sigma, sigma_y) in kernels {
                    let p = params(k, sigma, sigma_y, mode, 77.0);
                    let want = naive(&img, &p);
                    for isa in Isa::available() {
                        let got = gaussian_blur_isa(&img, &p, isa).unwrap();
                        assert_eq!(got.data, want, "{isa} {w}x{h}x{c} {mode:?} k {k} s {sigma}");
                    }
                }
            }
        }
    }

    #[test]
    fn fixed_point_taps_match_opencv() {
        // Values from SEMANTICS.md (OpenCV 5 getGaussianKernelFixedPoint_ED).
        assert_eq!(gaussian_kernel_fixed(5, 1.5, 8), [31, 60, 74, 60, 31]);
        assert_eq!(
            gaussian_kernel_fixed(5, 1.5, 16),
            [7869, 15328, 19142, 15328, 7869]
        );
        assert_eq!(
            gaussian_kernel_fixed(19, 3.0, 8),
            [0, 1, 3, 4, 9, 14, 20, 28, 32, 34, 32, 28, 20, 14, 9, 4, 3, 1, 0]
        );
        assert_eq!(
            gaussian_kernel_fixed(25, 3.0, 16),
            [
                3, 10, 34, 97, 249, 573, 1179, 2173, 3583, 5286, 6979, 8244, 8716, 8244, 6979,
                5286, 3583, 2173, 1179, 573, 249, 97, 34, 10, 3
            ]
        );
        // sigma <= 0 with a small size: the binomial tables.
        assert_eq!(gaussian_kernel_fixed(3, 0.0, 8), [64, 128, 64]);
        assert_eq!(gaussian_kernel_fixed(5, 0.0, 8), [16, 64, 96, 64, 16]);
        assert_eq!(
            gaussian_kernel_fixed(9, 0.0, 8),
            [4, 13, 30, 51, 60, 51, 30, 13, 4]
        );
    }

    #[test]
    fn float_taps_match_opencv() {
        let want = [
            0.120078385f64,
            0.233880758,
            0.292081714,
            0.233880758,
            0.120078385,
        ];
        // SEMANTICS.md prints the float32 taps to 9 significant digits: they round-trip.
        let got: Vec<f32> = gaussian_kernel(5, 1.5).iter().map(|&t| t as f32).collect();
        let want: Vec<f32> = want.iter().map(|&t| t as f32).collect();
        assert_eq!(got, want);
        // sigma 0, size 11: sigma = 0.3·((11-1)·0.5 - 1) + 0.8 = 2.
        let (a, b) = (gaussian_kernel(11, 0.0), gaussian_kernel(11, 2.0));
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-15));
    }

    #[test]
    fn size_from_sigma_depends_on_dtype() {
        let p = params(0, 3.0, 0.0, BorderMode::Reflect101, 0.0);
        assert_eq!(
            gaussian_sizes(&p, DType::U8).unwrap(),
            ((19, 3.0), (19, 3.0))
        );
        assert_eq!(
            gaussian_sizes(&p, DType::U16).unwrap(),
            ((25, 3.0), (25, 3.0))
        );
        assert_eq!(
            gaussian_sizes(&p, DType::F32).unwrap(),
            ((25, 3.0), (25, 3.0))
        );
        let p = params(0, 1.5, 0.5, BorderMode::Reflect101, 0.0);
        // cvRound(1.5·6 + 1) | 1 = 11; cvRound(0.5·6 + 1) | 1 = 5.
        assert_eq!(
            gaussian_sizes(&p, DType::U8).unwrap(),
            ((11, 1.5), (5, 0.5))
        );
    }

    #[test]
    fn impulse_response_is_the_product_of_taps() {
        // 100 at the centre of a 7x7 u8 image; k = [31 60 74 60 31] / 256 on both axes.
        let mut v = vec![0u8; 49];
        v[24] = 100;
        let img = Image::new(7, 7, 1, PixelData::U8(v)).unwrap();
        let out = gaussian_blur(&img, &params(5, 1.5, 0.0, BorderMode::Reflect101, 0.0)).unwrap();
        let PixelData::U8(o) = out.data else { panic!() };
        assert_eq!(o[24], 8); // 100·74·74 / 65536 = 8.36
        assert_eq!(o[23], 7); // 100·74·60 / 65536 = 6.77
        assert_eq!(o[8], 1); // 100·31·31 / 65536 = 1.47
        assert_eq!(o[0], 0);
    }

    #[test]
    fn constant_border_value_is_saturated() {
        // 1x1 image of 100, [1 2 1]/4 taps: 0.75·border + 0.25·100.
        let img = Image::new(1, 1, 1, PixelData::U8(vec![100])).unwrap();
        let blur = |value| {
            let out = gaussian_blur(&img, &params(3, 0.0, 0.0, BorderMode::Constant, value));
            out.unwrap().data
        };
        assert_eq!(blur(0.0), PixelData::U8(vec![25]));
        // 300 saturates to 255: 191.25 + 25 = 216.25.
        assert_eq!(blur(300.0), PixelData::U8(vec![216]));
        // Every other mode sees only the pixel itself.
        for mode in [
            BorderMode::Reflect101,
            BorderMode::Reflect,
            BorderMode::Replicate,
            BorderMode::Wrap,
        ] {
            let out = gaussian_blur(&img, &params(3, 0.0, 0.0, mode, 0.0)).unwrap();
            assert_eq!(out.data, PixelData::U8(vec![100]));
        }
    }

    #[test]
    fn empty_images_stay_empty() {
        for (w, h) in [(0, 3), (3, 0)] {
            let img = Image::new(w, h, 1, PixelData::U8(vec![])).unwrap();
            let out = gaussian_blur(&img, &params(5, 1.5, 0.0, BorderMode::Reflect101, 0.0));
            assert_eq!(out.unwrap(), img);
        }
    }

    #[test]
    fn rejects_bad_input() {
        let img = Image::new(2, 2, 1, PixelData::I16(vec![0; 4])).unwrap();
        let e = gaussian_blur(&img, &params(3, 1.0, 0.0, BorderMode::Reflect101, 0.0)).unwrap_err();
        assert!(e.to_string().contains("gaussian_blur"), "{e}");
        let img = Image::new(2, 2, 1, PixelData::U8(vec![0; 4])).unwrap();
        assert!(gaussian_blur(&img, &params(4, 1.0, 0.0, BorderMode::Reflect101, 0.0)).is_err());
        assert!(gaussian_blur(&img, &params(0, 0.0, 0.0, BorderMode::Reflect101, 0.0)).is_err());
    }
}
