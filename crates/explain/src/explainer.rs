//! [`Explainer`]: what a library user holds. Built once from a model and its training data (plus
//! the training record and checkpoints the methods need), validated up front; then
//! `explain(method, inputs, target)` for test points or for inputs that are in no split, any
//! number of times. Global importances that cost a fit over the training set (the NTK surrogate,
//! the representer refit, influence solves) are computed once per explainer and reused by later
//! calls, through a cache directory keyed by a fingerprint of the weights, the data and the
//! settings (the run's `cache/`, or a private one removed when the explainer is dropped).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use genrep_explain::{Explainer, Target};
//! let data = genrep_data::DataDir::resolve(None)?;
//! let run = genrep_trainer::LoadedRun::open("runs/mnist", &data, None)?;
//! let explainer = Explainer::from_run(&run)?;
//! // Test point 17 of the run's task, explained at its predicted class.
//! let (attrs, _) = explainer.explain("tracking:ntk-final", &run.task.test, &[17], Target::Predicted)?;
//! for r in attrs[0].top_k(5, genrep_explain::Polarity::Proponents) {
//!     println!("train #{} phi {:+.4}", r.index, r.phi);
//! }
//! # Ok(()) }
//! ```

use crate::attribution::Attribution;
use crate::context::{Context, Target, TestPoint};
use crate::error::{ExplainError, Result};
use crate::importance::{GlobalImportance, ImportanceInputs};
use crate::kernel::Kernel;
use crate::method::{explain, parse_method_spec, self_influence, Checkpoints, Diagnostics, ExplainOptions};
use genrep_data::Examples;
use genrep_models::{Architecture, Classifier};
use genrep_trainer::{LoadedRun, TrainingRecord};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where global importances are cached.
enum CacheDir {
    /// The caller's directory (kept).
    Given(PathBuf),
    /// A private directory under the system temp dir, removed on drop.
    Private(PathBuf),
}

/// Explains a trained model's outputs by its training examples (see the module docs).
pub struct Explainer<'a, M: Classifier> {
    model: M,
    train: &'a Examples,
    record: Option<TrainingRecord>,
    checkpoints: Option<Checkpoints<'a, M>>,
    is_text: bool,
    options: ExplainOptions,
    cache: CacheDir,
}

