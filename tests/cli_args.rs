//! Property tests of the command line's parsers: method specs, method lists, shard specs and
//! index lists never panic on any input, and what parses round-trips or means what it says.

use genrep::experiments::Shard;
use genrep::explain::{parse_method_spec, split_method_list, ExplainOptions};
use proptest::prelude::*;
use std::process::Command;

/// Fragments users type, so random specs often come close to valid ones.
const WORDS: &[&str] = &[
    "tracking",
    "target",
    "surrogate",
    "ntk",
    "ntk-final",
    "ntk-init",
    "ntk-middle",
    "ll",
    "inf",
    "inf-ll",
    "inf-final",
    "representer",
    "influence",
    "tracincp",
    "random",
    "lambda",
    "damping",
    "targets",
    "score",
    "hessian_sample",
    "margin",
    "labels",
    "all",
    "0",
    "1e-3",
    "-1",
    "nan",
    "inf",
    "x",
    "",
    "ntk-epoch-2",
];
const SEPS: &[&str] = &[":", "@", "=", ",", " ", "-", ""];

fn spec_like() -> impl Strategy<Value = String> {
    prop::collection::vec((0..WORDS.len(), 0..SEPS.len()), 0..7)
        .prop_map(|parts| parts.into_iter().map(|(w, s)| format!("{}{}", WORDS[w], SEPS[s])).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn method_specs_never_panic_and_settings_are_validated(spec in spec_like()) {
        if let Ok((_, opts)) = parse_method_spec(&spec, &ExplainOptions::default()) {
            prop_assert!(opts.last_layer_l2.is_finite() && opts.last_layer_l2 > 0.0, "{spec}: l2 {}", opts.last_layer_l2);
            prop_assert!(opts.damping.is_finite() && opts.damping > 0.0, "{spec}: damping {}", opts.damping);
        }
        // A list splits into specs that rejoin to the input (modulo blanks).
        let parts = split_method_list(&spec);
        let rejoined: String = parts.join(",").replace([',', ' '], "");
        prop_assert_eq!(rejoined, spec.replace([',', ' '], ""));
    }

    #[test]
    fn shard_specs_never_panic_and_partition_the_grid(s in "[0-9]{0,3}/?[0-9]{0,3}|[ -~]{0,8}") {
        if let Ok(shard) = s.parse::<Shard>() {
            prop_assert!(shard.validate().is_ok());
            // Every pair is owned by exactly one shard of the N.
            for pair in 0..50 {
                let owners = (0..shard.count).filter(|&i| Shard { index: i, count: shard.count }.owns(pair)).count();
                prop_assert_eq!(owners, 1);
            }
        }
    }
}

#[test]
fn shards_built_in_code_are_validated() {
    assert!(Shard { index: 0, count: 0 }.validate().is_err());
    assert!(!Shard { index: 0, count: 0 }.owns(3), "an invalid shard owns nothing (no division by zero)");
    assert!(Shard { index: 3, count: 2 }.validate().is_err());
    assert!(Shard { index: 1, count: 2 }.validate().is_ok());
}

/// `--test-index` lists through the real binary: bad lists are clap errors (exit 2), good ones
/// reach the run directory (which does not exist here): never a panic.
#[test]
fn index_lists_never_panic() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 48, ..ProptestConfig::default() });
    runner
        .run(&"[0-9,x -]{0,12}|18446744073709551616|-1|1,,2", |list| {
            let out = Command::new(env!("CARGO_BIN_EXE_genrep"))
                .args(["explain", "--run", "/definitely/not/a/run", &format!("--test-index={list}")])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            prop_assert!(!out.status.success(), "{list}: succeeded");
            prop_assert!(!stderr.contains("panicked"), "{list}: {stderr}");
            prop_assert!(
                stderr.contains("--test-index") || stderr.contains("/definitely/not/a/run"),
                "{list}: the error names neither the argument nor the run: {stderr}"
            );
            Ok(())
        })
        .unwrap();
}
