//! Typed parameters of each kernel, parsed from a validated [`ParamSet`].
//!
//! Backends match on [`KernelCall`] instead of reading names and values themselves, so every
//! backend interprets a parameter the same way. [`KernelCall::parse`] also applies the rules that
//! involve several parameters or the input (an even `ksize` is caught by the schema; `ksize` 0
//! with `sigma` 0, or a 7×7 median on u16, are caught here).

use crate::{catalogue::ParamIssue, DType, ParamSet, ParamValue, TensorDesc};

/// How pixels outside the image are made up (OpenCV `BORDER_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BorderMode {
    /// `gfedcb|abcdefgh|gfedcba` (OpenCV's default).
    Reflect101,
    /// `fedcba|abcdefgh|hgfedcb`.
    Reflect,
    /// `aaaaaa|abcdefgh|hhhhhhh`.
    Replicate,
    /// A constant value (see [`Border::value`]).
    Constant,
    /// `cdefgh|abcdefgh|abcdefg`.
    Wrap,
}

impl BorderMode {
    /// Parses a KERNELS.md border name.
    pub fn from_name(name: &str) -> Option<BorderMode> {
        Some(match name {
            "reflect101" => BorderMode::Reflect101,
            "reflect" => BorderMode::Reflect,
            "replicate" => BorderMode::Replicate,
            "constant" => BorderMode::Constant,
            "wrap" => BorderMode::Wrap,
            _ => return None,
        })
    }

    /// Maps an out-of-range coordinate `i` into `[0, n)`; `None` for [`BorderMode::Constant`].
    /// This is the definition every backend must reproduce (OpenCV `borderInterpolate`).
    pub fn map(self, i: isize, n: usize) -> Option<usize> {
        let n = n as isize;
        if (0..n).contains(&i) {
            return Some(i as usize);
        }
        let j = match self {
            BorderMode::Constant => return None,
            BorderMode::Replicate => i.clamp(0, n - 1),
            BorderMode::Wrap => i.rem_euclid(n),
            BorderMode::Reflect | BorderMode::Reflect101 if n == 1 => 0,
            BorderMode::Reflect | BorderMode::Reflect101 => {
                let delta = isize::from(self == BorderMode::Reflect101);
                let mut j = i;
                loop {
                    if j < 0 {
                        j = -j - 1 + delta;
                    } else if j >= n {
                        j = n - 1 - (j - n) - delta;
                    } else {
                        break j;
                    }
                }
            }
        };
        Some(j as usize)
    }
}

/// A border mode and, for [`BorderMode::Constant`], the value of outside pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Border {
    /// The mode.
    pub mode: BorderMode,
    /// Outside value for `Constant` (saturated to the dtype by the kernel).
    pub value: f64,
}

impl Default for Border {
    fn default() -> Border {
        Border {
            mode: BorderMode::Reflect101,
            value: 0.0,
        }
    }
}

/// Structuring element shapes (OpenCV `MORPH_RECT`, `MORPH_ELLIPSE`, `MORPH_CROSS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MorphShape {
    /// All ones.
    Rect,
    /// OpenCV's ellipse (not scikit-image's disk).
    Ellipse,
    /// Centre row and column.
    Cross,
}

/// Compound morphology operations (OpenCV `MORPH_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MorphOp {
    /// Erode then dilate.
    Open,
    /// Dilate then erode.
    Close,
    /// Dilate minus erode.
    Gradient,
    /// Source minus open.
    Tophat,
    /// Close minus source.
    Blackhat,
}

/// `gaussian_blur` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianBlurParams {
    /// Odd size, or 0 to derive it from sigma (depends on the dtype, as in OpenCV).
    pub ksize: u32,
    /// Sigma in x (0 = from ksize).
    pub sigma: f64,
    /// Sigma in y (0 = sigma).
    pub sigma_y: f64,
    /// Border handling.
    pub border: Border,
}

