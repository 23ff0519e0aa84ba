//! Loaders against the real dataset files. Skips (with a printed reason) when GENREP_DATA is unset.

use genrep_data::{agnews, cifar, jigsaw, mnist, task, DataDir, Split, TaskOptions, TaskSpec};

fn data_dir() -> Option<DataDir> {
    genrep_data::data_dir_from_env(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).map(DataDir::at)
}

#[test]
fn mnist_counts_match_the_published_ones() {
    let Some(dir) = data_dir() else { return };
    let train = mnist::load(&dir, Split::Train).unwrap();
    let test = mnist::load(&dir, Split::Test).unwrap();
    assert_eq!((train.len(), train.height, train.width, train.channels), (60000, 28, 28, 1));
    assert_eq!(test.len(), 10000);
    assert_eq!(train.class_counts(), vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(test.class_counts(), vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // The first training digit is a 5, the first test digit a 7 (datasets/README.md).
    assert_eq!((train.labels[0], test.labels[0]), (5, 7));
}

#[test]
fn cifar10_counts_and_channel_means() {
    let Some(dir) = data_dir() else { return };
    let train = cifar::load(&dir, Split::Train).unwrap();
    let test = cifar::load(&dir, Split::Test).unwrap();
    assert_eq!(train.len(), 50000);
    assert_eq!(test.len(), 10000);
    assert_eq!(train.class_counts(), vec![5000; 10]);
    assert_eq!(test.class_counts(), vec![1000; 10]);
    // Red-channel mean over the training set: the well-known 0.4914 (datasets/README.md).
    let plane = 32 * 32;
    let mut sum = 0u64;
    for i in 0..train.len() {
        sum += train.image(i).unwrap()[..plane].iter().map(|&p| p as u64).sum::<u64>();
    }
    let mean = sum as f64 / (train.len() * plane) as f64 / 255.0;
    assert!((mean - 0.4914).abs() < 5e-4, "red mean {mean}");
}

#[test]
fn agnews_counts() {
    let Some(dir) = data_dir() else { return };
    let test = agnews::load(&dir, Split::Test).unwrap();
    assert_eq!(test.len(), 7600);
    assert_eq!(test.class_counts(), vec![1900; 4]);
    let train = agnews::load(&dir, Split::Train).unwrap();
    assert_eq!(train.len(), 10429);
    assert_eq!(train.class_counts(), vec![2630, 2452, 2594, 2753]);
    assert!(train.texts[0].starts_with("Wall St. Bears Claw Back Into the Black"), "{}", train.texts[0]);
}

#[test]
fn jigsaw_counts() {
    let Some(dir) = data_dir() else { return };
    let (_, comments) = jigsaw::load_comments(&dir).unwrap();
    assert_eq!(comments.len(), 2266);
    let totals: Vec<usize> = (0..6).map(|k| comments.iter().filter(|c| c.labels[k] == 1).count()).collect();
    assert_eq!(totals, vec![195, 18, 109, 9, 106, 24]);
    assert!(comments.iter().any(|c| c.text.contains('\n')), "multi-line comments survive parsing");
}

#[test]
fn binary_tasks_have_the_requested_classes_and_caps() {
    let Some(dir) = data_dir() else { return };
    let spec: TaskSpec = "mnist:3-vs-8".parse().unwrap();
    let opts = TaskOptions { train_per_class: Some(500), test_per_class: Some(100), seed: 7, ..Default::default() };
    let t = task::build(&dir, &spec, &opts).unwrap();
    assert_eq!(t.train.class_counts(2), vec![500, 500]);
    assert_eq!(t.test.class_counts(2), vec![100, 100]);
    let t2 = task::build(&dir, &spec, &opts).unwrap();
    assert_eq!(t, t2, "same seed, same task");
    let t3 = task::build(&dir, &spec, &TaskOptions { seed: 8, ..opts.clone() }).unwrap();
    assert_ne!(t.train.source_index, t3.train.source_index, "another seed, another subsample");
    // Every chosen example really is a 3 (label 0) or an 8 (label 1) in the source file.
    let raw = mnist::load(&dir, Split::Train).unwrap();
    for (&src, &l) in t.train.source_index.iter().zip(&t.train.labels) {
        assert_eq!(raw.labels[src], if l == 0 { 3 } else { 8 });
    }
    // Uncapped binary MNIST: all 6131 threes and 5851 eights.
    let full = task::build(&dir, &spec, &TaskOptions::default()).unwrap();
    assert_eq!(full.train.class_counts(2), vec![6131, 5851]);
}

#[test]
fn text_tasks_tokenise_to_fixed_length() {
    let Some(dir) = data_dir() else { return };
    let spec: TaskSpec = "agnews:world-vs-sports".parse().unwrap();
    let opts = TaskOptions { train_per_class: Some(50), test_per_class: Some(20), seq_len: 64, ..Default::default() };
    let t = task::build(&dir, &spec, &opts).unwrap();
    assert_eq!(t.train.class_counts(2), vec![50, 50]);
    match &t.train.inputs {
        genrep_data::Inputs::Tokens { seq_len, ids, vocab_size } => {
            assert_eq!(*seq_len, 64);
            assert_eq!(ids.len(), 100 * 64);
            assert_eq!(*vocab_size, 30522);
            assert!(ids.iter().all(|&i| (i as usize) < 30522));
            assert_eq!(ids[0], 101, "[CLS] first");
        }
        other => panic!("expected tokens, got {other:?}"),
    }
    let tox = task::build(&dir, &"toxicity".parse().unwrap(), &TaskOptions::default()).unwrap();
    let tr = tox.train.class_counts(2);
    let te = tox.test.class_counts(2);
    assert_eq!(tr[0] + te[0] + tr[1] + te[1], 2266);
    assert_eq!(tr[1] + te[1], 195);
    assert_eq!(te[1], 39, "20% of 195 toxic comments held out");
    // Balanced: every non-toxic comment beyond the 156 toxic ones is dropped from training only,
    // and the toxic ones (and the test split) are the same as without balancing.
    let opts = TaskOptions { balance_train: true, ..TaskOptions::default() };
    let bal = task::build(&dir, &"toxicity".parse().unwrap(), &opts).unwrap();
    assert_eq!(bal.train.class_counts(2), vec![156, 156]);
    assert_eq!(bal.test.class_counts(2), te);
    let opts = TaskOptions { balance_train: true, train_per_class: Some(100), ..TaskOptions::default() };
    let capped = task::build(&dir, &"toxicity".parse().unwrap(), &opts).unwrap();
    assert_eq!(capped.train.class_counts(2), vec![100, 100], "train_per_class below the minority count wins");
}
