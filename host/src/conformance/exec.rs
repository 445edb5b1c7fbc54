//! Running one kernel call on an executor: upload, execute, download, free.

use abi_stable::std_types::{ROption, RSlice};
use serde_json::{Map, Value};
use yam_plugin_api::{
    kernels::KernelOutput, ExecutorBox, Image, KernelCall, KernelSpec, ParamSet, PluginError,
    StepCall, TensorDesc,
};

use crate::run::{download, parse_info, upload};

/// What one call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Produced {
    /// The output image (`None` for analysis kernels).
    pub image: Option<Image>,
    /// The report values.
    pub info: Map<String, Value>,
}

/// A step call for `spec` with `params`.
pub fn step_call(spec: &KernelSpec, params: &ParamSet) -> StepCall {
    StepCall {
        name: format!("conformance {}", spec.id).into(),
        kernel: spec.id.into(),
        schema_version: spec.schema_version,
        params: params.clone(),
        metadata: Default::default(),
    }
}

/// The output descriptor of a call, if it produces an image.
pub fn output_desc(spec: &KernelSpec, params: &ParamSet, input: &TensorDesc) -> Option<TensorDesc> {
    let dtype = input.dtype()?;
    let call = KernelCall::parse(spec.id, params, dtype)?.ok()?;
    match call.output(input) {
        KernelOutput::Image(d) => Some(d),
        KernelOutput::Json => None,
    }
}

/// Runs one call with fresh buffers, freeing them whatever happens.
pub fn run_once(
    ex: &mut ExecutorBox,
    spec: &KernelSpec,
    params: &ParamSet,
    input: &Image,
) -> Result<Produced, PluginError> {
    let mut live = Vec::new();
    let result = (|| {
        let src = upload(ex, input, &mut live)?;
        // No second (intensity) input: region_props then reports counts and geometry only.
        let inputs = vec![src];
        let out_desc = output_desc(spec, params, &input.desc());
        let out = match out_desc {
            Some(d) => {
                let h = ex.allocate(d).into_result()?;
                live.push(h);
                Some((h, d))
            }
            None => None,
        };
        let outcome = ex
            .execute(
                &step_call(spec, params),
                RSlice::from_slice(&inputs),
                out.map(|o| o.0).into(),
            )
            .into_result()?;
        ex.synchronize().into_result()?;
        let image = match out {
            Some((h, d)) => Some(download(ex, h, d)?),
            None => None,
        };
        Ok(Produced {
            image,
            info: parse_info(&outcome.info_json)?,
        })
    })();
    for h in live {
        let _ = ex.free(h);
    }
    result
}

/// Shorthand for an absent output.
pub fn no_output() -> ROption<yam_plugin_api::BufferHandle> {
    ROption::RNone
}
