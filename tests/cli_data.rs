//! End-to-end tests of `genrep data ...` through the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

fn genrep() -> Command {
    Command::new(env!("CARGO_BIN_EXE_genrep"))
}

fn data_dir() -> Option<PathBuf> {
    genrep::data::data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn data_info_lists_all_five_datasets_with_counts() {
    let Some(dir) = data_dir() else { return };
    let out = genrep().arg("--data-dir").arg(&dir).args(["data", "info"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "mnist       ok",
        "0:5923 1:6742",
        "cifar10     ok",
        "airplane:5000",
        "agnews      ok",
        "10429",
        "World:1900",
        "toxicity    ok",
        "toxic:195",
        "bert-vocab  ok",
        "30522",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

#[test]
fn missing_data_dir_is_one_clear_line_and_a_failure() {
    let out = genrep().args(["--data-dir", "/definitely/not/here", "data", "info"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/definitely/not/here") && err.contains("GENREP_DATA"), "{err}");
}

#[test]
fn an_empty_data_dir_reports_every_missing_file() {
    let tmp = std::env::temp_dir().join(format!("genrep-cli-empty-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let out = genrep().arg("--data-dir").arg(&tmp).args(["data", "info"]).output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("MISSING").count(), 5, "{text}");
    assert!(text.contains("train-images-idx3-ubyte"), "{text}");
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn bad_task_specs_fail_without_panicking() {
    let Some(dir) = data_dir() else { return };
    for (spec, needle) in [("mnist:3-vs-11", "unknown class `11`"), ("cifar10:cat-vs-unicorn", "unknown class")] {
        let out = genrep().arg("--data-dir").arg(&dir).args(["data", "task", "--task", spec]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{spec}");
        assert!(err.contains(needle) && !err.contains("panicked"), "{spec}: {err}");
    }
    let out = genrep()
        .arg("--data-dir")
        .arg(&dir)
        .args(["data", "task", "--task", "cifar10:cat-vs-dog", "--train-per-class", "100"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cifar10:cat-vs-dog") && text.contains("[100, 100]"), "{text}");
}
