//! The numbers of Table 1 of Tsai, Yeh & Ravikumar (NeurIPS 2023), transcribed for side-by-side
//! reports: AUC-DEL mean and 95% confidence half-width, 50 nets x 10 test points (vision) or
//! 200 x 10 (text). `None` where the paper has no number (surrogate derivative on text).

use crate::config::Dataset;

/// One cell of Table 1: (mean, 95% CI half-width).
pub type Cell = Option<(f64, f64)>;

/// The three experiments of Table 1: title, column labels and the method behind each column.
pub const EXPERIMENTS: [(&str, &[(&str, &str)]); 3] = [
    (
        "Experiment I - global importances (kernel: NTK-final)",
        &[
            ("surrogate derivative", "surrogate:ntk-final"),
            ("target derivative", "target:ntk-final"),
            ("tracking", "tracking:ntk-final"),
            ("random", "random"),
        ],
    ),
    (
        "Experiment II - kernels (global importance: tracking)",
        &[
            ("last layer-final", "tracking:ll"),
            ("NTK-init", "tracking:ntk-init"),
            ("NTK-middle", "tracking:ntk-middle"),
            ("NTK-final", "tracking:ntk-final"),
            ("Inf-final", "tracking:inf-final"),
        ],
    ),
    (
        "Experiment III - existing vs novel generalized representers",
        &[
            ("TracInCP", "tracincp"),
            ("influence function", "influence"),
            ("representer point", "representer"),
            ("NTK-final (tracking)", "tracking:ntk-final"),
            ("Inf-final (tracking)", "tracking:inf-final"),
        ],
    ),
];

/// The paper's AUC-DEL for `method` on `dataset`.
pub fn paper_auc_del(dataset: Dataset, method: &str) -> Cell {
    use Dataset::*;
    let v = |m: f64, ci: f64| Some((m, ci));
    match (dataset, method) {
        (Mnist, "surrogate:ntk-final") => v(1.88, 0.25),
        (Mnist, "target:ntk-final") => v(2.41, 0.30),
        (Mnist, "tracking:ntk-final") => v(3.52, 0.48),
        (Mnist, "random") => v(0.50, 0.16),
        (Mnist, "tracking:ll") => v(3.44, 0.46),
        (Mnist, "tracking:ntk-init") => v(3.18, 0.46),
        (Mnist, "tracking:ntk-middle") => v(3.63, 0.49),
        (Mnist, "tracking:inf-final") => v(3.66, 0.49),
        (Mnist, "tracincp") => v(4.20, 0.52),
        (Mnist, "influence") => v(2.56, 0.32),
        (Mnist, "representer") => v(2.51, 0.30),
        (Cifar10, "surrogate:ntk-final") => v(2.27, 0.18),
        (Cifar10, "target:ntk-final") => v(2.81, 0.20),
        (Cifar10, "tracking:ntk-final") => v(3.26, 0.19),
        (Cifar10, "random") => v(0.136, 0.10),
        (Cifar10, "tracking:ll") => v(2.26, 0.13),
        (Cifar10, "tracking:ntk-init") => v(1.35, 0.20),
        (Cifar10, "tracking:ntk-middle") => v(2.67, 0.19),
        (Cifar10, "tracking:inf-final") => v(3.46, 0.19),
        (Cifar10, "tracincp") => v(2.84, 0.20),
        (Cifar10, "influence") => v(3.02, 0.21),
        (Cifar10, "representer") => v(1.65, 0.19),
        (Toxicity, "target:ntk-final") => v(1.10, 0.21),
        (Toxicity, "tracking:ntk-final") => v(2.08, 0.23),
        (Toxicity, "random") => v(0.15, 0.19),
        (Toxicity, "tracking:ll") => v(1.34, 0.22),
        (Toxicity, "tracking:ntk-init") => v(0.63, 0.22),
        (Toxicity, "tracking:ntk-middle") => v(1.90, 0.23),
        (Toxicity, "tracking:inf-final") => v(0.42, 0.20),
        (Toxicity, "tracincp") => v(1.59, 0.23),
        (Toxicity, "influence") => v(0.26, 0.20),
        (Toxicity, "representer") => v(0.37, 0.19),
        (Agnews, "target:ntk-final") => v(1.88, 0.27),
        (Agnews, "tracking:ntk-final") => v(2.56, 0.27),
        (Agnews, "random") => v(0.19, 0.26),
        (Agnews, "tracking:ll") => v(2.14, 0.27),
        (Agnews, "tracking:ntk-init") => v(1.81, 0.27),
        (Agnews, "tracking:ntk-middle") => v(2.54, 0.28),
        (Agnews, "tracking:inf-final") => v(0.92, 0.26),
        (Agnews, "tracincp") => v(2.18, 0.27),
        (Agnews, "influence") => v(0.75, 0.26),
        (Agnews, "representer") => v(0.86, 0.25),
        _ => None,
    }
}
