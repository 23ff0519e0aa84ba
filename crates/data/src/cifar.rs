//! CIFAR-10, binary version: records of 1 label byte + 3,072 pixel bytes (R, G, B planes of
//! 32x32, row-major), 10,000 records per `data_batch_k.bin` / `test_batch.bin` (plain or `.gz`).

use crate::error::{DataError, Result};
use crate::image_set::ImageSet;
use crate::source::DataDir;
use crate::Split;
use std::path::Path;

const DATASET: &str = "cifar10";
/// Bytes of one record: label + 3x32x32 pixels.
pub const RECORD: usize = 1 + 3 * 32 * 32;
/// The class names of CIFAR-10, in label order (as in `batches.meta.txt`).
pub const CLASS_NAMES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Parses one CIFAR-10 binary batch, appending its images and labels to `pixels` and `labels`.
pub fn parse_batch(path: &Path, bytes: &[u8], pixels: &mut Vec<u8>, labels: &mut Vec<u8>) -> Result<()> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            what: format!("size {} bytes is not a positive multiple of the {RECORD}-byte record", bytes.len()),
        });
    }
    let start = labels.len();
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            labels.truncate(start);
            return Err(DataError::LabelRange { path: path.to_path_buf(), record: i, label: rec[0] as i64, max: 9 });
        }
        labels.push(rec[0]);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(())
}

/// Loads the CIFAR-10 train split (batches 1-5, 50,000 images) or test split (10,000).
pub fn load(dir: &DataDir, split: Split) -> Result<ImageSet> {
    let files: Vec<String> = match split {
        Split::Train => (1..=5).map(|k| format!("cifar-10-batches-bin/data_batch_{k}.bin")).collect(),
        Split::Test => vec!["cifar-10-batches-bin/test_batch.bin".to_string()],
    };
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for f in &files {
        let (path, bytes) = dir.read(DATASET, f, "a CIFAR-10 binary batch (plain or .gz)")?;
        parse_batch(&path, &bytes, &mut pixels, &mut labels)?;
    }
    Ok(ImageSet {
        channels: 3,
        height: 32,
        width: 32,
        pixels,
        labels,
        class_names: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
    })
}
