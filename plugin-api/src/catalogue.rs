//! The kernel catalogue: ids, stages and versioned parameter schemas (KERNELS.md).
//!
//! This table is the single definition of the public surface. Hosts validate pipeline
//! parameters against it, `yam kernels` prints it, and backends declare support by kernel id and
//! schema version. The catalogue only grows: ids are never reused, parameters are only added
//! with defaults, and a change of meaning bumps the kernel's `schema_version`.

use serde::Serialize;

use crate::{DType, ParamSet, ParamValue};

/// Pipeline stage a kernel belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Denoising, blurring, morphology, edges, conversions.
    Preprocessing,
    /// Thresholds, edge maps and labeling.
    Segmentation,
    /// Measurements (results are JSON, the image passes through unchanged).
    Analysis,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 3] = [Stage::Preprocessing, Stage::Segmentation, Stage::Analysis];

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Preprocessing => "preprocessing",
            Stage::Segmentation => "segmentation",
            Stage::Analysis => "analysis",
        }
    }
}

/// The type and allowed values of one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// Integer in `[min, max]`; `odd` requires an odd value, except `zero_allowed` admits 0.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
        /// Value must be odd.
        odd: bool,
        /// 0 is allowed even when `odd` is set (Gaussian `ksize` 0 = from sigma).
        zero_allowed: bool,
    },
    /// One of a fixed set of integers.
    IntChoice {
        /// Allowed values.
        values: &'static [i64],
    },
    /// Real in `[min, max]`.
    Float {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// true or false.
    Bool,
    /// One of a fixed set of names.
    Choice {
        /// Allowed names.
        values: &'static [&'static str],
    },
    /// A half-open interval `[lo, hi)` given as two numbers with `lo < hi`.
    Range,
}

/// The default of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamDefault {
    /// Integer default.
    Int(i64),
    /// Real default.
    Float(f64),
    /// Flag default.
    Bool(bool),
    /// Name default.
    Text(&'static str),
    /// Interval default.
    Range(f64, f64),
    /// The default depends on the input (described in words); the parameter is left unset.
    Dynamic(&'static str),
}

impl ParamDefault {
    /// The default as a value; `None` for [`ParamDefault::Dynamic`].
    pub fn value(self) -> Option<ParamValue> {
        Some(match self {
            ParamDefault::Int(i) => ParamValue::Int(i),
            ParamDefault::Float(f) => ParamValue::Float(f),
            ParamDefault::Bool(b) => ParamValue::Bool(b),
            ParamDefault::Text(s) => ParamValue::Text(s.into()),
            ParamDefault::Range(a, b) => ParamValue::FloatList(vec![a, b].into()),
            ParamDefault::Dynamic(_) => return None,
        })
    }
}

/// One parameter of a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamSpec {
    /// Name as written in pipeline files.
    pub name: &'static str,
    /// Type and range.
    pub kind: ParamKind,
    /// Default when the pipeline omits it.
    pub default: ParamDefault,
    /// One line for `yam kernels`.
    pub doc: &'static str,
}

/// One kernel of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KernelSpec {
    /// Stable id (pipeline step name).
    pub id: &'static str,
    /// Stage it belongs to.
    pub stage: Stage,
    /// Version of the parameter schema; bumped when a parameter's meaning changes.
    pub schema_version: u32,
    /// One line for `yam kernels`.
    pub summary: &'static str,
    /// Parameters in schema order.
    pub params: &'static [ParamSpec],
    /// Input dtypes.
    pub dtypes: &'static [DType],
    /// Input channel counts.
    pub channels: &'static [u32],
    /// Output in words (dtype and channels).
    pub output: &'static str,
    /// Tolerance against the CPU reference (KERNELS.md).
    pub tolerance: &'static str,
}

/// Why parameters do not fit a kernel's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamIssue {
    /// The parameter (or `"input"` for dtype/channel problems).
    pub param: String,
    /// The offending value as written.
    pub value: String,
    /// What is allowed.
    pub expected: String,
}