/// `box_blur` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxBlurParams {
    /// Odd window size.
    pub ksize: u32,
    /// Divide by the window area.
    pub normalize: bool,
    /// Border handling.
    pub border: Border,
}

/// `median_blur` parameters (border is always replicate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianBlurParams {
    /// Odd window size.
    pub ksize: u32,
}

/// `bilateral_filter` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BilateralParams {
    /// Window diameter (<= 0: from sigma_space).
    pub d: i32,
    /// Range sigma.
    pub sigma_color: f64,
    /// Spatial sigma.
    pub sigma_space: f64,
    /// Border handling.
    pub border: Border,
}

/// `erode` / `dilate` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MorphParams {
    /// Structuring element shape.
    pub shape: MorphShape,
    /// Structuring element size (square, odd).
    pub ksize: u32,
    /// Repetitions.
    pub iterations: u32,
    /// `None`: outside pixels never win (OpenCV's default constant border).
    pub border: Option<Border>,
}

/// `morphology` parameters (border is always the neutral default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MorphologyParams {
    /// Operation.
    pub op: MorphOp,
    /// Structuring element shape.
    pub shape: MorphShape,
    /// Structuring element size.
    pub ksize: u32,
    /// Repetitions of each erode/dilate.
    pub iterations: u32,
}

/// `sobel` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SobelParams {
    /// Order of the x derivative.
    pub dx: u32,
    /// Order of the y derivative.
    pub dy: u32,
    /// Aperture 1, 3, 5 or 7.
    pub ksize: u32,
    /// Factor.
    pub scale: f64,
    /// Offset added after scaling.
    pub delta: f64,
    /// Output dtype: [`DType::I16`] or [`DType::F32`].
    pub out: DType,
    /// Border handling.
    pub border: Border,
}

/// `threshold` types (OpenCV `THRESH_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThresholdType {
    /// `src > T ? maxval : 0`.
    Binary,
    /// `src > T ? 0 : maxval`.
    BinaryInv,
    /// `src > T ? T : src`.
    Trunc,
    /// `src > T ? src : 0`.
    ToZero,
    /// `src > T ? 0 : src`.
    ToZeroInv,
}

/// `threshold` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdParams {
    /// Threshold (ignored with `otsu`).
    pub thresh: f64,
    /// Value written where the test passes.
    pub maxval: f64,
    /// Type.
    pub kind: ThresholdType,
    /// Choose the threshold by Otsu's method.
    pub otsu: bool,
}

/// `adaptive_threshold` local method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdaptiveMethod {
    /// Box mean with replicate border.
    Mean,
    /// Gaussian-weighted mean with replicate border.
    Gaussian,
}

/// `adaptive_threshold` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveThresholdParams {
    /// Value written where the test passes.
    pub maxval: f64,
    /// Local method.
    pub method: AdaptiveMethod,
    /// Only `Binary` or `BinaryInv`.
    pub kind: ThresholdType,
    /// Odd neighbourhood size.
    pub block_size: u32,
    /// Constant subtracted from the local mean.
    pub c: f64,
}

/// `canny` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CannyParams {
    /// Low hysteresis threshold.
    pub low: f64,
    /// High hysteresis threshold.
    pub high: f64,
    /// Sobel aperture.
    pub aperture: u32,
    /// L2 magnitude.
    pub l2_gradient: bool,
}

/// `histogram` parameters; `None` means the dtype's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramParams {
    /// Number of bins.
    pub bins: Option<u32>,
    /// `[lo, hi)`.
    pub range: Option<(f64, f64)>,
}

/// `convert` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvertParams {
    /// Output dtype.
    pub dtype: DType,
    /// Multiplier.
    pub scale: f64,
    /// Offset.
    pub offset: f64,
}

/// `normalize` parameters; `max: None` means the dtype's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormalizeParams {
    /// Output minimum.
    pub min: f64,
    /// Output maximum.
    pub max: Option<f64>,
}

