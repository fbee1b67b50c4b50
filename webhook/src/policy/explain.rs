//! Why a rule decided an image, in words a user can act on without reading the policy: which
//! rule of which policy matched, each of its criteria, and what of the image met it, e.g.
//! `image "nginx:1.27" (container "web"): rule index 0 of ContainerPolicy reject-non-gcr
//! matched: imagePath IsNoneOf ['^gcr.io/company/.*'] (image is docker.io/library/nginx:1.27)`.
//! The denial message keeps Calico's wording; this text goes beside it, as an admission
//! warning, and is the `reason` of `evaluate`'s JSON output.

use std::fmt::Write;

use super::compile::{CompiledRule, LastScanCriterion, PolicySet, ScanTimeBound};
use super::crd::{SetOperator, TimeOperator};
use super::evaluate::ImageDecision;
use super::reason::Reason;
use crate::quote::cut;
use crate::timestamp::format_rfc3339;

/// Values listed of one criterion; the rest are counted.
const LISTED_VALUES: usize = 4;

/// The why of a decision a rule made, against `policies` (the set that decided it); `None`
/// for a decision no rule made (a default allow, an unchanged image, an invalid policy, scan
/// data unavailable), whose reason says it all.
pub fn why(policies: &PolicySet, decision: &ImageDecision) -> Option<String> {
    let rule = match (&decision.reason, &decision.policy, decision.rule_index) {
        (Reason::AllowedByRule | Reason::RejectedByRule, Some(policy), Some(index)) => policies
            .policies()
            .iter()
            .find(|compiled| &compiled.name == policy)
            .and_then(|compiled| compiled.rules.get(index))
            .map(|rule| (policy, index, rule)),
        _ => None,
    };
    let (policy, index, rule) = rule?;
    let mut text = format!("rule index {index} of ContainerPolicy {policy} matched: ");
    criteria(&mut text, rule, decision);
    Some(with_image(decision, &text))
}

/// `why`, or else the decision's reason, always naming the image and container.
pub fn why_or_reason(policies: &PolicySet, decision: &ImageDecision) -> String {
    why(policies, decision).unwrap_or_else(|| with_image(decision, &decision.explain().to_string()))
}

fn with_image(decision: &ImageDecision, text: &str) -> String {
    let prefix = format!(
        "image {:?} (container {:?}): ",
        decision.image, decision.container
    );
    if text.starts_with(&prefix) {
        text.to_string()
    } else {
        format!("{prefix}{text}")
    }
}

fn criteria(out: &mut String, rule: &CompiledRule, decision: &ImageDecision) {
    let mut parts: Vec<String> = Vec::new();
    if let Some(path) = &rule.image_path {
        parts.push(format!(
            "imagePath {} {} (image is {})",
            operator(path.operator),
            listed(
                path.patterns
                    .iter()
                    .map(|pattern| cut(pattern).into_owned())
            ),
            decision.subject()
        ));
    }
    if let Some(status) = &rule.scan_status {
        parts.push(format!(
            "imageScanStatus {} {} (scan status is {})",
            operator(status.operator),
            listed(status.values.iter().map(ToString::to_string)),
            decision.status
        ));
    }
    if let Some(last_scan) = &rule.last_scan {
        let scanned = decision.last_scan.map_or_else(
            || "never scanned".to_string(),
            |time| format!("last scanned {}", format_rfc3339(time)),
        );
        parts.push(format!(
            "imageLastScan {} ({scanned})",
            last_scan_text(last_scan)
        ));
    }
    if parts.is_empty() {
        out.push_str("the rule has no criteria, so it matches every image");
    } else {
        out.push_str(&parts.join(" and "));
    }
}

fn operator(operator: SetOperator) -> &'static str {
    match operator {
        SetOperator::IsOneOf => "IsOneOf",
        SetOperator::IsNoneOf => "IsNoneOf",
    }
}

/// `['a', 'b']`, at most `LISTED_VALUES` of them, then how many more.
fn listed(values: impl ExactSizeIterator<Item = String>) -> String {
    let total = values.len();
    let shown: Vec<String> = values
        .take(LISTED_VALUES)
        .map(|value| format!("'{value}'"))
        .collect();
    let mut text = format!("[{}", shown.join(", "));
    if total > LISTED_VALUES {
        let _ = write!(text, ", … {} more", total - LISTED_VALUES);
    }
    text.push(']');
    text
}

fn last_scan_text(criterion: &LastScanCriterion) -> String {
    let operator = match criterion.operator {
        TimeOperator::Gt => "gt",
        TimeOperator::Lt => "lt",
    };
    match criterion.bound {
        ScanTimeBound::At(time) => format!("{operator} {}", format_rfc3339(time)),
        ScanTimeBound::Ago { months, days } => {
            let mut span = Vec::new();
            if months > 0 {
                span.push(format!("{months} month{}", plural(months)));
            }
            if days > 0 || months == 0 {
                span.push(format!("{days} day{}", plural(days)));
            }
            format!("{operator} {} ago", span.join(" "))
        }
    }
}

fn plural(count: i64) -> &'static str {
    if count == 1 { "" } else { "s" }
}