impl ParamIssue {
    /// Builds an issue.
    pub fn new(param: &str, value: impl ToString, expected: impl Into<String>) -> ParamIssue {
        ParamIssue {
            param: param.to_string(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

impl std::fmt::Display for ParamIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p, v, e) = (&self.param, &self.value, &self.expected);
        if p.starts_with("input") {
            write!(f, "{p} = {v}: expected {e}")
        } else {
            write!(f, "parameter `{p}` = {v}: expected {e}")
        }
    }
}

impl std::error::Error for ParamIssue {}

impl ParamSpec {
    /// Checks one value against this spec, normalising integers given as `5.0`.
    pub fn check(&self, value: &ParamValue) -> Result<ParamValue, ParamIssue> {
        let bad = |expected: String| Err(ParamIssue::new(self.name, value, expected));
        match self.kind {
            ParamKind::Int {
                min,
                max,
                odd,
                zero_allowed,
            } => {
                let Some(v) = value.as_i64() else {
                    return bad(format!("an integer in [{min}, {max}]"));
                };
                let parity_ok = !odd || v % 2 != 0 || (zero_allowed && v == 0);
                if v < min || v > max || !parity_ok {
                    let odd_text = match (odd, zero_allowed) {
                        (true, true) => "an odd integer (or 0)",
                        (true, false) => "an odd integer",
                        _ => "an integer",
                    };
                    return bad(format!("{odd_text} in [{min}, {max}]"));
                }
                Ok(ParamValue::Int(v))
            }
            ParamKind::IntChoice { values } => match value.as_i64() {
                Some(v) if values.contains(&v) => Ok(ParamValue::Int(v)),
                _ => bad(format!("one of {values:?}")),
            },
            ParamKind::Float { min, max } => match value.as_f64() {
                Some(v) if v.is_finite() && v >= min && v <= max => Ok(ParamValue::Float(v)),
                _ => bad(format!("a number in [{min}, {max}]")),
            },
            ParamKind::Bool => match value.as_bool() {
                Some(b) => Ok(ParamValue::Bool(b)),
                None => bad("true or false".into()),
            },
            ParamKind::Choice { values } => match value.as_str() {
                Some(s) if values.contains(&s) => Ok(value.clone()),
                _ => bad(format!("one of {}", values.join(" | "))),
            },
            ParamKind::Range => match value {
                ParamValue::FloatList(v) if v.len() == 2 && v[0] < v[1] => Ok(value.clone()),
                _ => bad("two numbers [lo, hi] with lo < hi".into()),
            },
        }
    }
}

impl KernelSpec {
    /// The spec of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Validates the given parameters and fills in defaults. Unknown names are errors.
    pub fn resolve<'a>(
        &self,
        given: impl IntoIterator<Item = (&'a str, ParamValue)>,
    ) -> Result<ParamSet, ParamIssue> {
        let mut out = ParamSet::default();
        for p in self.params {
            if let Some(v) = p.default.value() {
                out.set(p.name, v);
            }
        }
        for (name, value) in given {
            let Some(spec) = self.param(name) else {
                let names: Vec<&str> = self.params.iter().map(|p| p.name).collect();
                let expected = if names.is_empty() {
                    format!("no parameters ({} takes none)", self.id)
                } else {
                    format!("one of the parameters of {}: {}", self.id, names.join(", "))
                };
                return Err(ParamIssue::new(name, value, expected));
            };
            out.set(name, spec.check(&value)?);
        }
        Ok(out)
    }

    /// Checks that an input of `dtype` with `channels` channels is accepted.
    pub fn check_input(&self, dtype: DType, channels: u32) -> Result<(), ParamIssue> {
        if !self.dtypes.contains(&dtype) {
            let names: Vec<&str> = self.dtypes.iter().map(|d| d.name()).collect();
            return Err(ParamIssue::new(
                "input dtype",
                dtype,
                format!("one of {}", names.join(", ")),
            ));
        }
        if !self.channels.contains(&channels) {
            return Err(ParamIssue::new(
                "input channels",
                channels,
                format!("one of {:?}", self.channels),
            ));
        }
        Ok(())
    }
}

/// Looks a kernel up by id.
pub fn kernel(id: &str) -> Option<&'static KernelSpec> {
    CATALOGUE.iter().find(|k| k.id == id)
}

