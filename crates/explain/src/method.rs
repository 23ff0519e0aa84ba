//! Explanation methods by name, and running them: any importance x any kernel as a
//! generalized representer, plus TracInCP, influence functions, representer points and a
//! random baseline.
//!
//! | name | importance | kernel |
//! |---|---|---|
//! | `tracking:ntk-final` (any `imp:kernel`) | surrogate (ll and ntk-final only) / target / tracking | ll, ntk-init, ntk-middle, ntk-final, inf-final, inf-ll |
//! | `representer` | surrogate (last layer refit with L2, Yeh et al. 2018) | ll |
//! | `influence` | target | inf-final (all parameters; text models: inf-ll) |
//! | `tracincp` | `-eta_t dL_i/df` at each epoch checkpoint | ntk at that checkpoint, summed |
//! | `trak[:d=N]`, `trak-ensemble[:d=N]` | `1 - p_y` (TRAK's Q) | projected after-kernel `phi_i^T (Phi^T Phi)^-1 P g` ([`crate::trak`]) |
//! | `random` | seeded uniform scores | - |

use crate::attribution::Attribution;
use crate::context::{Context, ExplainedScore, Target, TestPoint};
use crate::error::{ExplainError, Result};
use crate::importance::{
    refit_last_layer, surrogate_last_layer, surrogate_ntk, target_derivative, tracking, SurrogateReport,
};
use crate::kernel::{GradientKernel, HessianKind, Kernel, LastLayerInfluenceKernel, LastLayerKernel, Preconditioner};
use burn::module::Module;
use genrep_models::Classifier;
use genrep_trainer::{Checkpoint, CheckpointKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A global importance (Section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Surrogate derivative (Eqn 6).
    Surrogate,
    /// Target derivative (Eqn 7).
    Target,
    /// Tracking representer (Eqn 10).
    Tracking,
}

/// A kernel choice (Section 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelChoice {
    /// Last-layer features of the final model.
    LastLayer,
    /// NTK at a named checkpoint (`init`, `middle`, `final`, `epoch-K`).
    Ntk(String),
    /// Influence kernel over all parameters of the final model.
    InfluenceFull,
    /// Influence kernel over the last layer of the final model.
    InfluenceLastLayer,
}

/// A parsed method name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `alpha x K`.
    Representer {
        /// Importance.
        importance: Importance,
        /// Kernel.
        kernel: KernelChoice,
    },
    /// TracInCP (Pruthi et al. 2020) over the epoch checkpoints.
    TracInCp,
    /// TRAK (Park et al. 2023): a `dim`-dimensional random projection of the per-example
    /// gradients, the after-kernel `(Phi^T Phi)^{-1}` and TRAK's `1 - p_y` importance
    /// ([`crate::trak`]); summed over the epoch checkpoints too with `ensemble`.
    Trak {
        /// Projection dimension.
        dim: usize,
        /// Sum over the epoch and final checkpoints (else the final model only).
        ensemble: bool,
    },
    /// Seeded random scores.
    Random,
}

/// Every accepted method name (for help texts and errors).
pub const METHOD_HELP: &str = "importance:kernel with importance in {surrogate, target, tracking} and kernel in \
{ll, ntk-init, ntk-middle, ntk-final, inf-final, inf-ll}; or representer, influence, tracincp, trak[:d=N], \
trak-ensemble[:d=N], random";

impl std::str::FromStr for Method {
    type Err = ExplainError;

