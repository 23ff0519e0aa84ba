//! Per-step hooks, and the built-in [`TrainingRecord`] that accumulates tracking representers.

use serde::{Deserialize, Serialize};

/// What one optimiser step saw. `dloss_dlogits` holds, for each example `i` of the batch (in
/// `batch_indices` order), the C-vector `dL(f(x_i), y_i)/df(x_i)` of its own loss with respect
/// to its logits, before the batch mean, evaluated at the parameters *before* the step.
#[derive(Debug, Clone, Copy)]
pub struct StepInfo<'a> {
    /// 0-based global step.
    pub step: usize,
    /// 0-based epoch.
    pub epoch: usize,
    /// Learning rate used by this step.
    pub lr: f64,
    /// Training-set indices of the batch.
    pub batch_indices: &'a [usize],
    /// `[batch, C]` row-major per-example loss derivatives.
    pub dloss_dlogits: &'a [f32],
    /// Number of classes `C`.
    pub num_classes: usize,
    /// Mean loss of the batch.
    pub loss: f64,
    /// Correct predictions in the batch.
    pub correct: usize,
}

/// A hook called after every optimiser step.
pub trait StepObserver {
    /// Called once per step, in order.
    fn on_step(&mut self, info: &StepInfo<'_>);

    /// Called at the end of each epoch with its mean loss and accuracy (optional).
    fn on_epoch_end(&mut self, _epoch: usize, _mean_loss: f64, _accuracy: f64) {}
}

/// One row of the raw per-step log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    /// Global step.
    pub step: usize,
    /// Learning rate.
    pub lr: f64,
    /// Batch indices.
    pub batch: Vec<usize>,
    /// `[batch, C]` derivatives.
    pub dloss_dlogits: Vec<f32>,
}

/// The built-in observer: for every training example `i` it accumulates
/// `A_i = sum_{t : i in B_t} (eta_t / |B_t|) dL(f^{(t-1)}(x_i), y_i)/df^{(t-1)}(x_i)`
/// (a C-vector). The tracking representer's global importance (Eqn 10) is `alpha_i = -A_i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// Number of training examples.
    pub n: usize,
    /// Number of classes `C`.
    pub num_classes: usize,
    /// `[n, C]` row-major accumulated sums `A_i`.
    pub tracking_sum: Vec<f64>,
    /// How many steps each example took part in.
    pub visits: Vec<u32>,
    /// Steps observed.
    pub steps: usize,
    /// The raw per-step log, when requested.
    pub log: Option<Vec<StepLog>>,
}

impl TrainingRecord {
    /// An empty record for `n` examples and `C` classes; `keep_log` also keeps every step.
    pub fn new(n: usize, num_classes: usize, keep_log: bool) -> Self {
        Self {
            n,
            num_classes,
            tracking_sum: vec![0.0; n * num_classes],
            visits: vec![0; n],
            steps: 0,
            log: keep_log.then(Vec::new),
        }
    }

    /// `A_i` of example `i` (C entries).
    pub fn tracking(&self, i: usize) -> &[f64] {
        &self.tracking_sum[i * self.num_classes..(i + 1) * self.num_classes]
    }
}

impl StepObserver for TrainingRecord {
    fn on_step(&mut self, s: &StepInfo<'_>) {
        let c = self.num_classes;
        let scale = s.lr / s.batch_indices.len().max(1) as f64;
        for (row, &i) in s.batch_indices.iter().enumerate() {
            for k in 0..c {
                self.tracking_sum[i * c + k] += scale * s.dloss_dlogits[row * c + k] as f64;
            }
            self.visits[i] += 1;
        }
        self.steps += 1;
        if let Some(log) = &mut self.log {
            log.push(StepLog {
                step: s.step,
                lr: s.lr,
                batch: s.batch_indices.to_vec(),
                dloss_dlogits: s.dloss_dlogits.to_vec(),
            });
        }
    }
}
