//! Learning tasks built from the raw datasets: `mnist`, `mnist:3-vs-8`, `cifar10:cat-vs-dog`,
//! `agnews:world-vs-sports`, `toxicity`, ... with a per-class cap and seeded subsampling.
//!
//! Binary tasks relabel the first named class 0 and the second 1. Class indices are 0-based
//! everywhere (AG News: World = 0, Sports = 1, Business = 2, Sci/Tech = 3).

use crate::error::{DataError, Result};
use crate::image_set::ImageSet;
use crate::source::DataDir;
use crate::text_set::TextSet;
use crate::tokenizer::WordPiece;
use crate::{agnews, cifar, jigsaw, mnist, Split};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::str::FromStr;

/// Which dataset a task draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// MNIST digits, 1x28x28.
    Mnist,
    /// CIFAR-10, 3x32x32.
    Cifar10,
    /// AG News topics (text).
    Agnews,
    /// Jigsaw toxic comments (text, binary).
    Toxicity,
}

impl DatasetKind {
    /// The name used in task specs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::Cifar10 => "cifar10",
            Self::Agnews => "agnews",
            Self::Toxicity => "toxicity",
        }
    }

    /// Class names in label order.
    pub fn class_names(self) -> Vec<String> {
        let v: Vec<&str> = match self {
            Self::Mnist => vec!["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Self::Cifar10 => cifar::CLASS_NAMES.to_vec(),
            Self::Agnews => agnews::CLASS_NAMES.to_vec(),
            Self::Toxicity => vec!["non-toxic", "toxic"],
        };
        v.into_iter().map(String::from).collect()
    }

    /// True for the text datasets (token-id inputs).
    pub fn is_text(self) -> bool {
        matches!(self, Self::Agnews | Self::Toxicity)
    }
}

/// A parsed task specification: a dataset and optionally two of its classes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawTaskSpec")]
pub struct TaskSpec {
    /// The dataset.
    pub dataset: DatasetKind,
    /// `Some((a, b))` for the binary task "a vs b" (a -> label 0, b -> label 1); `None` for all classes.
    pub pair: Option<(usize, usize)>,
}

/// The unchecked form a task spec is deserialised into (then [`TaskSpec::validate`]d), so a
/// `config.json` naming a class the dataset lacks is an error, not a panic later.
#[derive(serde::Deserialize)]
struct RawTaskSpec {
    dataset: DatasetKind,
    pair: Option<(usize, usize)>,
}

impl TryFrom<RawTaskSpec> for TaskSpec {
    type Error = DataError;

    fn try_from(raw: RawTaskSpec) -> Result<Self> {
        let spec = Self { dataset: raw.dataset, pair: raw.pair };
        spec.validate()?;
        Ok(spec)
    }
}

impl TaskSpec {
    /// Checks that a pair names two different classes of the dataset, and that toxicity (already
    /// binary) has none.
    pub fn validate(&self) -> Result<()> {
        let Some((a, b)) = self.pair else { return Ok(()) };
        let n = self.dataset.class_names().len();
        let what = if self.dataset == DatasetKind::Toxicity {
            "toxicity is already binary and takes no class pair".to_string()
        } else if a >= n || b >= n {
            format!("class pair ({a}, {b}) is out of range: {} has classes 0..={}", self.dataset.name(), n - 1)
        } else if a == b {
            format!("class pair ({a}, {b}): the two classes must differ")
        } else {
            return Ok(());
        };
        Err(DataError::Task { spec: format!("{}:{a}-vs-{b}", self.dataset.name()), what })
    }

    /// Class names of the task, in its label order.
    pub fn class_names(&self) -> Vec<String> {
        let all = self.dataset.class_names();
        match self.pair {
            Some((a, b)) => vec![all[a].clone(), all[b].clone()],
            None => all,
        }
    }

    /// Number of classes of the task.
    pub fn num_classes(&self) -> usize {
        self.class_names().len()
    }
}

