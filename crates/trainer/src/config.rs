//! Training hyper-parameters, validated once before any work.

use crate::error::{Result, TrainError};

/// The optimiser.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// SGD, `theta <- theta - lr * (g + wd * theta)`, with optional heavy-ball momentum
    /// (PyTorch convention, no dampening). Plain SGD (momentum 0) makes the tracking
    /// representer (Eqn 10) exactly the model's own trajectory.
    Sgd {
        /// Momentum coefficient; 0 for plain SGD.
        momentum: f64,
    },
    /// Adam (Kingma & Ba) with L2 weight decay added to the gradient.
    Adam {
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator epsilon.
        epsilon: f32,
    },
}

impl OptimizerConfig {
    /// Plain SGD.
    pub fn sgd() -> Self {
        Self::Sgd { momentum: 0.0 }
    }

    /// Adam with the usual defaults (0.9, 0.999, 1e-8).
    pub fn adam() -> Self {
        Self::Adam { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }
    }
}

/// How training with exclusions (deleted training points) forms its minibatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExclusionProtocol {
    /// Each epoch's permutation is cut into the same batches as without exclusions, and the
    /// excluded points are dropped from theirs: every other batch, and every step's position in
    /// the schedule, stays as it was; a batch that lost points averages over fewer.
    #[default]
    ShrinkBatches,
    /// The excluded points are dropped from each epoch's permutation before it is cut into
    /// batches: every batch stays full, but every batch after the first deletion changes and
    /// an epoch has fewer steps.
    Refill,
}

/// The learning rate over the `T` steps of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// `eta_t = lr` throughout.
    #[default]
    Constant,
    /// `eta_t = lr (1 - t / T)` for steps `t = 0..T`: a linear decay towards 0, which settles the
    /// final weights (with a constant rate the last epoch's noise decides where a run ends).
    /// The tracking representer (Eqn 10) uses each step's `eta_t`, so it stays exact.
    LinearDecay,
}

impl LrSchedule {
    /// The learning rate of step `t` of `total`, for base rate `lr`.
    pub fn at(self, lr: f64, t: usize, total: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::LinearDecay => lr * (1.0 - t as f64 / total.max(1) as f64),
        }
    }
}

/// Everything that determines a training run besides the data and the architecture.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Learning rate (the base rate of [`TrainConfig::schedule`]).
    pub lr: f64,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// L2 weight decay on all parameters.
    pub weight_decay: f64,
    /// Seed of the initial weights and of the minibatch order.
    pub seed: u64,
    /// Also save a checkpoint after every epoch (for TracInCP).
    pub checkpoint_every_epoch: bool,
    /// L2 penalty `lambda |Theta|^2` on the last layer (weights and bias) only, added to the
    /// mean training loss: the setting of Theorem 3.1 of Yeh et al. (2018), under which a
    /// stationary point satisfies `Theta = -(1/(2 lambda n)) sum_i phi_i (dL_i/dz_i)^T` and the
    /// logits decompose exactly into representer values. 0 (the default) turns it off.
    #[serde(default)]
    pub last_layer_l2: f64,
    /// Minibatches of a run with exclusions (deletion diagnostics).
    #[serde(default)]
    pub exclusion: ExclusionProtocol,
    /// Learning-rate schedule.
    #[serde(default)]
    pub schedule: LrSchedule,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 2,
            batch_size: 64,
            lr: 0.05,
            optimizer: OptimizerConfig::sgd(),
            weight_decay: 0.0,
            seed: 0,
            checkpoint_every_epoch: true,
            last_layer_l2: 0.0,
            exclusion: ExclusionProtocol::ShrinkBatches,
            schedule: LrSchedule::Constant,
        }
    }
}

impl TrainConfig {
    /// Checks every field, naming the offending one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, what: &str| Err(TrainError::Config { field, what: what.to_string() });
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be a positive finite number");
        }
        if !(self.last_layer_l2.is_finite() && self.last_layer_l2 >= 0.0) {
            return bad("last_layer_l2", "must be a non-negative finite number");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", "must be a non-negative finite number");
        }
        match self.optimizer {
            OptimizerConfig::Sgd { momentum } if !(0.0..1.0).contains(&momentum) => {
                bad("optimizer.momentum", "must be in [0, 1)")
            }
            OptimizerConfig::Adam { beta1, beta2, epsilon }
                if !((0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2) && epsilon > 0.0) =>
            {
                bad("optimizer", "Adam needs beta1, beta2 in [0, 1) and epsilon > 0")
            }
            _ => Ok(()),
        }
    }

    /// Number of optimiser steps for `n` training examples: `epochs * ceil(n / batch_size)`.
    pub fn total_steps(&self, n: usize) -> usize {
        self.epochs * n.div_ceil(self.batch_size)
    }
}
