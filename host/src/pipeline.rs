//! Pipelines: ordered steps, loaded from and saved to the JSON shape `yam_processor` wrote:
//! `{"steps": [{"name", "enabled", "params", "execution": {"supports_inplace", "requires_gpu"}}]}`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use yam_plugin_api::StepExecutionMetadata;

/// One step: a module (kernel) name, its parameters and how it may be executed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineStep {
    /// Kernel id (`gaussian_blur`, `threshold`, ...).
    pub name: String,
    /// Disabled steps are kept in the file but skipped.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Parameters as written; validated against the catalogue before running.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Execution metadata.
    #[serde(default)]
    pub execution: StepExecutionMetadata,
}

fn enabled_by_default() -> bool {
    true
}

impl PipelineStep {
    /// An enabled step with no parameters (all defaults).
    pub fn new(name: &str) -> PipelineStep {
        PipelineStep {
            name: name.to_string(),
            enabled: true,
            params: Map::new(),
            execution: StepExecutionMetadata::default(),
        }
    }

    /// Builder: sets a parameter.
    pub fn with(mut self, param: &str, value: impl Into<Value>) -> PipelineStep {
        self.params.insert(param.to_string(), value.into());
        self
    }
}

/// Why a pipeline could not be loaded, saved or edited.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not JSON, or not the pipeline shape.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// An index past the end of the steps.
    #[error("step index {index} is out of range: the pipeline has {len} steps")]
    Index {
        /// The index given.
        index: usize,
        /// Number of steps.
        len: usize,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    steps: Vec<PipelineStep>,
}

/// An ordered list of steps with the editing operations of `yam_processor`'s PipelineManager.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineManager {
    steps: Vec<PipelineStep>,
}

impl PipelineManager {
    /// An empty pipeline.
    pub fn new() -> PipelineManager {
        PipelineManager::default()
    }

    /// The steps in order.
    pub fn steps(&self) -> &[PipelineStep] {
        &self.steps
    }

    /// Appends a step.
    pub fn add(&mut self, step: PipelineStep) {
        self.steps.push(step);
    }

    /// Inserts a step at `index` (0 = first; `len` = append).
    pub fn insert(&mut self, index: usize, step: PipelineStep) -> Result<(), PipelineError> {
        self.check(index, self.steps.len() + 1)?;
        self.steps.insert(index, step);
        Ok(())
    }

    /// Removes and returns the step at `index`.
    pub fn remove(&mut self, index: usize) -> Result<PipelineStep, PipelineError> {
        self.check(index, self.steps.len())?;
        Ok(self.steps.remove(index))
    }

    /// Moves the step at `from` so that it ends up at index `to`.
    pub fn move_step(&mut self, from: usize, to: usize) -> Result<(), PipelineError> {
        self.check(from, self.steps.len())?;
        self.check(to, self.steps.len())?;
        let step = self.steps.remove(from);
        self.steps.insert(to, step);
        Ok(())
    }

    /// Enables or disables the step at `index`.
    pub fn set_enabled(&mut self, index: usize, enabled: bool) -> Result<(), PipelineError> {
        self.check(index, self.steps.len())?;
        self.steps[index].enabled = enabled;
        Ok(())
    }

    fn check(&self, index: usize, bound: usize) -> Result<(), PipelineError> {
        if index < bound {
            Ok(())
        } else {
            Err(PipelineError::Index {
                index,
                len: self.steps.len(),
            })
        }
    }

    /// Parses pipeline JSON; `path` only names the source in errors.
    pub fn from_json_str(text: &str, path: &Path) -> Result<PipelineManager, PipelineError> {
        let file: PipelineFile = serde_json::from_str(text).map_err(|e| PipelineError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: describe_serde_error(&e),
        })?;
        Ok(PipelineManager { steps: file.steps })
    }

    /// Loads a pipeline file.
    pub fn load(path: &Path) -> Result<PipelineManager, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        PipelineManager::from_json_str(&text, path)
    }

    /// The pipeline as JSON text (pretty, trailing newline).
    pub fn to_json_string(&self) -> String {
        let file = PipelineFile {
            steps: self.steps.clone(),
        };
        let mut s = serde_json::to_string_pretty(&file).expect("pipeline values are plain JSON");
        s.push('\n');
        s
    }

    /// Saves the pipeline atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), PipelineError> {
        let io = |source| PipelineError::Io {
            path: path.to_path_buf(),
            source,
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, self.to_json_string().as_bytes()).map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

