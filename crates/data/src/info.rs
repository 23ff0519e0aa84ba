//! What `genrep data info` reports: which datasets are present, with record and class counts.

use crate::source::DataDir;
use crate::{agnews, cifar, jigsaw, mnist, task, Split};

/// Counts of one split of one dataset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SplitCounts {
    /// `train`, `test`, `all`, ...
    pub split: String,
    /// Number of records.
    pub records: usize,
    /// Records per class, `(class name, count)`.
    pub per_class: Vec<(String, usize)>,
}

/// The state of one dataset in the data directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatasetInfo {
    /// Dataset name (`mnist`, `cifar10`, `agnews`, `toxicity`, `bert-vocab`).
    pub name: String,
    /// Splits found, or the error that prevented loading.
    pub status: Result<Vec<SplitCounts>, String>,
    /// Remarks (partial files, ...).
    pub note: Option<String>,
}

fn counts(split: &str, labels: impl Iterator<Item = usize>, names: &[String]) -> SplitCounts {
    let c = crate::class_counts(labels, names.len());
    SplitCounts { split: split.into(), records: c.iter().sum(), per_class: names.iter().cloned().zip(c).collect() }
}

/// Loads every dataset in `dir` and reports what was found; never fails as a whole.
pub fn survey(dir: &DataDir) -> Vec<DatasetInfo> {
    let mut out = Vec::new();
    let image = |name: &str, load: fn(&DataDir, Split) -> crate::Result<crate::ImageSet>| -> DatasetInfo {
        let status = (|| {
            let mut v = Vec::new();
            for (s, split) in [("train", Split::Train), ("test", Split::Test)] {
                let set = load(dir, split)?;
                v.push(counts(s, set.labels.iter().map(|&l| l as usize), &set.class_names));
            }
            Ok::<_, crate::DataError>(v)
        })();
        DatasetInfo { name: name.into(), status: status.map_err(|e| e.to_string()), note: None }
    };
    out.push(image("mnist", mnist::load));
    out.push(image("cifar10", cifar::load));

    let ag = (|| {
        let mut v = Vec::new();
        for (s, split) in [("train", Split::Train), ("test", Split::Test)] {
            let set = agnews::load(dir, split)?;
            v.push(counts(s, set.labels.iter().map(|&l| l as usize), &set.class_names));
        }
        Ok::<_, crate::DataError>(v)
    })();
    out.push(DatasetInfo {
        name: "agnews".into(),
        status: ag.map_err(|e| e.to_string()),
        note: Some("train is a prefix subset of the original 120,000 rows (datasets/README.md)".into()),
    });

    let tox =
        jigsaw::load(dir).map(|set| vec![counts("all", set.labels.iter().map(|&l| l as usize), &set.class_names)]);
    out.push(DatasetInfo {
        name: "toxicity".into(),
        status: tox.map_err(|e| e.to_string()),
        note: Some("Jigsaw train subset; genrep holds out a seeded stratified test split".into()),
    });

    let vocab = task::load_vocab(dir)
        .map(|v| vec![SplitCounts { split: "tokens".into(), records: v.vocab_size(), per_class: vec![] }]);
    out.push(DatasetInfo { name: "bert-vocab".into(), status: vocab.map_err(|e| e.to_string()), note: None });
    out
}
