//! Fault injection through the real binary (docs/RELIABILITY.md): `kill -9` at seeded random
//! points of `train`, `debug` and `experiment`, then a rerun, must lose no finished row, recompute
//! none, load no partial checkpoint and end with results identical to an uninterrupted run; every
//! file of a run directory and of an experiment directory, corrupted (truncated, bytes flipped,
//! wrong JSON types, NaN weights, a garbage line), must give a one-line error naming the file and
//! a non-zero exit, never a panic. The counts are printed at the end of each test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn genrep(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_genrep"));
    c.arg("--data-dir").arg(data);
    c
}

fn data_dir() -> Option<PathBuf> {
    genrep::data::data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("genrep-fault-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A small seeded generator for kill times (splitmix64).
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `cmd` to completion, asserting success; returns its output and wall time.
fn finish(mut cmd: Command, what: &str) -> (Output, Duration) {
    let start = Instant::now();
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    (out, start.elapsed())
}

/// Starts `cmd` and SIGKILLs it after `after` (or lets it end first). True if it was killed.
fn kill_after(mut cmd: Command, after: Duration) -> bool {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while start.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

/// Starts `cmd` and SIGKILLs it as soon as `ready()` holds (or lets it end first). True if it
/// was killed.
fn kill_when(mut cmd: Command, ready: impl Fn() -> bool) -> bool {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if ready() {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A clean error: non-zero exit, no panic, and stderr naming `needle`.
fn assert_clean_error(out: &Output, needle: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: succeeded on corrupt input");
    assert!(!stderr.contains("panicked"), "{what}: panicked: {stderr}");
    assert_ne!(out.status.code(), Some(101), "{what}: exit code 101 is a panic: {stderr}");
    assert!(stderr.contains(needle), "{what}: the error does not name `{needle}`: {stderr}");
}

fn train_cmd(data: &Path, out: &Path) -> Command {
    let mut c = genrep(data);
    c.args(["train", "--task", "mnist:3-vs-8", "--train-per-class", "150", "--test-per-class", "30"])
        .args(["--epochs", "2", "--batch-size", "16", "--out"])
        .arg(out);
    c
}

fn explain_cmd(data: &Path, run: &Path) -> Command {
    let mut c = genrep(data);
    c.args(["explain", "--run"]).arg(run).args(["--test-index", "4", "--method", "tracking:ntk-final", "--top", "3"]);
    c
}

#[test]
fn killed_training_never_leaves_a_usable_partial_run_and_retrains_identically() {
    let Some(data) = data_dir() else { return };
    let root = tmp("train");
    let reference = root.join("reference");
    let (_, wall) = finish(train_cmd(&data, &reference), "reference training");
    let weights = std::fs::read(reference.join("checkpoints/final.safetensors")).unwrap();
    let (explained, _) = finish(explain_cmd(&data, &reference), "explaining the reference");
    let mut rng = Rng(17);
    let (mut kills, mut refused) = (0, 0);
    for round in 0..4 {
        let dir = root.join(format!("killed-{round}"));
        if !kill_after(train_cmd(&data, &dir), wall.mul_f64(0.95 * rng.uniform())) {
            continue;
        }
        kills += 1;
        // Whatever the kill left is refused with a clear error, or (killed after the last
        // write) explains exactly like the reference: never a partial checkpoint.
        let out = explain_cmd(&data, &dir).output().unwrap();
        if out.status.success() {
            assert_eq!(out.stdout, explained.stdout, "round {round}: a killed run explains differently");
        } else {
            assert_clean_error(&out, &dir.display().to_string(), &format!("explain after kill {round}"));
            refused += 1;
            // Rerunning the same command (no --force needed) finishes it.
            finish(train_cmd(&data, &dir), "rerun after a kill");
        }
        // Bit-identical to the uninterrupted run either way.
        assert_eq!(std::fs::read(dir.join("checkpoints/final.safetensors")).unwrap(), weights);
    }
    // Two trainings on one --out: the second is refused while the first runs.
    let dir = root.join("twice");
    let mut first = train_cmd(&data, &dir).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while !dir.join("train.lock").exists() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let second = train_cmd(&data, &dir).arg("--force").output().unwrap();
    let first_status = first.wait().unwrap();
    assert!(first_status.success());
    assert_clean_error(&second, "is locked by pid", "a second concurrent train");
    assert_eq!(std::fs::read(dir.join("checkpoints/final.safetensors")).unwrap(), weights);
    eprintln!(
        "fault injection (train): {kills} kills survived, {refused} partial runs refused, 1 concurrent writer refused"
    );
    assert!(kills >= 2, "only {kills} of 4 kills landed before training ended");
    let _ = std::fs::remove_dir_all(&root);
}

/// Every way to corrupt a run directory, and the text the error must contain.
#[test]
fn every_corrupted_run_file_is_a_clear_error() {
    let Some(data) = data_dir() else { return };
    let root = tmp("corrupt");
    let good = root.join("good");
    finish(train_cmd(&data, &good), "training");
    let json =
        |name: &str| -> serde_json::Value { serde_json::from_slice(&std::fs::read(good.join(name)).unwrap()).unwrap() };
    type Corrupt = Box<dyn Fn(&Path)>;
    let write_json = |p: &Path, v: &serde_json::Value| std::fs::write(p, serde_json::to_vec(v).unwrap()).unwrap();
    let truncate = |name: &'static str| -> Corrupt {
        Box::new(move |d: &Path| {
            let b = std::fs::read(d.join(name)).unwrap();
            std::fs::write(d.join(name), &b[..b.len() / 2]).unwrap();
        })
    };
    let flip = |name: &'static str, at: f64| -> Corrupt {
        Box::new(move |d: &Path| {
            let mut b = std::fs::read(d.join(name)).unwrap();
            let i = ((b.len() - 1) as f64 * at) as usize;
            b[i] ^= 0x5a;
            std::fs::write(d.join(name), &b).unwrap();
        })
    };
    let (config, record, checkpoints) = (json("config.json"), json("record.json"), json("checkpoints.json"));
    let mut cases: Vec<(&str, Corrupt, &str)> = vec![
        ("truncated config.json", truncate("config.json"), "config.json"),
        ("truncated record.json", truncate("record.json"), "record.json"),
        ("truncated checkpoints.json", truncate("checkpoints.json"), "checkpoints.json"),
        ("truncated metrics.json", truncate("metrics.json"), "metrics.json"),
        ("truncated final checkpoint", truncate("checkpoints/final.safetensors"), "final.safetensors"),
        ("flipped byte in the final checkpoint", flip("checkpoints/final.safetensors", 0.9), "final.safetensors"),
        ("flipped byte in its header", flip("checkpoints/final.safetensors", 0.0005), "final.safetensors"),
        (
            "config.json deleted",
            Box::new(|d: &Path| std::fs::remove_file(d.join("config.json")).unwrap()),
            "config.json",
        ),
        (
            "record.json deleted",
            Box::new(|d: &Path| std::fs::remove_file(d.join("record.json")).unwrap()),
            "record.json",
        ),
        (
            "final checkpoint deleted",
            Box::new(|d: &Path| std::fs::remove_file(d.join("checkpoints/final.safetensors")).unwrap()),
            "final.safetensors",
        ),
    ];
    let mut edit =
        |what: &'static str, name: &'static str, value: &serde_json::Value, f: fn(&mut serde_json::Value)| {
            let mut v = value.clone();
            f(&mut v);
            cases.push((what, Box::new(move |d: &Path| write_json(&d.join(name), &v)), name));
        };
    edit("epochs as a string", "config.json", &config, |v| v["content"]["train"]["epochs"] = "two".into());
    edit("class pair out of range", "config.json", &config, |v| {
        v["content"]["task"]["pair"] = serde_json::json!([3, 42])
    });
    edit("unknown dataset", "config.json", &config, |v| v["content"]["task"]["dataset"] = "imagenet".into());
    edit("train-per-class edited", "config.json", &config, |v| {
        v["content"]["task_options"]["train_per_class"] = 140.into()
    });
    edit("visits not a list", "record.json", &record, |v| v["content"]["visits"] = "many".into());
    edit("tracking sums cut short", "record.json", &record, |v| {
        v["content"]["tracking_sum"].as_array_mut().unwrap().truncate(7);
    });
    edit("record of another run", "record.json", &record, |v| v["genrep_run"] = "0123456789abcdef".into());
    edit("checkpoint path escapes", "checkpoints.json", &checkpoints, |v| {
        for c in v["content"].as_array_mut().unwrap() {
            c["file"] = "../../../../etc/hostname".into();
        }
    });
    edit("checkpoint list not a list", "checkpoints.json", &checkpoints, |v| v["content"] = 3.into());
    // NaN weights with a consistent hash, as a diverged (or hand-edited) training leaves them.
    cases.push((
        "NaN weights",
        Box::new(|d: &Path| {
            let file = d.join("checkpoints/final.safetensors");
            let mut b = std::fs::read(&file).unwrap();
            let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
            b[8 + n..8 + n + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
            std::fs::write(&file, &b).unwrap();
            let hash = format!("{:016x}", genrep::data::fnv1a(&[&b]));
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("checkpoints.json")).unwrap()).unwrap();
            for c in v["content"].as_array_mut().unwrap() {
                if c["name"] == "final" {
                    c["hash"] = hash.clone().into();
                }
            }
            std::fs::write(d.join("checkpoints.json"), serde_json::to_vec(&v).unwrap()).unwrap();
        }),
        "non-finite",
    ));
    let mut tried = 0;
    for (i, (what, corrupt, needle)) in cases.iter().enumerate() {
        let dir = root.join(format!("case-{i}"));
        copy_dir(&good, &dir);
        corrupt(&dir);
        let out = explain_cmd(&data, &dir).output().unwrap();
        assert_clean_error(&out, needle, what);
        tried += 1;
    }
    // Data other than the run was trained on.
    let out = explain_cmd(Path::new("/definitely/not/here"), &good).output().unwrap();
    assert_clean_error(&out, "/definitely/not/here", "a missing data directory");
    eprintln!("fault injection (run directory): {tried} corruptions tried, each a clean error naming the file");
    let _ = std::fs::remove_dir_all(&root);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn experiment_cmd(data: &Path, out: &Path) -> Command {
    let mut c = genrep(data);
    c.args(["experiment", "--preset", "smoke", "--dataset", "mnist", "--nets", "2", "--tests-per-net", "1"])
        .args(["--methods", "random,tracking:ll", "--train-per-class", "50", "--jobs", "1", "--out"])
        .arg(out);
    c
}

/// The deletion rows of a directory, keyed by (net, test, method, k), with every field but the
/// timing.
fn rows(dir: &Path) -> (Vec<String>, BTreeMap<String, String>) {
    let text = std::fs::read_to_string(dir.join("rows.jsonl")).unwrap_or_default();
    let lines: Vec<String> = text.lines().map(String::from).collect();
    let mut map = BTreeMap::new();
    for l in lines.iter().filter(|l| l.ends_with('}')) {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("seconds");
        let key = format!(
            "{} {} {} {} {}",
            obj["kind"],
            obj.get("net").unwrap_or(&0.into()),
            obj.get("test").unwrap_or(&0.into()),
            obj.get("method").unwrap_or(&"".into()),
            obj.get("k").unwrap_or(&0.into())
        );
        assert!(map.insert(key.clone(), v.to_string()).is_none(), "row {key} written twice");
    }
    (lines, map)
}

#[test]
fn killed_experiments_and_debug_studies_resume_to_identical_results() {
    let Some(data) = data_dir() else { return };
    let root = tmp("experiment");
    let reference = root.join("reference");
    let (_, wall) = finish(experiment_cmd(&data, &reference), "reference experiment");
    let (_, expected) = rows(&reference);
    let mut rng = Rng(23);
    let mut kills = 0;
    let dir = root.join("killed");
    // Several kills of one directory, each resumed by the next attempt: the first at a random
    // time (often inside a network's training), the others after a random number of new rows.
    for attempt in 0..4 {
        let before = rows(&dir).0;
        let landed = if attempt == 0 {
            kill_after(experiment_cmd(&data, &dir), wall.mul_f64(0.1 + 0.4 * rng.uniform()))
        } else {
            let left = expected.len().saturating_sub(before.len());
            let target = before.len() + 1 + ((left.saturating_sub(2)) as f64 * rng.uniform()) as usize;
            kill_when(experiment_cmd(&data, &dir), || rows(&dir).0.len() >= target)
        };
        if !landed {
            break;
        }
        kills += 1;
        let after = rows(&dir).0;
        let complete: Vec<&String> = before.iter().filter(|l| l.ends_with('}')).collect();
        for (i, l) in complete.iter().enumerate() {
            assert_eq!(&after[i], *l, "finished row {i} changed after a kill");
        }
    }
    let before = rows(&dir).0;
    finish(experiment_cmd(&data, &dir), "resuming the experiment");
    let (after, got) = rows(&dir);
    let kept = before.iter().filter(|l| l.ends_with('}')).count();
    assert_eq!(&after[..kept], &before[..kept], "a finished row was lost or rewritten");
    assert_eq!(got, expected, "the resumed experiment differs from the uninterrupted one");

    // A garbage line in the middle of rows.jsonl, and an edited experiment.json.
    let bad = root.join("bad-rows");
    copy_dir(&reference, &bad);
    let mut lines = rows(&bad).0;
    let at = lines.len() / 2;
    lines.insert(at, "{\"kind\":\"del\",\"net\":".into());
    std::fs::write(bad.join("rows.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = experiment_cmd(&data, &bad).output().unwrap();
    assert_clean_error(&out, &format!("rows.jsonl, line {}", at + 1), "garbage row");
    let edited = root.join("edited");
    copy_dir(&reference, &edited);
    let cfg = std::fs::read_to_string(edited.join("experiment.json")).unwrap().replacen(
        "\"nets\": 2",
        "\"nets\": \"two\"",
        1,
    );
    std::fs::write(edited.join("experiment.json"), cfg).unwrap();
    assert_clean_error(&experiment_cmd(&data, &edited).output().unwrap(), "experiment.json", "edited experiment.json");

    // Dataset debugging: killed at random points, the rerun gives the uninterrupted curves.
    let debug = |out: &Path| {
        let mut c = genrep(&data);
        c.args(["debug", "--task", "mnist:3-vs-8", "--train-per-class", "100", "--flip", "0.1", "--check", "0.1"])
            .arg("--out")
            .arg(out);
        c
    };
    let dref = root.join("debug-reference");
    let (_, dwall) = finish(debug(&dref), "reference debug study");
    let ddir = root.join("debug-killed");
    let mut dkills = 0;
    for _ in 0..2 {
        if kill_after(debug(&ddir), dwall.mul_f64(0.9 * rng.uniform())) {
            dkills += 1;
        }
    }
    finish(debug(&ddir), "resuming the debug study");
    for f in ["debug-curves.csv", "debug-accuracy.csv"] {
        assert_eq!(
            std::fs::read_to_string(ddir.join(f)).unwrap(),
            std::fs::read_to_string(dref.join(f)).unwrap(),
            "{f} differs after kills"
        );
    }
    eprintln!(
        "fault injection (experiment, debug): {kills} + {dkills} kills survived, {} rows kept, rows lost = 0, 2 corruptions refused",
        expected.len()
    );
    assert!(kills >= 3, "only {kills} experiment kills landed");
    let _ = std::fs::remove_dir_all(&root);
}