    fn from_str(name: &str) -> Result<Self> {
        let err = |what: &str| ExplainError::Method { name: name.into(), what: what.into() };
        match name {
            "representer" => {
                return Ok(Self::Representer { importance: Importance::Surrogate, kernel: KernelChoice::LastLayer })
            }
            "influence" => {
                return Ok(Self::Representer { importance: Importance::Target, kernel: KernelChoice::InfluenceFull })
            }
            "tracincp" | "tracin" => return Ok(Self::TracInCp),
            n if n.starts_with("trak") => {
                let (head, dim) = match n.split_once(':') {
                    Some((h, spec)) => {
                        let d = spec.strip_prefix("d=").and_then(|v| v.parse::<usize>().ok()).filter(|&d| d > 0);
                        (h, d.ok_or_else(|| err("expected trak:d=N with N >= 1 (e.g. trak:d=512)"))?)
                    }
                    None => (n, 512),
                };
                return match head {
                    "trak" => Ok(Self::Trak { dim, ensemble: false }),
                    "trak-ensemble" => Ok(Self::Trak { dim, ensemble: true }),
                    _ => Err(err("unknown method; expected trak[:d=N] or trak-ensemble[:d=N]")),
                };
            }
            "random" => return Ok(Self::Random),
            _ => {}
        }
        let (imp, ker) = name.split_once(':').ok_or_else(|| err(&format!("unknown method; expected {METHOD_HELP}")))?;
        let importance = match imp {
            "surrogate" => Importance::Surrogate,
            "target" => Importance::Target,
            "tracking" => Importance::Tracking,
            other => return Err(err(&format!("unknown importance `{other}`; expected surrogate, target or tracking"))),
        };
        let kernel = match ker {
            "ll" | "ll-final" | "last-layer" => KernelChoice::LastLayer,
            "ntk" | "ntk-final" => KernelChoice::Ntk("final".into()),
            "ntk-init" => KernelChoice::Ntk("init".into()),
            "ntk-middle" => KernelChoice::Ntk("middle".into()),
            k if k.starts_with("ntk-epoch-") => KernelChoice::Ntk(k.trim_start_matches("ntk-").into()),
            "inf" | "inf-final" => KernelChoice::InfluenceFull,
            "inf-ll" => KernelChoice::InfluenceLastLayer,
            other => {
                return Err(err(&format!(
                    "unknown kernel `{other}`; expected ll, ntk-init, ntk-middle, ntk-final, inf-final or inf-ll"
                )))
            }
        };
        if importance == Importance::Surrogate
            && kernel != KernelChoice::LastLayer
            && kernel != KernelChoice::Ntk("final".into())
        {
            return Err(err("the surrogate derivative is implemented for the last-layer and NTK-final kernels only \
                 (surrogate:ll, surrogate:ntk-final)"));
        }
        Ok(Self::Representer { importance, kernel })
    }
}

/// Targets of the last-layer refit behind representer points (`surrogate:ll`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefitTargets {
    /// The model's own softmax outputs: the 2023 paper's surrogate derivative (Corollary 12).
    #[default]
    Model,
    /// The one-hot training labels: the 2018 paper's fine-tuning.
    Labels,
}

/// Splits a comma-separated list of method specs, keeping each spec's own `key=value` settings
/// with it: `tracincp,representer@l2=0.03,targets=labels,random` gives `tracincp`,
/// `representer@l2=0.03,targets=labels` and `random` (a piece with `=` and no `@` or `:`
/// continues the spec before it).
pub fn split_method_list(list: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let continues = piece.contains('=') && !piece.contains('@') && !piece.contains(':');
        match out.last_mut() {
            Some(last) if continues && last.contains('@') => {
                last.push(',');
                last.push_str(piece);
            }
            _ => out.push(piece.to_string()),
        }
    }
    out
}

/// A method name with optional settings, `name@key=value,key=value` (e.g.
/// `representer@l2=0.03,targets=labels`): the method, and `base` with the settings applied.
/// Keys: `l2` (or `lambda`), `targets` (`model` or `labels`), `damping`, `score` (`margin` or `logit`),
/// `hessian_sample` (`all` or a count).
pub fn parse_method_spec(spec: &str, base: &ExplainOptions) -> Result<(Method, ExplainOptions)> {
    let (name, settings) = spec.split_once('@').unwrap_or((spec, ""));
    let method: Method = name.parse()?;
    let mut opts = base.clone();
    let bad = |what: String| ExplainError::Method { name: spec.into(), what };
    for kv in settings.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').ok_or_else(|| bad(format!("`{kv}` is not key=value")))?;
        let num = |v: &str| v.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0);
        match k {
            "l2" | "lambda" | "last_layer_l2" => {
                opts.last_layer_l2 = num(v).ok_or_else(|| bad(format!("{k} `{v}` is not a positive number")))?
            }
            "damping" => opts.damping = num(v).ok_or_else(|| bad(format!("damping `{v}` is not a positive number")))?,
            "targets" => {
                opts.refit_targets = match v {
                    "model" => RefitTargets::Model,
                    "labels" => RefitTargets::Labels,
                    _ => return Err(bad(format!("targets `{v}`: expected model or labels"))),
                }
            }
            "score" => {
                opts.score = match v {
                    "margin" => ExplainedScore::Margin,
                    "logit" => ExplainedScore::Logit,
                    _ => return Err(bad(format!("score `{v}`: expected margin or logit"))),
                }
            }
            "hessian_sample" => {
                opts.hessian_sample = match v {
                    "all" => None,
                    _ => Some(v.parse().map_err(|_| bad(format!("hessian_sample `{v}`: expected all or a count")))?),
                }
            }
            _ => {
                return Err(bad(format!(
                    "unknown setting `{k}`; expected l2 (or lambda), targets, damping, score or hessian_sample"
                )))
            }
        }
    }
    Ok((method, opts))
}

