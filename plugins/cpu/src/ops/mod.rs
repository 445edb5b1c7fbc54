//! Kernels, one file per family, and [`execute`], which dispatches a [`KernelCall`] to them.

pub mod adaptive;
mod aligned;
pub mod analysis;
pub mod bilateral;
pub mod blur;
pub mod border;
pub mod box_blur;
pub mod canny;
pub mod convert;
pub mod edges;
pub mod labeling;
pub mod median;
pub mod morphology;
mod separable_u8;
pub mod threshold;
mod value_counts;

use serde_json::{Map, Value};
use yam_plugin_api::{Image, KernelCall, PluginError};

/// What one kernel call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelResult {
    /// The output image; `None` for analysis kernels (the image passes through).
    pub image: Option<Image>,
    /// Values for the run report: the Otsu threshold, the label count, a histogram, region
    /// properties. Empty for most kernels.
    pub info: Map<String, Value>,
}

impl KernelResult {
    fn image(image: Image) -> KernelResult {
        KernelResult {
            image: Some(image),
            info: Map::new(),
        }
    }
}

/// Runs `call` on `src`. `extra` is the pipeline's original input, offered to kernels that use
/// a second image (`region_props` measures mean intensity on it).
pub fn execute(
    call: &KernelCall,
    src: &Image,
    extra: Option<&Image>,
) -> Result<KernelResult, PluginError> {
    if src.is_empty() {
        return Err(PluginError::invalid(format!(
            "{}: input is empty ({}x{}x{})",
            call.id(),
            src.width,
            src.height,
            src.channels
        )));
    }
    Ok(match call {
        KernelCall::GaussianBlur(p) => KernelResult::image(blur::gaussian_blur(src, p)?),
        KernelCall::BoxBlur(p) => KernelResult::image(box_blur::box_blur(src, p)?),
        KernelCall::MedianBlur(p) => KernelResult::image(median::median_blur(src, p)?),
        KernelCall::Bilateral(p) => KernelResult::image(bilateral::bilateral_filter(src, p)?),
        KernelCall::Sobel(p) => KernelResult::image(edges::sobel(src, p)?),
        KernelCall::Canny(p) => KernelResult::image(canny::canny(src, p)?),
        KernelCall::Erode(p) => KernelResult::image(morphology::erode(src, p)?),
        KernelCall::Dilate(p) => KernelResult::image(morphology::dilate(src, p)?),
        KernelCall::Morphology(p) => KernelResult::image(morphology::morphology(src, p)?),
        KernelCall::Threshold(p) => {
            let (image, otsu) = threshold::threshold(src, p)?;
            let mut r = KernelResult::image(image);
            if let Some(t) = otsu {
                r.info.insert("otsu_threshold".into(), Value::from(t));
            }
            r
        }
        KernelCall::AdaptiveThreshold(p) => {
            KernelResult::image(adaptive::adaptive_threshold(src, p)?)
        }
        KernelCall::ConnectedComponents { connectivity } => {
            let (image, count) = labeling::connected_components(src, *connectivity)?;
            let mut r = KernelResult::image(image);
            r.info.insert("labels".into(), Value::from(count));
            r
        }
        KernelCall::Histogram(p) => {
            let mut info = Map::new();
            info.insert("histogram".into(), analysis::histogram(src, p)?);
            KernelResult { image: None, info }
        }
        KernelCall::RegionProps { connectivity } => {
            let intensity =
                extra.filter(|e| e.width == src.width && e.height == src.height && e.channels == 1);
            let mut info = Map::new();
            info.insert(
                "regions".into(),
                analysis::region_props(src, intensity, *connectivity)?,
            );
            KernelResult { image: None, info }
        }
        KernelCall::Convert(p) => KernelResult::image(convert::convert(src, p)?),
        KernelCall::Normalize(p) => KernelResult::image(convert::normalize(src, p)?),
        KernelCall::ToGray { bgr } => KernelResult::image(convert::to_gray(src, *bgr)?),
        other => {
            return Err(PluginError::unsupported(format!(
                "kernel `{}` is not implemented by the cpu backend yet",
                other.id()
            )))
        }
    })
}

/// Kernel ids this backend implements (what its manifest declares).
pub const IMPLEMENTED: &[&str] = &[
    "gaussian_blur",
    "box_blur",
    "median_blur",
    "bilateral_filter",
    "sobel",
    "canny",
    "erode",
    "dilate",
    "morphology",
    "threshold",
    "adaptive_threshold",
    "connected_components",
    "histogram",
    "region_props",
    "convert",
    "normalize",
    "to_gray",
];
