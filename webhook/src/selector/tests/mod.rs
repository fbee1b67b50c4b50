//! Unit tests, one file per section of reference §3.

mod canonical;
mod errors;
mod grammar;
mod lexical;
mod precedence;
mod semantics;

use super::{Selector, SelectorError};

/// Parses `input`, failing the test with the error if it is rejected.
fn ok(input: &str) -> Selector {
    Selector::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse, got: {e}"))
}

/// The error for `input`, failing the test if it parses.
fn err(input: &str) -> SelectorError {
    match Selector::parse(input) {
        Ok(selector) => panic!("{input:?} should be rejected, parsed as `{selector}`"),
        Err(e) => e,
    }
}

/// The canonical form of `input`.
fn canon(input: &str) -> String {
    ok(input).to_string()
}

fn matches(input: &str, labels: &[(&str, &str)]) -> bool {
    ok(input).matches(labels)
}
