//! Deciding a request's images against a compiled policy set (policy-semantics §2–§4, §6–§7).
//! Pure: the labels, the images, the scan source and the clock are all passed in.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::Serialize;

use super::compile::{
    CompiledPolicy, CompiledRule, InvalidPolicy, LastScanCriterion, PolicySet, ScanTimeBound,
};
use super::crd::{Action, TimeOperator};
use super::paths::MatchedPatterns;
use crate::scan::{ScanResult, ScanSource, ScanStatus, ScanUnavailable};
use crate::selector::Labels;
use crate::workload::ContainerImage;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allowed,
    Rejected,
}

/// How one image was decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDecision {
    pub container: String,
    /// The reference as written in the object.
    pub image: String,
    /// The normalised reference that `imagePath` is matched against.
    pub subject: String,
    pub status: ScanStatus,
    pub last_scan: Option<Timestamp>,
    pub decision: Verdict,
    /// The policy and rule that decided; `None` when no rule did.
    pub policy: Option<String>,
    pub rule_index: Option<usize>,
    pub reason: String,
}

/// The decision on a whole request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// The denial message (images joined with `; `), `None` when allowed.
    pub message: Option<String>,
    pub images: Vec<ImageDecision>,
}

impl Decision {
    pub fn from_images(images: Vec<ImageDecision>) -> Self {
        let rejections: Vec<&str> = images
            .iter()
            .filter(|image| image.decision == Verdict::Rejected)
            .map(|image| image.reason.as_str())
            .collect();
        let message = (!rejections.is_empty()).then(|| rejections.join("; "));
        Decision {
            allowed: message.is_none(),
            message,
            images,
        }
    }
}

/// What a request is evaluated on.
pub struct EvaluationInput<'a, O: Labels + ?Sized, N: Labels + ?Sized> {
    /// The labels of the object itself (`metadata.labels`), for `spec.selector`.
    pub object_labels: &'a O,
    /// The labels of its namespace, for `spec.namespaceSelector`.
    pub namespace_labels: &'a N,
    pub images: &'a [ContainerImage],
    pub scans: &'a dyn ScanSource,
    pub now: Timestamp,
}

/// The valid policies that apply to an object, in evaluation order (policy-semantics §2).
pub fn applicable_policies<'p, O: Labels + ?Sized, N: Labels + ?Sized>(
    policies: &'p PolicySet,
    object_labels: &O,
    namespace_labels: &N,
) -> Vec<&'p CompiledPolicy> {
    let applicable = applicable_mask(policies, object_labels, namespace_labels);
    policies
        .policies()
        .iter()
        .zip(applicable)
        .filter_map(|(policy, applies)| applies.then_some(policy))
        .collect()
}

/// Per valid policy (in evaluation order): whether it applies to the object.
fn applicable_mask<O: Labels + ?Sized, N: Labels + ?Sized>(
    policies: &PolicySet,
    object_labels: &O,
    namespace_labels: &N,
) -> Vec<bool> {
    let (selectors, ids) = policies.selectors();
    // Each distinct selector is evaluated at most once per label set.
    let mut on_object: Vec<Option<bool>> = vec![None; selectors.len()];
    let mut on_namespace: Vec<Option<bool>> = vec![None; selectors.len()];
    let matches = |memo: &mut Vec<Option<bool>>, id: usize, labels: &dyn Labels| -> bool {
        match memo.get(id).copied().flatten() {
            Some(known) => known,
            None => {
                let result = selectors
                    .get(id)
                    .is_some_and(|selector| selector.matches(labels));
                if let Some(slot) = memo.get_mut(id) {
                    *slot = Some(result);
                }
                result
            }
        }
    };
    ids.iter()
        .map(|&(object, namespace)| {
            matches(&mut on_namespace, namespace, &AsDyn(namespace_labels))
                && matches(&mut on_object, object, &AsDyn(object_labels))
        })
        .collect()
}

/// Lets a possibly unsized label map be used as `&dyn Labels`.
struct AsDyn<'a, L: Labels + ?Sized>(&'a L);

impl<L: Labels + ?Sized> Labels for AsDyn<'_, L> {
    fn label(&self, key: &str) -> Option<&str> {
        self.0.label(key)
    }
}

