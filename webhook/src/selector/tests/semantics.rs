//! §3.4 semantics table, one test per row, and the `Labels` implementations.

use std::collections::{BTreeMap, HashMap};

use super::super::{Labels, Selector};
use super::{matches, ok};

#[test]
fn all_and_global_always_match() {
    for input in ["all()", "global()"] {
        assert!(matches(input, &[]));
        assert!(matches(input, &[("a", "b")]));
        assert!(ok(input).is_all());
    }
    assert!(Selector::all().matches(&[]));
    assert!(Selector::all().is_all());
    assert_eq!(Selector::default(), Selector::all());
}

#[test]
fn global_displays_as_itself_and_differs_from_all() {
    assert_eq!(ok("global()").to_string(), "global()");
    assert_ne!(ok("global()"), Selector::all());
}

#[test]
fn is_all_is_false_for_anything_else() {
    for input in ["has(a)", "!all()", "all() && all()", "all() || has(a)"] {
        assert!(!ok(input).is_all(), "{input}");
    }
    assert!(ok("!!all()").is_all());
}

#[test]
fn has_is_true_when_present_even_with_empty_value() {
    assert!(matches("has(k)", &[("k", "")]));
    assert!(matches("has(k)", &[("k", "v")]));
    assert!(!matches("has(k)", &[("kk", "v")]));
    assert!(matches("!has(k)", &[]));
}

#[test]
fn equality_is_exact_and_needs_presence() {
    assert!(matches("k == 'v'", &[("k", "v")]));
    assert!(!matches("k == 'v'", &[("k", "V")]));
    assert!(!matches("k == 'v'", &[("k", "v ")]));
    assert!(!matches("k == 'v'", &[]));
    assert!(!matches("A == 'b'", &[("a", "b")]));
    assert!(matches("k == ''", &[("k", "")]));
    assert!(!matches("k == ''", &[]));
}

#[test]
fn not_equal_is_true_when_absent() {
    assert!(matches("k != 'v'", &[]));
    assert!(matches("k != 'v'", &[("k", "w")]));
    assert!(!matches("k != 'v'", &[("k", "v")]));
    assert!(matches("k != ''", &[]));
    assert!(!matches("k != ''", &[("k", "")]));
}

#[test]
fn in_needs_presence_and_membership() {
    assert!(matches("k in {'a', 'b'}", &[("k", "b")]));
    assert!(!matches("k in {'a', 'b'}", &[("k", "c")]));
    assert!(!matches("k in {'a', 'b'}", &[]));
    assert!(matches("k in {''}", &[("k", "")]));
}

#[test]
fn in_empty_set_is_false() {
    assert!(!matches("k in {}", &[("k", "")]));
    assert!(!matches("k in {}", &[("k", "a")]));
    assert!(!matches("k in {}", &[]));
}

#[test]
fn not_in_is_true_when_absent_or_not_a_member() {
    assert!(matches("k not in {'a', 'b'}", &[]));
    assert!(matches("k not in {'a', 'b'}", &[("k", "c")]));
    assert!(!matches("k not in {'a', 'b'}", &[("k", "a")]));
    assert!(!matches("k not in {''}", &[("k", "")]));
}

#[test]
fn not_in_empty_set_is_true() {
    assert!(matches("k not in {}", &[]));
    assert!(matches("k not in {}", &[("k", "a")]));
    assert!(matches("k not in {}", &[("k", "")]));
}

#[test]
fn contains_is_substring_of_a_present_value() {
    assert!(matches("k contains 'a'", &[("k", "bab")]));
    assert!(!matches("k contains 'a'", &[("k", "b")]));
    assert!(!matches("k contains 'a'", &[]));
    assert!(matches("k contains 'ü'", &[("k", "grün")]));
}

#[test]
fn contains_empty_string_is_true_iff_present() {
    assert!(matches("k contains ''", &[("k", "")]));
    assert!(matches("k contains ''", &[("k", "x")]));
    assert!(!matches("k contains ''", &[]));
}

#[test]
fn starts_and_ends_with_need_presence() {
    assert!(matches("k starts with 'ab'", &[("k", "abc")]));
    assert!(!matches("k starts with 'ab'", &[("k", "cab")]));
    assert!(!matches("k starts with 'ab'", &[]));
    assert!(matches("k starts with ''", &[("k", "")]));
    assert!(matches("k ends with 'bc'", &[("k", "abc")]));
    assert!(!matches("k ends with 'bc'", &[("k", "bca")]));
    assert!(!matches("k ends with 'bc'", &[]));
    assert!(matches("k ends with ''", &[("k", "")]));
}

#[test]
fn boolean_operators() {
    let both = [("a", "1"), ("b", "2")];
    assert!(matches("a == '1' && b == '2'", &both));
    assert!(!matches("a == '1' && b == '3'", &both));
    assert!(matches("a == '9' || b == '2'", &both));
    assert!(!matches("a == '9' || b == '9'", &both));
    assert!(matches("!a == '9'", &both));
    assert!(!matches("!a == '1'", &both));
}

#[test]
fn labels_implementations_agree() {
    let selector = ok("a == 'b' && has(e) && c not in {'d'}");
    let btree: BTreeMap<String, String> = [("a", "b"), ("e", "")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let hash: HashMap<String, String> = btree.clone().into_iter().collect();
    let borrowed: BTreeMap<&str, &str> = BTreeMap::from([("a", "b"), ("e", "")]);
    assert!(selector.matches(&btree));
    assert!(selector.matches(&hash));
    assert!(selector.matches(&borrowed));
    assert!(selector.matches(&[("a", "b"), ("e", "")]));
    assert!(selector.matches(&Some(btree.clone())));
    assert!(!selector.matches(&None::<BTreeMap<String, String>>));
    assert!(selector.matches(&&btree));
    assert_eq!(btree.label("e"), Some(""));
    assert_eq!(btree.label("x"), None);
}
