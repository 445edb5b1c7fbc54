//! Golden tests: the CPU kernels against outputs made by OpenCV.
//!
//! `tests/golden/cases.json` lists the cases, `tests/golden/data/*.npy.gz` holds their inputs
//! and expected outputs; both are written by `tests/golden/generate.py` (see
//! `tests/golden/README.md`), which uses OpenCV and never yam. Each case is run through the same
//! steps as a pipeline step: the catalogue resolves the JSON parameters
//! ([`yam_plugin_api::KernelSpec::resolve`]), [`KernelCall::parse`] types them and
//! [`yam_cpu::ops::execute`] runs the kernel.
//!
//! Every case is run and every failure is reported in one panic message, with the first value
//! out of tolerance and the largest difference. Tolerances come from `cases.json` (which takes
//! them from KERNELS.md): `{"abs": t}` allows `|actual - expected| <= t`, `{"rel": r}` allows
//! `|actual - expected| <= r * max(1, |expected|)`. `info` values (Otsu threshold, label count)
//! must be equal.
//!
//! Set `YAM_GOLDEN_FILTER` to a substring of case names (or a kernel id) to run only those cases.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Read as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use serde_json::Value;
use yam_host::imageio::npy;
use yam_plugin_api::{kernel, DType, Image, KernelCall, ParamValue, PixelData};

/// Golden images are small; this only guards against a corrupt file.
const MAX_ELEMENTS: u64 = 1 << 26;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Reads a gzip-compressed `.npy` file below `tests/golden`.
fn load_npy_gz(rel: &str) -> Result<Image, String> {
    let path = golden_dir().join(rel);
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: not valid gzip: {e}", path.display()))?;
    npy::decode(&bytes, MAX_ELEMENTS).map_err(|e| format!("{}: {e}", path.display()))
}

/// How far an output value may be from OpenCV's.
#[derive(Debug, Clone, Copy)]
enum Tolerance {
    /// `|actual - expected| <= t`.
    Abs(f64),
    /// `|actual - expected| <= r * max(1, |expected|)`.
    Rel(f64),
}

impl Tolerance {
    fn from_json(v: &Value) -> Result<Tolerance, String> {
        let num = |key: &str| v.get(key).and_then(Value::as_f64);
        match (num("abs"), num("rel")) {
            (Some(t), None) if t >= 0.0 => Ok(Tolerance::Abs(t)),
            (None, Some(r)) if r >= 0.0 => Ok(Tolerance::Rel(r)),
            _ => Err(format!(
                "tolerance {v}: expected {{\"abs\": t}} or {{\"rel\": r}}"
            )),
        }
    }

    fn allows(self, expected: f64, diff: f64) -> bool {
        match self {
            Tolerance::Abs(t) => diff <= t,
            Tolerance::Rel(r) => diff <= r * expected.abs().max(1.0),
        }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tolerance::Abs(t) => write!(f, "abs {t}"),
            Tolerance::Rel(r) => write!(f, "rel {r} (of max(1, |expected|))"),
        }
    }
}

/// The elements of an image as f64 (exact for every dtype yam has).
fn values(img: &Image) -> Vec<f64> {
    match &img.data {
        PixelData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
        PixelData::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        PixelData::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        PixelData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        PixelData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
    }
}

fn describe(img: &Image) -> String {
    format!(
        "{} {}x{}x{}",
        img.dtype(),
        img.width,
        img.height,
        img.channels
    )
}

/// `|a - e|`, with equal values (infinities included) 0 and a NaN on one side only infinite.
fn abs_diff(expected: f64, actual: f64) -> f64 {
    if expected == actual || (expected.is_nan() && actual.is_nan()) {
        0.0
    } else {
        let d = (actual - expected).abs();
        if d.is_nan() {
            f64::INFINITY
        } else {
            d
        }
    }
}

