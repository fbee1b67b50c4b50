//! The Calico label-selector language used by `selector` and `namespaceSelector`
//! (reference: `docs/reference/calico-policy-and-selectors.md` §3).
//!
//! ```
//! use std::collections::BTreeMap;
//! use image_assurance::selector::Selector;
//!
//! let selector: Selector = "env in {'prod', 'staging'} && !has(skip)".parse().unwrap();
//! let labels = BTreeMap::from([("env".to_string(), "prod".to_string())]);
//! assert!(selector.matches(&labels));
//! assert_eq!(selector.to_string(), r#"(env in {"prod", "staging"} && !has(skip))"#);
//! ```

mod ast;
mod error;
mod lexer;
mod parser;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

pub use error::SelectorError;
pub use parser::MAX_LEN;

use ast::Node;

/// A parsed selector. Two selectors are equal when their canonical forms are equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Selector {
    root: Node,
}

impl Selector {
    /// Parses Calico selector syntax. Empty or blank (spaces and tabs) input selects everything.
    ///
    /// # Errors
    ///
    /// Any input Calico would reject (reference §3.6), with the byte position of the first
    /// offending token; also parentheses nested more than 100 deep, and input longer than
    /// [`MAX_LEN`] bytes.
    pub fn parse(input: &str) -> Result<Selector, SelectorError> {
        parser::parse(input).map(|root| Selector { root })
    }

    /// The selector that matches every label set, `all()`.
    #[must_use]
    pub fn all() -> Selector {
        Selector { root: Node::All }
    }

    /// Whether a label set satisfies the selector. Does not allocate.
    #[must_use]
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        self.root.matches(labels)
    }

    /// True for `all()`, `global()` and the empty selector (also when written as `(all())` or
    /// `!!all()`, which parse to the same thing).
    #[must_use]
    pub fn is_all(&self) -> bool {
        matches!(self.root, Node::All | Node::Global)
    }
}

/// The empty selector, which matches everything.
impl Default for Selector {
    fn default() -> Self {
        Selector::all()
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Selector::parse(input)
    }
}

/// Calico's canonical form (reference §3.5); parsing it gives back an equal selector.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

/// A set of labels a selector can be matched against.
pub trait Labels {
    /// The value of label `key`, or `None` when absent. A present label may have value `""`.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for BTreeMap<&str, &str> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).copied()
    }
}

/// Linear search, for small literal label lists (mostly in tests). The first entry wins.
impl Labels for [(&str, &str)] {
    fn label(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
    }
}

impl<const N: usize> Labels for [(&str, &str); N] {
    fn label(&self, key: &str) -> Option<&str> {
        self.as_slice().label(key)
    }
}

/// Kubernetes metadata holds labels as `Option<BTreeMap<…>>`; `None` means no labels.
impl<L: Labels> Labels for Option<L> {
    fn label(&self, key: &str) -> Option<&str> {
        self.as_ref().and_then(|labels| labels.label(key))
    }
}

impl<L: Labels + ?Sized> Labels for &L {
    fn label(&self, key: &str) -> Option<&str> {
        (**self).label(key)
    }
}
