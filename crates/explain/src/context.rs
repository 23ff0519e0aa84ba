//! What an explanation needs: a trained model, its data, and the run it came from.

use crate::error::{ExplainError, Result};
use genrep_data::Examples;
use genrep_models::Classifier;
use genrep_trainer::{predict_logits, TrainingRecord};

/// The model being explained (on an autodiff device), its training and test splits, and
/// optionally the training record of the run.
pub struct Context<'a, M: Classifier> {
    /// The final trained model.
    pub model: M,
    /// Training split (the explanations rank these examples).
    pub train: &'a Examples,
    /// Test split (the points explained).
    pub test: &'a Examples,
    /// Per-example tracking sums from training, when available.
    pub record: Option<&'a TrainingRecord>,
    /// Batch size for batched inference.
    pub batch_size: usize,
    /// Where expensive global importances (the NTK surrogate fit) are cached between calls,
    /// e.g. a run directory's `cache/` folder; `None` computes them every time.
    pub cache: Option<&'a std::path::Path>,
}

/// One explained test point: its index and the scalar score explained, `s(x) = f_c(x)` (a
/// logit) or `s(x) = f_c(x) - f_v(x)` (a logit margin against class `v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestPoint {
    /// Index into the test split.
    pub index: usize,
    /// Explained class (the model's prediction).
    pub class: usize,
    /// The class the margin is taken against, or `None` to explain the logit `f_c` alone.
    pub versus: Option<usize>,
}

impl TestPoint {
    /// Explains the logit `f_class(x)` of test example `index`.
    pub fn logit(index: usize, class: usize) -> Self {
        Self { index, class, versus: None }
    }

    /// Explains the margin `f_class(x) - f_versus(x)` of test example `index`.
    pub fn margin(index: usize, class: usize, versus: usize) -> Self {
        Self { index, class, versus: Some(versus) }
    }

    /// Output weights `w` with `s(x) = w . f(x)`: `e_c`, or `e_c - e_v` for a margin.
    pub fn weights(&self, num_classes: usize) -> Vec<f32> {
        let mut w = vec![0.0; num_classes];
        w[self.class] = 1.0;
        if let Some(v) = self.versus {
            w[v] = -1.0;
        }
        w
    }

    /// The explained score from a row of logits.
    pub fn score(&self, logits: &[f32]) -> f64 {
        logits[self.class] as f64 - self.versus.map_or(0.0, |v| logits[v] as f64)
    }
}

/// Which scalar of the model is explained at a test point with predicted class `c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExplainedScore {
    /// The logit `f_c(x)`.
    Logit,
    /// The margin `f_c(x) - f_r(x)` against the runner-up class `r` (for two classes, the other
    /// one): the paper's scalar `f` for a binary task. One logit of a two-logit softmax carries
    /// half the margin plus a common mode that the loss never constrains; the margin does not.
    #[default]
    Margin,
}

/// Which class an explanation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The model's predicted class (the paper's choice).
    #[default]
    Predicted,
    /// A given class `c`, e.g. to ask why the model did *not* say `c`.
    Class(usize),
}

impl<'a, M: Classifier> Context<'a, M> {
    /// This context with its model in explaining mode ([`genrep_models::explaining`]): no
    /// dropout or other training behaviour, parameters still tracked.
    pub fn explaining(&self) -> Context<'a, M> {
        Context {
            model: genrep_models::explaining(self.model.clone()),
            train: self.train,
            test: self.test,
            record: self.record,
            batch_size: self.batch_size,
            cache: self.cache,
        }
    }

    /// `[n, C]` logits of the model on the training split.
    pub fn train_logits(&self) -> Vec<f32> {
        self.logits_of(&self.model, self.train)
    }

    /// `[n, C]` logits of `model` on `examples`.
    pub fn logits_of(&self, model: &M, examples: &Examples) -> Vec<f32> {
        let device = genrep_models::params::device_of(model);
        predict_logits(model, examples, self.batch_size, &device)
    }

    /// Test points for `indices`, each explained at the model's predicted class `c` (the logit,
    /// or the margin against the runner-up class), with their explained scores `s(x)`.
    pub fn test_points(&self, indices: &[usize], score: ExplainedScore) -> Result<Vec<(TestPoint, f64)>> {
        self.test_points_for(indices, score, Target::Predicted)
    }

    /// Test points for `indices`, each explained at `target`'s class `c` (the predicted one, or
    /// a given one): the logit `f_c`, or the margin `f_c - f_r` against the highest other class
    /// `r`; with their explained scores `s(x)`.
    pub fn test_points_for(
        &self,
        indices: &[usize],
        score: ExplainedScore,
        target: Target,
    ) -> Result<Vec<(TestPoint, f64)>> {
        let c = self.model.num_classes();
        let mut out = Vec::new();
        for &index in indices {
            if index >= self.test.len() {
                return Err(ExplainError::Index { what: "test", index, len: self.test.len() });
            }
        }
        if let Target::Class(k) = target {
            if k >= c {
                return Err(ExplainError::Class { class: k, classes: c });
            }
        }
        let sub = subset(self.test, indices);
        let logits = self.logits_of(&self.model, &sub);
        for (t, &index) in indices.iter().enumerate() {
            let row = &logits[t * c..(t + 1) * c];
            let class = match target {
                Target::Predicted => genrep_trainer::loss::argmax(row),
                Target::Class(k) => k,
            };
            let point = match score {
                ExplainedScore::Margin if c >= 2 => {
                    let runner_up = (0..c)
                        .filter(|&k| k != class)
                        .fold(None, |b: Option<usize>, k| match b {
                            Some(b) if row[b] >= row[k] => Some(b),
                            _ => Some(k),
                        })
                        .expect("two or more classes");
                    TestPoint::margin(index, class, runner_up)
                }
                _ => TestPoint::logit(index, class),
            };
            out.push((point, point.score(row)));
        }
        Ok(out)
    }
}

/// The examples at `indices` as a new split (inputs copied): [`Examples::select`].
pub fn subset(ex: &Examples, indices: &[usize]) -> Examples {
    ex.select(indices)
}
