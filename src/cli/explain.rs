//! `genrep explain`: explain test predictions of a trained run by its training examples.

use super::progress::Progress;
use anyhow::Context as _;
use clap::Args;
use genrep::explain::{parse_method_spec, ExplainOptions, Explainer, Polarity, Target, METHOD_HELP};
use genrep::render;
use genrep::trainer::{misclassified, LoadedRun};
use std::path::{Path, PathBuf};

/// Arguments of `genrep explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Run directory written by `genrep train`.
    #[arg(long)]
    pub run: PathBuf,
    /// Test-split indices to explain (comma-separated).
    #[arg(long, value_delimiter = ',', required_unless_present = "misclassified")]
    pub test_index: Vec<usize>,
    /// Explain the first N misclassified test points instead of --test-index.
    #[arg(long)]
    pub misclassified: Option<usize>,
    /// Method: importance:kernel (e.g. tracking:ntk-final), representer, influence, tracincp, random.
    #[arg(long, default_value = "tracking:ntk-final", help = format!("Method: {METHOD_HELP}"))]
    pub method: String,
    /// How many proponents and opponents to show.
    #[arg(long, default_value_t = 8)]
    pub top: usize,
    /// Write a PNG grid (images) or a markdown file (text) here; with several test points,
    /// `-<index>` is inserted before the extension.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Write all scores as CSV here (same naming rule).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the attributions as JSON here (same naming rule).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the scores as safetensors here (same naming rule).
    #[arg(long)]
    pub safetensors: Option<PathBuf>,
    /// Device (default: the one the run was trained on).
    #[arg(long)]
    pub device: Option<String>,
    /// L2 penalty of the representer-point refit.
    #[arg(long, default_value_t = 3e-3, alias = "lambda")]
    pub last_layer_l2: f64,
    /// Hessian damping of influence kernels.
    #[arg(long, default_value_t = 0.01)]
    pub damping: f64,
    /// Training examples the all-parameter curvature averages over (default: all of them; a
    /// seeded subsample of this size is faster but scores its members differently).
    #[arg(long)]
    pub hessian_sample: Option<usize>,
    /// The scalar explained at each test point: `margin` (the predicted class's logit minus the
    /// runner-up's, the paper's scalar for binary tasks) or `logit`.
    #[arg(long, default_value = "margin", value_parser = parse_score)]
    pub score: genrep::explain::ExplainedScore,
    /// Explain this class (0-based task label) instead of the predicted one, e.g. to ask which
    /// training examples speak against the class the model did not choose.
    #[arg(long)]
    pub class: Option<usize>,
    /// Seed of the random baseline and the Hessian subsample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Solve influence systems by LiSSA instead of conjugate gradient.
    #[arg(long)]
    pub lissa: bool,
    /// LiSSA recursion depth.
    #[arg(long, default_value_t = 200)]
    pub lissa_depth: usize,
    /// LiSSA scale: must exceed the largest eigenvalue of the damped Hessian.
    #[arg(long, default_value_t = 50.0)]
    pub lissa_scale: f64,
    /// LiSSA minibatch size (drawn from the Hessian sample).
    #[arg(long, default_value_t = 64)]
    pub lissa_batch: usize,
}

/// Parses `--score`.
pub fn parse_score(s: &str) -> Result<genrep::explain::ExplainedScore, String> {
    match s {
        "margin" => Ok(genrep::explain::ExplainedScore::Margin),
        "logit" => Ok(genrep::explain::ExplainedScore::Logit),
        other => Err(format!("`{other}`: expected margin or logit")),
    }
}

