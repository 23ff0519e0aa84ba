//! Result rows and the append-only JSONL store that makes runs resumable.
//!
//! Every finished unit of work is one JSON line, appended with a single `write` and flushed to
//! disk before the next unit starts. A process killed mid-write leaves at most one partial
//! last line; opening the store drops it (and says so), so a rerun continues exactly where the
//! killed one stopped. Rows are keyed: a rerun skips every key already present.

use crate::error::{ExperimentError, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of a results file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Row {
    /// A trained network.
    Net {
        /// Network seed (init and minibatch order).
        net: u64,
        /// Test accuracy of the network.
        test_accuracy: f64,
        /// Wall seconds to train it.
        seconds: f64,
        /// Accuracy on the training set, at the final weights.
        #[serde(default)]
        train_accuracy: Option<f64>,
        /// Balanced test accuracy (the mean of the per-class recalls).
        #[serde(default)]
        balanced_accuracy: Option<f64>,
    },
    /// The logistic-regression baseline on the same training examples (pixels for images, bag
    /// of words for text): the bar every network has to clear.
    Baseline {
        /// Test accuracy.
        test_accuracy: f64,
        /// Balanced test accuracy.
        balanced_accuracy: f64,
        /// Training accuracy.
        train_accuracy: f64,
        /// Wall seconds.
        seconds: f64,
    },
    /// The deletion order a method gives for one test point of one network.
    Ranking {
        /// Network seed.
        net: u64,
        /// Test-split index.
        test: usize,
        /// Method name.
        method: String,
        /// The explained (originally predicted) class.
        class: usize,
        /// The class the explained margin is taken against (`None`: the logit of `class`).
        #[serde(default)]
        versus: Option<usize>,
        /// s_old: the explained score at the test point before any deletion, `f_class - f_versus`
        /// (or `f_class`).
        score: f64,
        /// softmax probability of `class` before any deletion.
        prob: f64,
        /// The most negative training points first (phi ascending), as many as the largest k.
        order: Vec<usize>,
        /// Efficiency residual |sum_i phi_i - s(x)| of the explanation (`None` if not finite).
        efficiency_residual: Option<f64>,
        /// Wall seconds of the explanation, per test point (the method ran on all of the
        /// network's test points at once; this is the total divided by their number).
        seconds: f64,
        /// How the method's iterative solve ended (influence: conjugate gradient or LiSSA for
        /// this test point; surrogate derivative: the L-BFGS fit), if it has one.
        #[serde(default)]
        solver: Option<Solver>,
        /// Every attribution phi(x_i -> x), i = 0..n (kept by LDS experiments only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phi: Option<Vec<f64>>,
    },
    /// DEL(x, k) for one (network, test point, method, k).
    Del {
        /// Network seed.
        net: u64,
        /// Test-split index.
        test: usize,
        /// Method name.
        method: String,
        /// Training points removed.
        k: usize,
        /// The explained score after retraining without them.
        score: f64,
        /// Its softmax probability.
        prob: f64,
        /// DEL(x, k) = score - s_old.
        del: f64,
        /// The same difference in probability.
        del_prob: f64,
        /// Wall seconds of the retraining.
        seconds: f64,
    },
    /// One subset model of an LDS experiment: trained on [`crate::LdsConfig::subset`] of the
    /// training set, evaluated at every test point of its network.
    Subset {
        /// Network seed (whose test points are evaluated).
        net: u64,
        /// Subset number j (0-based).
        subset: usize,
        /// The network's test points, in the order of `logits`.
        tests: Vec<usize>,
        /// The subset model's logits, one row of C per test point.
        logits: Vec<Vec<f32>>,
        /// Wall seconds of the training.
        seconds: f64,
    },
}

/// The end state of an iterative solve behind a ranking.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Solver {
    /// `cg`, `lissa` or `lbfgs`.
    pub kind: String,
    /// Iterations (L-BFGS: iterations of the fit).
    pub iterations: usize,
    /// Final relative residual (CG, LiSSA) or gradient norm (L-BFGS).
    pub residual: f64,
    /// Whether it met its tolerance.
    pub converged: bool,
}

/// The identity of a row: a rerun skips keys that exist.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A network.
    Net(u64),
    /// The baseline.
    Baseline,
    /// A ranking (net, test, method).
    Ranking(u64, usize, String),
    /// A deletion result (net, test, method, k).
    Del(u64, usize, String, usize),
    Subset(u64, usize),
}