/// One call of a catalogue kernel with its typed parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum KernelCall {
    /// `gaussian_blur`
    GaussianBlur(GaussianBlurParams),
    /// `box_blur`
    BoxBlur(BoxBlurParams),
    /// `median_blur`
    MedianBlur(MedianBlurParams),
    /// `bilateral_filter`
    Bilateral(BilateralParams),
    /// `erode`
    Erode(MorphParams),
    /// `dilate`
    Dilate(MorphParams),
    /// `morphology`
    Morphology(MorphologyParams),
    /// `sobel`
    Sobel(SobelParams),
    /// `canny`
    Canny(CannyParams),
    /// `threshold`
    Threshold(ThresholdParams),
    /// `adaptive_threshold`
    AdaptiveThreshold(AdaptiveThresholdParams),
    /// `connected_components` (connectivity 4 or 8)
    ConnectedComponents {
        /// 4 or 8.
        connectivity: u8,
    },
    /// `histogram`
    Histogram(HistogramParams),
    /// `region_props`
    RegionProps {
        /// Connectivity used when the input is a mask that must be labelled first.
        connectivity: u8,
    },
    /// `convert`
    Convert(ConvertParams),
    /// `normalize`
    Normalize(NormalizeParams),
    /// `to_gray`
    ToGray {
        /// Input is BGR(A) rather than RGB(A).
        bgr: bool,
    },
}

/// What a kernel produces from an input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KernelOutput {
    /// A new image with this descriptor.
    Image(TensorDesc),
    /// A JSON result only; the image passes through unchanged.
    Json,
}

struct Reader<'a>(&'a ParamSet);

impl Reader<'_> {
    fn value(&self, name: &str) -> Result<&ParamValue, ParamIssue> {
        self.0
            .get(name)
            .ok_or_else(|| ParamIssue::new(name, "(missing)", "a value"))
    }
    fn int(&self, name: &str) -> Result<i64, ParamIssue> {
        let v = self.value(name)?;
        v.as_i64()
            .ok_or_else(|| ParamIssue::new(name, v, "an integer"))
    }
    fn uint(&self, name: &str) -> Result<u32, ParamIssue> {
        let v = self.int(name)?;
        u32::try_from(v).map_err(|_| ParamIssue::new(name, v, "a non-negative integer"))
    }
    fn float(&self, name: &str) -> Result<f64, ParamIssue> {
        let v = self.value(name)?;
        v.as_f64()
            .ok_or_else(|| ParamIssue::new(name, v, "a number"))
    }
    fn flag(&self, name: &str) -> Result<bool, ParamIssue> {
        let v = self.value(name)?;
        v.as_bool()
            .ok_or_else(|| ParamIssue::new(name, v, "true or false"))
    }
    fn text(&self, name: &str) -> Result<&str, ParamIssue> {
        let v = self.value(name)?;
        v.as_str().ok_or_else(|| ParamIssue::new(name, v, "a name"))
    }
    fn pick<T: Copy>(&self, name: &str, table: &[(&str, T)]) -> Result<T, ParamIssue> {
        let s = self.text(name)?;
        table
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
                ParamIssue::new(
                    name,
                    format!("\"{s}\""),
                    format!("one of {}", names.join(" | ")),
                )
            })
    }
    fn border(&self) -> Result<Border, ParamIssue> {
        let name = self.text("border")?;
        let mode = BorderMode::from_name(name).ok_or_else(|| {
            ParamIssue::new(
                "border",
                name,
                "reflect101 | reflect | replicate | constant | wrap",
            )
        })?;
        let value = self
            .0
            .get("border_value")
            .and_then(ParamValue::as_f64)
            .unwrap_or(0.0);
        Ok(Border { mode, value })
    }
    fn shape(&self) -> Result<MorphShape, ParamIssue> {
        self.pick(
            "shape",
            &[
                ("rect", MorphShape::Rect),
                ("ellipse", MorphShape::Ellipse),
                ("cross", MorphShape::Cross),
            ],
        )
    }
    fn morph(&self) -> Result<MorphParams, ParamIssue> {
        let border = match self.text("border")? {
            "neutral" => None,
            _ => Some(self.border()?),
        };
        Ok(MorphParams {
            shape: self.shape()?,
            ksize: self.uint("ksize")?,
            iterations: self.uint("iterations")?,
            border,
        })
    }
}

