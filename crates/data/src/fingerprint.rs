//! Fingerprints of the data a run was trained on, so that a run reopened against other data
//! (another `--data-dir`, another `--train-per-class`, edited files) is refused instead of giving
//! misaligned scores.

use crate::task::{Examples, Inputs, Task};

/// FNV-1a over byte slices (each part followed by a separator byte): a stable 64-bit
/// fingerprint, not cryptographic.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Examples {
    /// The bytes of the split's inputs and labels, in order (what [`Examples::fingerprint`]
    /// hashes).
    pub fn content_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.inputs {
            Inputs::Images { data, .. } => data.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            Inputs::Tokens { ids, .. } => ids.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            Inputs::Features { data, .. } => data.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        }
        self.labels.iter().for_each(|&y| out.extend_from_slice(&(y as u64).to_le_bytes()));
        out
    }

    /// FNV-1a of the ordered inputs and labels: equal iff (up to hash collisions) the same
    /// examples in the same order.
    pub fn fingerprint(&self) -> u64 {
        fnv1a(&[&self.content_bytes()])
    }
}

/// What a run was trained and tested on: sizes and content hashes of both splits.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataFingerprint {
    /// Training examples.
    pub train_examples: usize,
    /// Test examples.
    pub test_examples: usize,
    /// Classes.
    pub classes: usize,
    /// Numbers per input (pixels x channels, or tokens).
    pub input_size: usize,
    /// [`Examples::fingerprint`] of the training split, as 16 hex digits.
    pub train: String,
    /// [`Examples::fingerprint`] of the test split, as 16 hex digits.
    pub test: String,
}

impl DataFingerprint {
    /// The fingerprint of a built task.
    pub fn of(task: &Task) -> Self {
        Self::of_splits(&task.train, Some(&task.test), task.num_classes())
    }

    /// The fingerprint of a training split and an optional test split (without one, the test
    /// fields are empty and [`DataFingerprint::compare`] ignores them).
    pub fn of_splits(train: &Examples, test: Option<&Examples>, classes: usize) -> Self {
        Self {
            train_examples: train.len(),
            test_examples: test.map_or(0, Examples::len),
            classes,
            input_size: train.input_size(),
            train: format!("{:016x}", train.fingerprint()),
            test: test.map(|t| format!("{:016x}", t.fingerprint())).unwrap_or_default(),
        }
    }

    /// `Err` with a one-line description of the first difference, `Ok` when equal.
    pub fn compare(&self, found: &Self) -> std::result::Result<(), String> {
        let no_test = self.test.is_empty() || found.test.is_empty();
        let pairs = [
            ("training examples", self.train_examples.to_string(), found.train_examples.to_string()),
            ("test examples", self.test_examples.to_string(), found.test_examples.to_string()),
            ("classes", self.classes.to_string(), found.classes.to_string()),
            ("numbers per input", self.input_size.to_string(), found.input_size.to_string()),
            ("training-set content hash", self.train.clone(), found.train.clone()),
            ("test-set content hash", self.test.clone(), found.test.clone()),
        ];
        match pairs.iter().filter(|(what, _, _)| !(no_test && what.starts_with("test"))).find(|(_, a, b)| a != b) {
            Some((what, a, b)) => Err(format!("{what}: the run was trained with {a}, the data here gives {b}")),
            None => Ok(()),
        }
    }
}