/// Numerical settings of the methods (sane defaults; see each field).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExplainOptions {
    /// L2 penalty `lambda |Theta_2|^2` of the last-layer (representer) refit: the same form as
    /// `TrainConfig::last_layer_l2` (the penalty training puts on the head, 0 by default) but its
    /// own value; the 2018 paper uses ~3e-3. Method-spec key `l2` (or `lambda`, the paper's
    /// symbol).
    #[serde(alias = "lambda")]
    pub last_layer_l2: f64,
    /// What the representer refit fits: the model's outputs (default) or the labels.
    #[serde(default)]
    pub refit_targets: RefitTargets,
    /// Damping added to Hessians of influence kernels.
    pub damping: f64,
    /// Curvature of the all-parameter influence kernel (Gauss-Newton by default).
    pub hessian: HessianKind,
    /// Training examples the all-parameter curvature averages over: all of them (`None`, the
    /// default; streamed, every training point is treated alike), or a seeded subsample of this
    /// size (faster, but by Woodbury the sampled points are then scored through a curvature that
    /// contains them and the others are not).
    #[serde(default)]
    pub hessian_sample: Option<usize>,
    /// CG relative-residual tolerance.
    pub cg_tol: f64,
    /// CG iteration cap.
    pub cg_max_iter: usize,
    /// Solve influence systems by LiSSA with these settings instead of conjugate gradient.
    #[serde(default)]
    pub lissa: Option<crate::solve::LissaOptions>,
    /// Relative gradient tolerance of the NTK surrogate fit (`surrogate:ntk-final`).
    #[serde(default = "default_surrogate_tol")]
    pub surrogate_tol: f64,
    /// L-BFGS iteration cap of the NTK surrogate fit (each iteration is about one pass of
    /// forward and backward over the training set).
    #[serde(default = "default_surrogate_max_iter")]
    pub surrogate_max_iter: usize,
    /// The scalar explained at each test point: the predicted class's logit margin (default) or
    /// its logit.
    #[serde(default)]
    pub score: ExplainedScore,
    /// The class explained at each point: the predicted one (default) or a given one.
    #[serde(default)]
    pub target: Target,
    /// Seed of the random baseline, the Hessian subsample and LiSSA's minibatches.
    pub seed: u64,
    /// Inference batch size.
    pub batch_size: usize,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        Self {
            last_layer_l2: 3e-3,
            refit_targets: RefitTargets::Model,
            damping: 0.01,
            hessian: HessianKind::GaussNewton,
            hessian_sample: None,
            cg_tol: 1e-3,
            cg_max_iter: 50,
            lissa: None,
            surrogate_tol: default_surrogate_tol(),
            surrogate_max_iter: default_surrogate_max_iter(),
            score: ExplainedScore::Margin,
            target: Target::Predicted,
            seed: 0,
            batch_size: 256,
        }
    }
}

fn default_surrogate_tol() -> f64 {
    1e-3
}

fn default_surrogate_max_iter() -> usize {
    100
}

/// The training examples the all-parameter curvature averages over: all `n` (the default), or
/// the seeded subsample of `opts.hessian_sample` examples (sorted).
pub fn hessian_sample(n: usize, opts: &ExplainOptions) -> Vec<usize> {
    match opts.hessian_sample {
        Some(k) if k < n => {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            let mut v = rand::seq::index::sample(&mut rng, n, k.max(1)).into_vec();
            v.sort_unstable();
            v
        }
        _ => (0..n).collect(),
    }
}

