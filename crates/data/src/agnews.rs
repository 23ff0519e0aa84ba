//! AG's News topic classification, char-CNN release (Zhang et al. 2015): CSV rows
//! `"class","title","description"`, class 1-4 (World, Sports, Business, Sci/Tech), no header.
//!
//! Labels are returned 0-based (World = 0). Each text is `title + " " + description`, with the
//! release's literal `\` escapes turned into spaces.

use crate::error::{DataError, Result};
use crate::source::DataDir;
use crate::text_set::{for_each_csv_row, TextSet};
use crate::Split;
use std::path::Path;

const DATASET: &str = "agnews";
/// The four AG News classes in label order (`classes.txt`).
pub const CLASS_NAMES: [&str; 4] = ["World", "Sports", "Business", "Sci/Tech"];
/// The original 120,000-row train file, used when present.
pub const TRAIN_FILE: &str = "ag_news_csv/train.csv";
/// The train file we have: a 10,429-row prefix of the original `train.csv` (datasets/README.md).
pub const TRAIN_SUBSET_FILE: &str = "ag_news_csv/train_subset.csv";
/// The complete original test file (7,600 rows).
pub const TEST_FILE: &str = "ag_news_csv/test.csv";

/// Parses AG News CSV bytes; errors name `path` and the line.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<TextSet> {
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for_each_csv_row(path, bytes, false, 3, |line, rec| {
        let class: i64 = rec[0].trim().parse().map_err(|_| DataError::Csv {
            path: path.to_path_buf(),
            line,
            what: format!("class `{}` is not an integer 1-4", &rec[0]),
        })?;
        if !(1..=4).contains(&class) {
            return Err(DataError::LabelRange { path: path.to_path_buf(), record: labels.len(), label: class, max: 4 });
        }
        labels.push((class - 1) as u8);
        texts.push(format!("{} {}", rec[1].trim(), rec[2].trim()).replace('\\', " "));
        Ok(())
    })?;
    Ok(TextSet { texts, labels, class_names: CLASS_NAMES.iter().map(|s| s.to_string()).collect() })
}

/// Loads the train split (`train.csv` if present, else `train_subset.csv`) or the test split
/// from `dir/ag_news_csv/` (plain or `.gz`).
pub fn load(dir: &DataDir, split: Split) -> Result<TextSet> {
    let expected = "AG News CSV: \"class\",\"title\",\"description\"";
    let file = match split {
        Split::Train if dir.locate(DATASET, TRAIN_FILE, expected).is_ok() => TRAIN_FILE,
        Split::Train => TRAIN_SUBSET_FILE,
        Split::Test => TEST_FILE,
    };
    let (path, bytes) = dir.read(DATASET, file, expected)?;
    parse(&path, &bytes)
}
