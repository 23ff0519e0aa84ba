//! The smoke preset on real MNIST: tracking representers with the NTK-final kernel must find
//! training points whose removal raises the test prediction more than random removal does
//! (Table 1, Experiment I). This can fail: it retrains real networks.

use genrep_data::{data_dir_from_env, DataDir};
use genrep_experiments::{read_dir_rows, run, summarize, Dataset, ExperimentConfig, Quiet, RunOptions, Shard};
use std::path::Path;

#[test]
fn smoke_preset_tracking_ntk_final_beats_random() {
    let Some(dir) = data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR"))) else { return };
    let out = std::env::temp_dir().join(format!("genrep-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let cfg = ExperimentConfig::preset("smoke", Dataset::Mnist).unwrap();
    let opts = RunOptions {
        out: out.clone(),
        shard: Shard::ALL,
        jobs: 2,
        device: burn::prelude::Device::flex(),
        device_name: "cpu".into(),
        data: DataDir::at(&dir),
    };
    let summary = run(&cfg, &opts, &Quiet).unwrap();
    assert_eq!(summary.nets_trained, cfg.nets);
    let pairs = cfg.nets * cfg.tests_per_net;
    assert_eq!(summary.retrains, pairs * cfg.methods.len() * cfg.deletion_fractions.len());

    let report = summarize(&cfg, &read_dir_rows(&out).unwrap());
    let ntk = report.method("tracking:ntk-final").expect("tracking:ntk-final has results");
    let random = report.method("random").expect("random has results");
    assert_eq!(ntk.pairs, pairs);
    assert_eq!(random.pairs, pairs);
    eprintln!(
        "smoke AUC-DEL: tracking:ntk-final {:.3} +- {:.3}, random {:.3} +- {:.3}",
        ntk.auc_del.0, ntk.auc_del.1, random.auc_del.0, random.auc_del.1
    );
    assert!(
        ntk.auc_del.0 > random.auc_del.0,
        "tracking:ntk-final AUC-DEL {:.3} is not above random's {:.3}",
        ntk.auc_del.0,
        random.auc_del.0
    );
    // Removing the most negative points should raise the score on average.
    assert!(ntk.auc_del.0 > 0.0);

    // A second run finds everything done and does no work.
    let again = run(&cfg, &opts, &Quiet).unwrap();
    assert_eq!((again.nets_trained, again.rankings, again.retrains), (0, 0, 0));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn resuming_with_other_settings_is_refused() {
    let Some(dir) = data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR"))) else { return };
    let out = std::env::temp_dir().join(format!("genrep-pin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let cfg = ExperimentConfig::preset("smoke", Dataset::Mnist).unwrap();
    genrep_experiments::runner::pin_config(&out, &cfg).unwrap();
    let mut other = cfg.clone();
    other.nets += 1;
    let opts = RunOptions {
        out: out.clone(),
        shard: Shard::ALL,
        jobs: 1,
        device: burn::prelude::Device::flex(),
        device_name: "cpu".into(),
        data: DataDir::at(&dir),
    };
    let err = run(&other, &opts, &Quiet).unwrap_err().to_string();
    assert!(err.contains("different experiment"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn presets_and_shards_validate() {
    for d in genrep_experiments::DATASETS {
        for p in ["smoke", "quick", "paper"] {
            let cfg = ExperimentConfig::preset(p, d).unwrap();
            cfg.validate().unwrap();
            assert_eq!(cfg.deletion_sizes(1000), vec![20, 40, 60, 80, 100]);
        }
    }
    assert!(ExperimentConfig::preset("huge", Dataset::Mnist).unwrap_err().to_string().contains("unknown preset"));
    assert!("3/2".parse::<Shard>().is_err());
    assert!("x".parse::<Shard>().is_err());
    let s: Shard = "1/3".parse().unwrap();
    assert_eq!((0..9).filter(|&p| s.owns(p)).collect::<Vec<_>>(), vec![1, 4, 7]);
    let cfg = ExperimentConfig::preset("quick", Dataset::Mnist).unwrap();
    let t = cfg.test_points(1, 1984);
    assert_eq!(t, cfg.test_points(1, 1984), "test points are seeded");
    assert_ne!(t, cfg.test_points(2, 1984), "each net draws its own test points");
    assert_eq!(t.len(), 5);
}
