//! `genrep sensitivity`: sensitivity maps of representer values (Yeh et al. 2018, Section 4.4).

use super::explain::load_run;
use clap::Args;
use genrep::explain::sensitivity::representer_sensitivity_maps;
use genrep::explain::{Context, ExplainOptions};
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
    let picks = args.train_index.map(|i| vec![i]);
    let (attr, maps) = representer_sensitivity_maps(&ctx, args.test_index, picks.as_deref(), &opts)?;
    let names = &task.class_names;
    for (k, map) in maps.iter().enumerate() {
        let path = match (args.train_index, k) {
            (Some(_), _) => args.out.clone(),
            (None, 0) => suffixed(&args.out, "proponent"),
            (None, _) => suffixed(&args.out, "opponent"),
        };
        let i = map.train_index;
        let caption = format!(
            "test #{} (label {}, predicted {}) and train #{} (label {}): representer value {:+.4}",
            args.test_index,
            names[task.test.labels[args.test_index]],
            names[attr.explained_class],
            i,
            names[task.train.labels[i]],
            map.value
        );
        let img =
            render::sensitivity_map(&task.test, args.test_index, &task.train, i, &map.gradient, map.value, &caption)?;
        render::save_png(&img, &path)?;
        println!("{caption}; wrote {}", path.display());
    }
    Ok(())
}
