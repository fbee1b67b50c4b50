//! Deciding a request's images against a compiled policy set (policy-semantics §2–§4, §6–§7).
//! Pure: the labels, the images, the scan source and the clock are all passed in.

use std::fmt;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::Serialize;
use serde::ser::SerializeStruct;

use super::compile::{
    CompiledPolicy, CompiledRule, InvalidPolicy, LastScanCriterion, PolicySet, ScanTimeBound,
};
use super::crd::{Action, TimeOperator};
use super::paths::MatchedPatterns;
use super::reason::{Reason, Rendered};
use crate::image::ImageRef;
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
#[derive(Clone, Debug, PartialEq)]
pub struct ImageDecision {
    pub container: String,
    /// The reference as written in the object.
    pub image: String,
    /// The parsed reference; `None` only for an unchanged image that no longer parses.
    pub reference: Option<ImageRef>,
    pub status: ScanStatus,
    pub last_scan: Option<Timestamp>,
    pub decision: Verdict,
    /// The policy and rule that decided; `None` when no rule did.
    pub policy: Option<String>,
    pub rule_index: Option<usize>,
    pub reason: Reason,
}

impl ImageDecision {
    /// The normalised reference that `imagePath` is matched against (the image as written
    /// when it does not parse).
    pub fn subject(&self) -> &str {
        self.reference
            .as_ref()
            .map_or(self.image.as_str(), ImageRef::normalised)
    }

    /// The reason as a sentence, e.g. `image "nginx" (container "web"): Action 'Reject'
    /// enforced by ContainerPolicy p rule index 0`.
    pub fn explain(&self) -> impl fmt::Display + '_ {
        Rendered {
            reason: &self.reason,
            container: &self.container,
            image: &self.image,
            policy: self.policy.as_deref(),
            rule_index: self.rule_index,
        }
    }
}

/// The JSON of `evaluate --output json` and of the decision log: the subject and the reason
/// as text.
impl Serialize for ImageDecision {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("ImageDecision", 9)?;
        out.serialize_field("container", &self.container)?;
        out.serialize_field("image", &self.image)?;
        out.serialize_field("subject", self.subject())?;
        out.serialize_field("status", &self.status)?;
        out.serialize_field("lastScan", &self.last_scan)?;
        out.serialize_field("decision", &self.decision)?;
        out.serialize_field("policy", &self.policy)?;
        out.serialize_field("ruleIndex", &self.rule_index)?;
        out.serialize_field("reason", &self.explain().to_string())?;
        out.end()
    }
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
        use fmt::Write;
        let mut message: Option<String> = None;
        for image in images
            .iter()
            .filter(|image| image.decision == Verdict::Rejected)
        {
            let text = message.get_or_insert_with(String::new);
            if !text.is_empty() {
                text.push_str("; ");
            }
            let _ = write!(text, "{}", image.explain());
        }
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
    images: Vec<ContainerImage>,
) -> Decision {
    let invalid =
        applicable_invalid_policies(policies, input.object_labels, input.namespace_labels);
    let applicable = applicable_mask(policies, input.object_labels, input.namespace_labels);
    let images = images
        .into_iter()
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
    image: ContainerImage,
    applicable: &[bool],
    input: &EvaluationInput<'_, O, N>,
) -> ImageDecision {
    let matched = policies.match_paths(image.reference.normalised());
    let mut scan = LazyScan::new(&image, input.scans);
    // Only rules that could match, in evaluation order: the first that does decides.
    let candidates = policies.rule_index().candidates(&matched);
    let mut decided = None;
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
        let (status, last_scan, verdict, reason) =
            match rule_matches(rule, &matched, &mut scan, input.now) {
                Ok(false) => continue,
                Ok(true) => {
                    let (status, last_scan) = scan.reported();
                    match rule.action {
                        Action::Allow => {
                            (status, last_scan, Verdict::Allowed, Reason::AllowedByRule)
                        }
                        Action::Reject => {
                            (status, last_scan, Verdict::Rejected, Reason::RejectedByRule)
                        }
                    }
                }
                // Fail closed: a rule that needs scan data cannot be decided without it.
                Err(unavailable) => (
                    ScanStatus::Unknown,
                    None,
                    Verdict::Rejected,
                    Reason::ScanUnavailable(unavailable),
                ),
            };
        let decided_by = Some((policy.name.clone(), position.rule));
        decided = Some((status, last_scan, verdict, decided_by, reason));
        break;
    }
    let (status, last_scan, verdict, decided_by, reason) = decided.unwrap_or_else(|| {
        let (status, last_scan) = scan.reported();
        let reason = if applicable.contains(&true) {
            Reason::NoRuleMatched
        } else {
            Reason::NoPolicyApplies
        };
        (status, last_scan, Verdict::Allowed, None, reason)
    });
    image_decision(image, status, last_scan, verdict, decided_by, reason)
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

fn reject_for_invalid_policy<O: Labels + ?Sized, N: Labels + ?Sized>(
    image: ContainerImage,
    invalid: &InvalidPolicy,
    input: &EvaluationInput<'_, O, N>,
) -> ImageDecision {
    let (status, last_scan) = LazyScan::new(&image, input.scans).reported();
    let reason = Reason::InvalidPolicy {
        field: invalid.error.field.clone(),
        message: invalid.error.message.clone(),
    };
    let mut decision = image_decision(image, status, last_scan, Verdict::Rejected, None, reason);
    decision.policy = Some(invalid.name.clone());
    decision
}

fn image_decision(
    image: ContainerImage,
    status: ScanStatus,
    last_scan: Option<Timestamp>,
    decision: Verdict,
    decided_by: Option<(String, usize)>,
    reason: Reason,
) -> ImageDecision {
    let (policy, rule_index) = decided_by.unzip();
    ImageDecision {
        container: image.container,
        image: image.image,
        reference: Some(image.reference),
        status,
        last_scan,
        decision,
        policy,
        rule_index,
        reason,
    }
}
