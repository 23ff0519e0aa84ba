//! `VisionCnn`: the 3-layer image classifier of the experiments (2 convolutions + linear head).
//!
//! `x -> conv5x5(c1) -> relu -> maxpool2 -> conv5x5(c2) -> relu -> maxpool2 -> flatten = Phi(x)
//! -> linear head -> C logits`. Convolutions are "same"-padded, so `Phi(x)` has
//! `c2 * (H/4) * (W/4)` entries.

use crate::classifier::Classifier;
use crate::error::{ModelError, Result};
use crate::input::Input;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Configuration of [`VisionCnn`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VisionCnnConfig {
    /// Input channels (1 for MNIST, 3 for CIFAR-10).
    pub in_channels: usize,
    /// Input height (must be divisible by 4).
    pub height: usize,
    /// Input width (must be divisible by 4).
    pub width: usize,
    /// Output channels of the two convolutions.
    pub channels: [usize; 2],
    /// Square kernel size of the convolutions (odd).
    pub kernel: usize,
    /// Number of classes `C`.
    pub num_classes: usize,
}

impl VisionCnnConfig {
    /// The default network for `channels x height x width` images and `num_classes` classes:
    /// convolutions of 32 and 64 channels with 5x5 kernels.
    pub fn new(in_channels: usize, height: usize, width: usize, num_classes: usize) -> Self {
        Self { in_channels, height, width, channels: [32, 64], kernel: 5, num_classes }
    }

    /// Checks every field before any allocation, naming the offending one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, what: &str| Err(ModelError::Config { field, what: what.to_string() });
        if self.in_channels == 0 {
            return bad("in_channels", "must be at least 1");
        }
        if self.height == 0 || !self.height.is_multiple_of(4) {
            return bad("height", "must be a positive multiple of 4 (two 2x2 max-pools)");
        }
        if self.width == 0 || !self.width.is_multiple_of(4) {
            return bad("width", "must be a positive multiple of 4 (two 2x2 max-pools)");
        }
        if self.channels.contains(&0) {
            return bad("channels", "must be positive");
        }
        if self.kernel.is_multiple_of(2) {
            return bad("kernel", "must be odd (same padding)");
        }
        if self.num_classes == 0 {
            return bad("num_classes", "must be at least 1");
        }
        Ok(())
    }

    /// Dimension of the penultimate features `Phi(x)`.
    pub fn feature_dim(&self) -> usize {
        self.channels[1] * (self.height / 4) * (self.width / 4)
    }

    /// Exact number of trainable parameters (weights and biases of all three layers).
    pub fn num_params(&self) -> usize {
        let k2 = self.kernel * self.kernel;
        let [c1, c2] = self.channels;
        (self.in_channels * k2 * c1 + c1)
            + (c1 * k2 * c2 + c2)
            + (self.feature_dim() * self.num_classes + self.num_classes)
    }

    /// Builds the network with burn's default (Kaiming-uniform) initialisation on `device`.
    /// Seed the device (`device.seed(s)`) first for reproducible weights.
    pub fn init(&self, device: &Device) -> Result<VisionCnn> {
        self.validate()?;
        let pad = PaddingConfig2d::Explicit(self.kernel / 2, self.kernel / 2, self.kernel / 2, self.kernel / 2);
        let k = [self.kernel, self.kernel];
        Ok(VisionCnn {
            conv1: Conv2dConfig::new([self.in_channels, self.channels[0]], k).with_padding(pad.clone()).init(device),
            conv2: Conv2dConfig::new([self.channels[0], self.channels[1]], k).with_padding(pad).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            head: LinearConfig::new(self.feature_dim(), self.num_classes).init(device),
            config: self.clone(),
        })
    }
}

/// The image classifier; see the module docs for the layers.
#[derive(Module, Debug)]
pub struct VisionCnn {
    /// First convolution.
    pub conv1: Conv2d,
    /// Second convolution.
    pub conv2: Conv2d,
    /// 2x2 max-pool, applied after each convolution.
    pub pool: MaxPool2d,
    /// Linear head `Theta_2`.
    pub head: Linear,
    /// The configuration the network was built from.
    #[module(skip)]
    pub config: VisionCnnConfig,
}

impl VisionCnn {
    /// Penultimate features of a `[batch, C, H, W]` image tensor.
    pub fn image_features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        x.flatten(1, 3)
    }
}

