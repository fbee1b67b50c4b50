//! Every example of `tests/data/selector-examples.json` as a test.
//!
//! The data file is a verbatim copy of `/work/shared/testdata/selector-examples.json`, which
//! was derived from Calico's own parser tests and documentation
//! (projectcalico/calico `libcalico-go/lib/selector`). It is copied so the repository is
//! self-contained; refresh it from that origin rather than editing it.

use std::collections::BTreeMap;

use image_assurance::selector::Selector;
use serde::Deserialize;

#[derive(Deserialize)]
struct Examples {
    matches: Vec<MatchRow>,
    invalid: Vec<String>,
}

#[derive(Deserialize)]
struct MatchRow {
    selector: String,
    labels: BTreeMap<String, String>,
    expect: bool,
}

fn examples() -> Examples {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/selector-examples.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The number of rows in a category, counted independently of the typed decoding above.
fn row_count(category: &str) -> usize {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/selector-examples.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    value[category]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: `{category}` is not an array"))
        .len()
}

#[test]
fn every_matches_row_parses_and_matches_as_expected() {
    let rows = examples().matches;
    let mut failures = Vec::new();
    let mut seen = 0;
    for row in &rows {
        seen += 1;
        match Selector::parse(&row.selector) {
            Err(e) => failures.push(format!("{:?}: rejected: {e}", row.selector)),
            Ok(selector) => {
                let got = selector.matches(&row.labels);
                if got != row.expect {
                    failures.push(format!(
                        "{:?} with labels {:?}: expected {}, got {got} (parsed as `{selector}`)",
                        row.selector, row.labels, row.expect
                    ));
                }
            }
        }
    }
    assert!(seen > 0, "no `matches` rows were read");
    assert_eq!(seen, row_count("matches"));
    assert!(
        failures.is_empty(),
        "{} of {seen} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_invalid_row_is_rejected() {
    let rows = examples().invalid;
    let mut failures = Vec::new();
    let mut seen = 0;
    for input in &rows {
        seen += 1;
        match Selector::parse(input) {
            Ok(selector) => failures.push(format!("{input:?}: accepted as `{selector}`")),
            Err(e) if e.position > input.len() || !input.is_char_boundary(e.position) => {
                failures.push(format!("{input:?}: error position out of place: {e}"));
            }
            Err(_) => {}
        }
    }
    assert!(seen > 0, "no `invalid` rows were read");
    assert_eq!(seen, row_count("invalid"));
    assert!(
        failures.is_empty(),
        "{} of {seen} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_valid_example_round_trips_through_its_canonical_form() {
    let mut failures = Vec::new();
    let mut seen = 0;
    for row in examples().matches {
        let Ok(first) = Selector::parse(&row.selector) else {
            continue; // reported by the matching test
        };
        seen += 1;
        let shown = first.to_string();
        match Selector::parse(&shown) {
            Err(e) => failures.push(format!("{:?} -> {shown:?}: rejected: {e}", row.selector)),
            Ok(second) if second.to_string() != shown || second != first => failures.push(format!(
                "{:?} -> {shown:?} -> {:?}",
                row.selector,
                second.to_string()
            )),
            Ok(second) => {
                if second.matches(&row.labels) != row.expect {
                    failures.push(format!("{shown:?}: canonical form matches differently"));
                }
            }
        }
    }
    assert!(seen > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
