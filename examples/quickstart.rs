//! genrep as a library: train a CNN on binary MNIST into a run directory, reopen it, and ask
//! which training images made the model say what it said about one test image.
//!
//! Run: `GENREP_DATA=/path/to/datasets cargo run --release --example quickstart [RUN_DIR]`

use genrep::data::{build_task, DataDir, TaskOptions};
use genrep::explain::{Explainer, Polarity, Target};
use genrep::models::{parse_device, ModelSpec};
use genrep::trainer::{train_run, LoadedRun, RunConfig, RunDir, TrainConfig};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "runs/quickstart".into());
    let data = DataDir::resolve(None)?;
    let task_options = TaskOptions { train_per_class: Some(500), test_per_class: Some(100), ..Default::default() };
    let task = build_task(&data, &"mnist:3-vs-8".parse()?, &task_options)?;
    let model = ModelSpec::default_for(&task.train, task.num_classes())?;
    let train = TrainConfig { epochs: 2, ..TrainConfig::default() };
    let config = RunConfig { task: task.spec.clone(), task_options, model, train, device: "cpu".into() };
    train_run(&RunDir::new(&dir), &config, &task.train, Some(&task.test), &parse_device("cpu")?, true, false, &mut [])?;

    let run = LoadedRun::open(&dir, &data, None)?;
    let explainer = Explainer::from_run(&run)?;
    let (attrs, _) = explainer.explain("tracking:ntk-final", &run.task.test, &[17], Target::Predicted)?;
    let a = &attrs[0];
    println!("test #17: predicted {}, s(x) = {:.3}", run.task.class_names[a.explained_class], a.score);
    for r in a.top_k(5, Polarity::Proponents) {
        println!(
            "  proponent train #{} ({}) phi {:+.4}",
            r.index, run.task.class_names[run.task.train.labels[r.index]], r.phi
        );
    }
    Ok(())
}
