//! The seam for architectures: a feature map followed by a linear head.

use crate::fast::FastNet;
use crate::input::Input;
use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;

/// The model as it is explained: every module-owned training behaviour (dropout, noise layers,
/// batch-norm statistics updates) switched off, as PyTorch's `model.eval()`, while its
/// parameters keep requiring gradients, so per-example gradients and Jacobian-vector products
/// are those of the deterministic function `f(x)` that the model computes at inference.
///
/// burn runs a `Dropout` whenever its device has autodiff and its training flag is set; the
/// explanation kernels need autodiff, so without this they would differentiate a randomly
/// thinned network (a different one at every call). Evaluation ([`Module::valid`]) already
/// runs without the flags.
pub fn explaining<M: Module>(model: M) -> M {
    model.freeze().set_require_grad(true)
}

/// A classifier `f(x) = Theta_2 Phi(x) + b`: a feature map `Phi` (the penultimate layer,
/// needed by the last-layer kernel and representer points) and a linear head.
///
/// Implementing this one trait (plus burn's `Module`) is all a new architecture needs to be
/// trained and explained by genrep.
pub trait Classifier: Module {
    /// Penultimate features `Phi(x)`: `[batch, d]`.
    fn features(&self, x: &Input) -> Tensor<2>;

    /// The linear head `Theta_2` mapping `d` features to `C` logits.
    fn head(&self) -> &Linear;

    /// Logits `f(x) = head(Phi(x))`: `[batch, C]`.
    fn logits(&self, x: &Input) -> Tensor<2> {
        self.head().forward(self.features(x))
    }

    /// Number of output logits `C`.
    fn num_classes(&self) -> usize {
        self.head().weight.dims()[1]
    }

    /// Dimension `d` of the penultimate features.
    fn feature_dim(&self) -> usize {
        self.head().weight.dims()[0]
    }

    /// Optional fast path for per-example gradients: for a batch `x` and per-example output
    /// weights `w` (`[B, C]`), `Some(G)` with `G[i] = d/dtheta [ w_i . f(x_i) ]` (`[B, p]`,
    /// parameters flattened in the module's visiting order), computed for the whole batch at
    /// once (layer-wise outer products). `None` (the default) makes callers fall back to one
    /// batch-1 backward pass per example, which is exact for any architecture.
    fn per_example_grads(&self, _x: &Input, _w: &Tensor<2>) -> Option<Tensor<2>> {
        None
    }

    /// Optional fast path for contracting per-example gradients with fixed parameter-space
    /// vectors: for a batch `x`, output weights `w` (`[B, C]`) and `vt = [v_1 .. v_T]`
    /// (`[p, T]`, parameters in visiting order), `Some(S)` with
    /// `S[i, t] = < d/dtheta [ w_i . f(x_i) ], v_t >` (`[B, T]`). This is what kernel
    /// contractions need, and it lets a model skip forming the `[B, p]` gradients (e.g. a sparse
    /// embedding, whose per-example gradient touches only the rows of the tokens present). The
    /// default multiplies [`Classifier::per_example_grads`] by `vt`; `None` means no fast path.
    fn per_example_dots(&self, x: &Input, w: &Tensor<2>, vt: &Tensor<2>) -> Option<Tensor<2>> {
        self.per_example_grads(x, w).map(|g| g.matmul(vt.clone()))
    }

    /// Optional fused CPU path ([`FastNet`]): the model's parameters copied into one flat
    /// vector with exact forward, backward and forward-mode passes written for this
    /// architecture. The trainer and the explanation kernels use it on CPU devices; `None` (the
    /// default) keeps them on burn's generic autodiff path, which is exact for any architecture.
    fn fast_net(&self) -> Option<Box<dyn FastNet>> {
        None
    }

    /// A short description of the architecture and its shape, used to refuse loading weights
    /// into a different model (e.g. `vision-cnn(1x28x28, 32-64, k5, C=2)`).
    fn architecture(&self) -> String;
}
