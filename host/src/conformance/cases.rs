//! The correctness cases: every declared dtype × channel count × size × parameter set, with
//! inputs from a seeded generator so every failure can be rerun with `--seed`.

use yam_plugin_api::{
    catalogue::{ParamDefault, ParamKind},
    DType, Image, KernelSpec, ParamSet, ParamValue, PixelData,
};

use crate::abi::DeclaredKernel;

/// Image sizes (width, height) every kernel is tried on: degenerate, odd, and not a multiple
/// of common tile sizes.
pub const SIZES: &[(usize, usize)] = &[(1, 1), (37, 1), (1, 29), (61, 47), (17, 1031)];

/// The large image, tried once per kernel with default parameters (skipped by `--quick`).
pub const LARGE: (usize, usize) = (4096, 4096);

/// One correctness case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Stable id: `kernel/dtype/cN/WxH/params`.
    pub id: String,
    /// Kernel id.
    pub kernel: &'static str,
    /// Parameters given (the rest take defaults).
    pub given: Vec<(&'static str, ParamValue)>,
    /// Input dtype.
    pub dtype: DType,
    /// Input channels.
    pub channels: usize,
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

impl Case {
    /// The validated parameter set (`None` when the schema rejects the combination).
    pub fn params(&self, spec: &KernelSpec) -> Option<ParamSet> {
        spec.resolve(self.given.iter().map(|(n, v)| (*n, v.clone())))
            .ok()
    }
}

/// splitmix64: small, fast and good enough for test images; no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Stable 64-bit hash of a case id, mixed with the suite seed, so each case's input does not
/// depend on which other cases run (`--filter` reruns give the same images).
pub fn case_seed(seed: u64, id: &str) -> u64 {
    id.bytes().fold(seed ^ 0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

/// A seeded input image. Masks (for labeling) are sparse blobs; other images are smooth
/// gradients plus noise so thresholds and morphology see structure, with extreme values mixed in.
pub fn input(
    kernel: &str,
    dtype: DType,
    width: usize,
    height: usize,
    channels: usize,
    seed: u64,
) -> Image {
    let mut rng = Rng::new(seed);
    let n = width * height * channels;
    let mask = matches!(kernel, "connected_components" | "region_props");
    let mut unit = Vec::with_capacity(n);
    for i in 0..n {
        let p = i / channels;
        let (x, y) = ((p % width) as f64, (p / width) as f64);
        let smooth = 0.5 + 0.35 * ((x * 0.21).sin() * (y * 0.17).cos());
        let v = if mask {
            f64::from(u8::from(smooth + 0.3 * (rng.unit() - 0.5) > 0.62))
        } else {
            let r = rng.unit();
            if r < 0.02 {
                0.0
            } else if r > 0.98 {
                1.0
            } else {
                (smooth + 0.25 * (rng.unit() - 0.5)).clamp(0.0, 1.0)
            }
        };
        unit.push(v);
    }
    let data = match dtype {
        DType::U8 if mask => PixelData::U8(
            unit.iter()
                .map(|&v| if v > 0.5 { 255 } else { 0 })
                .collect(),
        ),
        DType::U8 => PixelData::U8(unit.iter().map(|&v| (v * 255.0).round() as u8).collect()),
        DType::U16 => PixelData::U16(unit.iter().map(|&v| (v * 65535.0).round() as u16).collect()),
        DType::I16 => PixelData::I16(
            unit.iter()
                .map(|&v| (v * 65535.0 - 32768.0).round() as i16)
                .collect(),
        ),
        DType::I32 => PixelData::I32(unit.iter().map(|&v| (v * 40.0).round() as i32).collect()),
        DType::F32 => PixelData::F32(unit.iter().map(|&v| (v * 1.5 - 0.25) as f32).collect()),
    };
    Image::new(width, height, channels, data).expect("sized above")
}

fn extremes(kind: &ParamKind, default: &ParamDefault) -> Vec<ParamValue> {
    match *kind {
        ParamKind::Int {
            min,
            max,
            odd,
            zero_allowed,
        } => {
            let lo = if odd && min % 2 == 0 && !(zero_allowed && min == 0) {
                min + 1
            } else {
                min
            };
            let hi = if odd && max % 2 == 0 { max - 1 } else { max };
            vec![ParamValue::Int(lo), ParamValue::Int(hi)]
        }
        ParamKind::IntChoice { values } => values.iter().map(|&v| ParamValue::Int(v)).collect(),
        ParamKind::Float { min, max } => vec![ParamValue::Float(min), ParamValue::Float(max)],
        ParamKind::Bool => vec![ParamValue::Bool(false), ParamValue::Bool(true)],
        ParamKind::Choice { values } => {
            values.iter().map(|&v| ParamValue::Text(v.into())).collect()
        }
        ParamKind::Range => match default {
            ParamDefault::Range(a, b) => vec![ParamValue::FloatList(vec![*a, *b].into())],
            _ => vec![
                ParamValue::FloatList(vec![0.0, 256.0].into()),
                ParamValue::FloatList(vec![-1.0, 1.0].into()),
            ],
        },
    }
}

/// Parameter sets: the defaults, then each parameter at each extreme of its range (and each
/// value of a choice) with the others at their defaults.
pub fn param_sets(spec: &KernelSpec) -> Vec<Vec<(&'static str, ParamValue)>> {
    let mut sets = vec![Vec::new()];
    for p in spec.params {
        for v in extremes(&p.kind, &p.default) {
            if p.default.value().as_ref() == Some(&v) {
                continue;
            }
            let mut set = vec![(p.name, v)];
            // A border value only matters with a constant border.
            if p.name == "border_value" {
                set.push(("border", ParamValue::Text("constant".into())));
            }
            sets.push(set);
        }
    }
    sets
}

fn describe(given: &[(&str, ParamValue)]) -> String {
    if given.is_empty() {
        return "defaults".into();
    }
    given
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Every correctness case of one declared kernel.
pub fn cases(spec: &'static KernelSpec, declared: &DeclaredKernel, quick: bool) -> Vec<Case> {
    let mut out = Vec::new();
    let sets = param_sets(spec);
    for &dtype in &declared.dtypes {
        for &channels in &declared.channels {
            for given in &sets {
                for &(width, height) in SIZES {
                    let pixels = (width * height) as u64;
                    if declared.max_pixels != 0 && pixels > declared.max_pixels {
                        continue;
                    }
                    out.push(Case {
                        id: format!(
                            "{}/{dtype}/c{channels}/{width}x{height}/{}",
                            spec.id,
                            describe(given)
                        ),
                        kernel: spec.id,
                        given: given.clone(),
                        dtype,
                        channels: channels as usize,
                        width,
                        height,
                    });
                }
            }
        }
    }
    let (w, h) = LARGE;
    let fits = declared.max_pixels == 0 || (w * h) as u64 <= declared.max_pixels;
    if !quick && fits {
        let dtype = declared.dtypes[0];
        let channels = declared.channels[0] as usize;
        out.push(Case {
            id: format!("{}/{dtype}/c{channels}/{w}x{h}/defaults", spec.id),
            kernel: spec.id,
            given: Vec::new(),
            dtype,
            channels,
            width: w,
            height: h,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_cover_both_ends_and_every_choice() {
        let g = yam_plugin_api::kernel("gaussian_blur").unwrap();
        let sets = param_sets(g);
        let has = |name: &str, v: ParamValue| {
            sets.iter()
                .any(|s| s.iter().any(|(n, x)| *n == name && *x == v))
        };
        assert!(has("ksize", ParamValue::Int(0)) && has("ksize", ParamValue::Int(255)));
        assert!(has("sigma", ParamValue::Float(1000.0)));
        for b in ["reflect", "replicate", "constant", "wrap"] {
            assert!(has("border", ParamValue::Text(b.into())), "{b}");
        }
        let bv = sets
            .iter()
            .find(|s| s.first().is_some_and(|p| p.0 == "border_value"))
            .unwrap();
        assert_eq!(bv[1], ("border", ParamValue::Text("constant".into())));
        assert_eq!(sets[0], Vec::new());
    }

    #[test]
    fn inputs_are_reproducible_from_the_seed() {
        let a = input("gaussian_blur", DType::U16, 13, 7, 3, case_seed(1, "x"));
        let b = input("gaussian_blur", DType::U16, 13, 7, 3, case_seed(1, "x"));
        let c = input("gaussian_blur", DType::U16, 13, 7, 3, case_seed(2, "x"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let m = input("connected_components", DType::U8, 40, 40, 1, 5);
        let PixelData::U8(v) = m.data else {
            unreachable!()
        };
        assert!(v.iter().all(|&x| x == 0 || x == 255));
        assert!(v.contains(&0) && v.contains(&255));
    }
}