/// Loads a checkpoint by name onto the explaining device.
pub type LoadCheckpoint<'a, M> = Box<dyn Fn(&str) -> Result<M> + 'a>;

/// Loads checkpoints of the run being explained.
pub struct Checkpoints<'a, M> {
    /// The run's checkpoint index.
    pub list: Vec<Checkpoint>,
    /// Loads checkpoint `name` onto the explaining device.
    pub load: LoadCheckpoint<'a, M>,
}

impl<M: Module> Checkpoints<'_, M> {
    /// Checkpoint `name`, loaded and put in explaining mode ([`genrep_models::explaining`]).
    pub fn model(&self, name: &str) -> Result<M> {
        (self.load)(name).map(genrep_models::explaining)
    }
}

/// Lanczos steps of the last-layer Hessian's spectrum in [`Diagnostics::hessian_spectrum`]
/// (each one Hessian-vector product, about one pass over the training features).
pub const SPECTRUM_STEPS: usize = 60;

/// Diagnostics of a run of [`explain`].
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Diagnostics {
    /// Surrogate fit, if any.
    pub surrogate: Option<SurrogateReport>,
    /// CG reports of influence solves, one per test point.
    pub cg: Vec<crate::solve::CgReport>,
    /// Extreme eigenvalues of the damped last-layer Hessian `H + damping I` (the `inf-ll`
    /// kernel) on the directions the loss sees (see [`LastLayerInfluenceKernel::spectrum`]),
    /// whose ratio is the condition of its solves there.
    pub hessian_spectrum: Option<crate::spectrum::Spectrum>,
    /// Remarks (substitutions made, ...).
    pub notes: Vec<String>,
}

