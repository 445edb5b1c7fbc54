//! The yam host library: pipelines, modules, validation, backends, planning, execution, I/O.

pub mod abi;
pub mod backends;
pub mod cli;
pub mod conformance;
pub mod huge_alloc;
pub mod imageio;
pub mod modules;
pub mod pipeline;
pub mod plugins;
pub mod report;
pub mod run;
pub mod validate;