const BORDERS: &[&str] = &["reflect101", "reflect", "replicate", "constant", "wrap"];
const MORPH_BORDERS: &[&str] = &[
    "neutral",
    "reflect101",
    "reflect",
    "replicate",
    "constant",
    "wrap",
];
const SHAPES: &[&str] = &["rect", "ellipse", "cross"];
const U8_U16_F32: &[DType] = &[DType::U8, DType::U16, DType::F32];
const ANY_IN: &[DType] = &[DType::U8, DType::U16, DType::I16, DType::I32, DType::F32];

const fn int(min: i64, max: i64) -> ParamKind {
    ParamKind::Int {
        min,
        max,
        odd: false,
        zero_allowed: false,
    }
}
const fn odd(min: i64, max: i64) -> ParamKind {
    ParamKind::Int {
        min,
        max,
        odd: true,
        zero_allowed: false,
    }
}
const fn float(min: f64, max: f64) -> ParamKind {
    ParamKind::Float { min, max }
}
const fn choice(values: &'static [&'static str]) -> ParamKind {
    ParamKind::Choice { values }
}

const BORDER: ParamSpec = ParamSpec {
    name: "border",
    kind: choice(BORDERS),
    default: ParamDefault::Text("reflect101"),
    doc: "how pixels outside the image are made up",
};
const BORDER_VALUE: ParamSpec = ParamSpec {
    name: "border_value",
    kind: float(-3.4e38, 3.4e38),
    default: ParamDefault::Float(0.0),
    doc: "value of outside pixels with border = constant",
};
const MORPH_BORDER: ParamSpec = ParamSpec {
    name: "border",
    kind: choice(MORPH_BORDERS),
    default: ParamDefault::Text("neutral"),
    doc: "neutral = outside pixels never win (OpenCV's default), or a border mode",
};
const SHAPE: ParamSpec = ParamSpec {
    name: "shape",
    kind: choice(SHAPES),
    default: ParamDefault::Text("rect"),
    doc: "structuring element (OpenCV getStructuringElement)",
};
const MORPH_KSIZE: ParamSpec = ParamSpec {
    name: "ksize",
    kind: odd(1, 255),
    default: ParamDefault::Int(3),
    doc: "structuring element size (square)",
};
const ITERATIONS: ParamSpec = ParamSpec {
    name: "iterations",
    kind: int(1, 100),
    default: ParamDefault::Int(1),
    doc: "times the operation is applied",
};
const CONNECTIVITY: ParamSpec = ParamSpec {
    name: "connectivity",
    kind: ParamKind::IntChoice { values: &[4, 8] },
    default: ParamDefault::Int(8),
    doc: "4 or 8 neighbours",
};
const MAXVAL: ParamSpec = ParamSpec {
    name: "maxval",
    kind: float(0.0, 3.4e38),
    default: ParamDefault::Float(255.0),
    doc: "value written where the test passes",
};

