//! Gradient kernels (Tsai et al. 2023, Sections 5.2-5.3): the neural tangent kernel
//! `<df(x_i)/dtheta, df(x)/dtheta>` at a checkpoint and the influence kernel
//! `g_i^T (H + damping I)^{-1} g` over all parameters (Gauss-Newton curvature, CG or LiSSA).

use super::Kernel;
use crate::context::TestPoint;
use crate::error::{ExplainError, Result};
use crate::grads::{batch_grad_from_logits, weighted_output_grad};
use crate::params::{dot, flat_values, shifted};
use crate::solve::{conjugate_gradient, CgReport};
use burn::prelude::*;
use genrep_data::Examples;
use genrep_models::{Classifier, FastNet, Input};
use genrep_trainer::loss::softmax_cross_entropy;
use genrep_trainer::{predict_logits_with, Engine};

/// Relative step of the central-difference Jacobian-vector products of
/// [`GradientKernel::gnvp`] for models without an exact forward mode (custom architectures;
/// the built-in models use their exact JVP).
pub const GN_FD_STEP: f64 = 1e-5;

/// How the test-side feature map of a gradient kernel is preconditioned.
#[derive(Debug, Clone, PartialEq)]
pub enum Preconditioner {
    /// None: the neural tangent kernel `<df(x_i)/dtheta, df(x)/dtheta>`.
    Identity,
    /// The influence kernel over all parameters: `g_i^T (H + damping I)^{-1} g`, with `H` the
    /// mean training-loss curvature over `hessian_sample` (training indices: all of them by
    /// default, so that no training point is scored through a curvature it is part of while
    /// the others are not), solved by conjugate gradient.
    Influence {
        /// Which curvature matrix `H` is.
        hessian: HessianKind,
        /// Added to the Hessian's diagonal.
        damping: f64,
        /// Training indices the Hessian averages over.
        hessian_sample: Vec<usize>,
        /// CG relative-residual tolerance (LiSSA: the residual it reports against).
        tol: f64,
        /// CG iteration cap.
        max_iter: usize,
        /// Solve by LiSSA with these settings instead of conjugate gradient.
        lissa: Option<crate::solve::LissaOptions>,
        /// Seed of LiSSA's minibatches.
        seed: u64,
    },
}

/// The curvature matrix of the all-parameter influence kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HessianKind {
    /// Gauss-Newton `G = (1/m) sum_i J_i^T (diag(p_i) - p_i p_i^T) J_i` (positive semi-definite,
    /// the default): `J v` exactly by forward-mode differentiation and `J^T u` by a backward pass,
    /// both in one pass per example on models with a fused path ([`Classifier::fast_net`]);
    /// other models get `J v` by central differences ([`GN_FD_STEP`]).
    GaussNewton,
    /// The true Hessian by central differences of loss gradients (indefinite away from a minimum:
    /// CG then stops with an error asking for more damping).
    FiniteDifference,
}

/// A kernel whose feature map is the parameter gradient of the model at one checkpoint: the NTK,
/// or (preconditioned) the influence kernel. Training gradients are streamed one example at a
/// time and never stored: memory is O(p) per test point.
pub struct GradientKernel<'a, M: Classifier> {
    /// The model at the checkpoint (autodiff device).
    pub model: M,
    /// Training split.
    pub train: &'a Examples,
    /// Test split.
    pub test: &'a Examples,
    /// Identity (NTK) or influence.
    pub precondition: Preconditioner,
    /// Label for reports, e.g. `ntk-final`.
    pub label: String,
    /// CG reports of the last contraction (influence only), one per test point.
    pub cg_reports: std::cell::RefCell<Vec<CgReport>>,
    /// Use the model's batched per-example gradient contractions
    /// ([`Classifier::per_example_dots`]) when it has them (the default); `false` forces one
    /// batch-1 backward pass per example. Both are exact and agree to f32 round-off (oracle
    /// test); `genrep bench grads` measures the fast path at 1.6-1.8x the batch-1 loop on the
    /// vision CNNs and 6.6x (one test vector) to 11x (ten) on TextCnn; see docs/PERFORMANCE.md.
    pub batched: bool,
    /// The model's fused CPU path, when it has one and runs on the CPU: exact per-example
    /// contractions, test gradients and Gauss-Newton products (`None` forces burn's path).
    pub fast: Option<Box<dyn FastNet>>,
    /// Where solved influence test vectors `(H + damping I)^{-1} g` are cached (keyed by the
    /// model, the data, the test point and every solver setting): `influence` and
    /// `tracking:inf-final` share the same solves.
    pub cache: Option<std::path::PathBuf>,
}

