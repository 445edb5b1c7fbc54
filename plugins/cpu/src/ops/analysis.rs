//! Measurements written as JSON: OpenCV `calcHist`, and per-label region properties.

use super::labeling;
use super::value_counts::{counts_u16, counts_u8};
use serde_json::{json, Value};
use yam_plugin_api::{kernels::HistogramParams, DType, Image, PixelData, PluginError};

/// OpenCV `calcHist` of a 1-channel image as `{"bins", "range": [lo, hi], "counts"}`.
///
/// Defaults: 256 bins over `[0, 256)` for u8 and f32, 65536 over `[0, 65536)` for u16. Bins
/// are uniform: a value `v` in `[lo, hi)` goes to `clamp(floor(v·a + b), 0, bins-1)` with
/// `a = bins/(hi-lo)`, `b = -a·lo` in f64 and `lo`, `hi` first rounded to f32 (OpenCV takes
/// ranges as floats); values outside are not counted. Like OpenCV, a NaN lands in bin 0.
pub fn histogram(src: &Image, p: &HistogramParams) -> Result<Value, PluginError> {
    if src.channels != 1 {
        return Err(PluginError::invalid(format!(
            "histogram: input must have 1 channel, got {}",
            src.channels
        )));
    }
    let (default_bins, default_hi) = match src.dtype() {
        DType::U8 | DType::F32 => (256, 256.0),
        DType::U16 => (65536, 65536.0),
        other => {
            return Err(PluginError::unsupported(format!(
                "histogram: dtype {other} is not supported (u8, u16, f32)"
            )))
        }
    };
    let bins = p.bins.unwrap_or(default_bins);
    if bins == 0 {
        return Err(PluginError::invalid(
            "histogram: bins 0 is not allowed (at least 1)",
        ));
    }
    let (lo, hi) = p.range.unwrap_or((0.0, default_hi));
    let (lo32, hi32) = (f64::from(lo as f32), f64::from(hi as f32));
    if !(lo32.is_finite() && hi32.is_finite() && lo32 < hi32) {
        return Err(PluginError::invalid(format!(
            "histogram: range [{lo}, {hi}] is not allowed (finite lo < hi, as f32)"
        )));
    }
    let bin = Binning::new(bins as usize, lo32, hi32);
    let mut counts = vec![0u64; bins as usize];
    match &src.data {
        PixelData::U8(v) => bin_value_counts(&counts_u8(v), &bin, &mut counts),
        PixelData::U16(v) => bin_value_counts(&counts_u16(v), &bin, &mut counts),
        PixelData::F32(v) => {
            for &x in v {
                if let Some(b) = bin.of(f64::from(x)) {
                    counts[b] += 1;
                }
            }
        }
        _ => unreachable!("dtype checked above"),
    }
    Ok(json!({ "bins": bins, "range": [lo, hi], "counts": counts }))
}

/// Uniform binning as OpenCV's `calcHist_` computes it.
#[derive(Debug, Clone, Copy)]
struct Binning {
    bins: usize,
    lo: f64,
    hi: f64,
    a: f64,
    b: f64,
}

impl Binning {
    fn new(bins: usize, lo: f64, hi: f64) -> Binning {
        let a = bins as f64 / (hi - lo);
        Binning {
            bins,
            lo,
            hi,
            a,
            b: -a * lo,
        }
    }

    fn of(&self, v: f64) -> Option<usize> {
        if v < self.lo || v >= self.hi {
            return None;
        }
        // Truncation equals floor except on negative non-integers, which clamp to bin 0 either
        // way (and it is not a libm call). NaN: `as` gives 0, cvFloor INT_MIN; both give bin 0.
        let idx = (v * self.a + self.b) as i64;
        Some(idx.clamp(0, self.bins as i64 - 1) as usize)
    }
}

/// Adds each value's count (`per_value[v]` pixels of value `v`) to its bin.
fn bin_value_counts(per_value: &[u64], bin: &Binning, counts: &mut [u64]) {
    for (v, &n) in per_value.iter().enumerate() {
        if n > 0 {
            if let Some(b) = bin.of(v as f64) {
                counts[b] += n;
            }
        }
    }
}

