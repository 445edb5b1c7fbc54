//! The JSON run report: where each step ran, how long it took, and every fallback.

use serde::Serialize;
use serde_json::{Map, Value};

/// One executed step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// 0-based position in the pipeline file.
    pub index: usize,
    /// Step name.
    pub name: String,
    /// Kernel id.
    pub kernel: String,
    /// Module.
    pub module: String,
    /// Backend that produced the result.
    pub backend: String,
    /// Device that produced the result.
    pub device: String,
    /// Wall time of the step on that backend, ms (device work may be asynchronous: the
    /// segment's total includes the final synchronisation).
    pub wall_ms: f64,
    /// Why the step did not run on the preferred backend; `None` when it did.
    pub fallback_reason: Option<String>,
    /// Values the kernel reported (Otsu threshold, label count, histogram, regions).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub info: Map<String, Value>,
}

/// Host↔device copies of one image's run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Transfers {
    /// Host → device copies.
    pub uploads: u32,
    /// Device → host copies.
    pub downloads: u32,
}

/// The run of one input image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    /// Input path.
    pub input: String,
    /// Output path (absent when the run failed).
    pub output: Option<String>,
    /// JSON files written for analysis steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub analysis_outputs: Vec<String>,
    /// `ok` or `failed`.
    pub status: String,
    /// The error, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Input description (`509x383 u8 x1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Executed steps in order.
    pub steps: Vec<StepReport>,
    /// Copies between host and devices.
    pub transfers: Transfers,
    /// Wall time of the pipeline for this image (decode and encode excluded), ms.
    pub pipeline_ms: f64,
    /// Wall time including reading and writing files, ms.
    pub total_ms: f64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// yam version.
    pub yam_version: String,
    /// Pipeline file.
    pub pipeline: String,
    /// Backend preference order used.
    pub backend_order: Vec<String>,
    /// Fallbacks were errors.
    pub strict: bool,
    /// Validation warnings (capability mismatches).
    pub warnings: Vec<String>,
    /// One entry per input.
    pub images: Vec<ImageReport>,
    /// Images that succeeded / failed.
    pub succeeded: usize,
    /// Images that failed.
    pub failed: usize,
    /// Wall time of the whole run, ms.
    pub total_ms: f64,
}