/// Invalid policies that could apply to the object: all whose selectors match, and all whose
/// selectors are themselves broken (policy-semantics §7).
pub fn applicable_invalid_policies<'p, O: Labels + ?Sized, N: Labels + ?Sized>(
    policies: &'p PolicySet,
    object_labels: &O,
    namespace_labels: &N,
) -> Vec<&'p InvalidPolicy> {
    policies
        .invalid()
        .iter()
        .filter(|invalid| match &invalid.selectors {
            None => true,
            Some((selector, namespace_selector)) => {
                namespace_selector.matches(namespace_labels) && selector.matches(object_labels)
            }
        })
        .collect()
}

/// Decides every image of a request.
pub fn evaluate<O: Labels + ?Sized, N: Labels + ?Sized>(
    policies: &PolicySet,
    input: &EvaluationInput<'_, O, N>,
) -> Decision {
    let invalid =
        applicable_invalid_policies(policies, input.object_labels, input.namespace_labels);
    let applicable = applicable_mask(policies, input.object_labels, input.namespace_labels);
    let images = input
        .images
        .iter()
        .map(|image| match invalid.first() {
            Some(invalid) => reject_for_invalid_policy(image, invalid, input),
            None => decide_image(policies, image, &applicable, input),
        })
        .collect();
    Decision::from_images(images)
}

/// The scan result of one image, looked up at most once and only when first needed.
struct LazyScan<'a> {
    image: &'a ContainerImage,
    scans: &'a dyn ScanSource,
    result: Option<Result<Option<ScanResult>, ScanUnavailable>>,
}

impl<'a> LazyScan<'a> {
    fn new(image: &'a ContainerImage, scans: &'a dyn ScanSource) -> Self {
        LazyScan {
            image,
            scans,
            result: None,
        }
    }

    fn get(&mut self) -> &Result<Option<ScanResult>, ScanUnavailable> {
        let (scans, image) = (self.scans, self.image);
        self.result
            .get_or_insert_with(|| scans.lookup(&image.reference))
    }

    /// What to report: the status if known, `Unknown` otherwise.
    fn reported(&mut self) -> (ScanStatus, Option<Timestamp>) {
        match self.get() {
            Ok(Some(result)) => (result.status, result.last_scan),
            Ok(None) | Err(_) => (ScanStatus::Unknown, None),
        }
    }
}

fn decide_image<O: Labels + ?Sized, N: Labels + ?Sized>(
    policies: &PolicySet,
    image: &ContainerImage,
    applicable: &[bool],
    input: &EvaluationInput<'_, O, N>,
) -> ImageDecision {
    let matched = policies.match_paths(image.reference.normalised());
    let mut scan = LazyScan::new(image, input.scans);
    // Only rules that could match, in evaluation order: the first that does decides.
    let candidates = policies.rule_index().candidates(&matched);
    for position in candidates {
        if !applicable.get(position.policy).copied().unwrap_or(false) {
            continue;
        }
        let Some(policy) = policies.policies().get(position.policy) else {
            continue;
        };
        let Some(rule) = policy.rules.get(position.rule) else {
            continue;
        };
        let rule_index = position.rule;
        match rule_matches(rule, &matched, &mut scan, input.now) {
            Ok(false) => continue,
            Ok(true) => {
                let (status, last_scan) = scan.reported();
                let (decision, reason) = match rule.action {
                    Action::Allow => (
                        Verdict::Allowed,
                        format!(
                            "Action 'Allow' by ContainerPolicy {} rule index {rule_index}",
                            policy.name
                        ),
                    ),
                    Action::Reject => (
                        Verdict::Rejected,
                        format!(
                            "{}: Action 'Reject' enforced by ContainerPolicy {} rule index {rule_index}",
                            image_label(image),
                            policy.name
                        ),
                    ),
                };
                return image_decision(
                    image,
                    status,
                    last_scan,
                    decision,
                    Some((policy, rule_index)),
                    reason,
                );
            }
            Err(unavailable) => {
                // Fail closed: a rule that needs scan data cannot be decided without it.
                let reason = format!(
                    "{}: {unavailable} (needed by ContainerPolicy {} rule index {rule_index})",
                    image_label(image),
                    policy.name
                );
                return image_decision(
                    image,
                    ScanStatus::Unknown,
                    None,
                    Verdict::Rejected,
                    Some((policy, rule_index)),
                    reason,
                );
            }
        }
    }
    let (status, last_scan) = scan.reported();
    let reason = if applicable.contains(&true) {
        "no rule of the applicable ContainerAdmissionPolicies matched: allowed by default"
            .to_string()
    } else {
        "no ContainerAdmissionPolicy applies: allowed by default".to_string()
    };
    image_decision(image, status, last_scan, Verdict::Allowed, None, reason)
}