impl<'a, M: Classifier> Explainer<'a, M> {
    /// An explainer of `model` by the examples of `train` (what `model` was trained on). Errors
    /// on an empty training set.
    pub fn new(model: M, train: &'a Examples) -> Result<Self> {
        if train.is_empty() {
            return Err(ExplainError::Missing { method: "any".into(), what: "a non-empty training set".into() });
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "genrep-explainer-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        Ok(Self {
            model,
            train,
            record: None,
            checkpoints: None,
            is_text: false,
            options: ExplainOptions::default(),
            cache: CacheDir::Private(dir),
        })
    }

    /// Adds the training record (needed by `tracking:*`); errors unless it is `n x C` for this
    /// training set and model and holds finite sums.
    pub fn with_record(mut self, record: TrainingRecord) -> Result<Self> {
        let (n, c) = (self.train.len(), self.model.num_classes());
        if record.n != n || record.num_classes != c || record.tracking_sum.len() != n * c {
            return Err(ExplainError::Missing {
                method: "tracking".into(),
                what: format!(
                    "a training record of {n} examples x {c} classes (this one is {} x {} with {} sums)",
                    record.n,
                    record.num_classes,
                    record.tracking_sum.len()
                ),
            });
        }
        if let Some(i) = record.tracking_sum.iter().position(|v| !v.is_finite()) {
            return Err(ExplainError::NonFinite {
                method: "tracking".into(),
                what: format!("the training record's sum for training example {}", i / c),
                value: record.tracking_sum[i],
            });
        }
        self.record = Some(record);
        Ok(self)
    }

    /// Adds the run's checkpoints (needed by `*:ntk-init`, `*:ntk-middle` and `tracincp`).
    pub fn with_checkpoints(mut self, checkpoints: Checkpoints<'a, M>) -> Self {
        self.checkpoints = Some(checkpoints);
        self
    }

    /// Marks a text model (its all-parameter influence kernel falls back to the last layer).
    pub fn text(mut self, is_text: bool) -> Self {
        self.is_text = is_text;
        self
    }

    /// The base settings every call starts from (`method@key=value` overrides them per call).
    pub fn with_options(mut self, options: ExplainOptions) -> Self {
        self.options = options;
        self
    }

    /// Caches global importances in `dir` (kept after the explainer is dropped).
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = CacheDir::Given(dir.into());
        self
    }

    fn context<'b>(&'b self, points: &'b Examples) -> Context<'b, M> {
        let cache = match &self.cache {
            CacheDir::Given(p) | CacheDir::Private(p) => p.as_path(),
        };
        Context {
            model: self.model.clone(),
            train: self.train,
            test: points,
            record: self.record.as_ref(),
            batch_size: self.options.batch_size,
            cache: Some(cache),
        }
    }

    /// Explains `points[i]` for each `i` in `indices` with `method` (any name of
    /// [`crate::METHOD_HELP`], with optional `@key=value` settings) at `target`: one
    /// [`Attribution`] per point, `phi(x_j -> x) = sum_c' alpha_{j,c'} K_{c',c}(x_j, x)` over the
    /// training examples `j` (Eqn 4 of Tsai et al. 2023). `points` may be the test split or any
    /// examples of the same input type (e.g. a new image).
    pub fn explain(
        &self,
        method: &str,
        points: &Examples,
        indices: &[usize],
        target: Target,
    ) -> Result<(Vec<Attribution>, Diagnostics)> {
        self.explain_with_progress(method, points, indices, target, &mut |_, _| {})
    }

    /// [`Explainer::explain`], calling `progress(done, total)` as the kernel works through the
    /// training examples (for a progress bar).
    pub fn explain_with_progress(
        &self,
        method: &str,
        points: &Examples,
        indices: &[usize],
        target: Target,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(Vec<Attribution>, Diagnostics)> {
        let (m, mut opts) = parse_method_spec(method, &self.options)?;
        opts.target = target;
        let ctx = self.context(points);
        explain(&ctx, &m, method, indices, &opts, self.checkpoints.as_ref(), self.is_text, progress)
    }

    /// Explains `points[i]` for `i` in `indices` with any global importance and any kernel,
    /// built-in or the caller's own: `phi(x_j -> x) = sum_c' alpha_{j,c'} K_{c',c}(x_j, x)`
    /// (Eqn 4 of Tsai et al. 2023), `alpha` from `importance`, `K` from `kernel` (which must have
    /// been built on `points` as its test split). The explained class follows `target` and the
    /// explainer's score setting, as in [`Explainer::explain`].
    pub fn explain_with(
        &self,
        importance: &dyn GlobalImportance,
        kernel: &dyn Kernel,
        points: &Examples,
        indices: &[usize],
        target: Target,
    ) -> Result<Vec<Attribution>> {
        let ctx = self.context(points);
        let c = self.model.num_classes();
        let logits = ctx.train_logits();
        let inputs = ImportanceInputs {
            logits: &logits,
            labels: &self.train.labels,
            num_classes: c,
            record: self.record.as_ref(),
        };
        let alpha = importance.alpha(&inputs)?;
        let n = self.train.len();
        if alpha.len() != n * c {
            return Err(ExplainError::Missing {
                method: importance.name(),
                what: format!("{} x {} importances (got {})", n, c, alpha.len()),
            });
        }
        let points_scored = ctx.test_points_for(indices, self.options.score, target)?;
        let tests: Vec<TestPoint> = points_scored.iter().map(|p| p.0).collect();
        let scores = kernel.contract(&alpha, &tests, &mut |_, _| {})?;
        let method = format!("{}:{}", importance.name(), kernel.name());
        let explained: Vec<f64> = points_scored.iter().map(|p| p.1).collect();
        crate::method::attributions(&method, &tests, scores, explained)
    }

    /// Explains every example of `inputs` (examples that are in no split, e.g. a new image or
    /// sentence prepared like the training data).
    pub fn explain_inputs(
        &self,
        method: &str,
        inputs: &Examples,
        target: Target,
    ) -> Result<(Vec<Attribution>, Diagnostics)> {
        let all: Vec<usize> = (0..inputs.len()).collect();
        self.explain(method, inputs, &all, target)
    }

    /// Self-influence `phi(x_i -> x_i)` of every training example at its own label (see
    /// [`crate::self_influence`]).
    pub fn self_influence(&self, method: &str) -> Result<Vec<f64>> {
        let (m, opts) = parse_method_spec(method, &self.options)?;
        let ctx = self.context(self.train);
        self_influence(&ctx, &m, method, &opts)
    }
}

impl<'a, M: Classifier> Explainer<'a, M> {
    /// An explainer of a run opened with [`LoadedRun::open`] (or [`LoadedRun::open_as`] for any
    /// [`Architecture`]): its final model, training split, training record and checkpoints, with
    /// the run's `cache/` directory. A run without a training record (`record.json`) explains
    /// every method but `tracking:*`, which then errors naming the missing record.
    pub fn from_run<A: Architecture<Model = M>>(run: &'a LoadedRun<A>) -> Result<Self> {
        let record = run.run.read_record_if_present()?;
        let list = run.run.read_checkpoints()?;
        let ad = run.device.clone().autodiff();
        let checkpoints =
            Checkpoints { list, load: Box::new(move |name: &str| Ok(run.run.load_model_as::<A>(name, &ad)?)) };
        let explainer = Explainer::new(run.model.clone(), &run.task.train)?
            .with_checkpoints(checkpoints)
            .text(run.is_text())
            .with_cache_dir(run.run.path.join("cache"));
        match record {
            Some(r) => explainer.with_record(r),
            None => Ok(explainer),
        }
    }
}

impl<M: Classifier> Drop for Explainer<'_, M> {
    fn drop(&mut self) {
        if let CacheDir::Private(dir) = &self.cache {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
