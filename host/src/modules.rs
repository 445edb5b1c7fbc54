//! Modules: named families of catalogue kernels, by stage, with their capabilities
//! (`yam_processor`'s module registry).

use serde::Serialize;
use yam_plugin_api::{ModuleCapabilities, Stage};

/// A module: a family of kernels with shared capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Module {
    /// Module name.
    pub name: &'static str,
    /// Stage it belongs to.
    pub stage: Stage,
    /// Catalogue kernels it provides (step names).
    pub kernels: &'static [&'static str],
    /// Capabilities; `requires_gpu` must be mirrored by the steps' execution metadata.
    pub capabilities: ModuleCapabilities,
    /// One line for `yam modules`.
    pub summary: &'static str,
}

const PLAIN: ModuleCapabilities = ModuleCapabilities {
    supports_batch: true,
    requires_gpu: false,
    is_deterministic: true,
};

/// Every module, in stage order.
pub static MODULES: &[Module] = &[
    Module {
        name: "blur",
        stage: Stage::Preprocessing,
        kernels: &["gaussian_blur", "box_blur", "median_blur"],
        capabilities: PLAIN,
        summary: "smoothing and noise removal",
    },
    Module {
        name: "denoise",
        stage: Stage::Preprocessing,
        kernels: &["bilateral_filter"],
        // Edge-preserving denoising is ~100x a Gaussian's cost: the module asks for a GPU.
        capabilities: ModuleCapabilities {
            requires_gpu: true,
            ..PLAIN
        },
        summary: "edge-preserving denoising",
    },
    Module {
        name: "morphology",
        stage: Stage::Preprocessing,
        kernels: &["erode", "dilate", "morphology"],
        capabilities: PLAIN,
        summary: "grey-level morphology",
    },
    Module {
        name: "edges",
        stage: Stage::Preprocessing,
        kernels: &["sobel"],
        capabilities: PLAIN,
        summary: "derivatives",
    },
    Module {
        name: "convert",
        stage: Stage::Preprocessing,
        kernels: &["convert", "normalize", "to_gray"],
        capabilities: PLAIN,
        summary: "dtype, range and colour conversions",
    },
    Module {
        name: "threshold",
        stage: Stage::Segmentation,
        kernels: &["threshold", "adaptive_threshold", "canny"],
        capabilities: PLAIN,
        summary: "binary masks from grey levels and edges",
    },
    Module {
        name: "labeling",
        stage: Stage::Segmentation,
        kernels: &["connected_components"],
        capabilities: PLAIN,
        summary: "connected-component labels",
    },
    Module {
        name: "measure",
        stage: Stage::Analysis,
        kernels: &["histogram", "region_props"],
        capabilities: ModuleCapabilities {
            supports_batch: false,
            ..PLAIN
        },
        summary: "statistics written as JSON",
    },
];

/// The module providing kernel `id`.
pub fn module_of(id: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.kernels.contains(&id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_kernel_has_exactly_one_module_of_its_stage() {
        for k in yam_plugin_api::CATALOGUE {
            let owners: Vec<_> = MODULES
                .iter()
                .filter(|m| m.kernels.contains(&k.id))
                .collect();
            assert_eq!(owners.len(), 1, "{}", k.id);
            assert_eq!(owners[0].stage, k.stage, "{}", k.id);
        }
        for m in MODULES {
            for id in m.kernels {
                assert!(
                    yam_plugin_api::kernel(id).is_some(),
                    "{} lists unknown {id}",
                    m.name
                );
            }
        }
    }
}