impl fmt::Display for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pair {
            Some((a, b)) => {
                let names = self.dataset.class_names();
                let slug = |s: &str| s.to_lowercase().replace('/', "");
                write!(f, "{}:{}-vs-{}", self.dataset.name(), slug(&names[a]), slug(&names[b]))
            }
            None => f.write_str(self.dataset.name()),
        }
    }
}

fn resolve_class(dataset: DatasetKind, spec: &str, token: &str) -> Result<usize> {
    let names = dataset.class_names();
    let norm = |s: &str| s.to_lowercase().replace(['/', '_', ' '], "");
    if let Some(i) = names.iter().position(|n| norm(n) == norm(token)) {
        return Ok(i);
    }
    if let Ok(i) = token.parse::<usize>() {
        if i < names.len() {
            return Ok(i);
        }
    }
    let _ = spec;
    Err(DataError::UnknownClass {
        dataset: dataset.name(),
        name: token.to_string(),
        known: names.iter().enumerate().map(|(i, n)| format!("{i}={}", norm(n))).collect::<Vec<_>>().join(", "),
    })
}

impl FromStr for TaskSpec {
    type Err = DataError;

    /// Parses `dataset[:A-vs-B]`, with A and B class names (case-insensitive) or 0-based indices.
    fn from_str(spec: &str) -> Result<Self> {
        let err = |what: &str| DataError::Task { spec: spec.to_string(), what: what.to_string() };
        let (ds, pair) = match spec.split_once(':') {
            Some((d, p)) => (d, Some(p)),
            None => (spec, None),
        };
        let dataset = match ds.trim().to_lowercase().as_str() {
            "mnist" => DatasetKind::Mnist,
            "cifar10" | "cifar-10" | "cifar" => DatasetKind::Cifar10,
            "agnews" | "ag_news" | "ag-news" => DatasetKind::Agnews,
            "toxicity" | "jigsaw" | "toxic" => DatasetKind::Toxicity,
            other => {
                return Err(err(&format!("unknown dataset `{other}`; expected mnist, cifar10, agnews or toxicity")))
            }
        };
        let pair = match pair {
            None => None,
            Some(p) => {
                if dataset == DatasetKind::Toxicity {
                    return Err(err("toxicity is already binary (toxic vs non-toxic); write just `toxicity`"));
                }
                let (a, b) = p
                    .split_once("-vs-")
                    .ok_or_else(|| err("expected `dataset:A-vs-B`, e.g. mnist:3-vs-8 or cifar10:cat-vs-dog"))?;
                let a = resolve_class(dataset, spec, a.trim())?;
                let b = resolve_class(dataset, spec, b.trim())?;
                if a == b {
                    return Err(err("the two classes must differ"));
                }
                Some((a, b))
            }
        };
        Ok(Self { dataset, pair })
    }
}

/// How to build a task: caps, seed and text length. Validated by [`TaskOptions::validate`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskOptions {
    /// At most this many training examples per class (seeded subsample); `None` keeps all.
    pub train_per_class: Option<usize>,
    /// At most this many test examples per class; `None` keeps all.
    pub test_per_class: Option<usize>,
    /// Seed of the subsampling (and of the toxicity train/test split).
    pub seed: u64,
    /// Token sequence length for text tasks (`[CLS] ... [SEP]` then `[PAD]`).
    pub seq_len: usize,
    /// Fraction of the Jigsaw file held out as the toxicity test set (stratified).
    pub toxicity_test_fraction: f64,
    /// Class-balance the training set: cap every class at the size of the smallest one (after
    /// `train_per_class`), by the same seeded subsample. For skewed sets such as Toxicity
    /// (8.6% toxic), where plain cross-entropy otherwise learns the majority class.
    #[serde(default)]
    pub balance_train: bool,
    /// Text tasks: tokenize with this `vocab.txt` or WordPiece `tokenizer.json`
    /// ([`load_tokenizer`]) instead of the data directory's BERT uncased vocabulary. The text
    /// model's embedding is sized to its vocabulary. (Not written when unset, so configs and
    /// fingerprints of runs without it are unchanged.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<std::path::PathBuf>,
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self {
            train_per_class: None,
            test_per_class: None,
            seed: 0,
            seq_len: 128,
            toxicity_test_fraction: 0.2,
            balance_train: false,
            tokenizer: None,
        }
    }
}

