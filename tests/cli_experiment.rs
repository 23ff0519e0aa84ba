//! `genrep experiment` through the real binary: a run killed with SIGKILL resumes without
//! losing or redoing finished rows and ends with the same results as an uninterrupted run;
//! shards merged give the same results too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn data_dir() -> Option<PathBuf> {
    genrep::data::data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// A tiny grid: 1 net x 2 test points x 2 methods x 5 deletion sizes = 20 retrainings.
fn cmd(data: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_genrep"));
    c.arg("--data-dir").arg(data).args(["experiment", "--preset", "smoke", "--dataset", "mnist"]);
    c.args(["--nets", "1", "--tests-per-net", "2", "--methods", "random,tracking:ll", "--train-per-class", "60"]);
    c.args(["--jobs", "1", "--out"]).arg(out).args(extra);
    c
}

/// Del rows of a results directory: key -> (del, full line).
fn dels(dir: &Path) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for row in genrep::experiments::read_dir_rows(dir).unwrap() {
        if let genrep::experiments::Row::Del { net, test, method, k, del, .. } = row {
            let key = format!("{net}/{test}/{method}/{k}");
            assert!(m.insert(key.clone(), del).is_none(), "duplicate row {key} in {}", dir.display());
        }
    }
    m
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(String::from).collect()
}