/// Per-label properties as a JSON array, one object per label >= 1 present in the image, in
/// label order: `{"label", "area", "bbox": [x, y, width, height], "centroid": [x, y],
/// "mean_intensity"}`.
///
/// `src` is an i32 label image (labels <= 0 are background) or a u8 mask, labelled first with
/// `connectivity` as `connected_components` does. `mean_intensity` is measured on
/// `intensity` (1-channel u8/u16/f32 of the same size) when given, else null.
pub fn region_props(
    src: &Image,
    intensity: Option<&Image>,
    connectivity: u8,
) -> Result<Value, PluginError> {
    if src.channels != 1 {
        return Err(PluginError::invalid(format!(
            "region_props: input must have 1 channel, got {}",
            src.channels
        )));
    }
    let (w, h) = (src.width, src.height);
    let labelled;
    let labels: &[i32] = match &src.data {
        PixelData::I32(v) => v,
        PixelData::U8(_) => {
            labelled = labeling::connected_components(src, connectivity)
                .map_err(|e| PluginError::new(e.kind(), format!("region_props: {}", e.message)))?
                .0;
            match &labelled.data {
                PixelData::I32(v) => v,
                _ => unreachable!("connected_components returns i32 labels"),
            }
        }
        _ => {
            return Err(PluginError::unsupported(format!(
                "region_props: input must be i32 labels or a u8 mask, got {}",
                src.dtype()
            )))
        }
    };
    let values = match intensity {
        None => None,
        Some(img) => {
            if (img.width, img.height, img.channels) != (w, h, 1) {
                return Err(PluginError::invalid(format!(
                    "region_props: intensity image is {}x{}x{}, labels are {w}x{h}x1",
                    img.width, img.height, img.channels
                )));
            }
            Some(match &img.data {
                PixelData::U8(v) => Intensity::U8(v),
                PixelData::U16(v) => Intensity::U16(v),
                PixelData::F32(v) => Intensity::F32(v),
                _ => {
                    return Err(PluginError::unsupported(format!(
                        "region_props: intensity dtype {} is not supported (u8, u16, f32)",
                        img.dtype()
                    )))
                }
            })
        }
    };

    if labels.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    // Labels index the statistics directly when compact (always, after our own labelling);
    // otherwise they are first replaced by their rank among the distinct labels.
    let max = labels.iter().copied().max().unwrap_or(0).max(0) as usize;
    let ranked: Option<Vec<i32>> = (max > labels.len()).then(|| {
        let mut d: Vec<i32> = labels.iter().copied().filter(|&l| l > 0).collect();
        d.sort_unstable();
        d.dedup();
        let rank = |l: i32| d.binary_search(&l).map_or(0, |r| r as i32 + 1);
        labels.iter().map(|&l| rank(l)).collect()
    });
    let slots: &[i32] = ranked.as_deref().unwrap_or(labels);
    let mut stats =
        vec![Stats::default(); slots.iter().copied().max().unwrap_or(0).max(0) as usize + 1];
    for (y, (row, lrow)) in slots.chunks(w).zip(labels.chunks(w)).enumerate().take(h) {
        for (x, (&slot, &l)) in row.iter().zip(lrow).enumerate() {
            if slot <= 0 {
                continue;
            }
            let s = &mut stats[slot as usize];
            if s.area == 0 {
                *s = Stats {
                    label: l,
                    x0: x,
                    y0: y,
                    x1: x,
                    y1: y,
                    ..Stats::default()
                };
            }
            s.area += 1;
            s.x0 = s.x0.min(x);
            s.x1 = s.x1.max(x);
            s.y1 = y;
            s.sum_x += x as u64;
            s.sum_y += y as u64;
        }
    }
    // One monomorphic loop per intensity type.
    match values {
        Some(Intensity::U8(v)) => {
            sum_by_slot(slots, v, &mut stats, |s, x| s.sum_int += u64::from(x))
        }
        Some(Intensity::U16(v)) => {
            sum_by_slot(slots, v, &mut stats, |s, x| s.sum_int += u64::from(x))
        }
        Some(Intensity::F32(v)) => {
            sum_by_slot(slots, v, &mut stats, |s, x| s.sum_f += f64::from(x))
        }
        None => {}
    }
    let regions = stats
        .iter()
        .filter(|s| s.area > 0)
        .map(|s| {
            let area = s.area as f64;
            let mean = match values {
                None => Value::Null,
                Some(Intensity::F32(_)) => json!(s.sum_f / area),
                Some(_) => json!(s.sum_int as f64 / area),
            };
            json!({
                "label": s.label,
                "area": s.area,
                "bbox": [s.x0, s.y0, s.x1 - s.x0 + 1, s.y1 - s.y0 + 1],
                "centroid": [s.sum_x as f64 / area, s.sum_y as f64 / area],
                "mean_intensity": mean,
            })
        })
        .collect();
    Ok(Value::Array(regions))
}