impl Classifier for VisionCnn {
    /// `Phi(x)` for images. Token inputs are a programming error here (the trainer checks the
    /// task type against the model before training) and panic with a clear message.
    fn features(&self, x: &Input) -> Tensor<2> {
        match x {
            Input::Images(t) => self.image_features(t.clone()),
            other => panic!("VisionCnn got {}; it takes images", other.kind()),
        }
    }

    fn head(&self) -> &Linear {
        &self.head
    }

    /// Layer-wise per-example gradients. With `z1 = conv1(x)`, `h1 = pool(relu(z1))`,
    /// `z2 = conv2(h1)`, `Phi = flatten(pool(relu(z2)))` and output gradients
    /// `d2 = d(w.f)/dz2`, `d1 = d(w.f)/dz1` (one forward and one backward pass with zero "probe"
    /// leaves added to `z1` and `z2`, whose gradients are `d1` and `d2`; the weights are
    /// constants, so no weight gradient is formed, and the batch dimension stays separate):
    /// `dW2[i] = d2[i] U(h1[i])^T`, `db2[i] = sum_p d2[i]`, `dW1[i] = d1[i] U(x[i])^T`,
    /// `db1[i] = sum_p d1[i]` (`U` = im2col unfold), and for the head `dW[i] = Phi(x_i) w_i^T`,
    /// `db[i] = w_i`.
    fn per_example_grads(&self, x: &Input, w: &Tensor<2>) -> Option<Tensor<2>> {
        use burn::tensor::module::unfold4d;
        use burn::tensor::ops::{PadMode, UnfoldOptions};
        let Input::Images(x) = x else { return None };
        let m = self.clone().no_grad();
        let x = x.clone().inner();
        let w = w.clone().inner();
        let b = x.dims()[0];
        let (k, pad) = (self.config.kernel, self.config.kernel / 2);
        // Zero-pad first, then unfold without padding: burn's unfold4d with padding falls back to
        // a convolution with a one-hot [C k k, C, k, k] kernel (C k^2 times the cost of the
        // layer's own convolution), while an unpadded unfold is a strided copy.
        let unfold = |t: Tensor<4>| {
            let t = t.pad([(pad, pad), (pad, pad)], PadMode::Constant(0.0));
            unfold4d(t, [k, k], UnfoldOptions::new([1, 1], [0, 0], [1, 1]))
        };
        let z1 = m.conv1.forward(x.clone().autodiff());
        let p1 = z1.zeros_like().inner().autodiff().require_grad();
        let h1 = m.pool.forward(relu(z1 + p1.clone()));
        let z2 = m.conv2.forward(h1.clone());
        let p2 = z2.zeros_like().inner().autodiff().require_grad();
        let feats = m.pool.forward(relu(z2 + p2.clone())).flatten::<2>(1, 3);
        let logits = m.head.forward(feats.clone());
        let grads = (logits * w.clone().autodiff()).sum().backward();
        let (d1, d2) = (p1.grad(&grads)?, p2.grad(&grads)?);
        let (h1, feats) = (h1.inner(), feats.inner());

        let [_, o1, h, wd] = d1.dims();
        let d1 = d1.reshape([b, o1, h * wd]);
        let gw1 = d1.clone().matmul(unfold(x).swap_dims(1, 2)).reshape([b as i64, -1]);
        let gb1 = d1.sum_dim(2).reshape([b as i64, -1]);
        let [_, o2, h2, w2] = d2.dims();
        let d2 = d2.reshape([b, o2, h2 * w2]);
        let gw2 = d2.clone().matmul(unfold(h1).swap_dims(1, 2)).reshape([b as i64, -1]);
        let gb2 = d2.sum_dim(2).reshape([b as i64, -1]);
        let gwh = (feats.unsqueeze_dim::<3>(2) * w.clone().unsqueeze_dim::<3>(1)).reshape([b as i64, -1]);
        Some(Tensor::cat(vec![gw1, gb1, gw2, gb2, gwh, w], 1))
    }

    fn fast_net(&self) -> Option<Box<dyn crate::FastNet>> {
        Some(Box::new(crate::fast::VisionFast::new(&self.config, crate::params::flat_values(self))))
    }

    fn architecture(&self) -> String {
        let c = &self.config;
        format!(
            "vision-cnn({}x{}x{}, {}-{}, k{}, C={})",
            c.in_channels, c.height, c.width, c.channels[0], c.channels[1], c.kernel, c.num_classes
        )
    }
}