impl KernelCall {
    /// Parses validated parameters of kernel `id` for an input of `dtype`, applying the
    /// cross-parameter rules. `None` when `id` is not a catalogue kernel.
    pub fn parse(
        id: &str,
        params: &ParamSet,
        dtype: DType,
    ) -> Option<Result<KernelCall, ParamIssue>> {
        let r = Reader(params);
        let call = || -> Result<KernelCall, ParamIssue> {
            Ok(match id {
                "gaussian_blur" => {
                    let p = GaussianBlurParams {
                        ksize: r.uint("ksize")?,
                        sigma: r.float("sigma")?,
                        sigma_y: r.float("sigma_y")?,
                        border: r.border()?,
                    };
                    if p.ksize == 0 && p.sigma <= 0.0 {
                        return Err(ParamIssue::new(
                            "ksize",
                            0,
                            "an odd size, or sigma > 0 when ksize is 0 (size from sigma)",
                        ));
                    }
                    KernelCall::GaussianBlur(p)
                }
                "box_blur" => KernelCall::BoxBlur(BoxBlurParams {
                    ksize: r.uint("ksize")?,
                    normalize: r.flag("normalize")?,
                    border: r.border()?,
                }),
                "median_blur" => {
                    let ksize = r.uint("ksize")?;
                    if dtype != DType::U8 && ksize > 5 {
                        return Err(ParamIssue::new(
                            "ksize",
                            ksize,
                            format!("3 or 5 for {dtype} input (larger sizes need u8)"),
                        ));
                    }
                    KernelCall::MedianBlur(MedianBlurParams { ksize })
                }
                "bilateral_filter" => KernelCall::Bilateral(BilateralParams {
                    d: r.int("d")? as i32,
                    sigma_color: r.float("sigma_color")?,
                    sigma_space: r.float("sigma_space")?,
                    border: r.border()?,
                }),
                "erode" => KernelCall::Erode(r.morph()?),
                "dilate" => KernelCall::Dilate(r.morph()?),
                "morphology" => KernelCall::Morphology(MorphologyParams {
                    op: r.pick(
                        "op",
                        &[
                            ("open", MorphOp::Open),
                            ("close", MorphOp::Close),
                            ("gradient", MorphOp::Gradient),
                            ("tophat", MorphOp::Tophat),
                            ("blackhat", MorphOp::Blackhat),
                        ],
                    )?,
                    shape: r.shape()?,
                    ksize: r.uint("ksize")?,
                    iterations: r.uint("iterations")?,
                }),
                "sobel" => {
                    let p = SobelParams {
                        dx: r.uint("dx")?,
                        dy: r.uint("dy")?,
                        ksize: r.uint("ksize")?,
                        scale: r.float("scale")?,
                        delta: r.float("delta")?,
                        out: r.pick("out", &[("i16", DType::I16), ("f32", DType::F32)])?,
                        border: r.border()?,
                    };
                    if p.dx + p.dy == 0 {
                        return Err(ParamIssue::new("dx", p.dx, "dx + dy >= 1"));
                    }
                    let max_order = if p.ksize == 1 { 2 } else { p.ksize - 1 };
                    if p.dx.max(p.dy) > max_order.min(2) {
                        return Err(ParamIssue::new(
                            "dx/dy",
                            format!("{}/{}", p.dx, p.dy),
                            format!("orders below ksize ({})", p.ksize),
                        ));
                    }
                    if p.out == DType::I16 && dtype != DType::U8 {
                        return Err(ParamIssue::new(
                            "out",
                            "\"i16\"",
                            format!("f32 for {dtype} input"),
                        ));
                    }
                    KernelCall::Sobel(p)
                }
                "canny" => KernelCall::Canny(CannyParams {
                    low: r.float("low")?,
                    high: r.float("high")?,
                    aperture: r.uint("aperture")?,
                    l2_gradient: r.flag("l2_gradient")?,
                }),
                "threshold" => {
                    let p = ThresholdParams {
                        thresh: r.float("thresh")?,
                        maxval: r.float("maxval")?,
                        kind: r.pick(
                            "type",
                            &[
                                ("binary", ThresholdType::Binary),
                                ("binary_inv", ThresholdType::BinaryInv),
                                ("trunc", ThresholdType::Trunc),
                                ("tozero", ThresholdType::ToZero),
                                ("tozero_inv", ThresholdType::ToZeroInv),
                            ],
                        )?,
                        otsu: r.flag("otsu")?,
                    };
                    if p.otsu && dtype == DType::F32 {
                        return Err(ParamIssue::new(
                            "otsu",
                            true,
                            "false for f32 input (u8, u16 only)",
                        ));
                    }
                    KernelCall::Threshold(p)
                }
                "adaptive_threshold" => KernelCall::AdaptiveThreshold(AdaptiveThresholdParams {
                    maxval: r.float("maxval")?,
                    method: r.pick(
                        "method",
                        &[
                            ("mean", AdaptiveMethod::Mean),
                            ("gaussian", AdaptiveMethod::Gaussian),
                        ],
                    )?,
                    kind: r.pick(
                        "type",
                        &[
                            ("binary", ThresholdType::Binary),
                            ("binary_inv", ThresholdType::BinaryInv),
                        ],
                    )?,
                    block_size: r.uint("block_size")?,
                    c: r.float("c")?,
                }),
                "connected_components" => KernelCall::ConnectedComponents {
                    connectivity: r.uint("connectivity")? as u8,
                },
                "histogram" => KernelCall::Histogram(HistogramParams {
                    bins: match params.get("bins") {
                        Some(_) => Some(r.uint("bins")?),
                        None => None,
                    },
                    range: match params.get("range") {
                        Some(ParamValue::FloatList(v)) if v.len() == 2 => Some((v[0], v[1])),
                        Some(v) => return Err(ParamIssue::new("range", v, "[lo, hi]")),
                        None => None,
                    },
                }),
                "region_props" => KernelCall::RegionProps {
                    connectivity: r.uint("connectivity")? as u8,
                },
                "convert" => KernelCall::Convert(ConvertParams {
                    dtype: r.pick(
                        "dtype",
                        &[("u8", DType::U8), ("u16", DType::U16), ("f32", DType::F32)],
                    )?,
                    scale: r.float("scale")?,
                    offset: r.float("offset")?,
                }),
                "normalize" => KernelCall::Normalize(NormalizeParams {
                    min: r.float("min")?,
                    max: match params.get("max") {
                        Some(_) => Some(r.float("max")?),
                        None => None,
                    },
                }),
                "to_gray" => KernelCall::ToGray {
                    bgr: r.text("order")? == "bgr",
                },
                _ => unreachable!("checked against the catalogue above"),
            })
        };
        crate::catalogue::kernel(id)?;
        Some(call())
    }