fn sum_by_slot<V: Copy>(slots: &[i32], v: &[V], stats: &mut [Stats], add: impl Fn(&mut Stats, V)) {
    for (&slot, &x) in slots.iter().zip(v) {
        if slot > 0 {
            add(&mut stats[slot as usize], x);
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Intensity<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    F32(&'a [f32]),
}

#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    label: i32,
    area: u64,
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    sum_x: u64,
    sum_y: u64,
    sum_int: u64,
    sum_f: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hist(img: &Image, bins: Option<u32>, range: Option<(f64, f64)>) -> Value {
        histogram(img, &HistogramParams { bins, range }).unwrap()
    }

    fn counts(v: &Value) -> Vec<u64> {
        v["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect()
    }

    /// Histogram by definition: for each bin, count the values whose bin it is, with the
    /// bin's interval tested by the OpenCV formula one value at a time.
    fn naive_hist(values: &[f64], bins: usize, lo: f64, hi: f64) -> Vec<u64> {
        let (lo, hi) = (lo as f32 as f64, hi as f32 as f64);
        let a = bins as f64 / (hi - lo);
        let b = -a * lo;
        let mut out = vec![0u64; bins];
        for &v in values {
            if v >= lo && v < hi {
                let k = ((v * a + b).floor().max(0.0) as usize).min(bins - 1);
                out[k] += 1;
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn histogram_matches_naive(
            kind in 0u8..3,
            raw in proptest::collection::vec(any::<u16>(), 1..300),
            floats in proptest::collection::vec(-20.0f32..300.0, 1..300),
            bins in prop_oneof![Just(None), (1u32..300).prop_map(Some)],
            range in prop_oneof![
                Just(None),
                (-50.0f64..200.0, 1.0f64..70000.0).prop_map(|(lo, span)| Some((lo, lo + span))),
            ],
        ) {
            let (img, vals, dbins, dhi): (Image, Vec<f64>, usize, f64) = match kind {
                0 => {
                    let v: Vec<u8> = raw.iter().map(|&x| x as u8).collect();
                    let f = v.iter().map(|&x| f64::from(x)).collect();
                    (Image::new(v.len(), 1, 1, PixelData::U8(v)).unwrap(), f, 256, 256.0)
                }
                1 => {
                    let f = raw.iter().map(|&x| f64::from(x)).collect();
                    let img = Image::new(1, raw.len(), 1, PixelData::U16(raw.clone())).unwrap();
                    (img, f, 65536, 65536.0)
                }
                _ => {
                    let f = floats.iter().map(|&x| f64::from(x)).collect();
                    let data = PixelData::F32(floats.clone());
                    (Image::new(floats.len(), 1, 1, data).unwrap(), f, 256, 256.0)
                }
            };
            let got = hist(&img, bins, range);
            let n = bins.map_or(dbins, |b| b as usize);
            let (lo, hi) = range.unwrap_or((0.0, dhi));
            prop_assert_eq!(got["bins"].as_u64(), Some(n as u64));
            prop_assert_eq!(counts(&got), naive_hist(&vals, n, lo, hi));
        }
    }

    #[test]
    fn hand_checked_histograms() {
        let img = Image::new(5, 1, 1, PixelData::U8(vec![0, 63, 64, 255, 255])).unwrap();
        let h = hist(&img, None, None);
        let mut want = vec![0u64; 256];
        for v in [0, 63, 64, 255, 255] {
            want[v] += 1;
        }
        assert_eq!(counts(&h), want);
        assert_eq!(h["range"], json!([0.0, 256.0]));
        assert_eq!(counts(&hist(&img, Some(4), None)), vec![2, 1, 0, 2]);
        // [64, 128): 0 and 63 and 255 are outside.
        assert_eq!(
            counts(&hist(&img, Some(2), Some((64.0, 128.0)))),
            vec![1, 0]
        );
        let f = vec![-0.5, 0.0, 0.99, 255.99, 256.0, f32::INFINITY, f32::NAN];
        let img = Image::new(f.len(), 1, 1, PixelData::F32(f)).unwrap();
        let c = counts(&hist(&img, None, None));
        // 0.0 and 0.99 in bin 0, NaN also there (as OpenCV); 255.99 in 255; the rest out.
        assert_eq!((c[0], c[255], c.iter().sum::<u64>()), (3, 1, 4));
        let img = Image::new(3, 1, 1, PixelData::U16(vec![0, 65535, 65535])).unwrap();
        let c = counts(&hist(&img, None, None));
        assert_eq!((c.len(), c[0], c[65535]), (65536, 1, 2));
    }

    #[test]
    fn histogram_rejects_bad_params() {
        let img = Image::zeros(2, 2, 1, DType::U8);
        let p = |bins, range| HistogramParams { bins, range };
        assert!(histogram(&img, &p(Some(0), None)).is_err());
        let e = histogram(&img, &p(None, Some((5.0, 5.0)))).unwrap_err();
        assert!(e.message.contains("histogram") && e.message.contains("range"));
        assert!(histogram(&Image::zeros(2, 2, 3, DType::U8), &p(None, None)).is_err());
        assert!(histogram(&Image::zeros(2, 2, 1, DType::I32), &p(None, None)).is_err());
    }

    /// Region properties by definition, label by label over the whole image.
    fn naive_props(labels: &[i32], w: usize, intensity: Option<&[f64]>) -> Vec<Value> {
        let mut ls: Vec<i32> = labels.iter().copied().filter(|&l| l > 0).collect();
        ls.sort_unstable();
        ls.dedup();
        ls.iter()
            .map(|&l| {
                let px: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == l).collect();
                let xs: Vec<usize> = px.iter().map(|i| i % w).collect();
                let ys: Vec<usize> = px.iter().map(|i| i / w).collect();
                let n = px.len() as f64;
                let (x0, x1) = (*xs.iter().min().unwrap(), *xs.iter().max().unwrap());
                let (y0, y1) = (*ys.iter().min().unwrap(), *ys.iter().max().unwrap());
                let mean = intensity.map_or(Value::Null, |v| {
                    json!(px.iter().map(|&i| v[i]).sum::<f64>() / n)
                });
                json!({
                    "label": l,
                    "area": px.len(),
                    "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                    "centroid": [
                        xs.iter().sum::<usize>() as f64 / n,
                        ys.iter().sum::<usize>() as f64 / n,
                    ],
                    "mean_intensity": mean,
                })
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn region_props_match_naive(
            (w, h, labels, inten) in (1usize..20, 1usize..20).prop_flat_map(|(w, h)| (
                Just(w),
                Just(h),
                proptest::collection::vec(
                    prop_oneof![3 => Just(0i32), 2 => -2i32..8, 1 => Just(i32::MAX)],
                    w * h,
                ),
                proptest::collection::vec(any::<u16>(), w * h),
            )),
            with_intensity in any::<bool>(),
        ) {
            let img = Image::new(w, h, 1, PixelData::I32(labels.clone())).unwrap();
            let int_img = Image::new(w, h, 1, PixelData::U16(inten.clone())).unwrap();
            let ints: Vec<f64> = inten.iter().map(|&v| f64::from(v)).collect();
            let got = region_props(&img, with_intensity.then_some(&int_img), 8).unwrap();
            let want = naive_props(&labels, w, with_intensity.then_some(&ints));
            prop_assert_eq!(got, Value::Array(want));
        }

        #[test]
        fn region_props_of_mask_labels_first(
            (w, h, mask) in (1usize..20, 1usize..20).prop_flat_map(|(w, h)| (
                Just(w),
                Just(h),
                proptest::collection::vec(prop_oneof![Just(0u8), Just(255u8)], w * h),
            )),
            eight in any::<bool>(),
        ) {
            let conn = if eight { 8 } else { 4 };
            let img = Image::new(w, h, 1, PixelData::U8(mask.clone())).unwrap();
            let (labels, _) = labeling::connected_components(&img, conn).unwrap();
            let PixelData::I32(l) = &labels.data else { unreachable!() };
            // The mask doubles as the intensity image: every region's mean is 255.
            let ints: Vec<f64> = mask.iter().map(|&v| f64::from(v)).collect();
            let got = region_props(&img, Some(&img), conn).unwrap();
            prop_assert_eq!(got, Value::Array(naive_props(l, w, Some(&ints))));
        }
    }

    #[test]
    fn hand_checked_region_props() {
        // 1 1 0
        // 0 2 2
        // 0 0 2
        let labels = vec![1, 1, 0, 0, 2, 2, 0, 0, 2];
        let img = Image::new(3, 3, 1, PixelData::I32(labels)).unwrap();
        let f = Image::new(
            3,
            3,
            1,
            PixelData::F32(vec![1.0, 2.0, 9.0, 9.0, 3.0, 4.0, 9.0, 9.0, 8.0]),
        )
        .unwrap();
        let got = region_props(&img, Some(&f), 8).unwrap();
        let want = json!([
            {
                "label": 1, "area": 2, "bbox": [0, 0, 2, 1],
                "centroid": [0.5, 0.0], "mean_intensity": 1.5
            },
            {
                "label": 2, "area": 3, "bbox": [1, 1, 2, 2],
                "centroid": [5.0 / 3.0, 4.0 / 3.0], "mean_intensity": 5.0
            },
        ]);
        assert_eq!(got, want);
        let none = region_props(&img, None, 8).unwrap();
        assert_eq!(none[0]["mean_intensity"], Value::Null);
        // Wrong intensity size or dtype, and wrong label dtype, are errors naming the kernel.
        let small = Image::zeros(2, 2, 1, DType::U8);
        assert!(region_props(&img, Some(&small), 8)
            .unwrap_err()
            .message
            .contains("region_props"));
        let i16 = Image::zeros(3, 3, 1, DType::I16);
        assert!(region_props(&img, Some(&i16), 8).is_err());
        assert!(region_props(&i16, None, 8).is_err());
        let mask = Image::zeros(3, 3, 1, DType::U8);
        assert!(region_props(&mask, None, 5)
            .unwrap_err()
            .message
            .contains("region_props"));
    }
}
