//! `yam bench`: timings of a kernel and of a pipeline, and its input errors.

mod common;

use std::path::Path;

use common::{scratch, write, yam};

/// `yam bench --image cells.png <args> --json` in `dir`: exits 0, prints JSON.
fn bench_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bench", "--image", "cells.png", "--json"];
    all.extend_from_slice(args);
    let out = yam(dir, &all);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn kernel_bench_reports_statistics_and_a_memory_copy_baseline() {
    let dir = scratch();
    let v = bench_json(
        dir.path(),
        &[
            "--kernel",
            "gaussian_blur",
            "--params",
            r#"{"ksize":7}"#,
            "--repeat",
            "3",
        ],
    );
    assert_eq!(v["backend"], "cpu");
    assert_eq!(v["input"], "256x192 u8 x1");
    let t = &v["time"];
    let (min, med, max) = (
        t["min_ms"].as_f64().unwrap(),
        t["median_ms"].as_f64().unwrap(),
        t["max_ms"].as_f64().unwrap(),
    );
    assert!(0.0 < min && min <= med && med <= max, "{t}");
    assert!(v["memory_copy"]["median_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn pipeline_bench_runs_the_pipeline_end_to_end() {
    let dir = scratch();
    let out = yam(
        dir.path(),
        &[
            "bench",
            "--pipeline",
            "cells.json",
            "--image",
            "cells.png",
            "--repeat",
            "2",
            "--threads",
            "1",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("pipeline cells.json") && out.stdout.contains("threads 1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("median") && out.stdout.contains("memory copy"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("steps (median ms") && out.stdout.contains("outside the steps"),
        "{}",
        out.stdout
    );
}

#[test]
fn pipeline_bench_json_times_each_step_and_the_rest() {
    let dir = scratch();
    let pipeline = write(
        dir.path(),
        "two.json",
        r#"{"steps":[{"name":"gaussian_blur","params":{"ksize":5,"sigma":1.5}},
                     {"name":"threshold","params":{"otsu":true}}]}"#,
    );
    let v = bench_json(dir.path(), &["--pipeline", &pipeline, "--repeat", "3"]);
    let steps = v["steps"].as_array().expect("a steps array");
    let kernels: Vec<&str> = steps
        .iter()
        .map(|s| s["kernel"].as_str().unwrap())
        .collect();
    assert_eq!(kernels, ["gaussian_blur", "threshold"], "{v}");
    for s in steps {
        assert_eq!(s["backend"], "cpu", "{v}");
        assert!(s["median_ms"].as_f64().unwrap() > 0.0, "{v}");
    }
    // The rest of a run is its total less its steps: never negative. And with two steps and
    // three runs, some run has both steps at or above their medians, so the medians fit in
    // the slowest run.
    let outside = v["outside_steps_median_ms"].as_f64().unwrap();
    let steps_ms: f64 = steps.iter().map(|s| s["median_ms"].as_f64().unwrap()).sum();
    assert!(outside >= 0.0, "{v}");
    assert!(steps_ms <= v["time"]["max_ms"].as_f64().unwrap(), "{v}");
}

#[test]
fn kernel_bench_json_has_no_step_times() {
    let dir = scratch();
    let v = bench_json(
        dir.path(),
        &[
            "--kernel",
            "threshold",
            "--params",
            r#"{"thresh":9}"#,
            "--repeat",
            "1",
        ],
    );
    assert!(
        v.get("steps").is_none() && v.get("outside_steps_median_ms").is_none(),
        "{v}"
    );
}

#[test]
fn bench_input_errors_exit_2_naming_the_problem() {
    let dir = scratch();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--kernel", "gaussian_blur", "--params", r#"{"ksize":4}"#],
            "parameter `ksize` = 4",
        ),
        (
            &["--kernel", "gausian", "--params", "{}"],
            "--kernel gausian: unknown kernel",
        ),
        (
            &["--kernel", "threshold", "--params", "[1]"],
            "expected a JSON object",
        ),
        (
            &["--kernel", "canny", "--backend", "quantum"],
            "--backend quantum",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["bench", "--image", "cells.png", "--repeat", "1"];
        all.extend_from_slice(args);
        let out = yam(dir.path(), &all);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
}