/// Explains the test points `indices` with `method`; returns one [`Attribution`] per test point.
/// (The positional form the runner uses; library users hold an [`crate::Explainer`].)
#[allow(clippy::too_many_arguments)]
pub fn explain<M: Classifier>(
    ctx: &Context<'_, M>,
    method: &Method,
    name: &str,
    indices: &[usize],
    opts: &ExplainOptions,
    checkpoints: Option<&Checkpoints<'_, M>>,
    is_text: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Attribution>, Diagnostics)> {
    let ctx = &ctx.explaining();
    let points = ctx.test_points_for(indices, opts.score, opts.target)?;
    let tests: Vec<TestPoint> = points.iter().map(|p| p.0).collect();
    let c = ctx.model.num_classes();
    let n = ctx.train.len();
    let mut diag = Diagnostics::default();
    let need = |what: &str| ExplainError::Missing { method: name.into(), what: what.into() };
    let mut explained_scores: Vec<f64> = points.iter().map(|p| p.1).collect();

    let scores: Vec<Vec<f64>> = match method {
        Method::Random => tests
            .iter()
            .map(|t| {
                let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ (t.index as u64).wrapping_mul(0x9E37_79B9));
                (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
            })
            .collect(),
        Method::Trak { dim, ensemble } => {
            let models = if *ensemble {
                let cps = checkpoints.ok_or_else(|| need("the run's checkpoints"))?;
                let mut v = Vec::new();
                for cp in cps.list.iter().filter(|c| matches!(c.kind, CheckpointKind::Epoch(_) | CheckpointKind::Final))
                {
                    v.push(cps.model(&cp.name)?);
                }
                if v.is_empty() {
                    return Err(need("epoch or final checkpoints"));
                }
                v
            } else {
                vec![ctx.model.clone()]
            };
            crate::trak::trak_scores(
                ctx,
                models,
                &tests,
                &crate::trak::TrakOptions { dim: *dim, seed: opts.seed },
                progress,
            )?
        }
        Method::TracInCp => {
            let cps = checkpoints.ok_or_else(|| need("the run's checkpoints"))?;
            let epochs: Vec<&Checkpoint> = cps
                .list
                .iter()
                .filter(|c| matches!(c.kind, CheckpointKind::Epoch(_) | CheckpointKind::Final))
                .collect();
            if epochs.is_empty() {
                return Err(need("epoch or final checkpoints"));
            }
            let mut total = vec![vec![0.0; n]; tests.len()];
            for cp in epochs {
                let model = cps.model(&cp.name)?;
                let logits = ctx.logits_of(&model, ctx.train);
                let alpha: Vec<f64> =
                    target_derivative(&logits, &ctx.train.labels, c).iter().map(|a| a * cp.lr).collect();
                let k = GradientKernel::new(
                    model,
                    ctx.train,
                    ctx.test,
                    Preconditioner::Identity,
                    &format!("ntk-{}", cp.name),
                );
                for (t, v) in k.contract(&alpha, &tests, progress)?.into_iter().enumerate() {
                    total[t].iter_mut().zip(v).for_each(|(a, b)| *a += b);
                }
            }
            total
        }
        Method::Representer { importance, kernel } => {
            let mut kernel = kernel.clone();
            if is_text && kernel == KernelChoice::InfluenceFull {
                diag.notes.push("text model: influence over the last layer only (inf-ll), as in the paper".into());
                kernel = KernelChoice::InfluenceLastLayer;
            }
            let mut ll_cache: Option<LastLayerKernel> = None;
            let alpha = match compute_alpha(ctx, *importance, &kernel, opts, name, progress)? {
                Alpha::Plain(a) => a,
                Alpha::Fit { alpha, report } => {
                    diag.surrogate = Some(report);
                    alpha
                }
                Alpha::Refit { alpha, theta, report, ll } => {
                    // The refit head's score is the explained one: sum_i phi_i = w . Theta^T phi_t exactly.
                    for (s, t) in explained_scores.iter_mut().zip(&tests) {
                        let ft = &ll.test[t.index * ll.dim..(t.index + 1) * ll.dim];
                        let w = t.weights(c);
                        *s = (0..ll.dim)
                            .map(|j| ft[j] * (0..c).map(|k| theta[j * c + k] * w[k] as f64).sum::<f64>())
                            .sum();
                    }
                    diag.surrogate = Some(report);
                    ll_cache = Some(ll);
                    alpha
                }
            };
            if let Some(i) = alpha.iter().position(|a| !a.is_finite()) {
                return Err(ExplainError::NonFinite {
                    method: name.into(),
                    what: format!("the global importance of training example {} (class {})", i / c, i % c),
                    value: alpha[i],
                });
            }
            match kernel {
                KernelChoice::LastLayer => ll_cache
                    .unwrap_or_else(|| LastLayerKernel::new(&ctx.model, ctx.train, ctx.test, opts.batch_size))
                    .contract(&alpha, &tests, progress)?,
                KernelChoice::InfluenceLastLayer => {
                    let k =
                        LastLayerInfluenceKernel::new(&ctx.model, ctx.train, ctx.test, opts.damping, opts.batch_size);
                    diag.hessian_spectrum = k.spectrum(SPECTRUM_STEPS, opts.seed);
                    k.contract(&alpha, &tests, progress)?
                }
                KernelChoice::Ntk(cp) => {
                    let model = if cp == "final" {
                        ctx.model.clone()
                    } else {
                        let cps = checkpoints.ok_or_else(|| need(&format!("checkpoint `{cp}`")))?;
                        cps.model(&cp)?
                    };
                    GradientKernel::new(model, ctx.train, ctx.test, Preconditioner::Identity, &format!("ntk-{cp}"))
                        .contract(&alpha, &tests, progress)?
                }
                KernelChoice::InfluenceFull => {
                    let sample = hessian_sample(n, opts);
                    let pre = Preconditioner::Influence {
                        hessian: opts.hessian,
                        damping: opts.damping,
                        hessian_sample: sample,
                        tol: opts.cg_tol,
                        max_iter: opts.cg_max_iter,
                        lissa: opts.lissa,
                        seed: opts.seed,
                    };
                    let mut kern = GradientKernel::new(ctx.model.clone(), ctx.train, ctx.test, pre, "inf-final");
                    kern.cache = ctx.cache.map(|p| p.to_path_buf());
                    let out = kern.contract(&alpha, &tests, progress)?;
                    diag.cg = kern.cg_reports.borrow().clone();
                    out
                }
            }
        }
    };
    let attributions = attributions(name, &tests, scores, explained_scores)?;
    Ok((attributions, diag))
}

