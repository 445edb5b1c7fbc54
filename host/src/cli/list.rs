//! `yam kernels` and `yam modules`.

use clap::Args;
use serde_json::{json, Value};
use yam_plugin_api::{
    catalogue::{ParamDefault, ParamKind, ParamSpec},
    Stage, CATALOGUE,
};

use crate::modules::MODULES;

/// Options of the listing commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Options of `yam kernels`.
#[derive(Debug, Args)]
pub struct KernelsArgs {
    #[command(flatten)]
    list: ListArgs,
    #[command(flatten)]
    plugins: super::PluginArgs,
}

fn kind_text(kind: &ParamKind) -> String {
    match kind {
        ParamKind::Int {
            min,
            max,
            odd: true,
            zero_allowed: true,
        } => format!("odd int in [{min}, {max}] or 0"),
        ParamKind::Int {
            min,
            max,
            odd: true,
            ..
        } => format!("odd int in [{min}, {max}]"),
        ParamKind::Int { min, max, .. } => format!("int in [{min}, {max}]"),
        ParamKind::IntChoice { values } => values
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(" | "),
        ParamKind::Float { min, max } => match (min.abs() >= 1e30, max.abs() >= 1e30) {
            (true, true) => "any number".into(),
            (false, true) => format!("number >= {min}"),
            _ => format!("number in [{min}, {max}]"),
        },
        ParamKind::Bool => "bool".into(),
        ParamKind::Choice { values } => values.join(" | "),
        ParamKind::Range => "[lo, hi)".into(),
    }
}

fn default_text(d: &ParamDefault) -> String {
    match d {
        ParamDefault::Int(i) => i.to_string(),
        ParamDefault::Float(f) => f.to_string(),
        ParamDefault::Bool(b) => b.to_string(),
        ParamDefault::Text(s) => (*s).into(),
        ParamDefault::Range(a, b) => format!("[{a}, {b})"),
        ParamDefault::Dynamic(text) => format!("({text})"),
    }
}

fn param_json(p: &ParamSpec) -> Value {
    json!({
        "name": p.name,
        "kind": p.kind,
        "allowed": kind_text(&p.kind),
        "default": p.default,
        "doc": p.doc,
    })
}

/// `yam kernels`.
pub fn kernels(args: &KernelsArgs) -> anyhow::Result<u8> {
    let backends = args.plugins.gather().backends;
    let implementing = |id: &str| -> Vec<String> {
        backends
            .iter()
            .filter(|b| b.kernel(id).is_some())
            .map(|b| b.name().to_string())
            .collect()
    };
    if args.list.json {
        let list: Vec<Value> = CATALOGUE
            .iter()
            .map(|k| {
                json!({
                    "id": k.id,
                    "stage": k.stage,
                    "schema_version": k.schema_version,
                    "summary": k.summary,
                    "params": k.params.iter().map(param_json).collect::<Vec<_>>(),
                    "dtypes": k.dtypes,
                    "channels": k.channels,
                    "output": k.output,
                    "tolerance": k.tolerance,
                    "backends": implementing(k.id),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    for k in CATALOGUE {
        let dtypes: Vec<&str> = k.dtypes.iter().map(|d| d.name()).collect();
        let channels: Vec<String> = k.channels.iter().map(u32::to_string).collect();
        let on = implementing(k.id);
        let on = if on.is_empty() {
            "none yet".to_string()
        } else {
            on.join(", ")
        };
        println!(
            "{} ({}, schema v{}) — {}",
            k.id,
            k.stage.name(),
            k.schema_version,
            k.summary
        );
        println!(
            "    input: {} x {} channel(s) -> {}",
            dtypes.join("/"),
            channels.join("/"),
            k.output
        );
        println!("    tolerance: {}; backends: {on}", k.tolerance);
        for p in k.params {
            println!(
                "    {:<13} {:<40} default {:<12} {}",
                p.name,
                kind_text(&p.kind),
                default_text(&p.default),
                p.doc
            );
        }
        println!();
    }
    Ok(0)
}

/// `yam modules`.
pub fn modules(args: &ListArgs) -> anyhow::Result<u8> {
    if args.json {
        let by_stage: Vec<Value> = Stage::ALL
            .iter()
            .map(|s| {
                let mods: Vec<&crate::modules::Module> =
                    MODULES.iter().filter(|m| m.stage == *s).collect();
                json!({ "stage": s, "modules": mods })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&by_stage)?);
        return Ok(0);
    }
    for stage in Stage::ALL {
        println!("{}:", stage.name());
        for m in MODULES.iter().filter(|m| m.stage == stage) {
            let c = m.capabilities;
            println!(
                "  {:<11} {:<50} batch={} requires_gpu={} deterministic={}",
                m.name,
                m.kernels.join(", "),
                c.supports_batch,
                c.requires_gpu,
                c.is_deterministic
            );
            println!("  {:<11} {}", "", m.summary);
        }
    }
    Ok(0)
}
