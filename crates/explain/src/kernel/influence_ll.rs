//! The influence kernel restricted to the last layer (Koh & Liang 2017; Tsai et al. 2023 use
//! it for text models), with the exact Hessian of the head.

use super::Kernel;
use super::LastLayerKernel;
use crate::context::TestPoint;
use crate::error::Result;
use crate::solve::{cholesky, cholesky_solve, conjugate_gradient};
use genrep_data::Examples;
use genrep_models::Classifier;
use genrep_trainer::predict_logits;

/// The influence kernel restricted to the last layer (head weights and bias, `(d+1) C`
/// parameters), as Koh & Liang and the paper do for text models: `K = g_i^T (H + damping I)^{-1} g`
/// with the exact Hessian of the mean training cross-entropy with respect to the head,
/// `H = (1/n) sum_i (phi_i phi_i^T) (x) (diag(p_i) - p_i p_i^T)`. Solved by Cholesky when
/// `(d+1) C <= 3000`, else by conjugate gradient with exact Hessian-vector products.
pub struct LastLayerInfluenceKernel {
    ll: LastLayerKernel,
    probs: Vec<f64>,
    damping: f64,
}

impl LastLayerInfluenceKernel {
    /// Builds the kernel from the final model.
    pub fn new<M: Classifier>(model: &M, train: &Examples, test: &Examples, damping: f64, batch_size: usize) -> Self {
        let ll = LastLayerKernel::new(model, train, test, batch_size);
        let c = ll.num_classes;
        let device = genrep_models::params::device_of(model);
        let probs = crate::importance::softmax_rows(&predict_logits(model, train, batch_size, &device), c);
        Self { ll, probs, damping }
    }

    /// Exact `(H + damping I) v` for the head parameters (`v` indexed `j * C + k`).
    pub fn hvp(&self, v: &[f64]) -> Vec<f64> {
        let (d, c) = (self.ll.dim, self.ll.num_classes);
        let n = self.ll.train.len() / d;
        let mut out: Vec<f64> = v.iter().map(|x| self.damping * x).collect();
        for i in 0..n {
            let phi = &self.ll.train[i * d..(i + 1) * d];
            let p = &self.probs[i * c..(i + 1) * c];
            let z: Vec<f64> = (0..c).map(|k| (0..d).map(|j| phi[j] * v[j * c + k]).sum()).collect();
            let pz: f64 = p.iter().zip(&z).map(|(a, b)| a * b).sum();
            let hz: Vec<f64> = (0..c).map(|k| p[k] * (z[k] - pz)).collect();
            for j in 0..d {
                for k in 0..c {
                    out[j * c + k] += phi[j] * hz[k] / n as f64;
                }
            }
        }
        out
    }

    /// Extreme eigenvalues of `H + damping I` on the directions the loss can see, by up to
    /// `steps` Lanczos steps from a start drawn with `seed` ([`crate::spectrum::lanczos_extremes`]).
    ///
    /// `H` is always singular: adding the same vector to every class's head weights (`v_{j,k} =
    /// u_j` for all `k`) leaves the softmax, and so every loss, unchanged, a null space of
    /// dimension `d + 1` whose eigenvalue in `H + damping I` is the damping alone. The spectrum is
    /// therefore taken on its orthogonal complement (per feature, the class-mean is removed), of
    /// dimension `(d + 1)(C - 1)`; there its smallest eigenvalue is still the damping when the
    /// features do not span their space (e.g. more features than training points). `None` when
    /// the model has one class.
    pub fn spectrum(&self, steps: usize, seed: u64) -> Option<crate::spectrum::Spectrum> {
        let (d, c) = (self.ll.dim, self.ll.num_classes);
        // Removes the class-mean of each feature's C weights (the projection onto the complement
        // of the softmax-invariant directions).
        let project = |mut v: Vec<f64>| {
            for row in v.chunks_mut(c) {
                let mean = row.iter().sum::<f64>() / c as f64;
                row.iter_mut().for_each(|x| *x -= mean);
            }
            v
        };
        let start = project(crate::spectrum::random_start(d * c, seed));
        crate::spectrum::lanczos_extremes(|v| project(self.hvp(v)), start, steps)
    }

    /// The explicit `(H + damping I)` matrix, `[(d+1)C, (d+1)C]` row-major.
    pub fn hessian(&self) -> Vec<f64> {
        let p = self.ll.dim * self.ll.num_classes;
        let mut h = vec![0.0; p * p];
        let mut e = vec![0.0; p];
        for col in 0..p {
            e[col] = 1.0;
            let hc = self.hvp(&e);
            for row in 0..p {
                h[row * p + col] = hc[row];
            }
            e[col] = 0.0;
        }
        h
    }
}

impl Kernel for LastLayerInfluenceKernel {
    fn name(&self) -> String {
        "inf-ll".into()
    }

    fn contract(
        &self,
        alpha: &[f64],
        tests: &[TestPoint],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f64>>> {
        let (d, c) = (self.ll.dim, self.ll.num_classes);
        let p = d * c;
        let n = self.ll.train.len() / d;
        let factor = if p <= 3000 {
            let mut h = self.hessian();
            cholesky(&mut h, p)?;
            Some(h)
        } else {
            None
        };
        let mut out = Vec::new();
        for t in tests {
            let ft = self.ll.test_features(t.index)?;
            let w = t.weights(c);
            let mut b = vec![0.0; p];
            for j in 0..d {
                for k in 0..c {
                    b[j * c + k] = ft[j] * w[k] as f64;
                }
            }
            let u = match &factor {
                Some(l) => cholesky_solve(l, p, &b),
                None => conjugate_gradient(|v| self.hvp(v), &b, 1e-8, 1000)?.0,
            };
            out.push(
                (0..n)
                    .map(|i| {
                        let phi = &self.ll.train[i * d..(i + 1) * d];
                        (0..c).map(|k| alpha[i * c + k] * (0..d).map(|j| phi[j] * u[j * c + k]).sum::<f64>()).sum()
                    })
                    .collect(),
            );
        }
        progress(n, n);
        Ok(out)
    }
}
