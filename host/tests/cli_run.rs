//! `yam run` end to end: the README's example, reports, batches and backend selection.

mod common;

use common::{json, one_step, scratch, write, yam};
use yam_host::imageio::{read_image, DecodeLimits};
use yam_plugin_api::PixelData;

#[test]
fn readme_example_writes_mask_regions_and_report() {
    let dir = scratch();
    let d = dir.path();
    let out = yam(
        d,
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "out.png",
            "--report",
            "report.json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    let mask = read_image(&d.join("out.png"), &DecodeLimits::default()).unwrap();
    let input = read_image(&d.join("cells.png"), &DecodeLimits::default()).unwrap();
    assert_eq!(
        (mask.width, mask.height, mask.channels),
        (input.width, input.height, 1)
    );
    let PixelData::U8(px) = &mask.data else {
        panic!("mask is not u8")
    };
    assert!(px.iter().all(|&v| v == 0 || v == 255), "mask is not binary");
    let fg = px.iter().filter(|&&v| v == 255).count();
    assert!(
        fg > 1000 && fg < px.len() / 2,
        "implausible foreground: {fg}"
    );

    let report = json(&d.join("report.json"));
    let image = &report["images"][0];
    assert_eq!(image["status"], "ok");
    let steps = image["steps"].as_array().unwrap();
    let kernels: Vec<&str> = steps
        .iter()
        .map(|s| s["kernel"].as_str().unwrap())
        .collect();
    assert_eq!(
        kernels,
        ["gaussian_blur", "threshold", "morphology", "region_props"]
    );
    for s in steps {
        assert_eq!(s["backend"], "cpu");
        assert!(s["device"].as_str().unwrap().starts_with("host CPU"));
        assert!(s["wall_ms"].as_f64().unwrap() >= 0.0);
        assert!(s["fallback_reason"].is_null());
    }
    let t = steps[1]["info"]["otsu_threshold"].as_f64().unwrap();
    assert!(t > 30.0 && t < 200.0, "otsu threshold {t}");
    // One segment on one device: the input and the original (for region_props) go up, one
    // result comes down.
    assert_eq!(image["transfers"]["uploads"], 2);
    assert_eq!(image["transfers"]["downloads"], 1);

    let regions = json(&d.join("out.region_props.json"));
    let regions = regions["regions"].as_array().unwrap();
    assert!(regions.len() >= 10, "{} regions", regions.len());
    let area: u64 = regions.iter().map(|r| r["area"].as_u64().unwrap()).sum();
    assert_eq!(
        area as usize, fg,
        "region areas must add up to the mask's foreground"
    );
    assert_eq!(
        steps[3]["info"]["regions"].as_array().unwrap().len(),
        regions.len()
    );
}

#[test]
fn folder_of_inputs_goes_to_an_output_folder_and_bad_files_do_not_stop_the_rest() {
    let dir = scratch();
    let d = dir.path();
    std::fs::create_dir(d.join("in")).unwrap();
    for name in ["a.png", "b.png"] {
        std::fs::copy(d.join("cells.png"), d.join("in").join(name)).unwrap();
    }
    std::fs::write(d.join("in/c.png"), b"not a png at all").unwrap();
    std::fs::write(d.join("in/notes.txt"), b"ignored").unwrap();
    let out = yam(
        d,
        &["run", "cells.json", "in", "-o", "out", "--report", "r.json"],
    );
    assert_eq!(
        out.code, 2,
        "a corrupt input is an input error: {}",
        out.stderr
    );
    assert!(out.stderr.contains("c.png"), "{}", out.stderr);
    assert!(d.join("out/a.png").exists() && d.join("out/b.png").exists());
    assert!(!d.join("out/c.png").exists());
    assert!(d.join("out/a.region_props.json").exists());
    let r = json(&d.join("r.json"));
    assert_eq!(
        (r["succeeded"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(r["images"][2]["status"], "failed");
}

#[test]
fn several_inputs_with_a_format_override() {
    let dir = scratch();
    let d = dir.path();
    std::fs::copy(d.join("cells.png"), d.join("second.png")).unwrap();
    let p = one_step(d, "blur.json", "gaussian_blur", r#"{"ksize": 3}"#);
    let out = yam(
        d,
        &[
            "run",
            &p,
            "cells.png",
            "second.png",
            "-o",
            "res",
            "--format",
            "npy",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let a = read_image(&d.join("res/cells.npy"), &DecodeLimits::default()).unwrap();
    let b = read_image(&d.join("res/second.npy"), &DecodeLimits::default()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn requested_backend_that_is_not_installed_is_a_reported_fallback() {
    let dir = scratch();
    let d = dir.path();
    let args = [
        "run",
        "cells.json",
        "cells.png",
        "-o",
        "o.png",
        "--report",
        "r.json",
        "--backend",
        "cuda,cpu",
    ];
    let out = yam(d, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = json(&d.join("r.json"));
    for s in r["images"][0]["steps"].as_array().unwrap() {
        assert_eq!(s["backend"], "cpu");
        assert_eq!(s["fallback_reason"], "cuda: no cuda backend is installed");
    }
}

#[test]
fn strict_turns_a_fallback_into_a_run_failure_and_writes_nothing() {
    let dir = scratch();
    let d = dir.path();
    let out = yam(
        d,
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "o.png",
            "--backend",
            "cuda,cpu",
            "--strict",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("--strict") && out.stderr.contains("cuda"),
        "{}",
        out.stderr
    );
    assert!(!d.join("o.png").exists());
}

#[test]
fn requires_gpu_without_a_gpu_runs_on_cpu_with_a_warning_and_reason() {
    let dir = scratch();
    let d = dir.path();
    let p = write(
        d,
        "gpu.json",
        r#"{"steps":[{"name":"gaussian_blur","execution":{"requires_gpu":true}}]}"#,
    );
    let out = yam(
        d,
        &["run", &p, "cells.png", "-o", "o.png", "--report", "r.json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("module `blur` has requires_gpu = false"),
        "{}",
        out.stderr
    );
    let r = json(&d.join("r.json"));
    assert_eq!(r["warnings"].as_array().unwrap().len(), 1);
    let reason = r["images"][0]["steps"][0]["fallback_reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("requires a GPU"), "{reason}");
}

#[test]
fn label_output_needs_a_format_that_holds_i32() {
    let dir = scratch();
    let d = dir.path();
    let p = write(
        d,
        "cc.json",
        r#"{"steps":[{"name":"threshold","params":{"otsu":true}},{"name":"connected_components"}]}"#,
    );
    let out = yam(d, &["run", &p, "cells.png", "-o", "labels.png"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("i32") && out.stderr.contains(".npy"),
        "{}",
        out.stderr
    );
    assert!(!d.join("labels.png").exists());
    let out = yam(
        d,
        &[
            "run",
            &p,
            "cells.png",
            "-o",
            "labels.npy",
            "--report",
            "r.json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let labels = read_image(&d.join("labels.npy"), &DecodeLimits::default()).unwrap();
    let PixelData::I32(v) = labels.data else {
        panic!("labels are not i32")
    };
    let max = *v.iter().max().unwrap();
    let r = json(&d.join("r.json"));
    assert_eq!(
        r["images"][0]["steps"][1]["info"]["labels"].as_i64(),
        Some(i64::from(max) + 1)
    );
}
