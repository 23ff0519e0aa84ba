//! # genrep-kernels
//!
//! Exact f32 CPU kernels for the layers of genrep's built-in models, written for one example
//! at a time so that a caller can run whole examples in parallel with each example's
//! activations in its core's cache: "same" convolutions as matrix products over an im2col
//! buffer ([`conv`], on the `gemm` crate through [`matmul`]), ReLU fused with max-pooling
//! ([`pool`]). Every layer has its forward pass, its backward pass (weight and input
//! gradients) and its tangent (forward-mode derivative), which is what exact Jacobian-vector
//! products need (burn's autodiff is reverse-mode only).
//!
//! This crate knows nothing of burn: `genrep-models` builds the fused model paths from it and
//! tests them against burn's autodiff.

#[macro_use]
pub mod simd;
pub mod conv;
pub mod matmul;
pub mod pool;

pub use conv::ConvShape;
pub use matmul::{matmul, View};