/// Compares an output with the expected image; `Err` describes the differences.
fn compare_images(expected: &Image, actual: &Image, tol: Tolerance) -> Result<(), String> {
    if (
        expected.dtype(),
        expected.width,
        expected.height,
        expected.channels,
    ) != (actual.dtype(), actual.width, actual.height, actual.channels)
    {
        return Err(format!(
            "output is {}, expected {}",
            describe(actual),
            describe(expected)
        ));
    }
    let (e, a) = (values(expected), values(actual));
    let (w, c) = (expected.width, expected.channels);
    // f32 values are shown as f32 (shortest round-trip form), not widened.
    let show = |v: f64| match expected.dtype() {
        DType::F32 => format!("{}", v as f32),
        _ => format!("{v}"),
    };
    let at = |i: usize| format!("(x={}, y={}, channel={})", (i / c) % w, i / (c * w), i % c);
    let mut bad = 0usize;
    let mut first_bad = None;
    let mut max = (0.0f64, 0usize);
    for (i, (&ev, &av)) in e.iter().zip(&a).enumerate() {
        let d = abs_diff(ev, av);
        if d > max.0 {
            max = (d, i);
        }
        if !tol.allows(ev, d) {
            bad += 1;
            first_bad.get_or_insert(i);
        }
    }
    match first_bad {
        None => Ok(()),
        Some(i) => Err(format!(
            "{bad} of {} values out of tolerance ({tol}); first at {}: expected {}, got {}; \
             max abs diff {} at {}",
            e.len(),
            at(i),
            show(e[i]),
            show(a[i]),
            show(max.0),
            at(max.1)
        )),
    }
}

/// Checks the `info` values the case expects (numbers compare as f64).
fn compare_info(
    expected: &serde_json::Map<String, Value>,
    actual: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for (key, want) in expected {
        match actual.get(key) {
            None => problems.push(format!("info `{key}` missing (expected {want})")),
            Some(got) => {
                let equal = match (want.as_f64(), got.as_f64()) {
                    (Some(x), Some(y)) => x == y,
                    _ => want == got,
                };
                if !equal {
                    problems.push(format!("info `{key}`: expected {want}, got {got}"));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Inputs decoded so far (many cases share one).
type InputCache = HashMap<String, Image>;

/// Runs one case. `Err` is the complete failure description, without the case name.
fn run_case(case: &Value, inputs: &mut InputCache) -> Result<(), String> {
    let field = |key: &str| {
        case.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("fixture error: case has no string `{key}`"))
    };
    let id = field("kernel")?;
    let input_rel = field("input")?;
    let output_rel = field("output")?;
    let tol = Tolerance::from_json(case.get("tolerance").unwrap_or(&Value::Null))?;
    let empty = serde_json::Map::new();
    let expected_info = case
        .get("info")
        .and_then(Value::as_object)
        .unwrap_or(&empty);

    if !inputs.contains_key(input_rel) {
        let img = load_npy_gz(input_rel)?;
        inputs.insert(input_rel.to_string(), img);
    }
    let input = &inputs[input_rel];
    let expected = load_npy_gz(output_rel)?;

    let spec = kernel(id).ok_or_else(|| format!("unknown kernel `{id}`"))?;
    spec.check_input(input.dtype(), input.channels as u32)
        .map_err(|e| format!("fixture error: input {}: {e}", describe(input)))?;
    let mut given = Vec::new();
    if let Some(params) = case.get("params").and_then(Value::as_object) {
        for (name, v) in params {
            let value = ParamValue::from_json(v)
                .ok_or_else(|| format!("parameter `{name}` = {v}: not a parameter value"))?;
            given.push((name.as_str(), value));
        }
    }
    let set = spec
        .resolve(given)
        .map_err(|e| format!("parameters rejected: {e}"))?;
    let call = KernelCall::parse(id, &set, input.dtype())
        .ok_or_else(|| format!("KernelCall::parse does not know `{id}`"))?
        .map_err(|e| format!("parameters rejected: {e}"))?;

    let result = catch_unwind(AssertUnwindSafe(|| {
        yam_cpu::ops::execute(&call, input, None)
    }))
    .map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("(non-string panic)");
        format!("kernel panicked: {msg}")
    })?
    .map_err(|e| format!("kernel error: {e}"))?;
    let actual = result
        .image
        .as_ref()
        .ok_or("kernel returned no image (expected one)")?;

    let image = compare_images(&expected, actual, tol);
    let info = compare_info(expected_info, &result.info);
    match (image, info) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(a), Ok(())) | (Ok(()), Err(a)) => Err(a),
        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
    }
}

