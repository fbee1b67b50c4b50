//! Why one image was decided, kept as data and written out only when someone reads it (a
//! denial message, `evaluate`'s output, an audit annotation): most decisions are allows that
//! nobody reads, and building their sentences was most of an evaluation's cost.

use std::fmt;

use crate::scan::ScanUnavailable;
use crate::workload::WorkloadKind;

/// What decided an image. Rendered by [`ImageDecision::reason`](super::ImageDecision::reason),
/// which adds the image, container, policy and rule index it refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// A rule with `action: Allow` matched.
    AllowedByRule,
    /// A rule with `action: Reject` matched.
    RejectedByRule,
    /// The first rule that could match needs scan data the source cannot give.
    ScanUnavailable(ScanUnavailable),
    /// Policies applied, but none of their rules matched.
    NoRuleMatched,
    NoPolicyApplies,
    /// An invalid policy could apply to the object (policy-semantics §7).
    InvalidPolicy {
        field: String,
        message: String,
    },
    /// An UPDATE left the image as it was (policy-semantics §4).
    Unchanged,
    /// A child made by an admitted controller (policy-semantics §5).
    CreatedByController {
        owner_kind: WorkloadKind,
        owner_name: String,
    },
}

/// The sentence for one decision: the reason with what it refers to.
pub(super) struct Rendered<'a> {
    pub reason: &'a Reason,
    pub container: &'a str,
    pub image: &'a str,
    pub policy: Option<&'a str>,
    pub rule_index: Option<usize>,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy = self.policy.unwrap_or_default();
        let rule = RuleIndex(self.rule_index);
        let (image, container) = (self.image, self.container);
        match self.reason {
            Reason::AllowedByRule => {
                write!(
                    f,
                    "Action 'Allow' by ContainerPolicy {policy} rule index {rule}"
                )
            }
            Reason::RejectedByRule => write!(
                f,
                "image {image:?} (container {container:?}): Action 'Reject' enforced by ContainerPolicy {policy} rule index {rule}"
            ),
            Reason::ScanUnavailable(unavailable) => write!(
                f,
                "image {image:?} (container {container:?}): {unavailable} (needed by ContainerPolicy {policy} rule index {rule})"
            ),
            Reason::NoRuleMatched => f.write_str(
                "no rule of the applicable ContainerAdmissionPolicies matched: allowed by default",
            ),
            Reason::NoPolicyApplies => {
                f.write_str("no ContainerAdmissionPolicy applies: allowed by default")
            }
            Reason::InvalidPolicy { field, message } => write!(
                f,
                "ContainerAdmissionPolicy {policy} is invalid: field `{field}`: {message}"
            ),
            Reason::Unchanged => f.write_str(UNCHANGED),
            Reason::CreatedByController {
                owner_kind,
                owner_name,
            } => write!(
                f,
                "created by the admitted {owner_kind} {owner_name:?} through its controller: not re-evaluated"
            ),
        }
    }
}

/// The reason reported for an image that an UPDATE left as it was (policy-semantics §4).
pub const UNCHANGED: &str = "unchanged since admitted";

struct RuleIndex(Option<usize>);

impl fmt::Display for RuleIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(index) => write!(f, "{index}"),
            None => f.write_str("?"),
        }
    }
}
