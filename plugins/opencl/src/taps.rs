//! Host-side kernel construction, identical to the CPU backend's (same integer math, same
//! floating-point operation order), so device results are bit-exact with it. It all lives in
//! `yam_plugin_api::exact`, shared with the CUDA backend; tests compare it with `yam_cpu`'s.

pub use yam_plugin_api::exact::{
    deriv_kernel, element_runs, gaussian_kernel, gaussian_kernel_f32, gaussian_kernel_fixed,
    gaussian_sizes, otsu_threshold, u8_div_constants, Axis,
};
