//! TRAK (Park et al., ICML 2023) as a generalized representer: a projected after-kernel times a
//! per-example importance.
//!
//! For a model with parameters `theta` (`p` of them), each training example `i` has a scalar
//! output, its multi-class margin `m_i = f_{y_i}(x_i) - log sum_{k != y_i} exp f_k(x_i)`, and the
//! gradient `g_i = dm_i/dtheta`. A seeded Johnson-Lindenstrauss matrix `P` (`d x p`, entries
//! `+-1/sqrt(d)`, generated row by row on the fly and never stored whole) projects them to
//! `phi_i = P g_i`. With `Phi = [phi_1; ..; phi_n]` (`n x d`), the kernel between a training
//! example and a test point `x` (explained score `s(x)`, gradient `g = ds/dtheta`) is
//!
//! `K(x_i, x) = phi_i^T (Phi^T Phi)^{-1} P g`,
//!
//! the importance is TRAK's `Q_ii = 1 - p_{y_i}(x_i)` (minus the derivative of the loss with
//! respect to the margin), and the attribution is `phi(x_i -> x) = Q_ii K(x_i, x)`, summed over
//! an ensemble of checkpoints when asked. With `d = p` and an invertible `P` the projection
//! cancels: `K = g_i^T (G^T G)^{-1} g` (the oracle test).

use crate::context::{Context, TestPoint};
use crate::error::{ExplainError, Result};
use crate::grads::weighted_output_grad;
use crate::kernel::{GradientKernel, Preconditioner};
use crate::solve::{cholesky, cholesky_solve};
use genrep_models::Classifier;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Rows of the projection generated (and contracted) at a time.
const ROW_BLOCK: usize = 128;
/// Training examples per fused pass.
const EXAMPLE_BLOCK: usize = 512;

/// Settings of the projected kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrakOptions {
    /// Projection dimension `d`.
    pub dim: usize,
    /// Seed of the projection.
    pub seed: u64,
}

/// Rows `rows` of the `d x p` projection: `+-1/sqrt(d)`, row `r` from its own seeded stream, so
/// any block can be regenerated identically without storing `P`.
pub fn projection_rows(seed: u64, dim: usize, p: usize, rows: std::ops::Range<usize>) -> Vec<f32> {
    let scale = 1.0 / (dim as f32).sqrt();
    let mut out = vec![0.0f32; rows.len() * p];
    out.par_chunks_mut(p.max(1)).zip(rows).for_each(|(row, r)| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for chunk in row.chunks_mut(32) {
            let bits: u32 = rng.random();
            for (j, v) in chunk.iter_mut().enumerate() {
                *v = if bits >> j & 1 == 1 { scale } else { -scale };
            }
        }
    });
    out
}

/// Per-example output weights of the training margin `m_i`: `dm_i/df = e_{y_i} - q`, where `q`
/// is the softmax over the other classes (zero at `y_i`), and TRAK's `Q_ii = 1 - p_{y_i}`.
fn margin_weights(logits: &[f32], labels: &[usize], c: usize) -> (Vec<f32>, Vec<f64>) {
    let mut w = vec![0.0f32; logits.len()];
    let mut q_diag = Vec::with_capacity(labels.len());
    for (i, &y) in labels.iter().enumerate() {
        let row = &logits[i * c..(i + 1) * c];
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let e: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
        let total: f64 = e.iter().sum();
        let others: f64 = total - e[y];
        for k in 0..c {
            w[i * c + k] = if k == y { 1.0 } else { (-e[k] / others.max(f64::MIN_POSITIVE)) as f32 };
        }
        q_diag.push(1.0 - e[y] / total);
    }
    (w, q_diag)
}

/// One model's projected features.
struct Projected {
    /// `[n, d]` projected training-margin gradients `phi_i = P g_i`.
    phi: Vec<f64>,
    /// TRAK's `Q_ii = 1 - p_{y_i}`.
    q_diag: Vec<f64>,
    /// `[T][d]` projected test gradients `P g_t`.
    phi_test: Vec<Vec<f64>>,
}

