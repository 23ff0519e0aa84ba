//! The model registry: pick a built-in architecture by name and build it for a task.

use crate::architecture::Architecture;
use crate::classifier::Classifier;
use crate::error::{ModelError, Result};
use crate::input::Input;
use crate::text_cnn::{TextCnn, TextCnnConfig};
use crate::vision_cnn::{VisionCnn, VisionCnnConfig};
use burn::nn::Linear;
use burn::prelude::*;
use genrep_data::{Examples, Inputs};

/// Names accepted by [`ModelSpec::for_examples`].
pub const MODEL_NAMES: [&str; 2] = ["vision-cnn", "text-cnn"];

/// A serialisable description of a built-in model (what `config.json` of a run stores).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum ModelSpec {
    /// [`VisionCnn`].
    VisionCnn(VisionCnnConfig),
    /// [`TextCnn`].
    TextCnn(TextCnnConfig),
}

impl ModelSpec {
    /// The default configuration of model `name` for data shaped like `examples` with
    /// `num_classes` classes; errors if the model does not fit the data.
    pub fn for_examples(name: &str, examples: &Examples, num_classes: usize) -> Result<Self> {
        let mismatch = |expected: &str, found: &str| ModelError::InputMismatch {
            model: name.to_string(),
            expected: expected.to_string(),
            found: found.to_string(),
        };
        match (name, &examples.inputs) {
            ("vision-cnn", Inputs::Images { channels, height, width, .. }) => {
                Ok(Self::VisionCnn(VisionCnnConfig::new(*channels, *height, *width, num_classes)))
            }
            ("vision-cnn", Inputs::Tokens { .. }) => Err(mismatch("images", "token ids (use text-cnn)")),
            ("vision-cnn" | "text-cnn", Inputs::Features { .. }) => Err(mismatch(
                if name == "vision-cnn" { "images" } else { "token ids" },
                "feature vectors (use a model of your own: see examples/custom_architecture.rs)",
            )),
            ("text-cnn", Inputs::Tokens { vocab_size, .. }) => {
                Ok(Self::TextCnn(TextCnnConfig::new(*vocab_size, num_classes)))
            }
            ("text-cnn", Inputs::Images { .. }) => Err(mismatch("token ids", "images (use vision-cnn)")),
            (other, _) => Err(ModelError::Config {
                field: "model",
                what: format!("`{other}` is not a known model (known: {})", MODEL_NAMES.join(", ")),
            }),
        }
    }

    /// The default model for a split: `vision-cnn` for images, `text-cnn` for tokens; feature
    /// vectors have no built-in model (an error saying so).
    pub fn default_for(examples: &Examples, num_classes: usize) -> Result<Self> {
        let name = match examples.inputs {
            Inputs::Images { .. } => "vision-cnn",
            Inputs::Tokens { .. } => "text-cnn",
            Inputs::Features { .. } => {
                return Err(ModelError::InputMismatch {
                    model: "the built-in models".into(),
                    expected: "images or token ids".into(),
                    found: "feature vectors (use a model of your own: see examples/custom_architecture.rs)".into(),
                })
            }
        };
        Self::for_examples(name, examples, num_classes)
    }

    /// The model's name as `--model` takes it (`vision-cnn`, `text-cnn`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::VisionCnn(_) => "vision-cnn",
            Self::TextCnn(_) => "text-cnn",
        }
    }

    /// Exact trainable parameter count.
    pub fn num_params(&self) -> usize {
        match self {
            Self::VisionCnn(c) => c.num_params(),
            Self::TextCnn(c) => c.num_params(),
        }
    }
}

impl Architecture for ModelSpec {
    type Model = Model;

    /// Builds the model on `device` (seed the device first for reproducible weights).
    fn init(&self, device: &Device) -> Result<Model> {
        Ok(match self {
            Self::VisionCnn(c) => Model::VisionCnn(c.init(device)?),
            Self::TextCnn(c) => Model::TextCnn(c.init(device)?),
        })
    }

    /// Errors if the model cannot consume `examples`.
    fn check_examples(&self, examples: &Examples) -> Result<()> {
        let mismatch =
            |expected: String, found: String| ModelError::InputMismatch { model: format!("{self:?}"), expected, found };
        match (self, &examples.inputs) {
            (Self::VisionCnn(c), Inputs::Images { channels, height, width, .. }) => {
                if (c.in_channels, c.height, c.width) != (*channels, *height, *width) {
                    return Err(mismatch(
                        format!("{}x{}x{} images", c.in_channels, c.height, c.width),
                        format!("{channels}x{height}x{width}"),
                    ));
                }
                Ok(())
            }
            (Self::TextCnn(c), Inputs::Tokens { vocab_size, .. }) => {
                if *vocab_size > c.vocab_size {
                    return Err(mismatch(format!("a vocabulary of {}", c.vocab_size), format!("{vocab_size}")));
                }
                Ok(())
            }
            (Self::VisionCnn(_), other) => Err(mismatch("images".into(), other.kind().into())),
            (Self::TextCnn(_), other) => Err(mismatch("token ids".into(), other.kind().into())),
        }
    }
}

/// Any built-in model (what [`ModelSpec::init`] returns).
#[derive(Module, Debug)]
pub enum Model {
    /// An image CNN.
    VisionCnn(VisionCnn),
    /// A text CNN.
    TextCnn(TextCnn),
}

impl Classifier for Model {
    fn features(&self, x: &Input) -> Tensor<2> {
        match self {
            Self::VisionCnn(m) => m.features(x),
            Self::TextCnn(m) => m.features(x),
        }
    }

    fn head(&self) -> &Linear {
        match self {
            Self::VisionCnn(m) => m.head(),
            Self::TextCnn(m) => m.head(),
        }
    }

    fn architecture(&self) -> String {
        match self {
            Self::VisionCnn(m) => m.architecture(),
            Self::TextCnn(m) => m.architecture(),
        }
    }

    fn per_example_grads(&self, x: &Input, w: &Tensor<2>) -> Option<Tensor<2>> {
        match self {
            Self::VisionCnn(m) => m.per_example_grads(x, w),
            Self::TextCnn(m) => m.per_example_grads(x, w),
        }
    }

    fn per_example_dots(&self, x: &Input, w: &Tensor<2>, vt: &Tensor<2>) -> Option<Tensor<2>> {
        match self {
            Self::VisionCnn(m) => m.per_example_dots(x, w, vt),
            Self::TextCnn(m) => m.per_example_dots(x, w, vt),
        }
    }

    fn fast_net(&self) -> Option<Box<dyn crate::FastNet>> {
        match self {
            Self::VisionCnn(m) => m.fast_net(),
            Self::TextCnn(m) => m.fast_net(),
        }
    }
}