impl TaskOptions {
    /// Checks the options once, before any work, naming the offending field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, what: &str| DataError::Task { spec: format!("option {field}"), what: what.into() };
        if self.train_per_class == Some(0) {
            return Err(bad("train_per_class", "must be at least 1"));
        }
        if self.test_per_class == Some(0) {
            return Err(bad("test_per_class", "must be at least 1"));
        }
        if self.seq_len < 2 {
            return Err(bad("seq_len", "must be at least 2 (room for [CLS] and [SEP])"));
        }
        if !(self.toxicity_test_fraction > 0.0 && self.toxicity_test_fraction < 1.0) {
            return Err(bad("toxicity_test_fraction", "must be strictly between 0 and 1"));
        }
        Ok(())
    }

    /// The per-class cap of the training subsample: `train_per_class`, lowered to the smallest
    /// class's count among `classes` when `balance_train` is set.
    pub fn train_cap(&self, labels: &[u8], classes: &[usize]) -> Option<usize> {
        if !self.balance_train {
            return self.train_per_class;
        }
        let smallest = classes.iter().map(|&c| labels.iter().filter(|&&l| l as usize == c).count()).min();
        match (self.train_per_class, smallest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Model inputs of one split.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// Normalised images, `[n, channels, height, width]` row-major f32.
    Images {
        /// Colour channels.
        channels: usize,
        /// Height in pixels.
        height: usize,
        /// Width in pixels.
        width: usize,
        /// `(x/255 - mean[c]) / std[c]` per pixel.
        data: Vec<f32>,
        /// Per-channel mean used for normalisation (to undo it for display).
        mean: Vec<f32>,
        /// Per-channel standard deviation used for normalisation.
        std: Vec<f32>,
    },
    /// Fixed-length WordPiece token ids, `[n, seq_len]` row-major.
    Tokens {
        /// Tokens per example.
        seq_len: usize,
        /// Token ids (`[PAD]` = 0 in the BERT vocabulary).
        ids: Vec<u32>,
        /// Vocabulary size (upper bound of the ids).
        vocab_size: usize,
    },
    /// A fixed-length f32 vector per example, `[n, dim]` row-major: tabular data, or any
    /// fixed-shape input flattened (the model reshapes it). The open case: data of a kind
    /// genrep does not know needs no change in genrep, only a model that reads it
    /// ([`Examples::from_features`]).
    Features {
        /// Values per example.
        dim: usize,
        /// The values.
        data: Vec<f32>,
    },
}

impl Inputs {
    /// What kind of input this is, for messages: `images`, `token ids` or `feature vectors`.
    pub fn kind(&self) -> &'static str {
        match self {
            Inputs::Images { .. } => "images",
            Inputs::Tokens { .. } => "token ids",
            Inputs::Features { .. } => "feature vectors",
        }
    }
}

/// One split (train or test) of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Examples {
    /// The model inputs.
    pub inputs: Inputs,
    /// Task labels in `0..num_classes`.
    pub labels: Vec<usize>,
    /// Index of each example in the original dataset file order (for reports).
    pub source_index: Vec<usize>,
    /// The raw texts of a text task (for displaying explanations); `None` for images.
    pub texts: Option<Vec<String>>,
}

impl Examples {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Examples per class.
    pub fn class_counts(&self, num_classes: usize) -> Vec<usize> {
        crate::class_counts(self.labels.iter().copied(), num_classes)
    }

    /// Number of f32 (images, features) or token ids (text) per example.
    pub fn input_size(&self) -> usize {
        match &self.inputs {
            Inputs::Images { channels, height, width, .. } => channels * height * width,
            Inputs::Tokens { seq_len, .. } => *seq_len,
            Inputs::Features { dim, .. } => *dim,
        }
    }

