//! SGD (momentum, weight decay) and Adam on a flat parameter vector, for the fused training
//! path. Each update is written as burn-optim 0.22 writes it (same operations in the same
//! order, in f32), so the fused and the burn paths agree to float round-off (tested in
//! `tests/engines.rs`).

use crate::config::{OptimizerConfig, TrainConfig};

/// Optimiser state over a flat parameter vector.
#[derive(Debug, Clone)]
pub struct FlatOptimizer {
    kind: OptimizerConfig,
    weight_decay: Option<f32>,
    /// SGD: velocity; Adam: first moment.
    m: Vec<f32>,
    /// Adam: second moment.
    v: Vec<f32>,
    /// Updates done.
    time: i32,
}

impl FlatOptimizer {
    /// The optimiser of `cfg` (state is allocated at the first step).
    pub fn new(cfg: &TrainConfig) -> Self {
        let weight_decay = (cfg.weight_decay > 0.0).then_some(cfg.weight_decay as f32);
        Self { kind: cfg.optimizer.clone(), weight_decay, m: Vec::new(), v: Vec::new(), time: 0 }
    }

    /// True when an update only moves parameters whose gradient is non-zero (plain SGD without
    /// weight decay), so parameters outside the batch's support can be skipped.
    pub fn is_sparse(&self) -> bool {
        self.weight_decay.is_none() && matches!(self.kind, OptimizerConfig::Sgd { momentum } if momentum == 0.0)
    }

    /// One update of `params` with gradient `grad` and learning rate `lr`:
    /// - SGD: `g <- g + wd theta`; with momentum `mu`, `v <- g` at the first step, then
    ///   `v <- g + mu v` (no dampening); `theta <- theta - lr v` (or `lr g` without momentum);
    /// - Adam: `g <- g + wd theta`, `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2` (from
    ///   `(1 - b1) g`, `(1 - b2) g^2` at the first step), `theta <- theta - lr m c / (sqrt(v) +
    ///   eps s)` with `s = sqrt(1 - b2^t)`, `c = s / (1 - b1^t)`.
    pub fn step(&mut self, lr: f64, params: &mut [f32], grad: &mut [f32]) {
        assert_eq!(params.len(), grad.len(), "optimizer: gradient length");
        let lr = lr as f32;
        if let Some(wd) = self.weight_decay {
            grad.iter_mut().zip(params.iter()).for_each(|(g, t)| *g += t * wd);
        }
        self.time += 1;
        match self.kind {
            OptimizerConfig::Sgd { momentum } if momentum > 0.0 => {
                let mu = momentum as f32;
                if self.m.is_empty() {
                    self.m = grad.to_vec();
                } else {
                    self.m.iter_mut().zip(grad.iter()).for_each(|(v, g)| *v = g * 1.0 + *v * mu);
                }
                params.iter_mut().zip(&self.m).for_each(|(t, v)| *t -= v * lr);
            }
            OptimizerConfig::Sgd { .. } => params.iter_mut().zip(grad.iter()).for_each(|(t, g)| *t -= g * lr),
            OptimizerConfig::Adam { beta1, beta2, epsilon } => {
                if self.m.is_empty() {
                    self.m = grad.iter().map(|g| g * (1.0 - beta1)).collect();
                    self.v = grad.iter().map(|g| g * g * (1.0 - beta2)).collect();
                } else {
                    self.m.iter_mut().zip(grad.iter()).for_each(|(m, g)| *m = *m * beta1 + g * (1.0 - beta1));
                    self.v.iter_mut().zip(grad.iter()).for_each(|(v, g)| *v = *v * beta2 + g * g * (1.0 - beta2));
                }
                let s = (1.0 - beta2.powi(self.time)).sqrt();
                let c = s / (1.0 - beta1.powi(self.time));
                for ((t, m), v) in params.iter_mut().zip(&self.m).zip(&self.v) {
                    *t -= (m * c / (v.sqrt() + epsilon * s)) * lr;
                }
            }
        }
    }
}
