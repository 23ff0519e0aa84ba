//! Kernels `K(x_i, x) = <Phi(x_i), Phi(x)>` (Tsai et al. 2023, Section 5) and their
//! contraction with global importances: `phi(x_i -> x) = sum_c' alpha_{i,c'} K_{c',c}(x_i, x)`.
//!
//! One file per kernel: [`last_layer`] (the last-layer kernel, Section 5.1), [`gradient`] (the
//! neural tangent kernel at any checkpoint and the all-parameter influence kernel, Sections
//! 5.2-5.3), [`influence_ll`] (the influence kernel restricted to the last layer, exact Hessian).

pub mod gradient;
pub mod influence_ll;
pub mod last_layer;

pub use gradient::{GradientKernel, HessianKind, Preconditioner, GN_FD_STEP};
pub use influence_ll::LastLayerInfluenceKernel;
pub use last_layer::{features_with_bias, LastLayerKernel};

use crate::context::TestPoint;
use crate::error::Result;

/// A kernel contracted with importances: the seam for new kernels.
pub trait Kernel {
    /// Name for reports (`ll`, `ntk`, `inf`, ...).
    fn name(&self) -> String;

    /// For every test point `t`, the vector over training examples
    /// `phi_i = sum_c' alpha[i, c'] K_{c', c_t}(x_i, x_t)`; `alpha` is `[n, C]` row-major.
    /// `progress(done, total)` is called as training examples are processed.
    fn contract(
        &self,
        alpha: &[f64],
        tests: &[TestPoint],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f64>>>;
}