/// Starts `command`, waits until `rows` holds `n` rows of `kind`, then SIGKILLs it.
fn kill_after_rows(mut command: Command, rows: &Path, kind: &str, n: usize) {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    let tag = format!("\"kind\":\"{kind}\"");
    while lines(rows).iter().filter(|l| l.contains(&tag)).count() < n {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before it could be killed");
        }
        assert!(start.elapsed() < Duration::from_secs(300), "fewer than {n} {kind} rows after 300 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn killed_run_resumes_and_shards_merge_to_the_same_results() {
    let Some(data) = data_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("genrep-cli-exp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let (killed, whole) = (tmp.join("killed"), tmp.join("whole"));

    // Start, wait for a few finished retrainings, then SIGKILL.
    let rows = killed.join("rows.jsonl");
    kill_after_rows(cmd(&data, &killed, &[]), &rows, "del", 4);
    let before = lines(&rows);
    let done_before = dels(&killed);
    assert!(done_before.len() >= 4 && done_before.len() < 20, "{} rows before the kill", done_before.len());

    // Resume: finished rows are kept verbatim, and nothing is recomputed.
    let out = cmd(&data, &killed, &[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("trained 0 nets"), "the resumed run retrained the network: {stderr}");
    let after = lines(&rows);
    let complete_before: Vec<&String> = before.iter().filter(|l| l.ends_with('}')).collect();
    for (i, l) in complete_before.iter().enumerate() {
        assert_eq!(&after[i], *l, "row {i} changed on resume");
    }
    let resumed = dels(&killed);
    assert_eq!(resumed.len(), 20);
    assert!(stderr.contains(&format!("{} retrainings", 20 - done_before.len())), "{stderr}");

    // An uninterrupted run gives the same numbers (determinism).
    let out = cmd(&data, &whole, &[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(dels(&whole), resumed);
    assert!(whole.join("report.md").is_file() && whole.join("deletion-curves.svg").is_file());
    let report = std::fs::read_to_string(whole.join("report.md")).unwrap();
    assert!(report.contains("Experiment I") && report.contains("[0.50 ± 0.16]"), "{report}");

    // Two shards, run separately, then merged.
    let (s0, s1, merged) = (tmp.join("s0"), tmp.join("s1"), tmp.join("merged"));
    for (dir, shard) in [(&s0, "0/2"), (&s1, "1/2")] {
        let out = cmd(&data, dir, &["--shard", shard]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(dels(dir).len(), 10, "shard {shard} runs half the pairs");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_genrep"))
        .args(["experiment", "--out"])
        .arg(&merged)
        .arg("--merge")
        .args([&s0, &s1])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(dels(&merged), resumed, "merged shards differ from the whole run");
    let merged_report = std::fs::read_to_string(merged.join("report.md")).unwrap();
    let table = |r: &str| r.split("## Per method").next().unwrap().to_string();
    assert_eq!(table(&merged_report), table(&report), "merged shards report differently from the whole run");

    // Bad input: a shard that does not exist, a different experiment in the same directory.
    let out = cmd(&data, &whole, &["--shard", "2/2"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shard"));
    let out = cmd(&data, &whole, &["--epochs", "3"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("different experiment"));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A tiny LDS grid: 1 net x 2 test points x 2 methods, 6 subset models.
fn lds_cmd(data: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = cmd(data, out, &["--metric", "lds", "--subsets", "6"]);
    c.args(extra);
    c
}

/// Subset rows of a results directory: subset -> logits; and ranking rows' attribution lengths.
fn subset_rows(dir: &Path) -> (BTreeMap<usize, Vec<Vec<f32>>>, Vec<usize>) {
    let (mut subsets, mut phis) = (BTreeMap::new(), Vec::new());
    for row in genrep::experiments::read_dir_rows(dir).unwrap() {
        match row {
            genrep::experiments::Row::Subset { subset, logits, .. } => {
                assert!(subsets.insert(subset, logits).is_none(), "duplicate subset row in {}", dir.display());
            }
            genrep::experiments::Row::Ranking { phi, .. } => phis.push(phi.map_or(0, |p| p.len())),
            _ => {}
        }
    }
    (subsets, phis)
}

#[test]
fn lds_runs_resumes_and_shards_like_table1() {
    let Some(data) = data_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("genrep-cli-lds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let (killed, whole) = (tmp.join("killed"), tmp.join("whole"));

    // Kill after two subset models, resume.
    kill_after_rows(lds_cmd(&data, &killed, &[]), &killed.join("rows.jsonl"), "subset", 2);
    let done_before = subset_rows(&killed).0.len();
    assert!((2..6).contains(&done_before), "{done_before} subset rows before the kill");
    let out = lds_cmd(&data, &killed, &[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("trained 0 nets"), "{stderr}");
    assert!(stderr.contains(&format!("{} subset models", 6 - done_before)), "{stderr}");
    let (resumed, phis) = subset_rows(&killed);
    assert_eq!(resumed.len(), 6);
    // Every ranking keeps all 120 attributions (60 per class).
    assert_eq!(phis, vec![120; 4]);

    // An uninterrupted run: the same subset models (determinism) and an LDS report.
    let out = lds_cmd(&data, &whole, &[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(subset_rows(&whole).0, resumed);
    let report = std::fs::read_to_string(whole.join("report.md")).unwrap();
    assert!(report.contains("Linear datamodeling score") && report.contains("6 of 6 trained"), "{report}");
    assert!(whole.join("lds.svg").is_file());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("summary.json")).unwrap()).unwrap();
    for m in summary["methods"].as_array().unwrap() {
        assert_eq!(m["pairs"].as_u64().unwrap() + m["undefined"].as_u64().unwrap(), 2, "{m}");
    }

    // Shards split the subset models and the rankings; merged, they report the same LDS.
    let (s0, s1, merged) = (tmp.join("s0"), tmp.join("s1"), tmp.join("merged"));
    for (dir, shard) in [(&s0, "0/2"), (&s1, "1/2")] {
        let out = lds_cmd(&data, dir, &["--shard", shard]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(subset_rows(dir).0.len(), 3, "shard {shard} trains half the subset models");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_genrep"))
        .args(["experiment", "--out"])
        .arg(&merged)
        .arg("--merge")
        .args([&s0, &s1])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(subset_rows(&merged).0, resumed);
    let lds_of = |dir: &Path| -> Vec<(String, String)> {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        v["methods"].as_array().unwrap().iter().map(|m| (m["method"].to_string(), m["lds"].to_string())).collect()
    };
    assert_eq!(lds_of(&merged), lds_of(&whole), "merged shards report a different LDS");

    // A DEL experiment cannot resume into an LDS directory, and LDS flags need --metric lds.
    let out = cmd(&data, &whole, &[]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("different experiment"));
    let out = cmd(&data, &tmp.join("x"), &["--subsets", "4"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--metric lds"));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `--embed-init-std` is refused, naming the setting, where it means nothing (an image dataset)
/// or is not a standard deviation, before any data is read or directory written.
#[test]
fn embed_init_std_is_checked_before_any_work() {
    let tmp = std::env::temp_dir().join(format!("genrep-embed-{}", std::process::id()));
    for (dataset, std) in [("mnist", "0.1"), ("agnews", "-1"), ("agnews", "NaN")] {
        let out = Command::new(env!("CARGO_BIN_EXE_genrep"))
            .args(["--data-dir", "/nonexistent", "experiment", "--preset", "quick", "--dataset", dataset])
            .arg(format!("--embed-init-std={std}"))
            .arg("--out")
            .arg(&tmp)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("embed_init_std"), "{dataset} {std}: {err}");
        assert!(!tmp.exists(), "{dataset} {std}: the output directory was created");
    }
}
