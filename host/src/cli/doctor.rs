//! `yam doctor`: what this machine offers yam, and where each kernel would run and why.

use serde_json::{json, Value};
use yam_plugin_api::CATALOGUE;

use super::PluginArgs;
use crate::run::Engine;

/// Runtime libraries yam's GPU plugins use, probed by dlopen (first name that opens wins).
const RUNTIMES: &[(&str, &[&str])] = &[
    ("CUDA driver", &["libcuda.so.1", "libcuda.so"]),
    (
        "NVRTC",
        &["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"],
    ),
    (
        "ROCm/HIP",
        &["libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"],
    ),
    ("OpenCL ICD loader", &["libOpenCL.so.1", "libOpenCL.so"]),
];

fn probe_runtime(names: &[&str]) -> (bool, String) {
    let mut last = String::new();
    for name in names {
        // SAFETY: opening a system library runs its initialisers; these are the vendors'
        // runtime libraries that the plugins themselves would load.
        match unsafe { libloading::Library::new(name) } {
            Ok(_) => return (true, format!("{name} loaded")),
            Err(e) => last = format!("{e:?}"),
        }
    }
    let _ = last;
    (
        false,
        format!("none of {} could be opened", names.join(", ")),
    )
}

fn opencl_icds() -> Vec<String> {
    let mut icds: Vec<String> = std::fs::read_dir("/etc/OpenCL/vendors")
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    icds.sort();
    icds
}

/// Runs `yam doctor`.
pub fn run(plugins: &PluginArgs, as_json: bool) -> anyhow::Result<u8> {
    let available = plugins.gather();
    let runtimes: Vec<Value> = RUNTIMES
        .iter()
        .map(|(what, names)| {
            // The CUDA plugin opens the NVRTC that YAM_NVRTC names before its own search.
            let nvrtc_env = std::env::var("YAM_NVRTC").ok().filter(|p| !p.is_empty());
            let (found, detail) = match (*what, nvrtc_env) {
                ("NVRTC", Some(path)) => {
                    let (found, detail) = probe_runtime(&[path.as_str()]);
                    (found, format!("{detail} (YAM_NVRTC)"))
                }
                _ => probe_runtime(names),
            };
            json!({"runtime": what, "found": found, "detail": detail})
        })
        .collect();
    let icds = opencl_icds();
    let devices: Vec<Value> = available
        .backends
        .iter()
        .flat_map(|b| {
            b.facts.devices.iter().map(move |d| json!({"backend": b.name(), "index": d.index, "name": d.name, "memory_bytes": d.memory_bytes}))
        })
        .collect();
    let order: Vec<&crate::backends::Backend> = available.backends.iter().collect();
    let missing: Vec<String> = available
        .not_ready()
        .into_iter()
        .map(|(_, _, l)| l)
        .collect();
    let engine = Engine::new(order, false).with_missing(missing);
    let placements: Vec<Value> = CATALOGUE
        .iter()
        .map(|k| {
            let dtype = k.dtypes[0];
            let channels = k.channels[0] as usize;
            match engine.placement(k.id, dtype, channels) {
                Ok((backend, why)) => json!({"kernel": k.id, "input": format!("{dtype} x{channels}"), "backend": backend, "passed_over": why}),
                Err(why) => json!({"kernel": k.id, "input": format!("{dtype} x{channels}"), "backend": null, "passed_over": why}),
            }
        })
        .collect();
    let plugins_json: Vec<Value> = available
        .discovery
        .plugins
        .iter()
        .map(|p| json!({"name": p.name, "status": p.status.name(), "reason": p.reason, "library": p.library}))
        .collect();
    if as_json {
        let v = json!({
            "runtimes": runtimes,
            "opencl_icds": icds,
            "search_path": available.discovery.dirs,
            "plugins": plugins_json,
            "devices": devices,
            "kernels": placements,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!("runtimes:");
    for r in &runtimes {
        let mark = if r["found"] == true {
            "found  "
        } else {
            "missing"
        };
        println!(
            "  {mark} {:<18} {}",
            r["runtime"].as_str().unwrap_or(""),
            r["detail"].as_str().unwrap_or("")
        );
    }
    println!(
        "  OpenCL ICDs: {}",
        if icds.is_empty() {
            "none in /etc/OpenCL/vendors".into()
        } else {
            icds.join(", ")
        }
    );
    println!("plugin search path:");
    for d in &available.discovery.dirs {
        let exists = if d.path.is_dir() { "" } else { " (absent)" };
        println!("  {} [{}]{exists}", d.path.display(), d.origin);
    }
    println!("plugins:");
    if available.discovery.plugins.is_empty() {
        println!("  none found");
    }
    for p in &available.discovery.plugins {
        println!(
            "  {:<14} {:<11} {}",
            p.name,
            p.status.name(),
            p.reason.as_deref().unwrap_or("")
        );
    }
    println!("devices:");
    for d in &devices {
        println!(
            "  {:<12} [{}] {}",
            d["backend"].as_str().unwrap_or(""),
            d["index"],
            d["name"].as_str().unwrap_or("")
        );
    }
    println!("kernel placement (first dtype and channel count of each kernel):");
    for p in &placements {
        let on = p["backend"].as_str().unwrap_or("nowhere");
        let why = p["passed_over"]
            .as_str()
            .map(|w| format!("  ({w})"))
            .unwrap_or_default();
        println!(
            "  {:<22} {:<7} -> {on}{why}",
            p["kernel"].as_str().unwrap_or(""),
            p["input"].as_str().unwrap_or("")
        );
    }
    Ok(0)
}
