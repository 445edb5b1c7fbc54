//! Checks a pipeline against the catalogue and the modules before anything runs.

use yam_plugin_api::{kernel, KernelSpec, ParamSet, ParamValue, StepExecutionMetadata};

use crate::{modules::module_of, modules::Module, pipeline::PipelineManager};

/// A step ready to plan: enabled, known kernel, parameters validated with defaults filled in.
#[derive(Debug, Clone)]
pub struct ValidStep {
    /// 0-based position in the pipeline file (disabled steps count).
    pub index: usize,
    /// Name as written (the kernel id).
    pub name: String,
    /// The catalogue entry.
    pub spec: &'static KernelSpec,
    /// The module it belongs to.
    pub module: &'static Module,
    /// Validated parameters.
    pub params: ParamSet,
    /// The step's execution metadata.
    pub execution: StepExecutionMetadata,
}

/// A step that cannot run; the message names the step and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("step {index} `{name}`: {message}")]
pub struct StepError {
    /// 0-based position.
    pub index: usize,
    /// Name as written.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

/// The validation result: runnable steps and warnings (capability mismatches).
#[derive(Debug, Clone, Default)]
pub struct Validated {
    /// Enabled steps in order.
    pub steps: Vec<ValidStep>,
    /// Human-readable warnings, each naming the step and module.
    pub warnings: Vec<String>,
}

/// Validates every step; returns the first error (in pipeline order).
pub fn validate(pipeline: &PipelineManager) -> Result<Validated, StepError> {
    let mut out = Validated::default();
    for (index, step) in pipeline.steps().iter().enumerate() {
        let err = |message: String| StepError {
            index,
            name: step.name.clone(),
            message,
        };
        let Some(spec) = kernel(&step.name) else {
            return Err(err(unknown_kernel_message(&step.name)));
        };
        let module = module_of(spec.id).expect("every catalogue kernel has a module");
        let mut given = Vec::with_capacity(step.params.len());
        for (name, value) in &step.params {
            let v = ParamValue::from_json(value).ok_or_else(|| {
                err(format!("parameter `{name}` = {value}: expected a number, true/false, a name or a list of numbers"))
            })?;
            given.push((name.as_str(), v));
        }
        let params = spec.resolve(given).map_err(|e| err(e.to_string()))?;
        if module.capabilities.requires_gpu != step.execution.requires_gpu {
            out.warnings.push(requires_gpu_warning(
                index,
                &step.name,
                module,
                step.execution,
            ));
        }
        if !step.enabled {
            continue;
        }
        out.steps.push(ValidStep {
            index,
            name: step.name.clone(),
            spec,
            module,
            params,
            execution: step.execution,
        });
    }
    Ok(out)
}

/// The validation hook of `yam_processor`: a module's `requires_gpu` must be mirrored by each of
/// its steps' execution metadata.
fn requires_gpu_warning(
    index: usize,
    name: &str,
    module: &Module,
    ex: StepExecutionMetadata,
) -> String {
    format!(
        "step {index} `{name}`: module `{}` has requires_gpu = {}, but the step's execution.requires_gpu = {}; \
         set \"execution\": {{\"requires_gpu\": {}}} to mirror the module",
        module.name, module.capabilities.requires_gpu, ex.requires_gpu, module.capabilities.requires_gpu
    )
}

fn unknown_kernel_message(name: &str) -> String {
    let ids: Vec<&str> = yam_plugin_api::CATALOGUE.iter().map(|k| k.id).collect();
    let close = ids
        .iter()
        .copied()
        .min_by_key(|id| edit_distance(id, name))
        .filter(|id| edit_distance(id, name) <= 3);
    let hint = close
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    format!(
        "unknown step name{hint}; expected one of: {} (see `yam kernels`)",
        ids.join(", ")
    )
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::PipelineStep;

    fn pipeline(steps: Vec<PipelineStep>) -> PipelineManager {
        let mut p = PipelineManager::new();
        steps.into_iter().for_each(|s| p.add(s));
        p
    }

    #[test]
    fn unknown_step_suggests_the_closest_kernel() {
        let e = validate(&pipeline(vec![PipelineStep::new("gausian_blur")])).unwrap_err();
        assert_eq!(e.index, 0);
        assert!(
            e.to_string().contains("did you mean `gaussian_blur`"),
            "{e}"
        );
    }

    #[test]
    fn out_of_range_parameters_name_step_and_parameter() {
        let p = pipeline(vec![
            PipelineStep::new("gaussian_blur"),
            PipelineStep::new("median_blur").with("ksize", 4),
        ]);
        let e = validate(&p).unwrap_err().to_string();
        assert!(
            e.starts_with("step 1 `median_blur`: parameter `ksize` = 4: expected an odd integer"),
            "{e}"
        );
        let p = pipeline(vec![PipelineStep::new("gaussian_blur").with("sigma", -2.0)]);
        assert!(validate(&p)
            .unwrap_err()
            .to_string()
            .contains("`sigma` = -2"));
        let p = pipeline(vec![
            PipelineStep::new("threshold").with("type", serde_json::json!({"a": 1}))
        ]);
        assert!(validate(&p).unwrap_err().to_string().contains("`type`"));
    }

    #[test]
    fn defaults_are_filled_and_disabled_steps_skipped() {
        let mut p = pipeline(vec![
            PipelineStep::new("erode"),
            PipelineStep::new("dilate"),
        ]);
        p.set_enabled(0, false).unwrap();
        let v = validate(&p).unwrap();
        assert_eq!(v.steps.len(), 1);
        assert_eq!(v.steps[0].index, 1);
        assert_eq!(v.steps[0].params.get("ksize"), Some(&ParamValue::Int(3)));
    }

    #[test]
    fn requires_gpu_mismatch_warns_with_step_and_module() {
        let mut gpu_step = PipelineStep::new("gaussian_blur");
        gpu_step.execution.requires_gpu = true;
        let p = pipeline(vec![
            gpu_step,
            PipelineStep::new("bilateral_filter"),
            PipelineStep::new("erode"),
        ]);
        let v = validate(&p).unwrap();
        assert_eq!(v.warnings.len(), 2, "{:?}", v.warnings);
        assert!(v.warnings[0]
            .contains("step 0 `gaussian_blur`: module `blur` has requires_gpu = false"));
        assert!(v.warnings[1]
            .contains("step 1 `bilateral_filter`: module `denoise` has requires_gpu = true"));
    }
}
