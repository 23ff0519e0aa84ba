//! MNIST in the IDX format of LeCun et al. (`train-images-idx3-ubyte[.gz]`, ...).
//!
//! IDX layout: big-endian magic `0x00000803` (images, u8, 3 dims) or `0x00000801` (labels),
//! then one big-endian u32 per dimension, then the data bytes.

use crate::error::{DataError, Result};
use crate::image_set::ImageSet;
use crate::source::DataDir;
use crate::Split;
use std::path::Path;

const DATASET: &str = "mnist";
const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Parses IDX image bytes into `(count, rows, cols, pixels)`; errors name `path`.
pub fn parse_idx_images(path: &Path, bytes: &[u8]) -> Result<(usize, usize, usize, Vec<u8>)> {
    let dims = parse_idx_header(path, bytes, IMAGES_MAGIC, 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(fmt_err(path, format!("image dimensions {rows}x{cols}; expected non-zero")));
    }
    let need = n.checked_mul(rows).and_then(|v| v.checked_mul(cols));
    let body = &bytes[16..];
    match need {
        Some(need) if need == body.len() => Ok((n, rows, cols, body.to_vec())),
        _ => Err(fmt_err(
            path,
            format!("header says {n} images of {rows}x{cols} but the file holds {} data bytes", body.len()),
        )),
    }
}

/// Parses IDX label bytes into a label vector, checking each label is in `0..=9`.
pub fn parse_idx_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let dims = parse_idx_header(path, bytes, LABELS_MAGIC, 1)?;
    let body = &bytes[8..];
    if dims[0] != body.len() {
        return Err(fmt_err(path, format!("header says {} labels but the file holds {}", dims[0], body.len())));
    }
    if let Some((record, &label)) = body.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(DataError::LabelRange { path: path.to_path_buf(), record, label: label as i64, max: 9 });
    }
    Ok(body.to_vec())
}

fn parse_idx_header(path: &Path, bytes: &[u8], magic: u32, ndims: usize) -> Result<Vec<usize>> {
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(fmt_err(path, format!("{} bytes is shorter than the {header}-byte IDX header", bytes.len())));
    }
    let word = |i: usize| u32::from_be_bytes([bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]]);
    let found = word(0);
    if found != magic {
        return Err(fmt_err(path, format!("IDX magic {found:#010x}; expected {magic:#010x}")));
    }
    Ok((1..=ndims).map(|i| word(i) as usize).collect())
}

fn fmt_err(path: &Path, what: String) -> DataError {
    DataError::Format { path: path.to_path_buf(), what }
}

/// Loads the MNIST train (60,000) or test (10,000) split from `dir/mnist/`.
pub fn load(dir: &DataDir, split: Split) -> Result<ImageSet> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let img_name = format!("mnist/{prefix}-images-idx3-ubyte.gz");
    let lbl_name = format!("mnist/{prefix}-labels-idx1-ubyte.gz");
    let (ip, ib) = dir.read(DATASET, &img_name, "MNIST IDX images (gzip or raw)")?;
    let (lp, lb) = dir.read(DATASET, &lbl_name, "MNIST IDX labels (gzip or raw)")?;
    let (n, rows, cols, pixels) = parse_idx_images(&ip, &ib)?;
    let labels = parse_idx_labels(&lp, &lb)?;
    if labels.len() != n {
        return Err(fmt_err(&lp, format!("{} labels but {} has {n} images", labels.len(), ip.display())));
    }
    Ok(ImageSet {
        channels: 1,
        height: rows,
        width: cols,
        pixels,
        labels,
        class_names: (0..10).map(|d| d.to_string()).collect(),
    })
}
