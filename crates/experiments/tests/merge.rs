//! Merging shard directories copied back from different machines: the same experiment merges
//! (repeated deterministic rows collapse), another experiment or a disagreeing row is refused.

use genrep_experiments::runner::{merge, pin_config};
use genrep_experiments::{Dataset, ExperimentConfig, Row};
use std::path::{Path, PathBuf};

fn del(net: u64, k: usize, value: f64, seconds: f64) -> Row {
    Row::Del {
        net,
        test: 3,
        method: "random".into(),
        k,
        score: 1.0 + value,
        prob: 0.9,
        del: value,
        del_prob: 0.01,
        seconds,
    }
}

fn shard(root: &Path, name: &str, cfg: &ExperimentConfig, rows: &[Row]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    pin_config(&dir, cfg).unwrap();
    let text: String = rows.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
    std::fs::write(dir.join(format!("rows-{name}.jsonl")), text).unwrap();
    dir
}

#[test]
fn shards_merge_and_conflicts_are_refused() {
    let root = std::env::temp_dir().join(format!("genrep-merge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let cfg = ExperimentConfig::preset("smoke", Dataset::Mnist).unwrap();
    let a = shard(&root, "a", &cfg, &[del(1, 4, 0.5, 1.0), del(1, 8, 0.25, 1.0)]);
    // Machine b recomputed one of a's rows (other timing, same result) and did its own.
    let b = shard(&root, "b", &cfg, &[del(1, 8, 0.25, 7.0), del(2, 4, -0.5, 1.0)]);
    let (merged_cfg, rows) = merge(&[a.clone(), b.clone()], &root.join("out")).unwrap();
    assert_eq!(merged_cfg, cfg);
    assert_eq!(rows.len(), 3);
    assert_eq!(std::fs::read_to_string(root.join("out/rows.jsonl")).unwrap().lines().count(), 3);
    // A row of one key with another result.
    let c = shard(&root, "c", &cfg, &[del(1, 4, 0.75, 1.0)]);
    let e = merge(&[a.clone(), c], &root.join("out2")).unwrap_err().to_string();
    assert!(e.contains("two different results"), "{e}");
    // Another experiment.
    let mut other = cfg.clone();
    other.nets += 1;
    let d = shard(&root, "d", &other, &[]);
    let e = merge(&[a, d], &root.join("out3")).unwrap_err().to_string();
    assert!(e.contains("different experiment"), "{e}");
    assert!(merge(&[], &root.join("out4")).is_err());
    let _ = std::fs::remove_dir_all(&root);
}
