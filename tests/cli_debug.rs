//! `genrep debug` through the real binary: with 10% of the labels flipped, ranking by
//! representer importance finds far more of them than random inspection (Yeh et al. 2018,
//! Section 4.1). This trains a real network on real MNIST and can fail.

use std::path::Path;
use std::process::Command;

#[test]
fn representer_ranking_finds_flipped_labels_far_better_than_random() {
    let Some(data) = genrep::data::data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR"))) else { return };
    let out = std::env::temp_dir().join(format!("genrep-cli-debug-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_genrep"))
        .arg("--data-dir")
        .arg(&data)
        .args(["debug", "--task", "mnist:3-vs-8", "--train-per-class", "200", "--flip", "0.1", "--check", "0.1"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    for f in ["debug.md", "debug-curves.csv", "debug-accuracy.csv", "debug-curves.png", "debug.json"] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("debug.json")).unwrap()).unwrap();
    assert_eq!(report["flipped"], 40);
    let found_at_10 = |method: &str| -> f64 {
        let c = report["curves"].as_array().unwrap().iter().find(|c| c["method"] == method).unwrap();
        c["found"][10][1].as_f64().unwrap()
    };
    let (rep, random) = (found_at_10("representer"), found_at_10("random"));
    eprintln!("flipped labels found after checking 10%: representer {rep}, random {random}");
    assert!(rep >= 0.5, "representer ranking found only {rep} of the flipped labels in the top 10%");
    assert!(rep >= random + 0.3, "representer {rep} is not far above random {random}");
    // The two areas: representer ranks flipped labels far above clean ones; random near 1/2.
    let area = |method: &str, key: &str| -> f64 {
        let c = report["curves"].as_array().unwrap().iter().find(|c| c["method"] == method).unwrap();
        c[key].as_f64().unwrap()
    };
    eprintln!(
        "ROC AUC: representer {:.3}, random {:.3}; detection AUC: representer {:.3}, random {:.3}",
        area("representer", "roc_auc"),
        area("random", "roc_auc"),
        area("representer", "detection_auc"),
        area("random", "detection_auc")
    );
    assert!(area("representer", "roc_auc") > 0.85, "representer ROC AUC {}", area("representer", "roc_auc"));
    assert!((0.3..0.7).contains(&area("random", "roc_auc")), "random ROC AUC {}", area("random", "roc_auc"));
    assert!(area("representer", "detection_auc") > area("random", "detection_auc") + 0.2);
    let md = std::fs::read_to_string(out.join("debug.md")).unwrap();
    assert!(md.contains("ROC AUC"), "{md}");

    // Bad input: a task with more than two classes.
    let bad = Command::new(env!("CARGO_BIN_EXE_genrep"))
        .arg("--data-dir")
        .arg(&data)
        .args(["debug", "--task", "mnist", "--train-per-class", "5", "--out"])
        .arg(out.join("bad"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("binary"), "{}", String::from_utf8_lossy(&bad.stderr));
    let _ = std::fs::remove_dir_all(&out);
}