    /// A split of feature vectors (`rows[i]` is example `i`, all of one length) with `labels`;
    /// source indices `0..n`. Errors, naming the row, on ragged rows, non-finite values or a
    /// length mismatch.
    ///
    /// ```
    /// use genrep_data::Examples;
    /// let ex = Examples::from_features(&[vec![0.0, 1.0], vec![2.0, 3.0], vec![4.0, 5.0]], vec![0, 1, 1])?;
    /// assert_eq!(ex.len(), 3);
    /// // Rows may repeat in a selection (e.g. to cycle through a small split).
    /// let picked = ex.select(&[2, 0, 2]);
    /// assert_eq!(picked.labels, vec![1, 0, 1]);
    /// // A ragged row is an error naming it, not a panic.
    /// assert!(Examples::from_features(&[vec![0.0], vec![1.0, 2.0]], vec![0, 1]).is_err());
    /// # Ok::<(), genrep_data::DataError>(())
    /// ```
    pub fn from_features(rows: &[Vec<f32>], labels: Vec<usize>) -> Result<Examples> {
        let bad = |what: String| DataError::Format { path: "feature rows".into(), what };
        if rows.len() != labels.len() {
            return Err(bad(format!("{} rows but {} labels", rows.len(), labels.len())));
        }
        let dim = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * dim);
        for (i, r) in rows.iter().enumerate() {
            if r.len() != dim {
                return Err(bad(format!("row {i} has {} values, row 0 has {dim}", r.len())));
            }
            if let Some(j) = r.iter().position(|v| !v.is_finite()) {
                return Err(bad(format!("row {i}, value {j} is {} (expected a finite number)", r[j])));
            }
            data.extend_from_slice(r);
        }
        let n = labels.len();
        Ok(Examples { inputs: Inputs::Features { dim, data }, labels, source_index: (0..n).collect(), texts: None })
    }

    /// The examples at `indices`, in that order, as a new split (inputs, labels, source indices
    /// and texts copied; an index may repeat). Panics on an index out of range, as slicing does.
    pub fn select(&self, indices: &[usize]) -> Examples {
        let inputs = match &self.inputs {
            Inputs::Images { channels, height, width, data, mean, std } => {
                let s = channels * height * width;
                Inputs::Images {
                    channels: *channels,
                    height: *height,
                    width: *width,
                    data: indices.iter().flat_map(|&i| data[i * s..(i + 1) * s].iter().copied()).collect(),
                    mean: mean.clone(),
                    std: std.clone(),
                }
            }
            Inputs::Tokens { seq_len, ids, vocab_size } => Inputs::Tokens {
                seq_len: *seq_len,
                ids: indices.iter().flat_map(|&i| ids[i * seq_len..(i + 1) * seq_len].iter().copied()).collect(),
                vocab_size: *vocab_size,
            },
            Inputs::Features { dim, data } => Inputs::Features {
                dim: *dim,
                data: indices.iter().flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied()).collect(),
            },
        };
        Examples {
            inputs,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            source_index: indices.iter().map(|&i| self.source_index[i]).collect(),
            texts: self.texts.as_ref().map(|t| indices.iter().map(|&i| t[i].clone()).collect()),
        }
    }
}

/// A built task: class names and its train and test splits.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// What was asked for.
    pub spec: TaskSpec,
    /// How it was built.
    pub options: TaskOptions,
    /// Class names in label order.
    pub class_names: Vec<String>,
    /// Training examples.
    pub train: Examples,
    /// Test examples.
    pub test: Examples,
}

impl Task {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
}

/// Standard per-channel normalisation constants (mean, std) of the training sets.
fn norm_constants(dataset: DatasetKind) -> (Vec<f32>, Vec<f32>) {
    match dataset {
        DatasetKind::Mnist => (vec![0.1307], vec![0.3081]),
        _ => (vec![0.4914, 0.4822, 0.4465], vec![0.2470, 0.2435, 0.2616]),
    }
}