/// One [`Attribution`] per test point from its scores `phi` and explained score `s(x)`; a NaN or
/// infinite value is an error naming `method` and the training (or test) index, never a
/// silently sorted ranking.
pub fn attributions(
    method: &str,
    tests: &[TestPoint],
    scores: Vec<Vec<f64>>,
    explained_scores: Vec<f64>,
) -> Result<Vec<Attribution>> {
    let mut out = Vec::with_capacity(tests.len());
    for ((t, s), score) in tests.iter().zip(scores).zip(explained_scores) {
        let bad = |what: String, value: f64| ExplainError::NonFinite { method: method.into(), what, value };
        if !score.is_finite() {
            return Err(bad(format!("the explained score of test point {}", t.index), score));
        }
        if let Some(i) = s.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("phi(training example {i} -> test point {})", t.index), s[i]));
        }
        out.push(Attribution {
            method: method.to_string(),
            test_index: t.index,
            explained_class: t.class,
            versus: t.versus,
            score,
            scores: s,
        });
    }
    Ok(out)
}

/// Global importances, and for the surrogate the refit head and features it used.
enum Alpha {
    Plain(Vec<f64>),
    Fit { alpha: Vec<f64>, report: SurrogateReport },
    Refit { alpha: Vec<f64>, theta: Vec<f64>, report: SurrogateReport, ll: LastLayerKernel },
}