#[test]
fn cpu_kernels_match_opencv() {
    let path = golden_dir().join("cases.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/golden/generate.py)", path.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
    let cases = doc
        .get("cases")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{}: no `cases` list", path.display()));
    let filter = std::env::var("YAM_GOLDEN_FILTER").unwrap_or_default();

    let mut inputs = InputCache::new();
    // kernel -> (passed, failed)
    let mut per_kernel: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut ran = 0usize;
    for case in cases {
        let name = case
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)");
        let id = case
            .get("kernel")
            .and_then(Value::as_str)
            .unwrap_or("(none)");
        if !filter.is_empty() && !name.contains(&filter) && id != filter {
            continue;
        }
        ran += 1;
        let tally = per_kernel.entry(id.to_string()).or_default();
        match run_case(case, &mut inputs) {
            Ok(()) => tally.0 += 1,
            Err(why) => {
                tally.1 += 1;
                failures.push(format!("{name}: {why}"));
            }
        }
    }
    assert!(
        ran > 0,
        "no golden case matches YAM_GOLDEN_FILTER={filter:?} ({} cases in {})",
        cases.len(),
        path.display()
    );

    let mut summary = String::new();
    for (id, (pass, fail)) in &per_kernel {
        let _ = writeln!(summary, "  {id:<22} {pass:>3} passed, {fail:>3} failed");
    }
    println!("golden cases per kernel:\n{summary}");
    if !failures.is_empty() {
        panic!(
            "{} of {ran} golden cases failed.\nper kernel:\n{summary}\nfailures:\n  {}\n",
            failures.len(),
            failures.join("\n  ")
        );
    }
}

/// The harness itself: the comparison reports the right pixel and tolerance rules.
#[test]
fn comparison_reports_first_bad_pixel_and_max_diff() {
    let img = |data: Vec<f32>| Image::new(2, 2, 2, PixelData::F32(data)).unwrap();
    let expected = img(vec![0.0, 1.0, 2.0, 3.0, 100.0, 5.0, 6.0, 7.0]);
    let actual = img(vec![0.0, 1.0, 2.0, 3.5, 100.002, 5.0, 6.0, 8.0]);
    let msg = compare_images(&expected, &actual, Tolerance::Abs(0.0)).unwrap_err();
    assert!(
        msg.starts_with("3 of 8 values out of tolerance (abs 0)"),
        "{msg}"
    );
    assert!(
        msg.contains("first at (x=1, y=0, channel=1): expected 3, got 3.5"),
        "{msg}"
    );
    assert!(
        msg.contains("max abs diff 1 at (x=1, y=1, channel=1)"),
        "{msg}"
    );
    // 0.002 on 100 is within 1e-4 relative; 0.5 on 3 and 1 on 7 are not.
    let msg = compare_images(&expected, &actual, Tolerance::Rel(1e-4)).unwrap_err();
    assert!(msg.starts_with("2 of 8"), "{msg}");
    assert!(compare_images(&expected, &expected, Tolerance::Abs(0.0)).is_ok());
    let other = Image::new(4, 2, 1, PixelData::F32(vec![0.0; 8])).unwrap();
    let msg = compare_images(&expected, &other, Tolerance::Abs(0.0)).unwrap_err();
    assert_eq!(msg, "output is f32 4x2x1, expected f32 2x2x2");
    // NaN only on one side is a difference; on both sides it is not.
    let nan = img(vec![f32::NAN; 8]);
    assert!(compare_images(&nan, &nan, Tolerance::Abs(0.0)).is_ok());
    assert!(compare_images(&expected, &nan, Tolerance::Abs(1e9)).is_err());
    assert!(Tolerance::Rel(1e-5).allows(0.5, 1e-5));
    assert!(!Tolerance::Rel(1e-5).allows(0.5, 1.1e-5));
    assert!(Tolerance::Rel(1e-5).allows(300.0, 2.9e-3));
}

#[test]
fn info_numbers_compare_by_value() {
    let map = |v: Value| v.as_object().unwrap().clone();
    let want = map(serde_json::json!({"otsu_threshold": 119.0, "labels": 57}));
    let got = map(serde_json::json!({"otsu_threshold": 119, "labels": 57, "extra": true}));
    assert!(compare_info(&want, &got).is_ok());
    let got = map(serde_json::json!({"otsu_threshold": 120}));
    let msg = compare_info(&want, &got).unwrap_err();
    assert!(msg.contains("info `labels` missing (expected 57)"), "{msg}");
    assert!(
        msg.contains("info `otsu_threshold`: expected 119.0, got 120"),
        "{msg}"
    );
}