/// The projected features of `model` (see [`Projected`]).
fn project<M: Classifier>(
    ctx: &Context<'_, M>,
    model: M,
    tests: &[TestPoint],
    opts: &TrakOptions,
) -> Result<Projected> {
    let (n, c, d) = (ctx.train.len(), model.num_classes(), opts.dim);
    let logits = ctx.logits_of(&model, ctx.train);
    let (w, q_diag) = margin_weights(&logits, &ctx.train.labels, c);
    let kernel = GradientKernel::new(model, ctx.train, ctx.test, Preconditioner::Identity, "trak");
    let test_grads: Vec<Vec<f32>> = tests.iter().map(|t| kernel.test_vector(t)).collect::<Result<_>>()?;
    let p = match &kernel.fast {
        Some(f) => f.params().len(),
        None => crate::params::flat_values(&kernel.model).len(),
    };
    let mut phi = vec![0.0f64; n * d];
    let mut phi_test = vec![vec![0.0f64; d]; tests.len()];
    let all: Vec<usize> = (0..n).collect();
    for r0 in (0..d).step_by(ROW_BLOCK) {
        let r1 = (r0 + ROW_BLOCK).min(d);
        let rows = projection_rows(opts.seed, d, p, r0..r1);
        let refs: Vec<&[f32]> = rows.chunks(p).collect();
        for (t, g) in test_grads.iter().enumerate() {
            for (j, row) in refs.iter().enumerate() {
                phi_test[t][r0 + j] = g.iter().zip(*row).map(|(a, b)| *a as f64 * *b as f64).sum();
            }
        }
        for block in all.chunks(EXAMPLE_BLOCK) {
            let wb = &w[block[0] * c..(block[block.len() - 1] + 1) * c];
            let dots: Vec<f64> = match &kernel.fast {
                Some(fast) => fast.per_example_dots(ctx.train, block, wb, &refs),
                None => block
                    .iter()
                    .enumerate()
                    .flat_map(|(r, &i)| {
                        let g = weighted_output_grad(&kernel.model, ctx.train, i, &wb[r * c..(r + 1) * c]);
                        refs.iter()
                            .map(|row| g.iter().zip(*row).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>())
                            .collect::<Vec<_>>()
                    })
                    .collect(),
            };
            let width = r1 - r0;
            for (r, &i) in block.iter().enumerate() {
                phi[i * d + r0..i * d + r1].copy_from_slice(&dots[r * width..(r + 1) * width]);
            }
        }
    }
    Ok(Projected { phi, q_diag, phi_test })
}

/// TRAK attributions `phi(x_i -> x_t) = Q_ii phi_i^T (Phi^T Phi)^{-1} P g_t` for every test point,
/// summed over `models` (an ensemble of checkpoints; one model is plain TRAK).
pub fn trak_scores<M: Classifier>(
    ctx: &Context<'_, M>,
    models: Vec<M>,
    tests: &[TestPoint],
    opts: &TrakOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Vec<f64>>> {
    if opts.dim == 0 {
        return Err(ExplainError::Numeric("trak: the projection dimension d must be at least 1".into()));
    }
    let (n, d) = (ctx.train.len(), opts.dim);
    let mut out = vec![vec![0.0; n]; tests.len()];
    let total = models.len();
    for (m, model) in models.into_iter().enumerate() {
        let Projected { phi, q_diag, phi_test } = project(ctx, model, tests, opts)?;
        // A = Phi^T Phi (+ a ridge of 1e-8 of its mean diagonal, which only matters when d > n
        // makes A singular).
        let mut a = vec![0.0f64; d * d];
        a.par_chunks_mut(d).enumerate().for_each(|(j, row)| {
            for i in 0..n {
                let x = phi[i * d + j];
                if x != 0.0 {
                    let r = &phi[i * d..(i + 1) * d];
                    row.iter_mut().zip(r).for_each(|(o, v)| *o += x * v);
                }
            }
        });
        let ridge = 1e-8 * (0..d).map(|j| a[j * d + j]).sum::<f64>() / d as f64;
        (0..d).for_each(|j| a[j * d + j] += ridge.max(f64::MIN_POSITIVE));
        cholesky(&mut a, d)
            .map_err(|e| ExplainError::Numeric(format!("trak: Phi^T Phi is not positive definite: {e}")))?;
        for (t, pt) in phi_test.iter().enumerate() {
            let u = cholesky_solve(&a, d, pt);
            out[t].par_iter_mut().enumerate().for_each(|(i, o)| {
                let k: f64 = phi[i * d..(i + 1) * d].iter().zip(&u).map(|(x, y)| x * y).sum();
                *o += q_diag[i] * k;
            });
        }
        progress(m + 1, total);
    }
    Ok(out)
}