/// Picks, for each task class, at most `cap` of its indices in `labels` (seeded), keeping file
/// order; returns `(original index, task label)` pairs in file order.
pub fn select_classes(
    labels: &[u8],
    classes: &[usize],
    cap: Option<usize>,
    rng: &mut ChaCha8Rng,
) -> Vec<(usize, usize)> {
    let mut chosen: Vec<(usize, usize)> = Vec::new();
    for (task_label, &c) in classes.iter().enumerate() {
        let idx: Vec<usize> = labels.iter().enumerate().filter(|(_, &l)| l as usize == c).map(|(i, _)| i).collect();
        match cap {
            Some(k) if k < idx.len() => {
                let mut pick: Vec<usize> = sample(rng, idx.len(), k).into_iter().map(|j| idx[j]).collect();
                pick.sort_unstable();
                chosen.extend(pick.into_iter().map(|i| (i, task_label)));
            }
            _ => chosen.extend(idx.into_iter().map(|i| (i, task_label))),
        }
    }
    chosen.sort_unstable();
    chosen
}

fn image_examples(set: &ImageSet, chosen: &[(usize, usize)], mean: &[f32], std: &[f32]) -> Examples {
    let size = set.image_size();
    let plane = set.height * set.width;
    let mut data = Vec::with_capacity(chosen.len() * size);
    for &(i, _) in chosen {
        let img = &set.pixels[i * size..(i + 1) * size];
        for (k, &p) in img.iter().enumerate() {
            let c = k / plane;
            data.push((p as f32 / 255.0 - mean[c]) / std[c]);
        }
    }
    Examples {
        inputs: Inputs::Images {
            channels: set.channels,
            height: set.height,
            width: set.width,
            data,
            mean: mean.to_vec(),
            std: std.to_vec(),
        },
        labels: chosen.iter().map(|&(_, l)| l).collect(),
        source_index: chosen.iter().map(|&(i, _)| i).collect(),
        texts: None,
    }
}

fn text_examples(set: &TextSet, chosen: &[(usize, usize)], tok: &WordPiece, seq_len: usize) -> Examples {
    let mut ids = Vec::with_capacity(chosen.len() * seq_len);
    for &(i, _) in chosen {
        ids.extend(tok.encode_fixed(&set.texts[i], seq_len));
    }
    Examples {
        inputs: Inputs::Tokens { seq_len, ids, vocab_size: tok.vocab_size() },
        labels: chosen.iter().map(|&(_, l)| l).collect(),
        source_index: chosen.iter().map(|&(i, _)| i).collect(),
        texts: Some(chosen.iter().map(|&(i, _)| set.texts[i].clone()).collect()),
    }
}

impl Task {
    /// A new image (in no split) prepared exactly like the task's images, as a one-example split
    /// with label `label`: `pixels` are `channels x height x width` bytes (0-255), channel-major,
    /// of the task's image size. Errors on a text task or a size mismatch.
    pub fn image_input(&self, pixels: &[u8], label: usize) -> Result<Examples> {
        let Inputs::Images { channels, height, width, mean, std, .. } = &self.train.inputs else {
            return Err(DataError::Task {
                spec: self.spec.to_string(),
                what: "is a text task; pass a sentence".into(),
            });
        };
        if pixels.len() != channels * height * width {
            return Err(DataError::Task {
                spec: self.spec.to_string(),
                what: format!(
                    "expects {channels}x{height}x{width} = {} pixel values, got {}",
                    channels * height * width,
                    pixels.len()
                ),
            });
        }
        let set = ImageSet {
            channels: *channels,
            height: *height,
            width: *width,
            pixels: pixels.to_vec(),
            labels: vec![label as u8],
            class_names: self.class_names.clone(),
        };
        Ok(image_examples(&set, &[(0, label)], mean, std))
    }

