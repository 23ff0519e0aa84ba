//! `TextCnn`: the text classifier of the experiments.
//!
//! `tokens -> embedding(V x e) -> conv1d(k, h) -> relu -> conv1d(k, h) -> relu -> max over time
//! = Phi(x) -> linear head -> C logits`. The embedding is trainable (V = 30,522 BERT WordPiece
//! ids, e = 48 as in the paper).

use crate::classifier::Classifier;
use crate::error::{ModelError, Result};
use crate::input::Input;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, PaddingConfig1d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Configuration of [`TextCnn`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TextCnnConfig {
    /// Vocabulary size `V`.
    pub vocab_size: usize,
    /// Embedding dimension `e`.
    pub embed_dim: usize,
    /// Channels `h` of both convolutions.
    pub hidden: usize,
    /// Kernel size of the convolutions (odd; same padding).
    pub kernel: usize,
    /// Number of classes `C`.
    pub num_classes: usize,
}

impl TextCnnConfig {
    /// The default network: 48-dimensional embeddings, two convolutions of 128 channels with
    /// kernel 5.
    pub fn new(vocab_size: usize, num_classes: usize) -> Self {
        Self { vocab_size, embed_dim: 48, hidden: 128, kernel: 5, num_classes }
    }

    /// Checks every field, naming the offending one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, what: &str| Err(ModelError::Config { field, what: what.to_string() });
        if self.vocab_size == 0 {
            return bad("vocab_size", "must be at least 1");
        }
        if self.embed_dim == 0 || self.hidden == 0 {
            return bad("hidden", "embed_dim and hidden must be positive");
        }
        if self.kernel.is_multiple_of(2) {
            return bad("kernel", "must be odd (same padding)");
        }
        if self.num_classes == 0 {
            return bad("num_classes", "must be at least 1");
        }
        Ok(())
    }

    /// Exact number of trainable parameters.
    pub fn num_params(&self) -> usize {
        let (v, e, h, k, c) = (self.vocab_size, self.embed_dim, self.hidden, self.kernel, self.num_classes);
        v * e + (e * k * h + h) + (h * k * h + h) + (h * c + c)
    }

    /// Builds the network on `device` (seed the device first for reproducible weights).
    pub fn init(&self, device: &Device) -> Result<TextCnn> {
        self.validate()?;
        let pad = PaddingConfig1d::Explicit(self.kernel / 2, self.kernel / 2);
        Ok(TextCnn {
            embedding: EmbeddingConfig::new(self.vocab_size, self.embed_dim).init(device),
            conv1: Conv1dConfig::new(self.embed_dim, self.hidden, self.kernel).with_padding(pad.clone()).init(device),
            conv2: Conv1dConfig::new(self.hidden, self.hidden, self.kernel).with_padding(pad).init(device),
            head: LinearConfig::new(self.hidden, self.num_classes).init(device),
            config: self.clone(),
        })
    }
}

/// The text classifier; see the module docs for the layers.
#[derive(Module, Debug)]
pub struct TextCnn {
    /// Trainable word embeddings `[V, e]`.
    pub embedding: Embedding,
    /// First convolution over time.
    pub conv1: Conv1d,
    /// Second convolution over time.
    pub conv2: Conv1d,
    /// Linear head `Theta_2`.
    pub head: Linear,
    /// The configuration the network was built from.
    #[module(skip)]
    pub config: TextCnnConfig,
}

impl TextCnn {
    /// Penultimate features of `[batch, seq_len]` token ids: max over time of the second
    /// convolution's activations, `[batch, h]`.
    pub fn token_features(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let x = self.embedding.forward(tokens).swap_dims(1, 2); // [b, e, t]
        let x = relu(self.conv1.forward(x));
        let x = relu(self.conv2.forward(x)); // [b, h, t]
        x.max_dim(2).squeeze_dim(2)
    }
}

impl Classifier for TextCnn {
    /// `Phi(x)` for token ids. Image inputs are a programming error (the trainer checks the task
    /// type first) and panic with a clear message.
    fn features(&self, x: &Input) -> Tensor<2> {
        match x {
            Input::Tokens(t) => self.token_features(t.clone()),
            Input::Images(_) => panic!("TextCnn got image inputs; use VisionCnn for image tasks"),
        }
    }

    fn head(&self) -> &Linear {
        &self.head
    }

    fn head_mut(&mut self) -> &mut Linear {
        &mut self.head
    }

    fn architecture(&self) -> String {
        let c = &self.config;
        format!("text-cnn(V={}, e={}, h={}, k{}, C={})", c.vocab_size, c.embed_dim, c.hidden, c.kernel, c.num_classes)
    }
}
