//! Property tests for the selector parser: it never panics, its errors point inside the input,
//! and the canonical form of every valid selector parses back to the same selector.

use std::collections::BTreeMap;

use image_assurance::selector::Selector;
use proptest::prelude::*;

/// Checks the error invariants for any input; returns the selector when it parses.
fn parse_checked(input: &str) -> Result<Option<Selector>, TestCaseError> {
    match Selector::parse(input) {
        Ok(selector) => Ok(Some(selector)),
        Err(e) => {
            prop_assert!(e.position <= input.len(), "{input:?}: {e}");
            prop_assert!(input.is_char_boundary(e.position), "{input:?}: {e}");
            prop_assert!(!e.message.is_empty());
            let rendered = e.render(input);
            prop_assert_eq!(rendered.split('\n').count(), 3, "{}", rendered);
            Ok(None)
        }
    }
}

/// parse(display(s)) displays the same and equals s.
fn check_round_trip(input: &str, first: &Selector) -> Result<(), TestCaseError> {
    let shown = first.to_string();
    let second = Selector::parse(&shown)
        .map_err(|e| TestCaseError::fail(format!("{input:?} -> {shown:?}: {e}")))?;
    prop_assert_eq!(second.to_string(), shown.clone(), "from {:?}", input);
    prop_assert_eq!(&second, first, "{:?} -> {:?}", input, shown);
    Ok(())
}

/// Pieces of selector syntax, valid and invalid, so random strings get past the first token.
fn fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a",
        "b",
        "k8s-app",
        "x/y",
        "has(",
        "has(a)",
        "all()",
        "all(",
        "global()",
        "global(",
        "(",
        ")",
        "{",
        "}",
        ",",
        "==",
        "!=",
        "!",
        "&&",
        "||",
        "=",
        "&",
        "|",
        "'x'",
        "\"y\"",
        "'",
        "\"",
        "''",
        " ",
        "  ",
        "\t",
        "\n",
        "\r",
        "in",
        "not",
        "notin",
        "starts",
        "ends",
        "with",
        "startswith",
        "contains",
        "IN",
        "ü",
        "日本",
        "%",
        "`",
        "\u{A0}",
        "a == 'x'",
        "b in {'y',}",
        " && ",
        " || ",
        "!has(b)",
        "c not in {}",
    ])
}

fn grammar_ish() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

fn blank() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", " ", "\t", "  "])
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_./-]{0,6}",
        "[A-Z0-9_./-]{1,3}",
        prop::sample::select(vec![
            "contains", "in", "not", "notin", "has", "all", "global", "starts", "ends", "with",
        ])
        .prop_map(String::from),
    ]
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^']{0,5}".prop_map(|s| format!("'{s}'")),
        "[^\"]{0,5}".prop_map(|s| format!("\"{s}\"")),
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    let compare_op = prop::sample::select(vec![
        "==",
        "!=",
        " contains",
        " starts with",
        " startswith",
        " starts \t with",
        " ends with",
        " endswith",
    ]);
    let set_op = prop::sample::select(vec![" in", " not in", " notin", " not  in"]);
    let members = prop::collection::vec(literal(), 0..4);
    prop_oneof![
        (blank(), prop::sample::select(vec!["all", "global"]))
            .prop_map(|(ws, f)| format!("{f}({ws})")),
        (blank(), label(), blank()).prop_map(|(l, name, r)| format!("has({l}{name}{r})")),
        (label(), blank(), compare_op, blank(), literal())
            .prop_map(|(name, ws1, op, ws2, value)| format!("{name}{ws1}{op}{ws2}{value}")),
        (label(), set_op, blank(), members, any::<bool>()).prop_map(
            |(name, op, ws, members, trailing)| {
                let comma = if trailing && !members.is_empty() {
                    ","
                } else {
                    ""
                };
                format!("{name}{op}{ws}{{{}{comma}}}", members.join(","))
            }
        ),
    ]
}

/// Valid selector text built from the grammar of reference §3.2.
fn valid_selector() -> impl Strategy<Value = String> {
    let tree = leaf().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (0usize..4, blank(), inner.clone())
                .prop_map(|(n, ws, e)| format!("{}{ws}{e}", "!".repeat(n))),
            (prop::collection::vec(inner.clone(), 2..4), blank())
                .prop_map(|(es, ws)| es.join(&format!("{ws}&&{ws}"))),
            (prop::collection::vec(inner.clone(), 2..4), blank())
                .prop_map(|(es, ws)| es.join(&format!("{ws}||{ws}"))),
            (blank(), inner).prop_map(|(ws, e)| format!("({ws}{e}{ws})")),
        ]
    });
    prop_oneof![
        1 => blank().prop_map(String::from),
        20 => (blank(), tree, blank()).prop_map(|(l, e, r)| format!("{l}{e}{r}")),
    ]
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        prop::sample::select(vec!["a", "b", "in", "has", "x/y", "contains"]).prop_map(String::from),
        prop::sample::select(vec!["", "x", "y", "ab", "\""]).prop_map(String::from),
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_unicode_never_panics(input in any::<String>()) {
        parse_checked(&input)?;
    }

    #[test]
    fn printable_unicode_never_panics(input in "\\PC{0,40}") {
        parse_checked(&input)?;
    }

    #[test]
    fn selector_characters_never_panic(input in "[a-z(){}!=&|'\" ,\t\nü]{0,40}") {
        if let Some(selector) = parse_checked(&input)? {
            check_round_trip(&input, &selector)?;
        }
    }

    #[test]
    fn selector_fragments_never_panic(input in grammar_ish()) {
        if let Some(selector) = parse_checked(&input)? {
            check_round_trip(&input, &selector)?;
        }
    }

    #[test]
    fn generated_valid_selectors_parse_and_round_trip(
        input in valid_selector(),
        labels in labels(),
    ) {
        let selector = Selector::parse(&input)
            .map_err(|e| TestCaseError::fail(format!("{input:?}: {e}")))?;
        check_round_trip(&input, &selector)?;
        let reparsed = Selector::parse(&selector.to_string())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(reparsed.matches(&labels), selector.matches(&labels));
    }

    #[test]
    fn valid_selector_followed_by_a_newline_is_rejected(input in valid_selector()) {
        let with_newline = format!("{input}\n");
        let e = Selector::parse(&with_newline)
            .err()
            .ok_or_else(|| TestCaseError::fail(format!("{with_newline:?} was accepted")))?;
        prop_assert_eq!(e.position, input.len());
    }
}