/// Criteria are ANDed; `imagePath` is checked first so that scan data is only consulted (and
/// only needed) when the path criterion passes.
fn rule_matches(
    rule: &CompiledRule,
    matched: &MatchedPatterns,
    scan: &mut LazyScan<'_>,
    now: Timestamp,
) -> Result<bool, ScanUnavailable> {
    if let Some(path) = &rule.image_path
        && !path.matches(matched)
    {
        return Ok(false);
    }
    if !rule.needs_scan() {
        return Ok(true);
    }
    let result = match scan.get() {
        Ok(result) => *result,
        Err(unavailable) => return Err(unavailable.clone()),
    };
    if let Some(status) = &rule.scan_status {
        let current = result.map_or(ScanStatus::Unknown, |result| result.status);
        if !status.matches(current) {
            return Ok(false);
        }
    }
    if let Some(last_scan) = &rule.last_scan {
        let Some(scanned_at) = result.and_then(|result| result.last_scan) else {
            // An image without a scan time matches no `imageLastScan` criterion.
            return Ok(false);
        };
        if !last_scan_matches(last_scan, scanned_at, now) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn last_scan_matches(criterion: &LastScanCriterion, scanned_at: Timestamp, now: Timestamp) -> bool {
    let bound = match criterion.bound {
        ScanTimeBound::At(time) => time,
        ScanTimeBound::Ago { months, days } => subtract_calendar(now, months, days),
    };
    match criterion.operator {
        TimeOperator::Gt => scanned_at > bound,
        TimeOperator::Lt => scanned_at < bound,
    }
}

/// `now − months − days` in UTC, months first with the day of month clamped to the target
/// month's length, then days (policy-semantics §3). A span beyond the representable range
/// saturates at the earliest time, which is the limit it tends to.
pub fn subtract_calendar(now: Timestamp, months: i64, days: i64) -> Timestamp {
    let zoned = now.to_zoned(TimeZone::UTC);
    let shifted = Span::new()
        .try_months(months)
        .and_then(|span| zoned.checked_sub(span))
        .and_then(|zoned| {
            Span::new()
                .try_days(days)
                .and_then(|span| zoned.checked_sub(span))
        });
    shifted.map_or(Timestamp::MIN, |zoned| zoned.timestamp())
}

fn image_label(image: &ContainerImage) -> String {
    format!("image {:?} (container {:?})", image.image, image.container)
}

fn reject_for_invalid_policy<O: Labels + ?Sized, N: Labels + ?Sized>(
    image: &ContainerImage,
    invalid: &InvalidPolicy,
    input: &EvaluationInput<'_, O, N>,
) -> ImageDecision {
    let mut scan = LazyScan::new(image, input.scans);
    let (status, last_scan) = scan.reported();
    let reason = format!(
        "ContainerAdmissionPolicy {} is invalid: field `{}`: {}",
        invalid.name, invalid.error.field, invalid.error.message
    );
    let mut decision = image_decision(image, status, last_scan, Verdict::Rejected, None, reason);
    decision.policy = Some(invalid.name.clone());
    decision
}

fn image_decision(
    image: &ContainerImage,
    status: ScanStatus,
    last_scan: Option<Timestamp>,
    decision: Verdict,
    decided_by: Option<(&CompiledPolicy, usize)>,
    reason: String,
) -> ImageDecision {
    ImageDecision {
        container: image.container.clone(),
        image: image.image.clone(),
        subject: image.reference.normalised().to_string(),
        status,
        last_scan,
        decision,
        policy: decided_by.map(|(policy, _)| policy.name.clone()),
        rule_index: decided_by.map(|(_, index)| index),
        reason,
    }
}
