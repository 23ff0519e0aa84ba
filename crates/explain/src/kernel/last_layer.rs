//! The last-layer kernel (Tsai et al. 2023, Section 5.1): penultimate features with a bias
//! column, block-diagonal over classes.

use super::Kernel;
use crate::context::TestPoint;
use crate::error::{ExplainError, Result};
use genrep_data::Examples;
use genrep_models::{Classifier, Input};
use genrep_trainer::Engine;

/// Penultimate features with a constant 1 appended (so the head's bias is part of the linear
/// map): `[n, d+1]` row-major f64, computed in batches without autodiff.
pub fn features_with_bias<M: Classifier>(model: &M, examples: &Examples, batch_size: usize) -> Vec<f64> {
    let device = genrep_models::params::device_of(model);
    let idx: Vec<usize> = (0..examples.len()).collect();
    if let Some(fast) = Engine::Auto.fast_net(model, &device).filter(|f| f.check_inputs(examples).is_ok()) {
        let f = fast.features(examples, &idx);
        let d = f.len() / examples.len().max(1);
        let mut out = Vec::with_capacity(examples.len() * (d + 1));
        for row in f.chunks(d.max(1)) {
            out.extend(row.iter().map(|&a| a as f64));
            out.push(1.0);
        }
        return out;
    }
    let m = model.valid();
    let device = device.inner();
    let mut out = Vec::new();
    for chunk in idx.chunks(batch_size.max(1)) {
        let x = Input::gather(examples, chunk, &device);
        let f = m.features(&x);
        let d = f.dims()[1];
        let v = genrep_models::params::f32_values(f.into_data());
        for row in v.chunks(d) {
            out.extend(row.iter().map(|&a| a as f64));
            out.push(1.0);
        }
    }
    out
}

/// Last-layer kernel: `Phi(x)` = penultimate features with 1 appended, block-diagonal over
/// classes: `K_{c',c}(x_i, x) = [c' = c] <Phi(x_i), Phi(x)>`; for an explained score
/// `s = w . f(x)`, `phi_i = (alpha_i . w) <Phi(x_i), Phi(x)>`.
pub struct LastLayerKernel {
    /// `[n, D]` training features.
    pub train: Vec<f64>,
    /// `[n_test, D]` test features (all of the test split).
    pub test: Vec<f64>,
    /// `D = d + 1`.
    pub dim: usize,
    /// Classes `C`.
    pub num_classes: usize,
}

impl LastLayerKernel {
    /// Features of `model` on both splits.
    pub fn new<M: Classifier>(model: &M, train: &Examples, test: &Examples, batch_size: usize) -> Self {
        Self {
            train: features_with_bias(model, train, batch_size),
            test: features_with_bias(model, test, batch_size),
            dim: model.feature_dim() + 1,
            num_classes: model.num_classes(),
        }
    }
}

impl LastLayerKernel {
    /// Features of test example `index`, or an index error.
    pub fn test_features(&self, index: usize) -> Result<&[f64]> {
        let d = self.dim;
        self.test.get(index * d..(index + 1) * d).ok_or(ExplainError::Index {
            what: "test",
            index,
            len: self.test.len() / d,
        })
    }
}

impl Kernel for LastLayerKernel {
    fn name(&self) -> String {
        "ll".into()
    }

    fn contract(
        &self,
        alpha: &[f64],
        tests: &[TestPoint],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f64>>> {
        let (d, c) = (self.dim, self.num_classes);
        let n = self.train.len() / d;
        let mut out = Vec::new();
        for t in tests {
            let ft = self.test_features(t.index)?;
            let w = t.weights(c);
            out.push(
                (0..n)
                    .map(|i| {
                        let fi = &self.train[i * d..(i + 1) * d];
                        let a: f64 = (0..c).map(|k| alpha[i * c + k] * w[k] as f64).sum();
                        a * fi.iter().zip(ft).map(|(a, b)| a * b).sum::<f64>()
                    })
                    .collect(),
            );
        }
        progress(n, n);
        Ok(out)
    }
}
