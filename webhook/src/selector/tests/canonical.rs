//! §3.5 canonical form and round trips.

use super::super::Selector;
use super::{canon, ok};

#[test]
fn canonical_form_of_each_primary() {
    let cases = [
        ("all()", "all()"),
        (" global( ) ", "global()"),
        ("has( k )", "has(k)"),
        ("k=='v'", r#"k == "v""#),
        ("k!='v'", r#"k != "v""#),
        ("k contains'v'", r#"k contains "v""#),
        ("k startswith 'v'", r#"k starts with "v""#),
        ("k ends  with 'v'", r#"k ends with "v""#),
        ("k in {'b','a'}", r#"k in {"a", "b"}"#),
        ("k notin {'b','a',}", r#"k not in {"a", "b"}"#),
        ("!has(k)", "!has(k)"),
        ("! k == 'v'", r#"!k == "v""#),
    ];
    for (input, expected) in cases {
        assert_eq!(canon(input), expected, "{input:?}");
    }
}

#[test]
fn value_with_double_quote_uses_single_quotes() {
    assert_eq!(canon(r#"a == '"'"#), r#"a == '"'"#);
    assert_eq!(canon(r#"a == "'""#), r#"a == "'""#);
    assert_eq!(
        canon(r#"a contains 'say "hi"'"#),
        r#"a contains 'say "hi"'"#
    );
    assert_eq!(canon(r#"a in {"'", '"', "c"}"#), r#"a in {'"', "'", "c"}"#);
}

#[test]
fn groups_are_parenthesised_with_single_spaces() {
    assert_eq!(
        canon(r#"a == "b"&&! c != "d""#),
        r#"(a == "b" && !c != "d")"#
    );
    assert_eq!(
        canon("a=='1'||b=='2'||c=='3'"),
        r#"(a == "1" || b == "2" || c == "3")"#
    );
}

#[test]
fn chain_is_one_group() {
    assert_eq!(
        canon("has(a) && has(b) && has(c)"),
        "(has(a) && has(b) && has(c))"
    );
    // Explicit parentheses keep their nesting, as in Calico.
    assert_eq!(
        canon("(has(a) && has(b)) && has(c)"),
        "((has(a) && has(b)) && has(c))"
    );
}

#[test]
fn double_negation_disappears() {
    assert_eq!(canon("!!a=='b'"), r#"a == "b""#);
    assert_eq!(canon("!(!a=='b')"), r#"a == "b""#);
    assert_eq!(canon("!!!has(a)"), "!has(a)");
    assert_eq!(canon("!! ! has(a)"), "!has(a)");
}

#[test]
fn empty_selector_is_all() {
    assert_eq!(canon(""), "all()");
    assert_eq!(Selector::all().to_string(), "all()");
}

#[test]
fn parse_of_display_displays_the_same() {
    for input in [
        "",
        "all()",
        "global()",
        "has(a)",
        r#"a == '"'"#,
        r#"a in {"'", '"', "c"}"#,
        "a in {}",
        "a not in {'x',}",
        "!(!has(a) || has(b))",
        "! (has( b)||! has(a ))",
        "!(!(!(a == 'b')))",
        "((a == 'x' || b == 'y') && c == 'z') || !d in {'1'}",
        "contains contains 'contains' && in in {'in'} && has == 'has'",
        "not not in {'not'} || starts starts with 'starts'",
        "(((a == '1')))",
        "a == 'ü日本' && b ends with ''",
        "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}",
    ] {
        let first = ok(input);
        let shown = first.to_string();
        let second = ok(&shown);
        assert_eq!(second.to_string(), shown, "{input:?}");
        assert_eq!(second, first, "{input:?}");
    }
}

#[test]
fn from_str_matches_parse() {
    let parsed: Selector = "a == 'b'".parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed, ok("a == 'b'"));
    assert!("a ==".parse::<Selector>().is_err());
}
