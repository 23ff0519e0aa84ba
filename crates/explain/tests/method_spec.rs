//! Method specs with settings (`name@key=value,..`) and lists of them.

use genrep_explain::{parse_method_spec, split_method_list, ExplainOptions, ExplainedScore, RefitTargets};

#[test]
fn settings_apply_to_a_copy_of_the_base_options() {
    let base = ExplainOptions::default();
    let (_, o) = parse_method_spec("representer@lambda=0.03,targets=labels,score=logit", &base).unwrap();
    assert_eq!(o.last_layer_l2, 0.03);
    assert_eq!(o.refit_targets, RefitTargets::Labels);
    assert!(matches!(o.score, ExplainedScore::Logit));
    let (_, o) = parse_method_spec("influence@damping=0.1,hessian_sample=500", &base).unwrap();
    assert_eq!((o.damping, o.hessian_sample), (0.1, Some(500)));
    let (_, o) = parse_method_spec("influence@hessian_sample=all", &base).unwrap();
    assert_eq!(o.hessian_sample, None);
    let (_, o) = parse_method_spec("tracincp", &base).unwrap();
    assert_eq!(o.last_layer_l2, base.last_layer_l2);
    // `l2` is the key of the one name (`last_layer_l2`, as in training); `lambda` stays an alias.
    let (_, o) = parse_method_spec("representer@l2=0.5", &base).unwrap();
    assert_eq!(o.last_layer_l2, 0.5);
}

#[test]
fn options_written_before_the_rename_still_read() {
    // experiment.json files pinned before `lambda` became `last_layer_l2`.
    let base = ExplainOptions { last_layer_l2: 0.07, ..ExplainOptions::default() };
    let json = serde_json::to_string(&base).unwrap();
    assert!(json.contains("\"last_layer_l2\":0.07"), "{json}");
    let old = json.replace("\"last_layer_l2\"", "\"lambda\"");
    assert_eq!(serde_json::from_str::<ExplainOptions>(&old).unwrap(), base);
}

#[test]
fn bad_settings_are_errors_naming_the_spec() {
    let base = ExplainOptions::default();
    for spec in [
        "representer@lambda=-1",
        "representer@lambda=abc",
        "representer@targets=soft",
        "representer@lambda",
        "representer@colour=red",
        "influence@hessian_sample=many",
        "nonsense@lambda=1",
    ] {
        let err = parse_method_spec(spec, &base).err().unwrap_or_else(|| panic!("{spec} was accepted"));
        let text = err.to_string();
        assert!(!text.is_empty(), "{spec}: empty error");
    }
}

#[test]
fn a_list_keeps_each_specs_settings() {
    assert_eq!(
        split_method_list("tracincp, representer@lambda=0.03,targets=labels,random,tracking:ntk-final@score=logit"),
        vec!["tracincp", "representer@lambda=0.03,targets=labels", "random", "tracking:ntk-final@score=logit"]
    );
    assert_eq!(
        split_method_list("representer@lambda=3e-4,representer@lambda=3e-2"),
        vec!["representer@lambda=3e-4", "representer@lambda=3e-2"]
    );
    assert!(split_method_list(" , ").is_empty());
}