fn describe_serde_error(e: &serde_json::Error) -> String {
    // serde appends " at line L column C"; the position is already in front of the message.
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("malformed JSON: {text}")
        }
        _ => format!(
            "{text} (expected {{\"steps\": [{{\"name\", \"enabled\", \"params\", \"execution\"}}]}})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTHON_SHAPE: &str = r#"{
      "steps": [
        {"name": "gaussian_blur", "enabled": true, "params": {"ksize": 5, "sigma": 1.5},
         "execution": {"supports_inplace": false, "requires_gpu": false}},
        {"name": "threshold", "enabled": false, "params": {"otsu": true},
         "execution": {"supports_inplace": true, "requires_gpu": true}}
      ]
    }"#;

    #[test]
    fn python_app_shape_loads() {
        let p = PipelineManager::from_json_str(PYTHON_SHAPE, Path::new("p.json")).unwrap();
        assert_eq!(p.steps().len(), 2);
        assert_eq!(p.steps()[0].params["ksize"], 5);
        assert!(!p.steps()[1].enabled);
        assert!(p.steps()[1].execution.requires_gpu && p.steps()[1].execution.supports_inplace);
    }

    #[test]
    fn missing_optional_fields_take_defaults() {
        let p = PipelineManager::from_json_str(r#"{"steps":[{"name":"erode"}]}"#, Path::new("x"))
            .unwrap();
        assert_eq!(p.steps()[0], PipelineStep::new("erode"));
    }

    #[test]
    fn saved_pipeline_loads_back_equal() {
        let mut p = PipelineManager::new();
        p.add(
            PipelineStep::new("gaussian_blur")
                .with("ksize", 7)
                .with("sigma", 2.25),
        );
        p.add(
            PipelineStep::new("threshold")
                .with("otsu", true)
                .with("type", "binary_inv"),
        );
        p.add(PipelineStep::new("morphology").with("op", "open"));
        p.set_enabled(1, false).unwrap();
        p.move_step(2, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saved.json");
        p.save(&path).unwrap();
        assert_eq!(PipelineManager::load(&path).unwrap(), p);
        assert_eq!(p.steps()[0].name, "morphology");
    }

    #[test]
    fn editing_operations_check_indices() {
        let mut p = PipelineManager::new();
        p.add(PipelineStep::new("a"));
        p.add(PipelineStep::new("b"));
        p.insert(1, PipelineStep::new("c")).unwrap();
        let names: Vec<_> = p.steps().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "b"]);
        assert_eq!(p.remove(0).unwrap().name, "a");
        assert!(matches!(
            p.remove(5),
            Err(PipelineError::Index { index: 5, len: 2 })
        ));
        assert!(p.move_step(0, 2).is_err());
        assert!(p.set_enabled(2, true).is_err());
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let text = "{\n  \"steps\": [\n    {\"name\": \"erode\",}\n  ]\n}";
        let e = PipelineManager::from_json_str(text, Path::new("bad.json")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("bad.json:3:22: malformed JSON"), "{msg}");
    }

    #[test]
    fn wrong_shape_says_what_was_expected() {
        let e =
            PipelineManager::from_json_str(r#"{"stepz": []}"#, Path::new("p.json")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("unknown field `stepz`") && msg.contains("expected {\"steps\""),
            "{msg}"
        );
        let e = PipelineManager::from_json_str(r#"{"steps": [{"enabled": true}]}"#, Path::new("p"))
            .unwrap_err();
        assert!(e.to_string().contains("missing field `name`"), "{e}");
    }
}
