//! `genrep sensitivity`: sensitivity maps of representer values (Yeh et al. 2018, Section 4.4).

use super::explain::load_run;
use clap::Args;
use genrep::explain::sensitivity::representer_sensitivity;
use genrep::explain::{explain, representer_alpha, Context, ExplainOptions, Method, Polarity};
use genrep::models::Classifier;
use genrep::render;
use genrep::trainer::LoadedRun;
use std::path::{Path, PathBuf};

/// Arguments of `genrep sensitivity`.
#[derive(Debug, Args)]
pub struct SensitivityArgs {
    /// Run directory written by `genrep train` (an image task).
    #[arg(long)]
    pub run: PathBuf,
    /// Test-split index of the explained image.
    #[arg(long)]
    pub test_index: usize,
    /// Training image whose representer value is differentiated; default: the top proponent
    /// and the top opponent (two files, `-proponent` and `-opponent` before the extension).
    #[arg(long)]
    pub train_index: Option<usize>,
    /// L2 penalty of the representer-point refit.
    #[arg(long, default_value_t = 3e-3, alias = "lambda")]
    pub last_layer_l2: f64,
    /// Device (default: the one the run was trained on).
    #[arg(long)]
    pub device: Option<String>,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}-{suffix}{ext}"))
}

/// Runs `genrep sensitivity`.
pub fn run(args: SensitivityArgs, data: &super::DataSource) -> anyhow::Result<()> {
    let LoadedRun { config: cfg, task, model, .. } = load_run(&args.run, args.device.as_deref(), data)?;
    if cfg.task.dataset.is_text() {
        anyhow::bail!("sensitivity maps are for image tasks; {} is a text task", cfg.task);
    }
    let ctx = Context { model, train: &task.train, test: &task.test, record: None, batch_size: 256, cache: None };
    let opts = ExplainOptions { last_layer_l2: args.last_layer_l2, ..ExplainOptions::default() };
    let (attrs, _) = explain(
        &ctx,
        &"representer".parse::<Method>()?,
        "representer",
        &[args.test_index],
        &opts,
        None,
        false,
        &mut |_, _| {},
    )?;
    let attr = &attrs[0];
    let (alpha, _, report, _) = representer_alpha(&ctx, &opts)?;
    tracing::info!("representer refit: {} iterations, gradient norm {:.2e}", report.iterations, report.grad_norm);
    let c = ctx.model.num_classes();
    let names = &task.class_names;
    let picks: Vec<(usize, PathBuf)> = match args.train_index {
        Some(i) => vec![(i, args.out.clone())],
        None => vec![
            (attr.top_k(1, Polarity::Proponents)[0].index, suffixed(&args.out, "proponent")),
            (attr.top_k(1, Polarity::Opponents)[0].index, suffixed(&args.out, "opponent")),
        ],
    };
    for (i, path) in picks {
        if i >= task.train.len() {
            anyhow::bail!("--train-index {i} is out of range: the training split has {} examples", task.train.len());
        }
        let a = alpha[i * c + attr.explained_class];
        let grad = representer_sensitivity(&ctx.model, &task.train, i, &task.test, args.test_index, a)?;
        let value = attr.scores[i];
        let caption = format!(
            "test #{} (label {}, predicted {}) and train #{} (label {}): representer value {:+.4}",
            args.test_index,
            names[task.test.labels[args.test_index]],
            names[attr.explained_class],
            i,
            names[task.train.labels[i]],
            value
        );
        let img = render::sensitivity_map(&task.test, args.test_index, &task.train, i, &grad, value, &caption)?;
        render::save_png(&img, &path)?;
        println!("{caption}; wrote {}", path.display());
    }
    Ok(())
}
