//! The README's two commands (`cargo run --release ...` and `cargo test --release --workspace`)
//! must share one build (issue 20): every package that `cargo run` compiles must be resolved with
//! the same features when the whole workspace and its dev-dependencies are selected, or the
//! second command rebuilds burn and everything above it (18 minutes on 2 cores).

use std::collections::BTreeMap;
use std::process::Command;

/// `package version -> enabled features` as `cargo tree` resolves them for one selection.
fn resolved_features(args: &[&str]) -> BTreeMap<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--offline", "--prefix", "none", "-f", "{p}|{f}"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let line = line.trim_end_matches(" (*)");
            let (pkg, features) = line.split_once('|')?;
            // Strip the path of workspace members: "genrep v0.1.0 (/work/main)".
            let pkg = pkg.split(" (").next().unwrap_or(pkg).trim().to_string();
            Some((pkg, features.trim_end_matches(" (*)").to_string()))
        })
        .collect()
}

#[test]
fn cargo_run_and_cargo_test_resolve_the_same_features() {
    // What `cargo run --release` builds: the root package's normal and build dependencies.
    let run = resolved_features(&["-e", "normal,build"]);
    // What `cargo test --release --workspace` builds: every member, dev-dependencies included.
    let test = resolved_features(&["--workspace", "-e", "normal,build,dev"]);
    assert!(run.len() > 100, "cargo tree listed only {} packages", run.len());
    let differing: Vec<String> = run
        .iter()
        .filter(|(pkg, _)| !pkg.starts_with("genrep"))
        .filter_map(|(pkg, f)| match test.get(pkg) {
            Some(g) if g != f => Some(format!("{pkg}: run [{f}] vs test [{g}]")),
            None => Some(format!("{pkg}: missing from the workspace test selection")),
            _ => None,
        })
        .collect();
    assert!(
        differing.is_empty(),
        "`cargo run` and `cargo test --workspace` would build these packages twice:\n{}",
        differing.join("\n")
    );
}