/// Every kernel of KERNELS.md. Backends implement subsets; `yam kernels` says which.
pub static CATALOGUE: &[KernelSpec] = &[
    KernelSpec {
        id: "gaussian_blur",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "Gaussian blur (OpenCV GaussianBlur; fixed-point bit-exact for u8/u16)",
        params: &[
            ParamSpec {
                name: "ksize",
                kind: ParamKind::Int {
                    min: 0,
                    max: 255,
                    odd: true,
                    zero_allowed: true,
                },
                default: ParamDefault::Int(5),
                doc: "odd kernel size, or 0 to derive it from sigma",
            },
            ParamSpec {
                name: "sigma",
                kind: float(0.0, 1000.0),
                default: ParamDefault::Float(1.5),
                doc: "standard deviation in x (0 = from ksize)",
            },
            ParamSpec {
                name: "sigma_y",
                kind: float(0.0, 1000.0),
                default: ParamDefault::Float(0.0),
                doc: "standard deviation in y (0 = sigma)",
            },
            BORDER,
            BORDER_VALUE,
        ],
        dtypes: U8_U16_F32,
        channels: &[1, 3, 4],
        output: "same dtype and channels",
        tolerance: "u8/u16 exact; f32 1e-5 abs",
    },
    KernelSpec {
        id: "box_blur",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "box filter (OpenCV blur/boxFilter)",
        params: &[
            ParamSpec {
                name: "ksize",
                kind: odd(1, 255),
                default: ParamDefault::Int(5),
                doc: "odd window size",
            },
            ParamSpec {
                name: "normalize",
                kind: ParamKind::Bool,
                default: ParamDefault::Bool(true),
                doc: "divide by the window area",
            },
            BORDER,
            BORDER_VALUE,
        ],
        dtypes: U8_U16_F32,
        channels: &[1, 3, 4],
        output: "same dtype and channels",
        tolerance: "u8/u16 exact; f32 1e-5",
    },
    KernelSpec {
        id: "median_blur",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "median filter, border always replicate (OpenCV medianBlur)",
        params: &[ParamSpec {
            name: "ksize",
            kind: odd(3, 255),
            default: ParamDefault::Int(3),
            doc: "odd window size (u16/f32: 3 or 5)",
        }],
        dtypes: U8_U16_F32,
        channels: &[1, 3, 4],
        output: "same dtype and channels",
        tolerance: "exact",
    },
    KernelSpec {
        id: "bilateral_filter",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "edge-preserving bilateral filter (OpenCV bilateralFilter)",
        params: &[
            ParamSpec {
                name: "d",
                kind: int(-1, 64),
                default: ParamDefault::Int(9),
                doc: "window diameter (<= 0: from sigma_space)",
            },
            ParamSpec {
                name: "sigma_color",
                kind: float(0.0, 1.0e6),
                default: ParamDefault::Float(75.0),
                doc: "range sigma",
            },
            ParamSpec {
                name: "sigma_space",
                kind: float(0.0, 1.0e6),
                default: ParamDefault::Float(75.0),
                doc: "spatial sigma",
            },
            BORDER,
            BORDER_VALUE,
        ],
        dtypes: &[DType::U8, DType::F32],
        channels: &[1, 3],
        output: "same dtype and channels",
        tolerance: "u8 <= 1 LSB; f32 1e-4",
    },
    KernelSpec {
        id: "erode",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "grey-level erosion: minimum over the structuring element",
        params: &[SHAPE, MORPH_KSIZE, ITERATIONS, MORPH_BORDER, BORDER_VALUE],
        dtypes: U8_U16_F32,
        channels: &[1, 3, 4],
        output: "same dtype and channels",
        tolerance: "exact",
    },
    KernelSpec {
        id: "dilate",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "grey-level dilation: maximum over the structuring element",
        params: &[SHAPE, MORPH_KSIZE, ITERATIONS, MORPH_BORDER, BORDER_VALUE],
        dtypes: U8_U16_F32,
        channels: &[1, 3, 4],
        output: "same dtype and channels",
        tolerance: "exact",
    },
    KernelSpec {
        id: "morphology",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "compound morphology (OpenCV morphologyEx)",
        params: &[
            ParamSpec {
                name: "op",
                kind: choice(&["open", "close", "gradient", "tophat", "blackhat"]),
                default: ParamDefault::Text("open"),
                doc: "operation",
            },
            SHAPE,
            MORPH_KSIZE,
            ITERATIONS,
        ],
        dtypes: U8_U16_F32,
        channels: &[1, 3, 4],
        output: "same dtype and channels",
        tolerance: "exact",
    },
    KernelSpec {
        id: "sobel",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "Sobel derivative (OpenCV Sobel)",
        params: &[
            ParamSpec {
                name: "dx",
                kind: int(0, 2),
                default: ParamDefault::Int(1),
                doc: "order of the x derivative",
            },
            ParamSpec {
                name: "dy",
                kind: int(0, 2),
                default: ParamDefault::Int(0),
                doc: "order of the y derivative",
            },
            ParamSpec {
                name: "ksize",
                kind: ParamKind::IntChoice {
                    values: &[1, 3, 5, 7],
                },
                default: ParamDefault::Int(3),
                doc: "aperture 1, 3, 5 or 7",
            },
            ParamSpec {
                name: "scale",
                kind: float(-1.0e6, 1.0e6),
                default: ParamDefault::Float(1.0),
                doc: "factor applied to the derivative",
            },
            ParamSpec {
                name: "delta",
                kind: float(-1.0e6, 1.0e6),
                default: ParamDefault::Float(0.0),
                doc: "added after scaling",
            },
            ParamSpec {
                name: "out",
                kind: choice(&["i16", "f32"]),
                default: ParamDefault::Text("f32"),
                doc: "output dtype (i16 only from u8)",
            },
            BORDER,
            BORDER_VALUE,
        ],
        dtypes: U8_U16_F32,
        channels: &[1],
        output: "i16 or f32, 1 channel",
        tolerance: "integer exact; f32 1e-5 rel",
    },
    KernelSpec {
        id: "canny",
        stage: Stage::Segmentation,
        schema_version: 1,
        summary: "Canny edge map (OpenCV Canny)",
        params: &[
            ParamSpec {
                name: "low",
                kind: float(0.0, 1.0e6),
                default: ParamDefault::Float(100.0),
                doc: "hysteresis low threshold",
            },
            ParamSpec {
                name: "high",
                kind: float(0.0, 1.0e6),
                default: ParamDefault::Float(200.0),
                doc: "hysteresis high threshold",
            },
            ParamSpec {
                name: "aperture",
                kind: ParamKind::IntChoice { values: &[3, 5, 7] },
                default: ParamDefault::Int(3),
                doc: "Sobel aperture",
            },
            ParamSpec {
                name: "l2_gradient",
                kind: ParamKind::Bool,
                default: ParamDefault::Bool(false),
                doc: "use the L2 gradient magnitude",
            },
        ],
        dtypes: &[DType::U8],
        channels: &[1],
        output: "u8 mask (0/255)",
        tolerance: "exact",
    },
    KernelSpec {
        id: "threshold",
        stage: Stage::Segmentation,
        schema_version: 1,
        summary: "fixed or Otsu threshold (OpenCV threshold)",
        params: &[
            ParamSpec {
                name: "thresh",
                kind: float(-3.4e38, 3.4e38),
                default: ParamDefault::Float(127.0),
                doc: "threshold (floored for u8/u16; ignored with otsu)",
            },
            MAXVAL,
            ParamSpec {
                name: "type",
                kind: choice(&["binary", "binary_inv", "trunc", "tozero", "tozero_inv"]),
                default: ParamDefault::Text("binary"),
                doc: "threshold type",
            },
            ParamSpec {
                name: "otsu",
                kind: ParamKind::Bool,
                default: ParamDefault::Bool(false),
                doc: "choose the threshold by Otsu's method (u8, u16)",
            },
        ],
        dtypes: U8_U16_F32,
        channels: &[1],
        output: "same dtype, 1 channel",
        tolerance: "exact (Otsu T exact)",
    },
    KernelSpec {
        id: "adaptive_threshold",
        stage: Stage::Segmentation,
        schema_version: 1,
        summary: "local mean/gaussian threshold (OpenCV adaptiveThreshold)",
        params: &[
            MAXVAL,
            ParamSpec {
                name: "method",
                kind: choice(&["mean", "gaussian"]),
                default: ParamDefault::Text("mean"),
                doc: "how the local threshold is computed",
            },
            ParamSpec {
                name: "type",
                kind: choice(&["binary", "binary_inv"]),
                default: ParamDefault::Text("binary"),
                doc: "threshold type",
            },
            ParamSpec {
                name: "block_size",
                kind: odd(3, 255),
                default: ParamDefault::Int(11),
                doc: "odd neighbourhood size",
            },
            ParamSpec {
                name: "c",
                kind: float(-1.0e6, 1.0e6),
                default: ParamDefault::Float(2.0),
                doc: "subtracted from the local mean",
            },
        ],
        dtypes: &[DType::U8],
        channels: &[1],
        output: "u8 mask",
        tolerance: "exact",
    },
    KernelSpec {
        id: "connected_components",
        stage: Stage::Segmentation,
        schema_version: 1,
        summary: "label connected foreground regions (OpenCV connectedComponents, same order)",
        params: &[CONNECTIVITY],
        dtypes: &[DType::U8],
        channels: &[1],
        output: "i32 labels, 0 = background",
        tolerance: "exact partition and OpenCV label order",
    },
    KernelSpec {
        id: "histogram",
        stage: Stage::Analysis,
        schema_version: 1,
        summary: "histogram of pixel values (OpenCV calcHist), written as JSON",
        params: &[
            ParamSpec {
                name: "bins",
                kind: int(1, 65536),
                default: ParamDefault::Dynamic("256 for u8, 65536 for u16, 256 for f32"),
                doc: "number of bins",
            },
            ParamSpec {
                name: "range",
                kind: ParamKind::Range,
                default: ParamDefault::Dynamic("[0, 256) for u8 and f32, [0, 65536) for u16"),
                doc: "value range [lo, hi)",
            },
        ],
        dtypes: U8_U16_F32,
        channels: &[1],
        output: "JSON; image passes through",
        tolerance: "exact",
    },
    KernelSpec {
        id: "region_props",
        stage: Stage::Analysis,
        schema_version: 1,
        summary: "per-label area, bbox, centroid and mean intensity, written as JSON",
        params: &[CONNECTIVITY],
        dtypes: &[DType::U8, DType::I32],
        channels: &[1],
        output: "JSON; image passes through",
        tolerance: "exact (centroid 1e-9)",
    },
    KernelSpec {
        id: "convert",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "change dtype: saturate(value * scale + offset), round half to even",
        params: &[
            ParamSpec {
                name: "dtype",
                kind: choice(&["u8", "u16", "f32"]),
                default: ParamDefault::Text("f32"),
                doc: "output dtype",
            },
            ParamSpec {
                name: "scale",
                kind: float(-1.0e12, 1.0e12),
                default: ParamDefault::Float(1.0),
                doc: "multiplier",
            },
            ParamSpec {
                name: "offset",
                kind: float(-1.0e12, 1.0e12),
                default: ParamDefault::Float(0.0),
                doc: "added after scaling",
            },
        ],
        dtypes: ANY_IN,
        channels: &[1, 3, 4],
        output: "the chosen dtype, same channels",
        tolerance: "exact",
    },
    KernelSpec {
        id: "normalize",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "min-max stretch to [min, max]",
        params: &[
            ParamSpec {
                name: "min",
                kind: float(-3.4e38, 3.4e38),
                default: ParamDefault::Float(0.0),
                doc: "output minimum",
            },
            ParamSpec {
                name: "max",
                kind: float(-3.4e38, 3.4e38),
                default: ParamDefault::Dynamic("255 for u8, 65535 for u16, 1.0 for f32"),
                doc: "output maximum",
            },
        ],
        dtypes: ANY_IN,
        channels: &[1, 3, 4],
        output: "same dtype and channels",
        tolerance: "integer exact; f32 1e-6",
    },
    KernelSpec {
        id: "to_gray",
        stage: Stage::Preprocessing,
        schema_version: 1,
        summary: "colour to grey with OpenCV's weights and fixed point",
        params: &[ParamSpec {
            name: "order",
            kind: choice(&["rgb", "bgr"]),
            default: ParamDefault::Text("rgb"),
            doc: "channel order of the input",
        }],
        dtypes: U8_U16_F32,
        channels: &[3, 4],
        output: "same dtype, 1 channel",
        tolerance: "exact",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_and_satisfy_their_own_schema() {
        for k in CATALOGUE {
            let set = k.resolve([]).unwrap_or_else(|e| panic!("{}: {e}", k.id));
            for (name, value) in set.iter() {
                let spec = k.param(name).unwrap();
                assert_eq!(spec.check(value).as_ref(), Ok(value), "{}.{name}", k.id);
            }
        }
    }

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = CATALOGUE.iter().map(|k| k.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOGUE.len());
    }

    #[test]
    fn even_ksize_and_negative_sigma_are_rejected_with_names() {
        let g = kernel("gaussian_blur").unwrap();
        let e = g.resolve([("ksize", ParamValue::Int(4))]).unwrap_err();
        assert_eq!(e.param, "ksize");
        assert!(e.expected.contains("odd"), "{e}");
        let e = g.resolve([("sigma", ParamValue::Float(-1.0))]).unwrap_err();
        assert_eq!((e.param.as_str(), e.value.as_str()), ("sigma", "-1"));
        let e = g.resolve([("sigmax", ParamValue::Float(1.0))]).unwrap_err();
        assert!(e.expected.contains("ksize, sigma"), "{e}");
        assert!(g.resolve([("ksize", ParamValue::Float(7.0))]).is_ok());
    }

    #[test]
    fn input_dtype_and_channels_are_checked() {
        let cc = kernel("connected_components").unwrap();
        assert!(cc.check_input(DType::U8, 1).is_ok());
        assert_eq!(
            cc.check_input(DType::F32, 1).unwrap_err().param,
            "input dtype"
        );
        assert_eq!(
            cc.check_input(DType::U8, 3).unwrap_err().param,
            "input channels"
        );
    }
}

