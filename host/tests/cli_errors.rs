//! Bad input: each error names the file, step or parameter, exits 2 and leaves no output.

mod common;

use common::{one_step, scratch, write, yam, Outcome};

fn run_fails(dir: &std::path::Path, pipeline: &str, input: &str) -> Outcome {
    let out = yam(dir, &["run", pipeline, input, "-o", "out.png"]);
    assert_eq!(
        out.code, 2,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(
        !dir.join("out.png").exists(),
        "a failed run left an output file"
    );
    out
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let dir = scratch();
    let p = write(
        dir.path(),
        "bad.json",
        "{\n  \"steps\": [\n    {\"name\": \"erode\",, }\n  ]\n}\n",
    );
    let out = run_fails(dir.path(), &p, "cells.png");
    assert!(out.stderr.contains("bad.json:3:"), "{}", out.stderr);
    assert!(out.stderr.contains("malformed JSON"), "{}", out.stderr);
}

#[test]
fn unknown_step_is_named_with_a_suggestion() {
    let dir = scratch();
    let p = one_step(dir.path(), "p.json", "gaussian_blurr", "{}");
    let out = run_fails(dir.path(), &p, "cells.png");
    assert!(
        out.stderr
            .contains("step 0 `gaussian_blurr`: unknown step name"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `gaussian_blur`"),
        "{}",
        out.stderr
    );
}

#[test]
fn out_of_range_parameters_name_the_parameter_and_what_is_allowed() {
    let dir = scratch();
    let d = dir.path();
    let cases = [
        (
            "gaussian_blur",
            r#"{"ksize": 4}"#,
            "parameter `ksize` = 4: expected an odd integer (or 0)",
        ),
        (
            "gaussian_blur",
            r#"{"sigma": -1.5}"#,
            "parameter `sigma` = -1.5: expected a number in [0, 1000]",
        ),
        (
            "gaussian_blur",
            r#"{"ksize": 0, "sigma": 0}"#,
            "parameter `ksize` = 0",
        ),
        ("median_blur", r#"{"ksize": 1}"#, "parameter `ksize` = 1"),
        (
            "threshold",
            r#"{"type": "binaryy"}"#,
            "expected one of binary | binary_inv",
        ),
        (
            "erode",
            r#"{"shape": "disk"}"#,
            "expected one of rect | ellipse | cross",
        ),
        (
            "erode",
            r#"{"kszie": 3}"#,
            "parameter `kszie` = 3: expected one of the parameters of erode",
        ),
    ];
    for (step, params, expected) in cases {
        let p = one_step(d, "p.json", step, params);
        let out = run_fails(d, &p, "cells.png");
        assert!(
            out.stderr.contains(&format!("`{step}`")),
            "{step} {params}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(expected),
            "{step} {params}: {}",
            out.stderr
        );
    }
}

#[test]
fn kernel_given_a_dtype_it_does_not_take_names_the_dtype() {
    let dir = scratch();
    let d = dir.path();
    // A float image straight into connected_components (which takes u8 masks).
    let p = write(
        d,
        "p.json",
        r#"{"steps":[{"name":"gaussian_blur"},{"name":"connected_components"}]}"#,
    );
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    let mut h = header.to_string();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    npy.extend_from_slice(&(h.len() as u16).to_le_bytes());
    npy.extend_from_slice(h.as_bytes());
    npy.extend_from_slice(&[0u8; 24]);
    std::fs::write(d.join("f.npy"), npy).unwrap();
    let out = yam(d, &["run", &p, "f.npy", "-o", "out.npy"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("step 1 `connected_components`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("input dtype = f32: expected one of u8"),
        "{}",
        out.stderr
    );
    assert!(!d.join("out.npy").exists());
}

#[test]
fn corrupt_missing_and_oversized_images_are_named() {
    let dir = scratch();
    let d = dir.path();
    std::fs::write(d.join("broken.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let out = run_fails(d, "cells.json", "broken.png");
    assert!(out.stderr.contains("broken.png"), "{}", out.stderr);
    let out = run_fails(d, "cells.json", "nothing-here.png");
    assert!(
        out.stderr.contains("nothing-here.png: no such file"),
        "{}",
        out.stderr
    );
    let out = yam(
        d,
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "out.png",
            "--max-pixels",
            "1000",
        ],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cells.png") && out.stderr.contains("1000"),
        "{}",
        out.stderr
    );
    assert!(!d.join("out.png").exists());
}

#[test]
fn a_failed_run_leaves_an_existing_output_untouched() {
    let dir = scratch();
    let d = dir.path();
    std::fs::write(d.join("out.png"), b"previous result").unwrap();
    let p = one_step(d, "p.json", "median_blur", r#"{"ksize": 4}"#);
    let out = yam(d, &["run", &p, "cells.png", "-o", "out.png"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        std::fs::read(d.join("out.png")).unwrap(),
        b"previous result"
    );
}

#[test]
fn usage_errors_exit_2_and_help_explains_exit_codes() {
    let dir = scratch();
    let out = yam(dir.path(), &["run", "cells.json"]);
    assert_eq!(out.code, 2);
    let out = yam(dir.path(), &["frobnicate"]);
    assert_eq!(out.code, 2);
    let out = yam(
        dir.path(),
        &[
            "run",
            "cells.json",
            "cells.png",
            "-o",
            "x.png",
            "--backend",
            "quantum",
        ],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--backend quantum: unknown backend"),
        "{}",
        out.stderr
    );
    let out = yam(dir.path(), &["--help"]);
    assert_eq!(out.code, 0);
    assert!(out
        .stdout
        .contains("Exit codes: 0 success, 1 run failure, 2 usage or input error"));
    let out = yam(dir.path(), &["run", "--help"]);
    assert!(
        out.stdout.contains("--report") && out.stdout.contains("--strict"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_unusable_yam_cpu_isa_is_a_warning_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::yam_env(
        dir.path(),
        &["kernels"],
        &[("YAM_CPU_ISA", std::ffi::OsStr::new("avx9000"))],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("WARN")
            && out
                .stderr
                .contains("YAM_CPU_ISA=\"avx9000\" is not one of scalar, sse4.1, avx2, avx512"),
        "{}",
        out.stderr
    );
    // A level the CPU has is a choice, not a problem: no warning.
    let out = common::yam_env(
        dir.path(),
        &["kernels"],
        &[("YAM_CPU_ISA", std::ffi::OsStr::new("scalar"))],
    );
    assert!(!out.stderr.contains("WARN"), "{}", out.stderr);
}