impl<'a, M: Classifier> GradientKernel<'a, M> {
    /// A gradient kernel of `model` on the two splits.
    pub fn new(model: M, train: &'a Examples, test: &'a Examples, precondition: Preconditioner, label: &str) -> Self {
        let device = genrep_models::params::device_of(&model);
        let fast = Engine::Auto
            .fast_net(&model, &device)
            .filter(|f| f.check_inputs(train).is_ok() && f.check_inputs(test).is_ok());
        Self {
            model,
            train,
            test,
            precondition,
            label: label.into(),
            cg_reports: Default::default(),
            batched: true,
            fast,
            cache: None,
        }
    }

    /// The same kernel on burn's generic path only (no fused CPU path): the oracle for it.
    pub fn without_fast_path(mut self) -> Self {
        self.fast = None;
        self
    }

    /// `(G + damping I) v` with the Gauss-Newton matrix over `sample`, exactly: one fused pass
    /// per example computes `J_i v` (forward mode), `u_i = (diag(p_i) - p_i p_i^T) J_i v / m` and
    /// adds `J_i^T u_i` (backward).
    fn gnvp_exact(fast: &dyn FastNet, train: &Examples, v: &[f64], damping: f64, sample: &[usize]) -> Vec<f64> {
        let vf: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        let m = sample.len().max(1) as f64;
        let mut g = vec![0.0f32; v.len()];
        fast.weighted_grad(
            train,
            sample,
            Some(&vf),
            &|_, logits, jv, out: &mut [f32]| {
                let mx = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
                let z: f64 = logits.iter().map(|&x| (x as f64 - mx).exp()).sum();
                let p: Vec<f64> = logits.iter().map(|&x| (x as f64 - mx).exp() / z).collect();
                let pjv: f64 = p.iter().zip(jv).map(|(a, &b)| a * b as f64).sum();
                for (k, o) in out.iter_mut().enumerate() {
                    *o = (p[k] * (jv[k] as f64 - pjv) / m) as f32;
                }
            },
            &mut g,
        );
        g.iter().zip(v).map(|(&gi, vi)| gi as f64 + damping * vi).collect()
    }

    /// Gradient of the mean training loss over `sample` at the given model.
    fn loss_grad(model: &M, train: &Examples, sample: &[usize]) -> Vec<f32> {
        let c = model.num_classes();
        let mut total: Vec<f32> = Vec::new();
        for chunk in sample.chunks(256) {
            let labels: Vec<usize> = chunk.iter().map(|&i| train.labels[i]).collect();
            let g = batch_grad_from_logits(model, train, chunk, |logits| {
                softmax_cross_entropy(logits, &labels, c)
                    .dloss_dlogits
                    .iter()
                    .map(|g| g / sample.len() as f32)
                    .collect()
            });
            if total.is_empty() {
                total = g;
            } else {
                total.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
            }
        }
        total
    }

    /// `(H + damping I) v` with `H v ~ (g(theta + eps v) - g(theta - eps v)) / (2 eps)`,
    /// `eps = 1e-3 |theta| / |v|`.
    pub fn hvp(&self, v: &[f64], damping: f64, sample: &[usize], theta_norm: f64) -> Vec<f64> {
        let vnorm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if vnorm == 0.0 {
            return vec![0.0; v.len()];
        }
        let eps = 1e-3 * theta_norm.max(1.0) / vnorm;
        let vf: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        let plus = Self::loss_grad(&shifted(&self.model, &vf, eps as f32), self.train, sample);
        let minus = Self::loss_grad(&shifted(&self.model, &vf, -eps as f32), self.train, sample);
        plus.iter()
            .zip(&minus)
            .zip(v)
            .map(|((p, m), vi)| (*p as f64 - *m as f64) / (2.0 * eps) + damping * vi)
            .collect()
    }

