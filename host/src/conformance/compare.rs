//! Comparing a backend's output with the reference, reporting where and by how much it differs.

use serde_json::Value;
use yam_plugin_api::{catalogue::Tolerance, Image, PixelData};

fn values(img: &Image) -> Vec<f64> {
    match &img.data {
        PixelData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
        PixelData::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        PixelData::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        PixelData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        PixelData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
    }
}

/// `None` when `actual` matches `expected` within `tol`, else a message naming the first
/// differing pixel, expected and actual values, how many differ and the largest difference.
pub fn compare_images(expected: &Image, actual: &Image, tol: Tolerance) -> Option<String> {
    let shape = |i: &Image| format!("{}x{} {} x{}", i.width, i.height, i.dtype(), i.channels);
    if shape(expected) != shape(actual) {
        return Some(format!(
            "output is {}, expected {}",
            shape(actual),
            shape(expected)
        ));
    }
    let (e, a) = (values(expected), values(actual));
    let mut first = None;
    let mut bad = 0usize;
    let mut max_diff = 0.0f64;
    for (i, (&x, &y)) in e.iter().zip(&a).enumerate() {
        if !tol.accepts(x, y) {
            bad += 1;
            first.get_or_insert(i);
        }
        if x.is_finite() && y.is_finite() {
            max_diff = max_diff.max((x - y).abs());
        } else if x.to_bits() != y.to_bits() && !(x.is_nan() && y.is_nan()) {
            max_diff = f64::INFINITY;
        }
    }
    let i = first?;
    let c = expected.channels;
    let (x, y, ch) = ((i / c) % expected.width, i / c / expected.width, i % c);
    Some(format!(
        "{bad} of {} values out of tolerance (abs {}, rel {}); first at x={x} y={y} channel={ch}: \
         expected {}, got {}; max abs diff {max_diff}",
        e.len(),
        tol.abs,
        tol.rel,
        e[i],
        a[i]
    ))
}

/// Compares report values (Otsu threshold, label counts, histograms, regions): numbers must be
/// equal, except centroids, which may differ by 1e-9.
pub fn compare_info(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let Some(av) = a.get(k) else {
                    return Some(format!("{path}.{k} is missing"));
                };
                if let Some(m) = compare_info(ev, av, &format!("{path}.{k}")) {
                    return Some(m);
                }
            }
            a.keys()
                .find(|k| !e.contains_key(*k))
                .map(|k| format!("{path}.{k} is not expected"))
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{path} has {} entries, expected {}",
                    a.len(),
                    e.len()
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (x, y))| compare_info(x, y, &format!("{path}[{i}]")))
        }
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            let tol = if path.contains("centroid") { 1e-9 } else { 0.0 };
            ((x - y).abs() > tol).then(|| format!("{path}: expected {x}, got {y}"))
        }
        (e, a) if e == a => None,
        (e, a) => Some(format!("{path}: expected {e}, got {a}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_is_located_and_measured() {
        let e = Image::new(
            3,
            2,
            2,
            PixelData::U8(vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        )
        .unwrap();
        let mut a = e.clone();
        assert_eq!(compare_images(&e, &a, Tolerance::EXACT), None);
        if let PixelData::U8(v) = &mut a.data {
            v[9] = 12; // x=1, y=1, channel 1
            v[11] = 10;
        }
        let m = compare_images(&e, &a, Tolerance::EXACT).unwrap();
        assert!(m.starts_with("2 of 12 values out of tolerance"), "{m}");
        assert!(
            m.contains("x=1 y=1 channel=1: expected 9, got 12; max abs diff 3"),
            "{m}"
        );
        assert_eq!(
            compare_images(&e, &a, Tolerance { abs: 3.0, rel: 0.0 }),
            None
        );
        let other = Image::zeros(3, 2, 1, yam_plugin_api::DType::U8);
        assert!(compare_images(&e, &other, Tolerance::EXACT)
            .unwrap()
            .contains("expected 3x2 u8 x2"));
    }

    #[test]
    fn info_compares_numbers_and_allows_centroid_rounding() {
        let e = serde_json::json!({"regions": [{"area": 3, "centroid": [1.0, 2.0]}]});
        let ok = serde_json::json!({"regions": [{"area": 3, "centroid": [1.0 + 1e-12, 2.0]}]});
        let bad = serde_json::json!({"regions": [{"area": 4, "centroid": [1.0, 2.0]}]});
        assert_eq!(compare_info(&e, &ok, "info"), None);
        assert_eq!(
            compare_info(&e, &bad, "info").unwrap(),
            "info.regions[0].area: expected 3, got 4"
        );
    }
}
