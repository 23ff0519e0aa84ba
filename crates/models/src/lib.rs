//! # genrep-models
//!
//! The [`Classifier`] seam (penultimate features + linear head) and the built-in
//! architectures of the experiments: [`VisionCnn`] (MNIST, CIFAR-10) and [`TextCnn`] (AG News,
//! Toxicity), a registry to pick them by name ([`ModelSpec`]), the [`Architecture`] seam that
//! lets a user's own model description go wherever a built-in one goes (run directories,
//! experiments, debugging), and safetensors save/load that refuses weights of another
//! architecture.

pub mod architecture;
pub mod classifier;
pub mod device;
pub mod error;
pub mod fast;
pub mod input;
pub mod params;
pub mod registry;
pub mod store;
pub mod text_cnn;
pub mod vision_cnn;

pub use architecture::Architecture;
pub use classifier::{explaining, Classifier};
pub use device::{device_names, parse_device};
pub use error::{ModelError, Result};
pub use fast::FastNet;
pub use input::Input;
pub use registry::{Model, ModelSpec, MODEL_NAMES};
pub use store::{load_weights, save_weights, write_atomic};
pub use text_cnn::{TextCnn, TextCnnConfig};
pub use vision_cnn::{VisionCnn, VisionCnnConfig};