    /// `(G + damping I) v` with the Gauss-Newton matrix `G` over `sample` (see [`HessianKind`]):
    /// exact on models with a fused path, else `J v` by central differences.
    pub fn gnvp(&self, v: &[f64], damping: f64, sample: &[usize], theta_norm: f64) -> Vec<f64> {
        if let Some(fast) = &self.fast {
            return Self::gnvp_exact(fast.as_ref(), self.train, v, damping, sample);
        }
        let vnorm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if vnorm == 0.0 {
            return vec![0.0; v.len()];
        }
        let c = self.model.num_classes();
        // Step of the central difference J v ~ (f(theta + eps v) - f(theta - eps v)) / 2 eps,
        // relative to |theta|. For ReLU / max-pool networks the error is dominated by examples
        // whose activation pattern changes within +-eps v, so it shrinks with eps until f32
        // round-off takes over: against an exact forward-mode JVP (bench/pytorch_explain.py
        // --check, influence scores on a 100-example MNIST run), the largest score error relative
        // to the largest score was 9-12% at 1e-3, 6-9% at 3e-4, 0.4-3.5% at 1e-5 and rose again
        // at 1e-6. On the much smaller CNN of the oracle test (|theta| ~ 3) round-off already
        // shows at 1e-5: the product's relative error is 6.8e-4 at 1e-3, 9.6e-5 at 1e-4, 8.1e-4
        // at 1e-5 and 1.2e-2 at 1e-6. The step favours the real networks.
        let eps = GN_FD_STEP * theta_norm.max(1.0) / vnorm;
        let vf: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        let device = genrep_models::params::device_of(&self.model);
        let (plus_m, minus_m) = (shifted(&self.model, &vf, eps as f32), shifted(&self.model, &vf, -eps as f32));
        let mut out: Vec<f64> = v.iter().map(|x| damping * x).collect();
        for chunk in sample.chunks(256) {
            let sub = crate::context::subset(self.train, chunk);
            // burn's forward on both sides, like the backward below (this path is for models
            // without a fused one; mixing engines would put their round-off into the difference).
            let fp = predict_logits_with(Engine::Burn, &plus_m, &sub, 256, &device);
            let fm = predict_logits_with(Engine::Burn, &minus_m, &sub, 256, &device);
            // u_i = (diag(p_i) - p_i p_i^T) J_i v / m, from the same forward pass as the backward.
            let g = batch_grad_from_logits(&self.model, self.train, chunk, |f0| {
                let mut u = vec![0.0f32; chunk.len() * c];
                for r in 0..chunk.len() {
                    let row = &f0[r * c..(r + 1) * c];
                    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
                    let z: f64 = row.iter().map(|&x| (x as f64 - m).exp()).sum();
                    let p: Vec<f64> = row.iter().map(|&x| (x as f64 - m).exp() / z).collect();
                    let jv: Vec<f64> =
                        (0..c).map(|k| (fp[r * c + k] as f64 - fm[r * c + k] as f64) / (2.0 * eps)).collect();
                    let pjv: f64 = p.iter().zip(&jv).map(|(a, b)| a * b).sum();
                    for k in 0..c {
                        u[r * c + k] = (p[k] * (jv[k] - pjv) / sample.len() as f64) as f32;
                    }
                }
                u
            });
            out.iter_mut().zip(&g).for_each(|(o, gi)| *o += *gi as f64);
        }
        out
    }

    /// The test-side vector for one test point: `ds(x)/dtheta` (`s = w . f`, see
    /// [`TestPoint::weights`]), preconditioned if asked.
    pub fn test_vector(&self, t: &TestPoint) -> Result<Vec<f32>> {
        if t.index >= self.test.len() {
            return Err(ExplainError::Index { what: "test", index: t.index, len: self.test.len() });
        }
        let w = t.weights(self.model.num_classes());
        let g = match &self.fast {
            Some(fast) => {
                let mut g = vec![0.0f32; fast.params().len()];
                fast.weighted_grad(
                    self.test,
                    &[t.index],
                    None,
                    &|_, _, _, out: &mut [f32]| out.copy_from_slice(&w),
                    &mut g,
                );
                g
            }
            None => weighted_output_grad(&self.model, self.test, t.index, &w),
        };
        match &self.precondition {
            Preconditioner::Identity => Ok(g),
            Preconditioner::Influence { hessian, damping, hessian_sample, tol, max_iter, lissa, seed } => {
                let entry = self.cache.as_ref().map(|dir| {
                    let params: Vec<u8> = flat_values(&self.model).iter().flat_map(|v| v.to_le_bytes()).collect();
                    let sample: Vec<u8> = hessian_sample.iter().flat_map(|&i| (i as u64).to_le_bytes()).collect();
                    let test: Vec<u8> = g.iter().flat_map(|v| v.to_le_bytes()).collect();
                    let settings = format!("{hessian:?} {damping} {tol} {max_iter} {lissa:?} {seed}");
                    let key = crate::cache::fingerprint(&[
                        &params,
                        &crate::cache::examples_bytes(self.train),
                        &sample,
                        &test,
                        settings.as_bytes(),
                    ]);
                    crate::cache::entry_path(dir, "influence-vector", key)
                });
                let (u, report) = crate::cache::compute_once(entry.as_deref(), "an influence solve", || {
                    let theta_norm = flat_values(&self.model).iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
                    let b: Vec<f64> = g.iter().map(|&x| x as f64).collect();
                    let apply = |v: &[f64]| match hessian {
                        HessianKind::GaussNewton => self.gnvp(v, *damping, hessian_sample, theta_norm),
                        HessianKind::FiniteDifference => self.hvp(v, *damping, hessian_sample, theta_norm),
                    };
                    let (u, report) = match lissa {
                        None => conjugate_gradient(apply, &b, *tol, *max_iter)?,
                        Some(opts) => {
                            // Minibatch j: a seeded draw (without replacement) from the Hessian sample.
                            let minibatch = |j: usize| -> Vec<usize> {
                                use rand::SeedableRng;
                                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
                                    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x11554 ^ j as u64,
                                );
                                let m = opts.batch.min(hessian_sample.len()).max(1);
                                rand::seq::index::sample(&mut rng, hessian_sample.len(), m)
                                    .into_iter()
                                    .map(|k| hessian_sample[k])
                                    .collect()
                            };
                            let part = |v: &[f64], j: usize| match hessian {
                                HessianKind::GaussNewton => self.gnvp(v, *damping, &minibatch(j), theta_norm),
                                HessianKind::FiniteDifference => self.hvp(v, *damping, &minibatch(j), theta_norm),
                            };
                            crate::solve::lissa(part, apply, &b, opts, *tol)?
                        }
                    };
                    Ok::<_, ExplainError>((u.iter().map(|&x| x as f32).collect::<Vec<f32>>(), report))
                })?;
                self.cg_reports.borrow_mut().push(report);
                Ok(u)
            }
        }
    }
}

