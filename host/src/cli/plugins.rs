//! `yam plugins list | info | scan`.

use clap::Subcommand;
use serde_json::{json, Value};

use super::{PluginArgs, EXIT_USAGE};
use crate::plugins::registry::{Discovery, PluginRecord, Status};

/// What `yam plugins` can do.
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every plugin found: name, version, kind, api version, path, status and why.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// One plugin's declared kernels and devices.
    Info {
        /// Plugin name (see `yam plugins list`).
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Rescan plugins whose files changed (or all of them with --force) and update the cache.
    Scan {
        /// Rescan every plugin, ignoring the cache (lifts quarantines of unchanged files).
        #[arg(long)]
        force: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        plugins: PluginArgs,
    },
}

fn record_json(p: &PluginRecord) -> Value {
    let mut v = serde_json::to_value(p).expect("plain data");
    v["status"] = json!(p.status.name());
    v
}

fn since(secs: u64) -> String {
    let days = secs / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn print_list(d: &Discovery) {
    if d.plugins.is_empty() {
        println!("no plugins found. Searched:");
        for dir in &d.dirs {
            println!("  {} ({})", dir.path.display(), dir.origin);
        }
        println!("The built-in cpu backend is always available.");
        return;
    }
    println!(
        "{:<14} {:<9} {:<8} {:<5} {:<12} path",
        "name", "version", "kind", "api", "status"
    );
    for p in &d.plugins {
        let path = p.library.as_ref().unwrap_or(&p.manifest);
        println!(
            "{:<14} {:<9} {:<8} {:<5} {:<12} {}",
            p.name,
            p.version.as_deref().unwrap_or("-"),
            p.backend.as_deref().unwrap_or("-"),
            p.api_version.as_deref().unwrap_or("-"),
            p.status.name(),
            path.display()
        );
        if let Some(reason) = &p.reason {
            let when = if p.status == Status::Quarantined {
                format!(" (since {})", since(p.since))
            } else {
                String::new()
            };
            println!("    {}{when}: {reason}", p.status.name());
        }
    }
    println!("\nbuilt-in: cpu (always available)");
}

/// Runs a `yam plugins` command.
pub fn run(cmd: PluginsCommand) -> anyhow::Result<u8> {
    match cmd {
        PluginsCommand::List { json, plugins } => {
            let d = plugins.discover(false);
            if json {
                let v = json!({
                    "search_path": d.dirs,
                    "cache": d.cache_path,
                    "plugins": d.plugins.iter().map(record_json).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_list(&d);
            }
            Ok(0)
        }
        PluginsCommand::Scan {
            force,
            json,
            plugins,
        } => {
            let d = plugins.discover(force);
            if json {
                let v: Vec<Value> = d.plugins.iter().map(record_json).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_list(&d);
                println!("cache: {}", d.cache_path.display());
            }
            Ok(0)
        }
        PluginsCommand::Info {
            name,
            json,
            plugins,
        } => {
            let d = plugins.discover(false);
            let Some(p) = d.plugins.iter().find(|p| p.name == name) else {
                let names: Vec<&str> = d.plugins.iter().map(|p| p.name.as_str()).collect();
                eprintln!(
                    "error: no plugin named {name:?}; found: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                );
                return Ok(EXIT_USAGE);
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&record_json(p))?);
                return Ok(0);
            }
            println!(
                "{} {} ({} backend)",
                p.name,
                p.version.as_deref().unwrap_or("?"),
                p.backend.as_deref().unwrap_or("?")
            );
            println!("  manifest: {}", p.manifest.display());
            if let Some(l) = &p.library {
                println!("  library:  {}", l.display());
            }
            println!(
                "  status:   {}{}",
                p.status.name(),
                p.reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            if let Some(m) = &p.manifest_data {
                println!(
                    "  vendor:   {}; api {}; deterministic: {}",
                    m.vendor, m.api_version, m.deterministic
                );
                println!("  declared kernels:");
                for k in &m.kernels {
                    let dtypes: Vec<&str> = k.dtypes.iter().map(|d| d.name()).collect();
                    let limit = if k.max_pixels == 0 {
                        "no size limit".to_string()
                    } else {
                        format!("<= {} px", k.max_pixels)
                    };
                    println!(
                        "    {:<22} {:<12} channels {:?}, {limit}{}",
                        k.id,
                        dtypes.join("/"),
                        k.channels,
                        if k.supports_inplace { ", in place" } else { "" }
                    );
                }
            }
            match &p.facts {
                Some(f) if !f.devices.is_empty() => {
                    println!("  devices:");
                    for dev in &f.devices {
                        println!(
                            "    [{}] {} ({} MiB)",
                            dev.index,
                            dev.name,
                            dev.memory_bytes >> 20
                        );
                    }
                }
                Some(f) => println!(
                    "  devices:  none ({})",
                    f.unavailable.as_deref().unwrap_or("no reason given")
                ),
                None => println!("  devices:  unknown (not scanned)"),
            }
            Ok(0)
        }
    }
}
