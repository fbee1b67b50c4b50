//! §3.2 grammar and its notes, and the §3.6 error list.

use super::super::Selector;
use super::super::parser::MAX_DEPTH;
use super::{canon, err, matches, ok};

#[test]
fn empty_or_blank_selector_is_all() {
    for input in ["", " ", "\t", " \t  "] {
        let selector = ok(input);
        assert_eq!(selector, Selector::all(), "{input:?}");
        assert!(selector.is_all());
        assert_eq!(selector.to_string(), "all()");
        assert!(selector.matches(&[("a", "b")]));
        assert!(selector.matches(&[]));
    }
}

#[test]
fn empty_set_is_valid() {
    assert_eq!(canon("a in {}"), "a in {}");
    assert_eq!(canon("a not in { }"), "a not in {}");
}

#[test]
fn trailing_comma_in_a_set_is_valid() {
    assert_eq!(ok("a in {'x',}"), ok("a in {'x'}"));
    assert_eq!(ok("a in {'x', 'y' , }"), ok("a in {'x', 'y'}"));
    assert_eq!(ok("a not in {'x',}"), ok("a not in {'x'}"));
}

#[test]
fn malformed_sets_are_rejected() {
    assert_eq!(err("a in {,}").position, 6);
    assert_eq!(err("a in {'a',,'b'}").position, 10);
    assert_eq!(err("a in {'x' 'y'}").position, 10);
    assert_eq!(err("a in {x}").position, 6);
    assert_eq!(err("a in \"x\"").position, 5);
    assert_eq!(err("a in ('x')").position, 5);
    assert_eq!(err("a in {'x'").position, 9);
    assert_eq!(err("a in {'x',").position, 10);
    assert_eq!(err("a in").position, 4);
    err("a in {'x',,}");
    err("a in {{'x'}}");
    err("a in {'x'}}");
    err("foo in \"\"");
}

#[test]
fn comparison_needs_a_string_on_the_right_and_a_label_on_the_left() {
    assert_eq!(err("a == b").position, 5);
    assert_eq!(err("b ends with b").position, 12);
    assert_eq!(err("a == 1").position, 5);
    assert_eq!(err("'b1' == b").position, 0);
    assert_eq!(err("a == (").position, 5);
    assert_eq!(err("a ==").position, 4);
    assert_eq!(err("a contains").position, 10);
    err("a == all()");
    err("a == has(x)");
}

#[test]
fn label_alone_or_without_operator_is_rejected() {
    assert_eq!(err("b").position, 1);
    assert_eq!(err("a ").position, 2);
    assert_eq!(err("a b").position, 2);
    assert_eq!(err("a 'b'").position, 2);
    assert_eq!(err("!= 'b'").position, 0);
    assert_eq!(err("{'a'}").position, 0);
}

#[test]
fn not_applies_to_one_primary() {
    assert_eq!(
        ok("!a == 'x' && b == 'y'"),
        ok("(!(a == 'x')) && (b == 'y')")
    );
    assert_eq!(ok("!!has(a)"), ok("has(a)"));
    assert_eq!(ok("!!!has(a)"), ok("!has(a)"));
    assert_eq!(ok("! ! ! ! has(a)"), ok("has(a)"));
}

#[test]
fn duplicate_set_members_are_deduplicated_and_sorted() {
    assert_eq!(ok("a in {'b', 'a', 'b'}"), ok("a in {'a', 'b'}"));
    assert_eq!(
        canon("a in {\"z\", \"z\", \"x\", \"y\", \"x\", \"a\"}"),
        r#"a in {"a", "x", "y", "z"}"#
    );
}

#[test]
fn whole_input_must_be_consumed() {
    assert_eq!(err("a == 'b' c == 'd'").position, 9);
    assert_eq!(err("all() all()").position, 6);
    assert_eq!(err("has(x) == 'y'").position, 7);
    assert_eq!(err("all()==''").position, 5);
    assert_eq!(err("a == 'b')").position, 8);
    assert_eq!(err("(a == 'b'))").position, 10);
    assert_eq!(err("a == 'b' !").position, 9);
}

#[test]
fn parentheses() {
    assert_eq!(ok("(a == 'b')"), ok("a == 'b'"));
    assert_eq!(ok("((has(a)))"), ok("has(a)"));
    assert_eq!(ok("( all() )"), Selector::all());
    assert!(ok("(all())").is_all());
    assert_eq!(err("()").position, 1);
    assert_eq!(err(")").position, 0);
    assert_eq!(err("(").position, 1);
    assert_eq!(err("!(a == 'b'").position, 10);
    assert_eq!(err("(a == 'b' && (b == 'c')").position, 23);
}

#[test]
fn dangling_operators_are_rejected() {
    assert_eq!(err("has(foo) &&").position, 11);
    assert_eq!(err("a == 'b' ||").position, 11);
    assert_eq!(err("a == 'b' && !").position, 13);
    assert_eq!(err("!").position, 1);
    assert_eq!(err("&& a == 'b'").position, 0);
    assert_eq!(err("|| a == 'b'").position, 0);
    assert_eq!(err("a == 'b' && || b == 'c'").position, 12);
    assert_eq!(err("foo == \"bar\" |").position, 13);
    assert_eq!(err("thing=hello &").position, 5);
}

#[test]
fn and_or_chains_of_any_length() {
    let chain = (0..50)
        .map(|i| format!("l{i} == 'v'"))
        .collect::<Vec<_>>()
        .join(" && ");
    let selector = ok(&chain);
    let labels: Vec<(String, String)> = (0..50).map(|i| (format!("l{i}"), "v".into())).collect();
    let borrowed: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(selector.matches(borrowed.as_slice()));
    assert!(!selector.matches(&borrowed[1..]));
}

#[test]
fn nesting_is_limited_to_keep_the_stack_safe() {
    let nested = |depth: usize| format!("{}has(a){}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(ok(&nested(MAX_DEPTH)), ok("has(a)"));
    let too_deep = nested(MAX_DEPTH + 1);
    assert_eq!(err(&too_deep).position, MAX_DEPTH);
    // A long run of `!` (as long as a selector may be) is counted, not recursed.
    assert_eq!(ok(&format!("{}has(a)", "!".repeat(60_000))), ok("has(a)"));
    err(&"(".repeat(100_000));
}

#[test]
fn valid_examples_from_the_reference() {
    for input in [
        "all()",
        "global()",
        "has(calico/k8s_ns/role)",
        "calico/k8s_ns == \"kube-system\" && k8s-app == \"kube-dns\"",
        "apply-container-policies == 'true'",
        "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}",
        "a == 'x y' || b == \"it's\"",
    ] {
        ok(input);
    }
    assert!(matches("(a==\"b\")", &[("a", "b")]));
}

#[test]
fn selectors_longer_than_the_limit_are_refused_without_parsing() {
    use super::super::MAX_LEN;
    let clause = "team == 'a' && ";
    let fits = format!(
        "{}team == 'a'",
        clause.repeat((MAX_LEN - 11) / clause.len())
    );
    assert!(fits.len() <= MAX_LEN);
    ok(&fits);
    let long = format!("{}team == 'a'", clause.repeat(MAX_LEN / clause.len()));
    assert!(long.len() > MAX_LEN);
    let error = err(&long);
    assert_eq!(error.position, MAX_LEN);
    assert!(
        error
            .message
            .contains(&format!("{} bytes long", long.len()))
            && error.message.contains(&MAX_LEN.to_string()),
        "{}",
        error.message
    );
}
