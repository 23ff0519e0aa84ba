//! `genrep data ...`: what datasets are present, and what a task looks like once built.

use anyhow::Context;
use clap::{Args, Subcommand};
use genrep::data::{info, TaskOptions, TaskSpec};
use std::path::PathBuf;

/// `genrep data` subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// List the datasets found in the data directory, with record and class counts.
    Info {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Build a task (e.g. mnist:3-vs-8) and print its split sizes and class counts.
    Task(TaskArgs),
    /// The logistic-regression baseline of a task (L2 multinomial logistic regression on pixels,
    /// or on a bag of words for text): test, balanced test and training accuracy. A network
    /// that does not beat it has not learned more than a linear model of its inputs.
    Baseline {
        /// The task.
        #[command(flatten)]
        task: TaskArgs,
        /// L2 penalty.
        #[arg(long, default_value_t = genrep::experiments::runner::BASELINE_LAMBDA)]
        lambda: f64,
    },
}

/// Arguments selecting and building a task.
#[derive(Debug, Args)]
pub struct TaskArgs {
    /// Task: mnist, cifar10, agnews, toxicity, or a binary pair such as mnist:3-vs-8,
    /// cifar10:cat-vs-dog, agnews:world-vs-sports (class names or 0-based indices).
    #[arg(long)]
    pub task: String,
    /// Keep at most this many training examples per class (seeded subsample).
    #[arg(long)]
    pub train_per_class: Option<usize>,
    /// Keep at most this many test examples per class.
    #[arg(long)]
    pub test_per_class: Option<usize>,
    /// Seed of the subsampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Token sequence length for text tasks.
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// Class-balance the training set: cap every class at the smallest class's count (e.g.
    /// toxicity, 8.6% toxic, where plain training predicts the majority class).
    #[arg(long)]
    pub balance_train: bool,
    /// Text tasks: tokenize with this vocab.txt or WordPiece tokenizer.json instead of the
    /// data directory's BERT uncased vocabulary.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
}

impl TaskArgs {
    /// The parsed spec and options.
    pub fn resolve(&self) -> anyhow::Result<(TaskSpec, TaskOptions)> {
        let spec: TaskSpec = self.task.parse()?;
        let options = TaskOptions {
            train_per_class: self.train_per_class,
            test_per_class: self.test_per_class,
            seed: self.seed,
            seq_len: self.seq_len,
            balance_train: self.balance_train,
            tokenizer: self.tokenizer.clone(),
            ..TaskOptions::default()
        };
        options.validate()?;
        Ok((spec, options))
    }
}

/// Runs a `genrep data` subcommand.
pub fn run(cmd: DataCommand, data: &super::DataSource) -> anyhow::Result<()> {
    let dir = data.resolve()?;
    match cmd {
        DataCommand::Info { json } => {
            let survey = info::survey(&dir);
            if json {
                println!("{}", serde_json::to_string_pretty(&survey).context("serialising the survey")?);
                return Ok(());
            }
            println!("data directory: {} ({})", dir.path.display(), dir.origin);
            let mut missing = 0;
            for d in &survey {
                match &d.status {
                    Ok(splits) => {
                        println!("{:<11} ok", d.name);
                        for s in splits {
                            let classes: Vec<String> = s.per_class.iter().map(|(n, c)| format!("{n}:{c}")).collect();
                            println!("  {:<7} {:>6}  {}", s.split, s.records, classes.join(" "));
                        }
                        if let Some(n) = &d.note {
                            println!("  note: {n}");
                        }
                    }
                    Err(e) => {
                        missing += 1;
                        println!("{:<11} MISSING  {e}", d.name);
                    }
                }
            }
            if missing > 0 {
                anyhow::bail!("{missing} of {} datasets could not be loaded (see above)", survey.len());
            }
            Ok(())
        }
        DataCommand::Task(args) => {
            let (spec, options) = args.resolve()?;
            let task = genrep::data::build_task(&dir, &spec, &options)?;
            println!("task {} ({} classes: {})", task.spec, task.num_classes(), task.class_names.join(", "));
            for (name, ex) in [("train", &task.train), ("test", &task.test)] {
                println!("  {name:<5} {:>6} examples, per class {:?}", ex.len(), ex.class_counts(task.num_classes()));
            }
            Ok(())
        }
        DataCommand::Baseline { task, lambda } => {
            let (spec, options) = task.resolve()?;
            let task = genrep::data::build_task(&dir, &spec, &options)?;
            let acc =
                genrep::experiments::baseline::logistic_regression(&task.train, &task.test, task.num_classes(), lambda);
            println!(
                "logistic regression on {} ({} training examples, lambda {lambda}): test accuracy {:.4}, balanced {:.4}, train accuracy {:.4}",
                task.spec,
                task.train.len(),
                acc.test,
                acc.balanced,
                acc.train
            );
            Ok(())
        }
    }
}