    /// The catalogue id of this call.
    pub fn id(&self) -> &'static str {
        match self {
            KernelCall::GaussianBlur(_) => "gaussian_blur",
            KernelCall::BoxBlur(_) => "box_blur",
            KernelCall::MedianBlur(_) => "median_blur",
            KernelCall::Bilateral(_) => "bilateral_filter",
            KernelCall::Erode(_) => "erode",
            KernelCall::Dilate(_) => "dilate",
            KernelCall::Morphology(_) => "morphology",
            KernelCall::Sobel(_) => "sobel",
            KernelCall::Canny(_) => "canny",
            KernelCall::Threshold(_) => "threshold",
            KernelCall::AdaptiveThreshold(_) => "adaptive_threshold",
            KernelCall::ConnectedComponents { .. } => "connected_components",
            KernelCall::Histogram(_) => "histogram",
            KernelCall::RegionProps { .. } => "region_props",
            KernelCall::Convert(_) => "convert",
            KernelCall::Normalize(_) => "normalize",
            KernelCall::ToGray { .. } => "to_gray",
        }
    }

    /// What this call produces from a packed input described by `input`.
    pub fn output(&self, input: &TensorDesc) -> KernelOutput {
        let (h, w, c) = (input.height(), input.width(), input.channels());
        let same = input.dtype().unwrap_or(DType::U8);
        let desc = |dtype: DType, channels: usize| {
            KernelOutput::Image(TensorDesc::packed(dtype, h, w, channels).on(input.device))
        };
        match self {
            KernelCall::Sobel(p) => desc(p.out, 1),
            KernelCall::Canny(_) | KernelCall::AdaptiveThreshold(_) => desc(DType::U8, 1),
            KernelCall::ConnectedComponents { .. } => desc(DType::I32, 1),
            KernelCall::Histogram(_) | KernelCall::RegionProps { .. } => KernelOutput::Json,
            KernelCall::Convert(p) => desc(p.dtype, c),
            KernelCall::ToGray { .. } => desc(same, 1),
            _ => desc(same, c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::kernel;

    fn call(
        id: &str,
        given: &[(&str, ParamValue)],
        dtype: DType,
    ) -> Result<KernelCall, ParamIssue> {
        let set = kernel(id)
            .unwrap()
            .resolve(given.iter().map(|(n, v)| (*n, v.clone())))?;
        KernelCall::parse(id, &set, dtype).unwrap()
    }

    #[test]
    fn every_catalogue_kernel_parses_with_defaults() {
        for k in crate::CATALOGUE {
            let c = call(k.id, &[], k.dtypes[0]).unwrap_or_else(|e| panic!("{}: {e}", k.id));
            assert_eq!(c.id(), k.id);
        }
    }

    #[test]
    fn cross_parameter_rules() {
        let zero = [
            ("ksize", ParamValue::Int(0)),
            ("sigma", ParamValue::Float(0.0)),
        ];
        assert_eq!(
            call("gaussian_blur", &zero, DType::U8).unwrap_err().param,
            "ksize"
        );
        let big = [("ksize", ParamValue::Int(7))];
        assert!(call("median_blur", &big, DType::U8).is_ok());
        assert_eq!(
            call("median_blur", &big, DType::F32).unwrap_err().param,
            "ksize"
        );
        let i16_out = [("out", ParamValue::Text("i16".into()))];
        assert!(call("sobel", &i16_out, DType::U8).is_ok());
        assert_eq!(
            call("sobel", &i16_out, DType::F32).unwrap_err().param,
            "out"
        );
    }

    #[test]
    fn border_map_matches_opencv_patterns() {
        // abcdefgh with 3 outside pixels on each side, as SEMANTICS.md draws them.
        let row = |m: BorderMode| -> String {
            (-3..11)
                .map(|i| m.map(i, 8).map_or('.', |j| (b'a' + j as u8) as char))
                .collect()
        };
        assert_eq!(row(BorderMode::Reflect101), "dcbabcdefghgfe");
        assert_eq!(row(BorderMode::Reflect), "cbaabcdefghhgf");
        assert_eq!(row(BorderMode::Replicate), "aaaabcdefghhhh");
        assert_eq!(row(BorderMode::Wrap), "fghabcdefghabc");
        assert_eq!(row(BorderMode::Constant), "...abcdefgh...");
        assert_eq!(BorderMode::Reflect101.map(-2, 1), Some(0));
        assert_eq!(BorderMode::Reflect101.map(-5, 2), Some(1));
    }
}