fn compute_alpha<M: Classifier>(
    ctx: &Context<'_, M>,
    importance: Importance,
    kernel: &KernelChoice,
    opts: &ExplainOptions,
    name: &str,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Alpha> {
    let c = ctx.model.num_classes();
    Ok(match importance {
        Importance::Target => Alpha::Plain(target_derivative(&ctx.train_logits(), &ctx.train.labels, c)),
        Importance::Tracking => Alpha::Plain(tracking(ctx.record.ok_or_else(|| ExplainError::Missing {
            method: name.into(),
            what: "the run's training record (record.json)".into(),
        })?)),
        Importance::Surrogate if matches!(kernel, KernelChoice::Ntk(_)) => {
            let entry = ctx.cache.map(|dir| {
                let settings = format!("{} {} {}", opts.last_layer_l2, opts.surrogate_tol, opts.surrogate_max_iter);
                crate::cache::entry_path(
                    dir,
                    "surrogate-ntk-final",
                    crate::cache::model_key(&ctx.model, ctx.train, &settings),
                )
            });
            let fit = crate::cache::compute_once(entry.as_deref(), "the NTK surrogate fit", || {
                let (alpha, report) = surrogate_ntk(
                    &ctx.model,
                    ctx.train,
                    &ctx.train_logits(),
                    opts.last_layer_l2,
                    opts.surrogate_tol,
                    opts.surrogate_max_iter,
                    opts.batch_size,
                    progress,
                )?;
                Ok::<_, ExplainError>(crate::cache::CachedFit { alpha, report })
            })?;
            Alpha::Fit { alpha: fit.alpha, report: fit.report }
        }
        Importance::Surrogate => {
            let (alpha, theta, report, ll) = representer_alpha(ctx, opts)?;
            Alpha::Refit { alpha, theta, report, ll }
        }
    })
}

/// Relative gradient tolerance of the representer refit.
pub const REFIT_TOL: f64 = 1e-9;

/// Representer points (Yeh et al. 2018; the surrogate derivative with the last-layer kernel):
/// refits the head with L2 penalty `opts.last_layer_l2` on the penultimate features to the model's
/// outputs ([`surrogate_last_layer`] from the trained head) and returns the global importances
/// `alpha` (`[n, C]`), the refit head `Theta` (`[(d+1), C]`), the fit report and the kernel.
pub fn representer_alpha<M: Classifier>(
    ctx: &Context<'_, M>,
    opts: &ExplainOptions,
) -> Result<(Vec<f64>, Vec<f64>, SurrogateReport, LastLayerKernel)> {
    let c = ctx.model.num_classes();
    let ll = LastLayerKernel::new(&ctx.model, ctx.train, ctx.test, opts.batch_size);
    let head = head_matrix(&ctx.model);
    // The model's training logits are its head applied to the features just computed
    // (`f(x_i) = Theta^T [Phi(x_i); 1]`): no second forward pass over the training set.
    let logits: Vec<f32> =
        crate::importance::linear_logits(&ll.train, ll.dim, &head, c).into_iter().map(|z| z as f32).collect();
    // The refit is shared by every test point of a run: cached by fingerprint like the NTK
    // surrogate fit.
    let entry = ctx.cache.map(|dir| {
        let settings = format!("{} {:?} {REFIT_TOL}", opts.last_layer_l2, opts.refit_targets);
        crate::cache::entry_path(dir, "representer-refit", crate::cache::model_key(&ctx.model, ctx.train, &settings))
    });
    // A tight stop: the representer identity (efficiency) holds to the refit's gradient norm,
    // and 1e-6 left residuals of 4e-4 to 1.2e-3 on MNIST where this reaches ~1e-6.
    let refit = crate::cache::compute_once(entry.as_deref(), "the representer refit", || {
        let (alpha, theta, report) = match opts.refit_targets {
            RefitTargets::Model => {
                surrogate_last_layer(&ll.train, ll.dim, &logits, c, opts.last_layer_l2, head, REFIT_TOL, 20_000)?
            }
            RefitTargets::Labels => {
                let mut targets = vec![0.0; ctx.train.len() * c];
                for (i, &y) in ctx.train.labels.iter().enumerate() {
                    targets[i * c + y] = 1.0;
                }
                refit_last_layer(&ll.train, ll.dim, &targets, c, opts.last_layer_l2, head, REFIT_TOL, 20_000)?
            }
        };
        Ok::<_, ExplainError>(crate::cache::CachedRefit { alpha, theta, report })
    })?;
    let crate::cache::CachedRefit { alpha, theta, report } = refit;
    Ok((alpha, theta, report, ll))
}

/// Self-influence `phi(x_i -> x_i) = sum_c' alpha_{i,c'} K_{c',y_i}(x_i, x_i)` of every training
/// example, explained at its own label (large values flag examples the model leans on, e.g.
/// mislabelled ones). Supported for `importance:ll`, `importance:ntk-final` and `representer`.
pub fn self_influence<M: Classifier>(
    ctx: &Context<'_, M>,
    method: &Method,
    name: &str,
    opts: &ExplainOptions,
) -> Result<Vec<f64>> {
    let unsupported = || ExplainError::Method {
        name: name.into(),
        what: "self-influence is implemented for the ll and ntk-final kernels".into(),
    };
    let Method::Representer { importance, kernel } = method else { return Err(unsupported()) };
    let ctx = &ctx.explaining();
    let c = ctx.model.num_classes();
    let alpha = match compute_alpha(ctx, *importance, kernel, opts, name, &mut |_, _| {})? {
        Alpha::Plain(a) | Alpha::Fit { alpha: a, .. } => a,
        Alpha::Refit { alpha, .. } => alpha,
    };
    let n = ctx.train.len();
    match kernel {
        KernelChoice::LastLayer => {
            let f = crate::kernel::features_with_bias(&ctx.model, ctx.train, opts.batch_size);
            let d = f.len() / n.max(1);
            Ok((0..n)
                .map(|i| alpha[i * c + ctx.train.labels[i]] * f[i * d..(i + 1) * d].iter().map(|v| v * v).sum::<f64>())
                .collect())
        }
        KernelChoice::Ntk(cp) if cp == "final" => Ok((0..n)
            .map(|i| {
                let a = &alpha[i * c..(i + 1) * c];
                let w: Vec<f32> = a.iter().map(|&v| v as f32).collect();
                let mut e = vec![0.0f32; c];
                e[ctx.train.labels[i]] = 1.0;
                let gi = crate::grads::weighted_output_grad(&ctx.model, ctx.train, i, &w);
                let gy = crate::grads::weighted_output_grad(&ctx.model, ctx.train, i, &e);
                crate::params::dot(&gi, &gy)
            })
            .collect()),
        _ => Err(unsupported()),
    }
}

/// The head as a `[(d+1), C]` row-major matrix (weights, then the bias row).
pub fn head_matrix<M: Classifier>(model: &M) -> Vec<f64> {
    let head = model.head();
    let mut w: Vec<f64> =
        genrep_models::params::f32_values(head.weight.val().into_data()).iter().map(|&v| v as f64).collect();
    match &head.bias {
        Some(b) => w.extend(genrep_models::params::f32_values(b.val().into_data()).iter().map(|&v| v as f64)),
        None => w.extend(std::iter::repeat_n(0.0, model.num_classes())),
    }
    w
}