impl Row {
    /// The row's key.
    pub fn key(&self) -> Key {
        match self {
            Row::Net { net, .. } => Key::Net(*net),
            Row::Baseline { .. } => Key::Baseline,
            Row::Ranking { net, test, method, .. } => Key::Ranking(*net, *test, method.clone()),
            Row::Del { net, test, method, k, .. } => Key::Del(*net, *test, method.clone(), *k),
            Row::Subset { net, subset, .. } => Key::Subset(*net, *subset),
        }
    }
}

/// Parses the rows of a JSONL file. A last line without its newline that does not parse is
/// a write cut short by a kill: it is reported in the second value (its byte offset) and
/// not returned. Any other unparsable line is an error naming the file and line.
pub fn parse_rows(path: &Path, text: &str) -> Result<(Vec<Row>, Option<usize>)> {
    let mut rows = Vec::new();
    let mut offset = 0;
    let mut lines = text.split_inclusive('\n').peekable();
    let mut number = 0;
    while let Some(line) = lines.next() {
        number += 1;
        let complete = line.ends_with('\n');
        let body = line.trim();
        if !body.is_empty() {
            match serde_json::from_str::<Row>(body) {
                Ok(row) => rows.push(row),
                Err(_) if !complete && lines.peek().is_none() => return Ok((rows, Some(offset))),
                Err(e) => {
                    return Err(ExperimentError::Row { path: path.to_path_buf(), line: number, what: e.to_string() })
                }
            }
        }
        offset += line.len();
    }
    Ok((rows, None))
}

/// Reads every row of `path` (none if the file does not exist), without repairing it.
pub fn read_rows(path: &Path) -> Result<Vec<Row>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_rows(path, &text)?.0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ExperimentError::io(path, e)),
    }
}

/// The rows of every `rows*.jsonl` file in `dir` (all shards), sorted by file name.
pub fn read_dir_rows(dir: &Path) -> Result<Vec<Row>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ExperimentError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with("rows") && name.ends_with(".jsonl")
        })
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        all.extend(read_rows(&f)?);
    }
    Ok(all)
}

/// Keeps the first row of every key (shards and reruns may repeat a deterministic row); two rows
/// of one key whose results differ (beyond wall-clock seconds) are an error, not a silent choice.
pub fn dedup(rows: Vec<Row>) -> Result<Vec<Row>> {
    let mut seen: BTreeMap<Key, Row> = BTreeMap::new();
    let mut out = Vec::new();
    for r in rows {
        match seen.get(&r.key()) {
            Some(first) => check_same(first, &r, Path::new("the merged rows"))?,
            None => {
                seen.insert(r.key(), r.clone());
                out.push(r);
            }
        }
    }
    Ok(out)
}

impl Row {
    /// The row as JSON without its timing fields (`seconds`), which legitimately differ between
    /// two computations of one deterministic result.
    fn result_value(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(obj) = v.as_object_mut() {
            obj.retain(|k, _| k != "seconds");
            for inner in obj.values_mut() {
                if let Some(o) = inner.as_object_mut() {
                    o.retain(|k, _| k != "seconds");
                }
            }
        }
        v
    }
}

/// `Ok` if `a` and `b` (same key) hold the same result; else an error naming `where_` and both.
fn check_same(a: &Row, b: &Row, where_: &Path) -> Result<()> {
    if a.result_value() == b.result_value() {
        return Ok(());
    }
    Err(ExperimentError::Row {
        path: where_.to_path_buf(),
        line: 0,
        what: format!(
            "two different results for {:?}: {} and {} (were two runs with different settings or \
             code writing to one --out? delete one of them)",
            a.key(),
            serde_json::to_string(&a.result_value()).unwrap_or_default(),
            serde_json::to_string(&b.result_value()).unwrap_or_default()
        ),
    })
}

/// An append-only results file.
pub struct RowStore {
    path: PathBuf,
    file: std::fs::File,
    done: BTreeMap<Key, Row>,
}

impl RowStore {
    /// Opens (or creates) `path`, drops a partial last line left by a killed writer, and
    /// indexes the rows already there plus the `known` rows (e.g. from other shards' files).
    /// Returns the store and a note if a partial line was dropped.
    pub fn open(path: &Path, known: Vec<Row>) -> Result<(Self, Option<String>)> {
        let io = |e| ExperimentError::io(path, e);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let (rows, cut) = parse_rows(path, &text)?;
        let mut note = None;
        if let Some(offset) = cut {
            let f = std::fs::OpenOptions::new().write(true).open(path).map_err(io)?;
            f.set_len(offset as u64).map_err(io)?;
            f.sync_all().map_err(io)?;
            note = Some(format!(
                "{}: dropped a partial last line ({} bytes) left by an interrupted run",
                path.display(),
                text.len() - offset
            ));
        }
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ExperimentError::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        let mut done: BTreeMap<Key, Row> = BTreeMap::new();
        for r in known.into_iter().chain(rows) {
            match done.get(&r.key()) {
                Some(first) => check_same(first, &r, path)?,
                None => {
                    done.insert(r.key(), r);
                }
            }
        }
        Ok((Self { path: path.to_path_buf(), file, done }, note))
    }

