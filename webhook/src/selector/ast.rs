//! The parsed selector: evaluation against labels (reference §3.4) and the canonical form
//! (reference §3.5).

use std::fmt;

use super::Labels;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    All,
    Global,
    Has(String),
    Compare {
        label: String,
        op: CompareOp,
        value: String,
    },
    InSet {
        label: String,
        negated: bool,
        /// Sorted and de-duplicated, so membership is a binary search.
        values: Vec<String>,
    },
    Not(Box<Node>),
    /// Two or more operands.
    And(Vec<Node>),
    /// Two or more operands.
    Or(Vec<Node>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
}

impl Node {
    /// `!node`, cancelling a double negation so that the canonical form is stable: Calico
    /// folds `!!x` while parsing, and `!(!x)` must print the same way to round-trip.
    pub(crate) fn negate(self) -> Node {
        match self {
            Node::Not(inner) => *inner,
            other => Node::Not(Box::new(other)),
        }
    }

    /// Builds an `in`/`not in` node; the set is normalised here so equal selectors compare equal.
    pub(crate) fn in_set(label: String, negated: bool, mut values: Vec<String>) -> Node {
        values.sort_unstable();
        values.dedup();
        Node::InSet {
            label,
            negated,
            values,
        }
    }

    /// Evaluates without allocating: labels are looked up by `&str` and sets are searched.
    pub(crate) fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        match self {
            Node::All | Node::Global => true,
            Node::Has(label) => labels.label(label).is_some(),
            Node::Compare { label, op, value } => {
                let Some(actual) = labels.label(label) else {
                    // An absent label is "not equal" to anything; every other test needs it.
                    return *op == CompareOp::Ne;
                };
                match op {
                    CompareOp::Eq => actual == value,
                    CompareOp::Ne => actual != value,
                    CompareOp::Contains => actual.contains(value.as_str()),
                    CompareOp::StartsWith => actual.starts_with(value.as_str()),
                    CompareOp::EndsWith => actual.ends_with(value.as_str()),
                }
            }
            Node::InSet {
                label,
                negated,
                values,
            } => {
                let member = labels.label(label).is_some_and(|actual| {
                    values.binary_search_by(|v| v.as_str().cmp(actual)).is_ok()
                });
                member != *negated
            }
            Node::Not(inner) => !inner.matches(labels),
            Node::And(nodes) => nodes.iter().all(|n| n.matches(labels)),
            Node::Or(nodes) => nodes.iter().any(|n| n.matches(labels)),
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Contains => "contains",
            CompareOp::StartsWith => "starts with",
            CompareOp::EndsWith => "ends with",
        })
    }
}

/// A value in double quotes, or in single quotes when it contains a double quote. Literals
/// have no escapes, so a parsed value never contains both.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = if self.0.contains('"') { '\'' } else { '"' };
        write!(f, "{quote}{}{quote}", self.0)
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::All => f.write_str("all()"),
            Node::Global => f.write_str("global()"),
            Node::Has(label) => write!(f, "has({label})"),
            Node::Compare { label, op, value } => write!(f, "{label} {op} {}", Quoted(value)),
            Node::InSet {
                label,
                negated,
                values,
            } => {
                let op = if *negated { "not in" } else { "in" };
                write!(f, "{label} {op} {{")?;
                for (i, value) in values.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{}", Quoted(value))?;
                }
                f.write_str("}")
            }
            Node::Not(inner) => write!(f, "!{inner}"),
            Node::And(nodes) => group(f, nodes, " && "),
            Node::Or(nodes) => group(f, nodes, " || "),
        }
    }
}

fn group(f: &mut fmt::Formatter<'_>, nodes: &[Node], op: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            f.write_str(op)?;
        }
        write!(f, "{node}")?;
    }
    f.write_str(")")
}