/// How far a backend's output may be from the CPU reference (KERNELS.md's tolerance column).
/// An element passes when `|actual - expected| <= abs + rel * max(1, |expected|)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerance {
    /// Absolute allowance.
    pub abs: f64,
    /// Allowance relative to the expected magnitude (at least 1).
    pub rel: f64,
}

impl Tolerance {
    /// Bit-exact.
    pub const EXACT: Tolerance = Tolerance { abs: 0.0, rel: 0.0 };

    /// True when `actual` is acceptable for `expected`. NaN matches only NaN.
    pub fn accepts(self, expected: f64, actual: f64) -> bool {
        if expected.is_nan() || actual.is_nan() {
            return expected.is_nan() && actual.is_nan();
        }
        if expected == actual {
            return true;
        }
        (actual - expected).abs() <= self.abs + self.rel * expected.abs().max(1.0)
    }
}

/// The tolerance of kernel `id` for an output of dtype `out`.
pub fn tolerance(id: &str, out: DType) -> Tolerance {
    match (id, out) {
        ("gaussian_blur" | "box_blur", DType::F32) => Tolerance {
            abs: 1e-5,
            rel: 0.0,
        },
        ("bilateral_filter", DType::U8) => Tolerance { abs: 1.0, rel: 0.0 },
        ("bilateral_filter", DType::F32) => Tolerance {
            abs: 1e-4,
            rel: 0.0,
        },
        ("sobel", DType::F32) => Tolerance {
            abs: 0.0,
            rel: 1e-5,
        },
        ("normalize", DType::F32) => Tolerance {
            abs: 1e-6,
            rel: 0.0,
        },
        _ => Tolerance::EXACT,
    }
}

#[cfg(test)]
mod tolerance_tests {
    use super::*;

    #[test]
    fn tolerances_follow_kernels_md() {
        assert_eq!(tolerance("gaussian_blur", DType::U8), Tolerance::EXACT);
        assert!(tolerance("gaussian_blur", DType::F32).accepts(0.5, 0.500009));
        assert!(!tolerance("gaussian_blur", DType::F32).accepts(0.5, 0.50002));
        assert!(tolerance("bilateral_filter", DType::U8).accepts(10.0, 11.0));
        assert!(!tolerance("bilateral_filter", DType::U8).accepts(10.0, 12.0));
        let sobel = tolerance("sobel", DType::F32);
        assert!(sobel.accepts(1000.0, 1000.009));
        assert!(!sobel.accepts(1000.0, 1000.02));
        assert!(!Tolerance::EXACT.accepts(1.0, f64::NAN));
        assert!(Tolerance::EXACT.accepts(f64::NAN, f64::NAN));
    }
}
