//! [`Attribution`]: the explanation of one test prediction over all training examples.

use serde::{Deserialize, Serialize};

/// Which end of the ranking to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Polarity {
    /// Largest positive `phi`: training examples that pushed the explained score up.
    Proponents,
    /// Most negative `phi`: training examples that pushed it down.
    Opponents,
}

/// One ranked training example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// Index into the training split.
    pub index: usize,
    /// Its attribution `phi(x_i -> x)` (named apart from [`Attribution::score`], the explained
    /// score `s(x)` itself).
    pub phi: f64,
}

/// `phi(x_i -> x)` for one test point `x` and every training example `x_i`, with what was
/// explained and how well the attributions add up (the efficiency axiom).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// Method name, e.g. `tracking:ntk-final`.
    pub method: String,
    /// Index of the test point in the test split.
    pub test_index: usize,
    /// The explained class `c` (the model's prediction for `x`).
    pub explained_class: usize,
    /// The class `v` of an explained margin `f_c - f_v` (`None`: the logit `f_c` is explained).
    #[serde(default)]
    pub versus: Option<usize>,
    /// The explained score `s(x)`: `f_c(x) - f_v(x)` or `f_c(x)`.
    pub score: f64,
    /// `phi(x_i -> x)` for every training example `i`.
    pub scores: Vec<f64>,
}

impl Attribution {
    /// `sum_i phi(x_i -> x)`.
    pub fn total(&self) -> f64 {
        self.scores.iter().sum()
    }

    /// Efficiency residual `|sum_i phi(x_i -> x) - s(x)|` (0 when the axiom holds exactly).
    pub fn efficiency_residual(&self) -> f64 {
        (self.total() - self.score).abs()
    }

    /// The `k` training examples with the largest (`Proponents`) or most negative
    /// (`Opponents`) attribution, best first; ties are broken by index, NaN scores come last.
    /// Always `min(k, n)` items.
    pub fn top_k(&self, k: usize, polarity: Polarity) -> Vec<Ranked> {
        let mut idx: Vec<usize> = (0..self.scores.len()).collect();
        let key = |i: &usize| {
            let s = self.scores[*i];
            if s.is_nan() {
                return f64::INFINITY;
            }
            match polarity {
                Polarity::Proponents => -s,
                Polarity::Opponents => s,
            }
        };
        idx.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.cmp(b)));
        idx.into_iter().take(k).map(|index| Ranked { index, phi: self.scores[index] }).collect()
    }

    /// Training indices ordered from the most negative to the most positive attribution (the
    /// deletion order of the AUC-DEL diagnostic).
    pub fn most_negative_first(&self) -> Vec<usize> {
        self.top_k(self.scores.len(), Polarity::Opponents).into_iter().map(|r| r.index).collect()
    }

    /// The scores as a safetensors buffer (the `safetensors` crate, canonical sorted header):
    /// one f64 tensor `scores` of shape `[n]`, with the method, test index, explained class and
    /// score in the metadata (readable from Python).
    pub fn to_safetensors(&self) -> Vec<u8> {
        let data: Vec<u8> = self.scores.iter().flat_map(|v| v.to_le_bytes()).collect();
        let meta = [
            ("method", self.method.clone()),
            ("test_index", self.test_index.to_string()),
            ("explained_class", self.explained_class.to_string()),
            ("score", self.score.to_string()),
        ];
        // The shape and byte length agree by construction, so this cannot fail.
        genrep_models::store::to_safetensors_bytes(
            &[("scores", safetensors::Dtype::F64, vec![self.scores.len()], &data)],
            &meta,
        )
        .unwrap_or_default()
    }

    /// CSV with header `train_index,score`, one row per training example.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        // Writing to memory cannot fail; a record of two plain fields needs no quoting.
        let _ = w.write_record(["train_index", "score"]);
        for (i, v) in self.scores.iter().enumerate() {
            let _ = w.write_record([i.to_string(), v.to_string()]);
        }
        w.into_inner().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// Pretty JSON of the whole attribution.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