impl<M: Classifier> Kernel for GradientKernel<'_, M> {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn contract(
        &self,
        alpha: &[f64],
        tests: &[TestPoint],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f64>>> {
        let c = self.model.num_classes();
        let n = self.train.len();
        self.cg_reports.borrow_mut().clear();
        let vecs: Vec<Vec<f32>> = tests.iter().map(|t| self.test_vector(t)).collect::<Result<_>>()?;
        let mut out = vec![vec![0.0; n]; tests.len()];
        if tests.is_empty() {
            return Ok(out);
        }
        if let Some(fast) = &self.fast {
            let vrefs: Vec<&[f32]> = vecs.iter().map(|v| v.as_slice()).collect();
            let all: Vec<usize> = (0..n).collect();
            for block in all.chunks(512) {
                let (w, scales) = scaled_rows(alpha, block, c);
                let s = fast.per_example_dots(self.train, block, &w, &vrefs);
                for (r, &i) in block.iter().enumerate() {
                    for t in 0..tests.len() {
                        out[t][i] = scales[r] * s[r * tests.len() + t];
                    }
                }
                progress(block[block.len() - 1] + 1, n);
            }
            return Ok(out);
        }
        let p = vecs[0].len();
        let plain = genrep_models::params::device_of(&self.model).inner();
        // V^T: [p, T], for one matmul per batch on the fast path.
        let flat: Vec<f32> = vecs.iter().flatten().copied().collect();
        let vt = Tensor::<2>::from_data(TensorData::new(flat, [tests.len(), p]), &plain).transpose();
        let all: Vec<usize> = (0..n).collect();
        for chunk in all.chunks(64) {
            let (w, scales) = scaled_rows(alpha, chunk, c);
            let x = Input::gather(self.train, chunk, &plain);
            let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [chunk.len(), c]), &plain);
            let fast = if self.batched { self.model.per_example_dots(&x, &wt, &vt) } else { None };
            match fast {
                Some(s) => {
                    let s = genrep_models::params::f32_values(s.into_data());
                    for (r, &i) in chunk.iter().enumerate() {
                        for t in 0..tests.len() {
                            out[t][i] = scales[r] * s[r * tests.len() + t] as f64;
                        }
                    }
                }
                None => {
                    for (r, &i) in chunk.iter().enumerate() {
                        if scales[r] > 0.0 {
                            let g = weighted_output_grad(&self.model, self.train, i, &w[r * c..(r + 1) * c]);
                            for (t, v) in vecs.iter().enumerate() {
                                out[t][i] = scales[r] * dot(&g, v);
                            }
                        }
                    }
                }
            }
            progress(chunk[chunk.len() - 1] + 1, n);
        }
        Ok(out)
    }
}

/// The rows `alpha[i]` of `block` as f32 output weights scaled to unit maximum (so tiny
/// importances keep full f32 precision), with the scales to multiply results by.
fn scaled_rows(alpha: &[f64], block: &[usize], c: usize) -> (Vec<f32>, Vec<f64>) {
    let scales: Vec<f64> =
        block.iter().map(|&i| alpha[i * c..(i + 1) * c].iter().fold(0.0f64, |m, v| m.max(v.abs()))).collect();
    let w = block
        .iter()
        .zip(&scales)
        .flat_map(|(&i, &sc)| {
            alpha[i * c..(i + 1) * c].iter().map(move |v| if sc > 0.0 { (v / sc) as f32 } else { 0.0 })
        })
        .collect();
    (w, scales)
}
