//! Model inputs: a batch of images or of token ids, built from a task split.

use burn::prelude::*;
use genrep_data::{Examples, Inputs};

/// One batch of model inputs.
#[derive(Debug, Clone)]
pub enum Input {
    /// `[batch, channels, height, width]` normalised images.
    Images(Tensor<4>),
    /// `[batch, seq_len]` token ids.
    Tokens(Tensor<2, Int>),
    /// `[batch, dim]` feature vectors ([`Inputs::Features`]).
    Features(Tensor<2>),
}

impl Input {
    /// Number of examples in the batch.
    pub fn batch_size(&self) -> usize {
        match self {
            Self::Images(t) => t.dims()[0],
            Self::Tokens(t) => t.dims()[0],
            Self::Features(t) => t.dims()[0],
        }
    }

    /// What kind of input this is, for messages: `images`, `token ids` or `feature vectors`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Images(_) => "images",
            Self::Tokens(_) => "token ids",
            Self::Features(_) => "feature vectors",
        }
    }

    /// Gathers examples `indices` of `examples` into one batch on `device`.
    ///
    /// Indices must be in range (callers index into `0..examples.len()`); an out-of-range
    /// index panics, as slicing would.
    pub fn gather(examples: &Examples, indices: &[usize], device: &Device) -> Self {
        let n = indices.len();
        match &examples.inputs {
            Inputs::Images { channels, height, width, data, .. } => {
                let size = channels * height * width;
                let mut buf = Vec::with_capacity(n * size);
                for &i in indices {
                    buf.extend_from_slice(&data[i * size..(i + 1) * size]);
                }
                Self::Images(Tensor::from_data(TensorData::new(buf, [n, *channels, *height, *width]), device))
            }
            Inputs::Tokens { seq_len, ids, .. } => {
                let mut buf: Vec<i64> = Vec::with_capacity(n * seq_len);
                for &i in indices {
                    buf.extend(ids[i * seq_len..(i + 1) * seq_len].iter().map(|&t| t as i64));
                }
                Self::Tokens(Tensor::from_data(TensorData::new(buf, [n, *seq_len]), device))
            }
            Inputs::Features { dim, data } => {
                let mut buf = Vec::with_capacity(n * dim);
                for &i in indices {
                    buf.extend_from_slice(&data[i * dim..(i + 1) * dim]);
                }
                Self::Features(Tensor::from_data(TensorData::new(buf, [n, *dim]), device))
            }
        }
    }

    /// The whole split as one batch (for small splits and tests).
    pub fn all(examples: &Examples, device: &Device) -> Self {
        let idx: Vec<usize> = (0..examples.len()).collect();
        Self::gather(examples, &idx, device)
    }
}
