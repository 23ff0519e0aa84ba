//! # genrep-explain
//!
//! Sample-based explanations as generalized representers (Tsai, Yeh & Ravikumar, NeurIPS
//! 2023): `phi(x_i -> x) = sum_c' alpha_{i,c'} K_{c',c}(x_i, x)`, a global importance of each
//! training example ([`importance`]) times a kernel ([`kernel`]): last-layer features, the NTK at
//! any checkpoint, or the influence kernel. Representer points (Yeh et al. 2018), influence
//! functions (Koh & Liang 2017) and TracInCP (Pruthi et al. 2020) are special cases
//! ([`method`]).

pub mod attribution;
pub mod cache;
pub mod context;
pub mod error;
pub mod explainer;
pub mod grads;
pub mod importance;
pub mod kernel;
pub mod method;
pub mod params;
pub mod self_influence;
pub mod sensitivity;
pub mod solve;
pub mod spectrum;
pub mod trak;

pub use attribution::{Attribution, Polarity, Ranked};
pub use context::{subset, Context, ExplainedScore, Target, TestPoint};
pub use error::{ExplainError, Result};
pub use explainer::Explainer;
pub use importance::{GlobalImportance, ImportanceInputs, TargetDerivative, Tracking};
pub use kernel::{GradientKernel, HessianKind, Kernel, LastLayerInfluenceKernel, LastLayerKernel, Preconditioner};
pub use method::{
    explain, hessian_sample, parse_method_spec, representer_alpha, self_influence, split_method_list, Checkpoints,
    Diagnostics, ExplainOptions, Importance, KernelChoice, Method, RefitTargets, METHOD_HELP,
};
