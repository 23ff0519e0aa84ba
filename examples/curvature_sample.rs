//! Does a subsampled influence curvature score its own sample differently? (issue 14, item 2)
//!
//! The all-parameter influence kernel solves `(H + damping I) u = g_test`. If `H` averages over a
//! seeded sample of the training set only, then by Woodbury the sampled points see a curvature
//! that contains their own gradients and the others do not, and `phi_i = alpha_i g_i^T u` is
//! suppressed for exactly the sampled points. This program explains test points of a run with
//! the influence function twice, with the curvature on a sample and on all training points, and
//! prints the mean |phi| of the sampled and of the unsampled training points for each.
//!
//! Run: `cargo build --release --workspace --all-targets`, then
//! `GENREP_DATA=... ./target/release/examples/curvature_sample RUN_DIR [TESTS] [SAMPLE]`
//! (results: docs/EXPERIMENTS.md, "Influence curvature").

use genrep::data::{build_task, DataDir};
use genrep::explain::{explain, hessian_sample, Context, ExplainOptions, Method};
use genrep::models::Model;
use genrep::trainer::RunDir;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let run = RunDir::open(args.get(1).map(String::as_str).unwrap_or("runs/mnist"))?;
    let tests: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let sample: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(500);
    let cfg = run.read_config()?;
    let task = build_task(&DataDir::resolve(None)?, &cfg.task, &cfg.task_options)?;
    let device = burn::prelude::Device::flex().autodiff();
    let model: Model = run.load_model("final", &device)?;
    let ctx = Context { model, train: &task.train, test: &task.test, record: None, batch_size: 256, cache: None };
    let n = task.train.len();
    let method: Method = "influence".parse()?;
    let indices: Vec<usize> = (0..tests).collect();
    println!("{} training points; curvature sample of {sample}; {tests} test points", n);
    println!("| curvature | mean abs(phi), sampled points | mean abs(phi), other points | ratio | CG iterations |");
    println!("|---|---|---|---|---|");
    for (label, hs) in [(format!("{sample}-point sample"), Some(sample)), ("all points".to_string(), None)] {
        let opts = ExplainOptions { hessian_sample: hs, ..ExplainOptions::default() };
        let in_sample = {
            let mut mask = vec![false; n];
            for i in hessian_sample(n, &ExplainOptions { hessian_sample: Some(sample), ..opts.clone() }) {
                mask[i] = true;
            }
            mask
        };
        let (attrs, diag) = explain(&ctx, &method, "influence", &indices, &opts, None, false, &mut |_, _| {})?;
        let (mut s, mut o, mut ns, mut no) = (0.0, 0.0, 0usize, 0usize);
        for a in &attrs {
            for (i, phi) in a.scores.iter().enumerate() {
                if in_sample[i] {
                    s += phi.abs();
                    ns += 1;
                } else {
                    o += phi.abs();
                    no += 1;
                }
            }
        }
        let (s, o) = (s / ns as f64, o / no as f64);
        let its: Vec<String> = diag.cg.iter().map(|r| r.iterations.to_string()).collect();
        println!("| {label} | {s:.4e} | {o:.4e} | {:.3} | {} |", s / o, its.join(", "));
    }
    Ok(())
}