    /// A new sentence (in no split) tokenized exactly like the task's texts (the WordPiece
    /// vocabulary in `dir`, the task's sequence length), as a one-example split with label
    /// `label`. Errors on an image task.
    pub fn text_input(&self, dir: &DataDir, text: &str, label: usize) -> Result<Examples> {
        if !self.spec.dataset.is_text() {
            return Err(DataError::Task { spec: self.spec.to_string(), what: "is an image task; pass pixels".into() });
        }
        let tok = load_tokenizer(dir, &self.options)?;
        let set =
            TextSet { texts: vec![text.to_string()], labels: vec![label as u8], class_names: self.class_names.clone() };
        Ok(text_examples(&set, &[(0, label)], &tok, self.options.seq_len))
    }
}

/// Path of the BERT WordPiece vocabulary inside the data directory.
pub const VOCAB_FILE: &str = "bert-base-uncased/vocab.txt";

/// Loads the BERT uncased WordPiece vocabulary from the data directory.
pub fn load_vocab(dir: &DataDir) -> Result<WordPiece> {
    let path = dir.locate("bert-base-uncased", VOCAB_FILE, "BERT WordPiece vocab, one token per line")?;
    Ok(WordPiece::from_vocab_file(&path)?)
}

/// The tokenizer of text tasks built with `options`: `options.tokenizer` (a `vocab.txt` or a
/// WordPiece `tokenizer.json`, [`WordPiece::from_file`]) when set, else the BERT uncased
/// vocabulary of the data directory ([`load_vocab`]).
pub fn load_tokenizer(dir: &DataDir, options: &TaskOptions) -> Result<WordPiece> {
    match &options.tokenizer {
        Some(path) => Ok(WordPiece::from_file(path)?),
        None => load_vocab(dir),
    }
}

