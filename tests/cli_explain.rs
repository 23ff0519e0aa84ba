//! End-to-end tests of `genrep explain` on a small real run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn genrep() -> Command {
    Command::new(env!("CARGO_BIN_EXE_genrep"))
}

fn data_dir() -> Option<PathBuf> {
    genrep::data::data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn explain(dir: &Path, run: &Path, args: &[&str]) -> Output {
    genrep().arg("--data-dir").arg(dir).arg("explain").arg("--run").arg(run).args(args).output().unwrap()
}

#[test]
fn every_method_explains_a_small_mnist_run() {
    let Some(dir) = data_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("genrep-cli-explain-{}", std::process::id()));
    let run = tmp.join("run");
    let out = genrep()
        .arg("--data-dir")
        .arg(&dir)
        .args(["train", "--task", "mnist:3-vs-8", "--train-per-class", "100", "--test-per-class", "20"])
        .args(["--epochs", "2", "--batch-size", "20", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for method in [
        "representer",
        "tracking:ntk-final",
        "tracking:ntk-init",
        "tracking:ll",
        "target:ntk-final",
        "target:inf-ll",
        "tracincp",
        "influence",
        "random",
    ] {
        let png = tmp.join(format!("{}.png", method.replace(':', "_")));
        let csv = tmp.join(format!("{}.csv", method.replace(':', "_")));
        let out = genrep()
            .arg("--data-dir")
            .arg(&dir)
            .arg("explain")
            .arg("--run")
            .arg(&run)
            .args(["--test-index", "3", "--method", method, "--top", "4", "--hessian-sample", "100"])
            .arg("--png")
            .arg(&png)
            .arg("--csv")
            .arg(&csv)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{method}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("top 4 proponents") && stdout.contains("top 4 opponents"), "{method}: {stdout}");
        let img = image::open(&png).unwrap_or_else(|e| panic!("{method}: PNG unreadable: {e}"));
        assert!(img.width() > 100 && img.height() > 100, "{method}");
        let rows = std::fs::read_to_string(&csv).unwrap().lines().count();
        assert_eq!(rows, 201, "{method}: header + one row per training example");
        if method == "representer" {
            // The representer decomposition is exact at the refit's stationary point.
            let line = stdout.lines().find(|l| l.contains("efficiency residual")).unwrap();
            let resid: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            assert!(resid < 1e-2, "representer efficiency residual {resid}: {line}");
        }
    }

    // Sensitivity maps of the top proponent and opponent, and a bad training index.
    let sens = tmp.join("sens.png");
    let out = genrep()
        .arg("--data-dir")
        .arg(&dir)
        .args(["sensitivity", "--test-index", "3", "--run"])
        .arg(&run)
        .arg("--out")
        .arg(&sens)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["sens-proponent.png", "sens-opponent.png"] {
        let img = image::open(tmp.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(img.width() >= 3 * 112 && img.height() > 112, "{f}");
    }
    let out = genrep()
        .arg("--data-dir")
        .arg(&dir)
        .args(["sensitivity", "--test-index", "3", "--train-index", "200", "--run"])
        .arg(&run)
        .arg("--out")
        .arg(&sens)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of range"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn explain_errors_are_clear() {
    let Some(dir) = data_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("genrep-cli-explain-bad-{}", std::process::id()));
    let run = tmp.join("run");
    let out = genrep()
        .arg("--data-dir")
        .arg(&dir)
        .args(["train", "--task", "mnist:3-vs-8", "--train-per-class", "30", "--test-per-class", "5"])
        .args(["--epochs", "1", "--no-epoch-checkpoints", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success());
    for (args, needle) in [
        (vec!["--test-index", "10", "--method", "random"], "test index 10 is out of range"),
        (vec!["--test-index", "0", "--method", "magic"], "method `magic`: unknown method"),
        (vec!["--test-index", "0", "--method", "surrogate:ntk-init"], "last-layer and NTK-final kernels only"),
    ] {
        let out = explain(&dir, &run, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
    }
    std::fs::remove_file(run.join("record.json")).unwrap();
    let out = explain(&dir, &run, &["--test-index", "0", "--method", "tracking:ll"]);
    let err = String::from_utf8_lossy(&out.stderr);
    // A run directory without its record is incomplete (removed, or training was interrupted).
    assert!(!out.status.success() && err.contains("record.json") && err.contains("did not finish"), "{err}");
    let out = explain(&dir, &tmp.join("nope"), &["--test-index", "0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("config.json"), "{err}");
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn misclassified_points_get_one_png_each() {
    let Some(dir) = data_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("genrep-cli-explain-wrong-{}", std::process::id()));
    let run = tmp.join("run");
    let out = genrep()
        .arg("--data-dir")
        .arg(&dir)
        .args(["train", "--task", "mnist:3-vs-8", "--train-per-class", "60", "--test-per-class", "100"])
        .args(["--epochs", "1", "--batch-size", "20", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = tmp.join("wrong.png");
    let out = explain(
        &dir,
        &run,
        &["--misclassified", "2", "--method", "representer", "--top", "3", "--png", png.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // One block per explained point, each a misclassified one, each with its own PNG.
    let heads: Vec<&str> = stdout.lines().filter(|l| l.starts_with("test #")).collect();
    assert_eq!(heads.len(), 2, "{stdout}");
    for h in heads {
        let index: usize = h["test #".len()..].split_whitespace().next().unwrap().parse().unwrap();
        let (label, pred) = (h.split("label ").nth(1).unwrap(), h.split("predicted ").nth(1).unwrap());
        assert_ne!(label.split(',').next(), pred.split(')').next(), "not misclassified: {h}");
        let img = image::open(tmp.join(format!("wrong-{index}.png"))).unwrap();
        assert!(img.width() > 100, "{h}");
    }
    std::fs::remove_dir_all(&tmp).ok();
}
