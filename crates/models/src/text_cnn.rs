//! `TextCnn`: the text classifier of the experiments.
//!
//! `tokens -> embedding(V x e) -> conv1d(k, h) -> relu -> conv1d(k, h) -> relu -> max over time
//! = Phi(x) -> linear head -> C logits`. The embedding is trainable (V = 30,522 BERT WordPiece
//! ids, e = 48 as in the paper).

use crate::classifier::Classifier;
use crate::error::{ModelError, Result};
use crate::input::Input;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig, PaddingConfig1d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Configuration of [`TextCnn`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Standard deviation of the embedding's initial `N(0, s^2)` entries; `None` is burn's
    /// default `N(0, 1)`. With few training texts most test tokens are never seen in training
    /// and keep their initial vectors, so this sets the size of the noise they add. Left out of
    /// `config.json` when `None`, so runs written before the field existed keep their
    /// fingerprints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed_init_std: Option<f32>,
}

// `embed_init_std` is never NaN (`validate`), so equality is an equivalence.
impl Eq for TextCnnConfig {}

impl TextCnnConfig {
    /// The default network: 48-dimensional embeddings, two convolutions of 128 channels with
    /// kernel 5.
    pub fn new(vocab_size: usize, num_classes: usize) -> Self {
        Self { vocab_size, embed_dim: 48, hidden: 128, kernel: 5, num_classes, embed_init_std: None }
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
        if self.embed_init_std.is_some_and(|s| !s.is_finite() || s < 0.0) {
            return bad("embed_init_std", "must be a finite number >= 0");
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
            embedding: match self.embed_init_std {
                None => EmbeddingConfig::new(self.vocab_size, self.embed_dim),
                Some(0.0) => EmbeddingConfig::new(self.vocab_size, self.embed_dim).with_initializer(Initializer::Zeros),
                Some(s) => EmbeddingConfig::new(self.vocab_size, self.embed_dim)
                    .with_initializer(Initializer::Normal { mean: 0.0, std: s as f64 }),
            }
            .init(device),
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
            other => panic!("TextCnn got {}; it takes token ids", other.kind()),
        }
    }

    fn head(&self) -> &Linear {
        &self.head
    }

    /// Layer-wise per-example gradient contractions. With `E = embed(x)` (`[B, e, L]`),
    /// `z1 = conv1(E)`, `a1 = relu(z1)`, `z2 = conv2(a1)`, `Phi = max_t relu(z2)`, the output
    /// gradients `d2 = d(w.f)/dz2`, `d1 = d(w.f)/dz1`, `dE = d(w.f)/dE` come from one backward
    /// pass (the batch dimension stays separate). Then
    /// `dW2[i] = d2[i] U(a1[i])^T`, `dW1[i] = d1[i] U(E[i])^T` (`U` = im2col unfold over time),
    /// biases `sum_t d[i]`, head `Phi(x_i) w_i^T` and `w_i`, all contracted with `vt`; the
    /// embedding part is sparse, `sum_l < dE[i, :, l], v_emb[token_l] >`, gathered for the tokens
    /// of each example, so no `[B, V e]` gradient is ever formed.
    fn per_example_dots(&self, x: &Input, w: &Tensor<2>, vt: &Tensor<2>) -> Option<Tensor<2>> {
        use burn::tensor::module::unfold4d;
        use burn::tensor::ops::{PadMode, UnfoldOptions};
        let Input::Tokens(tokens) = x else { return None };
        let m = self.valid();
        let tokens = tokens.clone().inner();
        let w = w.clone().inner();
        let vt = vt.clone().inner();
        let [b, len] = tokens.dims();
        let (v, e, k, c) = (self.config.vocab_size, self.config.embed_dim, self.config.kernel, self.config.num_classes);
        let t = vt.dims()[1];
        if vt.dims()[0] != self.config.num_params() || w.dims() != [b, c] {
            return None;
        }
        let pad = k / 2;
        // [B, ch, L] -> im2col [B, L, ch k] (zero-padded in time first; see VisionCnn).
        let unfold = |x: Tensor<3>| {
            let [bb, ch, l] = x.dims();
            let x = x.reshape([bb, ch, 1, l]).pad([(0, 0), (pad, pad)], PadMode::Constant(0.0));
            unfold4d(x, [1, k], UnfoldOptions::new([1, 1], [0, 0], [1, 1])).swap_dims(1, 2)
        };
        let emb = m.embedding.forward(tokens.clone()).swap_dims(1, 2); // [B, e, L]
                                                                       // One forward and one backward pass on constant weights: the embedding output is a leaf
                                                                       // (its gradient is dE) and zero "probe" leaves added to z1 and z2 give d1 and d2.
        let ma = self.clone().no_grad();
        let el = emb.clone().autodiff().require_grad();
        let z1 = ma.conv1.forward(el.clone());
        let p1 = z1.zeros_like().inner().autodiff().require_grad();
        let a1 = relu(z1 + p1.clone());
        let z2 = ma.conv2.forward(a1.clone());
        let p2 = z2.zeros_like().inner().autodiff().require_grad();
        let feats = relu(z2 + p2.clone()).max_dim(2).squeeze_dim::<2>(2);
        let logits = ma.head.forward(feats.clone());
        let grads = (logits * w.clone().autodiff()).sum().backward();
        let (de, d1, d2) = (el.grad(&grads)?, p1.grad(&grads)?, p2.grad(&grads)?);
        let (a1, feats) = (a1.inner(), feats.inner());

        // Dense layers: per-example gradients [B, p_dense] in visiting order after the embedding.
        let gw1 = d1.clone().matmul(unfold(emb)).reshape([b as i64, -1]);
        let gb1 = d1.sum_dim(2).reshape([b as i64, -1]);
        let gw2 = d2.clone().matmul(unfold(a1)).reshape([b as i64, -1]);
        let gb2 = d2.sum_dim(2).reshape([b as i64, -1]);
        let gwh = (feats.unsqueeze_dim::<3>(2) * w.clone().unsqueeze_dim::<3>(1)).reshape([b as i64, -1]);
        let dense = Tensor::cat(vec![gw1, gb1, gw2, gb2, gwh, w], 1);
        let ve = v * e;
        let p = self.config.num_params();
        debug_assert_eq!(dense.dims()[1], p - ve);
        let mut s = dense.matmul(vt.clone().slice([ve..p, 0..t]));
        // Embedding: rows of v_emb at the tokens, [B, L e, T], against dE as [B, 1, L e].
        let vemb = vt.slice([0..ve, 0..t]).reshape([v, e * t]);
        let rows = vemb.select(0, tokens.reshape([b * len])).reshape([b, len * e, t]);
        let de = de.swap_dims(1, 2).reshape([b, 1, len * e]);
        s = s + de.matmul(rows).reshape([b, t]);
        Some(s)
    }

    fn fast_net(&self) -> Option<Box<dyn crate::FastNet>> {
        Some(Box::new(crate::fast::TextFast::new(&self.config, crate::params::flat_values(self))))
    }

    fn architecture(&self) -> String {
        let c = &self.config;
        format!("text-cnn(V={}, e={}, h={}, k{}, C={})", c.vocab_size, c.embed_dim, c.hidden, c.kernel, c.num_classes)
    }
}
