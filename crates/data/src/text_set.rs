//! In-memory labelled text collections, and the CSV plumbing shared by the text loaders.

use crate::error::{DataError, Result};
use std::path::Path;

/// A set of raw texts with one label each.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSet {
    /// The raw documents.
    pub texts: Vec<String>,
    /// One label per text, in `0..class_names.len()`.
    pub labels: Vec<u8>,
    /// Human-readable class names, indexed by label.
    pub class_names: Vec<String>,
}

impl TextSet {
    /// Number of texts.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no text.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of texts per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        crate::class_counts(self.labels.iter().map(|&l| l as usize), self.class_names.len())
    }
}

/// Iterates over the CSV records of `bytes`, calling `row(line, fields)` for each; every
/// record must have exactly `columns` fields. Errors carry `path` and the 1-based line.
pub(crate) fn for_each_csv_row(
    path: &Path,
    bytes: &[u8],
    has_header: bool,
    columns: usize,
    mut row: impl FnMut(u64, &csv::StringRecord) -> Result<()>,
) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut record = csv::StringRecord::new();
    let mut first = true;
    loop {
        let more = reader.read_record(&mut record).map_err(|e| DataError::Csv {
            path: path.to_path_buf(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            what: csv_error_text(&e),
        })?;
        if !more {
            return Ok(());
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if first && has_header {
            first = false;
            continue;
        }
        first = false;
        if record.len() != columns {
            return Err(DataError::Csv {
                path: path.to_path_buf(),
                line,
                what: format!("{} fields; expected {columns}", record.len()),
            });
        }
        row(line, &record)?;
    }
}

fn csv_error_text(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 in field {}", err.field() + 1),
        _ => e.to_string(),
    }
}
