//! Errors of `genrep-explain`.

/// Errors while computing or exporting explanations.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// A method name that does not parse, or names a combination that is not supported.
    #[error("method `{name}`: {what}")]
    Method { name: String, what: String },

    /// An index outside its split.
    #[error("{what} index {index} is out of range (the split has {len} examples)")]
    Index { what: &'static str, index: usize, len: usize },

    /// A class outside the model's outputs.
    #[error("class {class} is out of range: the model has {classes} classes (0..={max})", max = classes.saturating_sub(1))]
    Class { class: usize, classes: usize },

    /// The run lacks something the method needs.
    #[error("method `{method}` needs {what}")]
    Missing { method: String, what: String },

    /// A numerical failure (e.g. a singular system).
    #[error("{0}")]
    Numeric(String),

    /// A NaN or infinite importance, kernel value or score: never sorted into a ranking.
    #[error("method `{method}`: {what} is {value} (non-finite); check the run's weights and the solver settings")]
    NonFinite { method: String, what: String, value: f64 },

    /// From the trainer (run directory, checkpoints).
    #[error(transparent)]
    Train(#[from] genrep_trainer::TrainError),

    /// From the models crate.
    #[error(transparent)]
    Model(#[from] genrep_models::ModelError),

    /// Writing an export failed.
    #[error("{path}: {what}")]
    Io { path: std::path::PathBuf, what: String },
}

/// `Result` with [`ExplainError`].
pub type Result<T, E = ExplainError> = std::result::Result<T, E>;