    /// The row with `key`, if finished.
    pub fn get(&self, key: &Key) -> Option<&Row> {
        self.done.get(key)
    }

    /// True if `key` is finished.
    pub fn has(&self, key: &Key) -> bool {
        self.done.contains_key(key)
    }

    /// Appends `row` durably (one write, then fsync) unless its key is already there.
    pub fn append(&mut self, row: Row) -> Result<()> {
        let key = row.key();
        if self.done.contains_key(&key) {
            return Ok(());
        }
        let mut line = serde_json::to_string(&row).map_err(|e| ExperimentError::Row {
            path: self.path.clone(),
            line: 0,
            what: format!("cannot serialise: {e}"),
        })?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(|e| ExperimentError::io(&self.path, e))?;
        self.file.sync_data().map_err(|e| ExperimentError::io(&self.path, e))?;
        self.done.insert(key, row);
        Ok(())
    }

    /// Every finished row (this file's and the known ones), in key order.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.done.values()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn del(k: usize) -> Row {
        Row::Del {
            net: 1,
            test: 7,
            method: "random".into(),
            k,
            score: 1.5,
            prob: 0.8,
            del: 0.25,
            del_prob: 0.01,
            seconds: 0.5,
        }
    }

    #[test]
    fn partial_last_line_is_dropped_and_appending_continues() {
        let dir = std::env::temp_dir().join(format!("genrep-rows-{}", std::process::id()));
        let path = dir.join("rows.jsonl");
        let _ = std::fs::remove_dir_all(&dir);
        {
            let (mut s, note) = RowStore::open(&path, vec![]).unwrap();
            assert!(note.is_none());
            s.append(del(1)).unwrap();
            s.append(del(2)).unwrap();
            s.append(del(2)).unwrap(); // duplicate key: ignored
        }
        // Simulate a kill in the middle of writing a third row.
        let full = serde_json::to_string(&del(3)).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&full.as_bytes()[..full.len() / 2]).unwrap();
        drop(f);
        let (mut s, note) = RowStore::open(&path, vec![]).unwrap();
        assert!(note.unwrap().contains("partial last line"));
        assert_eq!(s.rows().count(), 2);
        assert!(s.has(&Key::Del(1, 7, "random".into(), 2)));
        assert!(!s.has(&Key::Del(1, 7, "random".into(), 3)));
        s.append(del(3)).unwrap();
        drop(s);
        let rows = read_rows(&path).unwrap();
        assert_eq!(rows, vec![del(1), del(2), del(3)]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn duplicate_rows_must_agree_beyond_their_timing() {
        let mut slower = del(1);
        if let Row::Del { seconds, .. } = &mut slower {
            *seconds = 99.0;
        }
        // The same result computed twice (two shards, a rerun) is one row.
        assert_eq!(dedup(vec![del(1), slower.clone(), del(2)]).unwrap(), vec![del(1), del(2)]);
        let mut other = del(1);
        if let Row::Del { del, .. } = &mut other {
            *del = 0.75;
        }
        let e = dedup(vec![del(1), other.clone()]).unwrap_err().to_string();
        assert!(e.contains("two different results") && e.contains("0.75"), "{e}");
        // A results file holding a conflicting duplicate is refused when opened.
        let dir = std::env::temp_dir().join(format!("genrep-rows-dup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rows.jsonl");
        let text = format!("{}\n{}\n", serde_json::to_string(&del(1)).unwrap(), serde_json::to_string(&other).unwrap());
        std::fs::write(&path, text).unwrap();
        let e = RowStore::open(&path, vec![]).err().unwrap().to_string();
        assert!(e.contains("rows.jsonl") && e.contains("two different results"), "{e}");
        // ... and so is one that conflicts with another shard's file.
        std::fs::write(&path, format!("{}\n", serde_json::to_string(&del(1)).unwrap())).unwrap();
        assert!(RowStore::open(&path, vec![other]).is_err());
        assert!(RowStore::open(&path, vec![slower]).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_naming_the_line() {
        let path = Path::new("rows.jsonl");
        let text = format!(
            "{}\nnot json\n{}\n",
            serde_json::to_string(&del(1)).unwrap(),
            serde_json::to_string(&del(2)).unwrap()
        );
        let err = parse_rows(path, &text).unwrap_err().to_string();
        assert!(err.contains("rows.jsonl, line 2"), "{err}");
    }
}