/// Builds `spec` from the files in `dir` with `options` (deterministic given the seed).
pub fn build(dir: &DataDir, spec: &TaskSpec, options: &TaskOptions) -> Result<Task> {
    spec.validate()?;
    options.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let classes: Vec<usize> = match spec.pair {
        Some((a, b)) => vec![a, b],
        None => (0..spec.dataset.class_names().len()).collect(),
    };
    let (train, test) = match spec.dataset {
        DatasetKind::Mnist | DatasetKind::Cifar10 => {
            let load = if spec.dataset == DatasetKind::Mnist { mnist::load } else { cifar::load };
            let (mean, std) = norm_constants(spec.dataset);
            let tr = load(dir, Split::Train)?;
            let te = load(dir, Split::Test)?;
            let shape = |s: &ImageSet| (s.channels, s.height, s.width);
            if shape(&tr) != shape(&te) {
                let (a, b) = (shape(&tr), shape(&te));
                return Err(DataError::Task {
                    spec: spec.to_string(),
                    what: format!(
                        "the test images in {} are {}x{}x{} (channels x height x width) but the training images are {}x{}x{}",
                        dir.path.display(),
                        b.0,
                        b.1,
                        b.2,
                        a.0,
                        a.1,
                        a.2
                    ),
                });
            }
            let tr_sel = select_classes(&tr.labels, &classes, options.train_cap(&tr.labels, &classes), &mut rng);
            let te_sel = select_classes(&te.labels, &classes, options.test_per_class, &mut rng);
            (image_examples(&tr, &tr_sel, &mean, &std), image_examples(&te, &te_sel, &mean, &std))
        }
        DatasetKind::Agnews => {
            let tok = load_tokenizer(dir, options)?;
            let tr = agnews::load(dir, Split::Train)?;
            let te = agnews::load(dir, Split::Test)?;
            let tr_sel = select_classes(&tr.labels, &classes, options.train_cap(&tr.labels, &classes), &mut rng);
            let te_sel = select_classes(&te.labels, &classes, options.test_per_class, &mut rng);
            (text_examples(&tr, &tr_sel, &tok, options.seq_len), text_examples(&te, &te_sel, &tok, options.seq_len))
        }
        DatasetKind::Toxicity => {
            let tok = load_tokenizer(dir, options)?;
            let all = jigsaw::load(dir)?;
            // Stratified seeded hold-out: the Jigsaw file we have is one (partial) train file.
            let mut is_test = vec![false; all.len()];
            for c in 0..2u8 {
                let idx: Vec<usize> = (0..all.len()).filter(|&i| all.labels[i] == c).collect();
                let k = ((idx.len() as f64) * options.toxicity_test_fraction).round() as usize;
                for j in sample(&mut rng, idx.len(), k.min(idx.len())) {
                    is_test[idx[j]] = true;
                }
            }
            let masked = |want_test: bool| -> Vec<u8> {
                // Label 255 never matches a class, so it removes an example from selection.
                all.labels.iter().zip(&is_test).map(|(&l, &t)| if t == want_test { l } else { u8::MAX }).collect()
            };
            let train_labels = masked(false);
            let tr_sel = select_classes(&train_labels, &classes, options.train_cap(&train_labels, &classes), &mut rng);
            let te_sel = select_classes(&masked(true), &classes, options.test_per_class, &mut rng);
            (text_examples(&all, &tr_sel, &tok, options.seq_len), text_examples(&all, &te_sel, &tok, options.seq_len))
        }
    };
    if train.is_empty() {
        return Err(DataError::Task {
            spec: spec.to_string(),
            what: "no training examples left after subsampling (is one class absent from the files?)".into(),
        });
    }
    if test.is_empty() {
        return Err(DataError::Task {
            spec: spec.to_string(),
            what: "no test examples (is one class absent from the test files?)".into(),
        });
    }
    Ok(Task { spec: spec.clone(), options: options.clone(), class_names: spec.class_names(), train, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_copies_rows_in_the_given_order_with_repeats() {
        let images = Examples {
            inputs: Inputs::Images {
                channels: 1,
                height: 1,
                width: 2,
                data: vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5],
                mean: vec![0.0],
                std: vec![1.0],
            },
            labels: vec![0, 1, 2],
            source_index: vec![10, 11, 12],
            texts: None,
        };
        let s = images.select(&[2, 0, 2]);
        let Inputs::Images { data, .. } = &s.inputs else { panic!("images stay images") };
        assert_eq!(data, &[2.0, 2.5, 0.0, 0.5, 2.0, 2.5]);
        assert_eq!((s.labels, s.source_index, s.texts), (vec![2, 0, 2], vec![12, 10, 12], None));

        let text = Examples {
            inputs: Inputs::Tokens { seq_len: 2, ids: vec![1, 2, 3, 4], vocab_size: 5 },
            labels: vec![1, 0],
            source_index: vec![7, 8],
            texts: Some(vec!["a".into(), "b".into()]),
        };
        let t = text.select(&[1]);
        assert_eq!(t.inputs, Inputs::Tokens { seq_len: 2, ids: vec![3, 4], vocab_size: 5 });
        assert_eq!((t.labels, t.source_index, t.texts), (vec![0], vec![8], Some(vec!["b".to_string()])));
        assert!(text.select(&[]).is_empty());

        let tab = Examples::from_features(&[vec![1.0, 2.0], vec![3.0, 4.0]], vec![0, 1]).unwrap();
        assert_eq!(tab.input_size(), 2);
        assert_eq!(tab.select(&[1, 1]).inputs, Inputs::Features { dim: 2, data: vec![3.0, 4.0, 3.0, 4.0] });
    }

    #[test]
    fn feature_rows_are_checked() {
        let e = Examples::from_features(&[vec![1.0, 2.0], vec![3.0]], vec![0, 1]).unwrap_err().to_string();
        assert!(e.contains("row 1 has 1 values"), "{e}");
        let e = Examples::from_features(&[vec![f32::NAN]], vec![0]).unwrap_err().to_string();
        assert!(e.contains("row 0, value 0 is NaN"), "{e}");
        let e = Examples::from_features(&[vec![1.0]], vec![0, 1]).unwrap_err().to_string();
        assert!(e.contains("1 rows but 2 labels"), "{e}");
    }
}
