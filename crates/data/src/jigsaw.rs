//! Jigsaw Toxic Comment Classification (Kaggle 2018) train CSV: a header row
//! `id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate`, quoted
//! comments that may span lines, and six 0/1 labels.

use crate::error::{DataError, Result};
use crate::source::DataDir;
use crate::text_set::{for_each_csv_row, TextSet};
use std::path::Path;

const DATASET: &str = "toxicity";
/// The file we have: 2,266 real rows of the Kaggle train set (see datasets/README.md).
pub const FILE: &str = "jigsaw_toxic/train_subset.csv";
/// The six label columns, in file order.
pub const LABEL_NAMES: [&str; 6] = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"];

/// One comment with its six binary labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Kaggle's hexadecimal comment id.
    pub id: String,
    /// The comment text (may contain newlines).
    pub text: String,
    /// `toxic, severe_toxic, obscene, threat, insult, identity_hate`, each 0 or 1.
    pub labels: [u8; 6],
}

/// Parses the Jigsaw CSV bytes; errors name `path`, the line and the column.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<Comment>> {
    let mut out = Vec::new();
    let mut header_checked = false;
    let mut reader_check = |line: u64, rec: &csv::StringRecord| -> Result<()> {
        let mut labels = [0u8; 6];
        for (k, name) in LABEL_NAMES.iter().enumerate() {
            labels[k] = match rec[2 + k].trim() {
                "0" => 0,
                "1" => 1,
                other => {
                    return Err(DataError::Csv {
                        path: path.to_path_buf(),
                        line,
                        what: format!("column `{name}` is `{other}`; expected 0 or 1"),
                    })
                }
            };
        }
        out.push(Comment { id: rec[0].to_string(), text: rec[1].to_string(), labels });
        Ok(())
    };
    // Check the header explicitly so that a headerless or foreign CSV is rejected by name.
    for_each_csv_row(path, bytes, false, 8, |line, rec| {
        if !header_checked {
            header_checked = true;
            if rec.get(1) != Some("comment_text") || rec.get(2) != Some("toxic") {
                return Err(DataError::Csv {
                    path: path.to_path_buf(),
                    line,
                    what: format!(
                        "header is `{}`; expected id,comment_text,{}",
                        rec.iter().collect::<Vec<_>>().join(","),
                        LABEL_NAMES.join(",")
                    ),
                });
            }
            return Ok(());
        }
        reader_check(line, rec)
    })?;
    if !header_checked {
        return Err(DataError::Format { path: path.to_path_buf(), what: "empty file; expected a header row".into() });
    }
    Ok(out)
}

/// Loads all comments of the Jigsaw train subset.
pub fn load_comments(dir: &DataDir) -> Result<(std::path::PathBuf, Vec<Comment>)> {
    let (path, bytes) = dir.read(DATASET, FILE, "Jigsaw toxic-comment train CSV with header")?;
    let comments = parse(&path, &bytes)?;
    Ok((path, comments))
}

/// The binary toxicity task's raw data: label 1 = toxic, 0 = non-toxic.
pub fn load(dir: &DataDir) -> Result<TextSet> {
    let (_, comments) = load_comments(dir)?;
    Ok(TextSet {
        labels: comments.iter().map(|c| c.labels[0]).collect(),
        texts: comments.into_iter().map(|c| c.text).collect(),
        class_names: vec!["non-toxic".into(), "toxic".into()],
    })
}
