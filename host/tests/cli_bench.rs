//! `yam bench`: timings of a kernel and of a pipeline, and its input errors.

mod common;

use common::{scratch, yam};

#[test]
fn kernel_bench_reports_statistics_and_a_memory_copy_baseline() {
    let dir = scratch();
    let out = yam(
        dir.path(),
        &[
            "bench",
            "--kernel",
            "gaussian_blur",
            "--params",
            r#"{"ksize":7}"#,
            "--image",
            "cells.png",
            "--repeat",
            "3",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
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
