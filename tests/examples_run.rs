//! The examples are what a library user copies: they must build (cargo test builds them) and run.
//! This runs each one on real data and checks what it prints.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The compiled example `name` (cargo puts examples in `target/<profile>/examples/`, next to
/// this test's `deps/`).
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().join("examples");
    let path: PathBuf = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "{} was not built", path.display());
    Command::new(path)
}

fn ok(c: &mut Command, what: &str) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn quickstart_custom_architecture_and_new_input_examples_run() {
    let Some(data) = genrep::data::data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR"))) else { return };
    let tmp = std::env::temp_dir().join(format!("genrep-examples-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let run = tmp.join("run");

    let out = ok(example("quickstart").env("GENREP_DATA", &data).arg(&run), "quickstart");
    assert!(out.contains("test #17: predicted") && out.matches("proponent train #").count() == 5, "{out}");

    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hand_drawn_3.png");
    let out = ok(example("explain_new_input").env("GENREP_DATA", &data).arg(&run).arg(&png), "explain_new_input");
    assert!(out.contains("hand_drawn_3.png: predicted") && out.contains("opponents: train #"), "{out}");
    // The representer identity holds for the new input too: sum phi = s(x).
    let line = out.lines().next().unwrap();
    let num = |key: &str| -> f64 {
        line.split(key)
            .nth(1)
            .unwrap()
            .split(|c: char| c == ',' || c.is_whitespace())
            .find(|s| !s.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!((num("s(x) = ") - num("sum phi = ")).abs() < 1e-2, "{line}");
    let bad =
        example("explain_new_input").env("GENREP_DATA", &data).arg(&run).arg(tmp.join("missing.png")).output().unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("missing.png"));

    // A custom architecture goes through a run directory, the Table 1 runner and debugging.
    let custom = tmp.join("custom");
    let out = ok(example("custom_architecture").env("GENREP_DATA", &data).arg(&custom), "custom_architecture");
    assert!(out.contains("custom MLP") && out.contains("proponent train #"), "{out}");
    assert!(out.contains("experiment: 1 net(s) trained, 4 rankings, 20 retrainings"), "{out}");
    assert!(out.contains("| `tracking:ntk-final` | 2 |") && out.contains("| `random` | 2 |"), "{out}");
    assert!(out.contains("debug representer") && out.contains("debug random"), "{out}");
    let config = std::fs::read_to_string(custom.join("experiment/nets/net-1/config.json")).unwrap();
    assert!(config.contains("\"hidden\"") && config.contains("example-mlp"), "{config}");
    // A second run resumes the experiment: nothing is retrained.
    let again = ok(example("custom_architecture").env("GENREP_DATA", &data).arg(&custom), "custom_architecture");
    assert!(again.contains("experiment: 0 net(s) trained, 0 rankings, 0 retrainings"), "{again}");
    // The same grid with the built-in CNN is refused in that directory: its rows would mix with
    // the MLP's.
    let cli = Command::new(env!("CARGO_BIN_EXE_genrep"))
        .env("GENREP_DATA", &data)
        .args(["experiment", "--table", "1", "--preset", "smoke", "--dataset", "mnist"])
        .args(["--nets", "1", "--tests-per-net", "2", "--out"])
        .arg(custom.join("experiment"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&cli.stderr);
    assert!(!cli.status.success() && err.contains("another architecture"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}
