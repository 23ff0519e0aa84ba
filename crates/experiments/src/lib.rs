//! # genrep-experiments
//!
//! Case-deletion diagnostics and the Table 1 experiments of *Sample based Explanations via
//! Generalized Representers* (Tsai, Yeh & Ravikumar, NeurIPS 2023, Section 6):
//!
//! - DEL(x, k, phi) = s_new(x) - s_old(x): retrain without the k training points with the most
//!   negative phi(x_i -> x), same initialisation and minibatch order ([`runner`]);
//! - AUC-DEL = mean over k_i = 0.02 i n, i = 0..5, with 95% intervals over networks x test
//!   points ([`report`]);
//! - presets `smoke`, `quick`, `paper` for MNIST, CIFAR-10, Toxicity and AG News ([`config`]);
//! - a resumable, shardable runner whose results are append-only JSONL rows ([`rows`]);
//! - the paper's numbers next to ours ([`paper`]);
//! - dataset debugging with flipped labels, from the 2018 representer paper ([`debug`]);
//! - the linear datamodeling score on the same grid (`lds: Some(..)`; [`lds`], [`lds_report`]).

pub mod baseline;
pub mod bench;
pub mod config;
pub mod debug;
pub mod deletion;
pub mod detection;
pub mod error;
pub mod lds;
pub mod lds_report;
pub mod paper;
pub mod report;
pub mod rows;
pub mod runner;
pub mod stats;

pub use config::{Dataset, ExperimentConfig, LdsConfig, Shard, DATASETS, TABLE1_METHODS};
pub use deletion::{auc_del, del};
pub use error::{ExperimentError, Result};
pub use lds_report::{lds_markdown, summarize_lds, write_lds_report, LdsReport};
pub use report::{markdown, report_dir, summarize, write_report, MethodSummary, Report};
pub use rows::{dedup, read_dir_rows, Row, RowStore};
pub use runner::{run, run_with, Monitor, Quiet, RunOptions, RunSummary};