fn with_index(path: &Path, index: usize, many: bool) -> PathBuf {
    if !many {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}-{index}{ext}"))
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    genrep::models::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Opens a run directory, rebuilds its task, checks that it is the data the run was trained on
/// and loads its final model ([`LoadedRun::open`]), saying what it rebuilds.
pub fn load_run(path: &Path, device_arg: Option<&str>, data: &super::DataSource) -> anyhow::Result<LoadedRun> {
    let dir = data.resolve()?;
    tracing::info!("rebuilding the task of {} from {}", path.display(), dir.path.display());
    Ok(LoadedRun::open(path, &dir, device_arg)?)
}

/// Runs `genrep explain`.
pub fn run(args: ExplainArgs, data: &super::DataSource) -> anyhow::Result<()> {
    // Parse first (the settings after `@` are applied to the options below).
    parse_method_spec(&args.method, &ExplainOptions::default())?;
    let loaded = load_run(&args.run, args.device.as_deref(), data)?;
    let task = &loaded.task;
    let indices: Vec<usize> = match args.misclassified {
        Some(k) => {
            let wrong = misclassified(&loaded.model, &task.test, k, 256, &loaded.device);
            if wrong.is_empty() {
                anyhow::bail!("the model classifies every test point correctly: nothing misclassified to explain");
            }
            tracing::info!("explaining {} misclassified test points: {wrong:?}", wrong.len());
            wrong
        }
        None => args.test_index.clone(),
    };
    let opts = ExplainOptions {
        last_layer_l2: args.last_layer_l2,
        damping: args.damping,
        hessian_sample: args.hessian_sample,
        score: args.score,
        seed: args.seed,
        lissa: args.lissa.then_some(genrep::explain::solve::LissaOptions {
            depth: args.lissa_depth,
            scale: args.lissa_scale,
            batch: args.lissa_batch,
            repeats: 1,
        }),
        ..ExplainOptions::default()
    };
    let target = args.class.map_or(Target::Predicted, Target::Class);
    // The NTK surrogate fit is computed once per run and cached in the run directory.
    let explainer = Explainer::from_run(&loaded)?.with_options(opts);
    let bar = Progress::new(task.train.len(), "")?;
    let start = std::time::Instant::now();
    let is_text = loaded.is_text();
    let (attrs, diag) =
        explainer.explain_with_progress(&args.method, &task.test, &indices, target, &mut |done, total| {
            bar.set_position(done, total);
        })?;
    bar.finish();
    let secs = start.elapsed().as_secs_f64();
    for note in &diag.notes {
        tracing::warn!("note: {note}");
    }
    if let Some(s) = &diag.surrogate {
        tracing::info!(
            "representer refit: {} iterations, gradient norm {:.2e}, mean |f_K - f| on training logits {:.4}",
            s.iterations,
            s.grad_norm,
            s.fit_residual
        );
    }
    if let Some(s) = &diag.hessian_spectrum {
        tracing::info!(
            "last-layer Hessian + damping: eigenvalues {:.3e} .. {:.3e}, condition number {:.3e} (Lanczos, {} steps)",
            s.min,
            s.max,
            s.condition(),
            s.steps
        );
    }
    for (&t, r) in indices.iter().zip(&diag.cg) {
        tracing::info!(
            "influence {} (test #{t}): {} iterations, relative residual {:.2e}{}",
            if args.lissa { "LiSSA" } else { "CG" },
            r.iterations,
            r.relative_residual,
            match (r.converged, args.lissa) {
                (true, _) => "",
                (false, false) => " (NOT converged: raise the damping or the iteration cap)",
                (false, true) => " (NOT converged: raise --lissa-depth or the damping)",
            }
        );
    }
    let names = &task.class_names;
    let many = attrs.len() > 1;
    for a in &attrs {
        println!(
            "test #{} (label {}, {} {}): s(x) = {:.4}, method {}, sum phi = {:.4}, efficiency residual {:.4}",
            a.test_index,
            names[task.test.labels[a.test_index]],
            if args.class.is_some() { "explaining class" } else { "predicted" },
            names[a.explained_class],
            a.score,
            a.method,
            a.total(),
            a.efficiency_residual()
        );
        for (title, pol) in [("proponents", Polarity::Proponents), ("opponents", Polarity::Opponents)] {
            println!("  top {} {title}:", args.top);
            for r in a.top_k(args.top, pol) {
                println!("    train #{:<6} label {:<10} phi {:+.5}", r.index, names[task.train.labels[r.index]], r.phi);
            }
        }
        if let Some(p) = &args.png {
            let path = with_index(p, a.test_index, many);
            if is_text {
                let md = render::explanation_markdown(a, &task.test, &task.train, names, args.top)?;
                write_file(&path, md.as_bytes())?;
            } else {
                let img = render::explanation_grid(a, &task.test, &task.train, names, args.top)?;
                render::save_png(&img, &path)?;
            }
            println!("  wrote {}", path.display());
        }
        if let Some(p) = &args.csv {
            write_file(&with_index(p, a.test_index, many), a.to_csv().as_bytes())?;
        }
        if let Some(p) = &args.json {
            write_file(&with_index(p, a.test_index, many), a.to_json().as_bytes())?;
        }
        if let Some(p) = &args.safetensors {
            write_file(&with_index(p, a.test_index, many), &a.to_safetensors())?;
        }
    }
    tracing::info!("{} test point(s) explained with {} in {secs:.1}s", attrs.len(), args.method);
    Ok(())
}
