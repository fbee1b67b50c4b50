//! From an object under admission to a decision: on UPDATE only the images new to the object
//! (policy-semantics §4), then the child check of §5, then policy evaluation. The webhook and
//! `image-assurance evaluate` both go through `assess_update`, so online and offline decisions
//! cannot drift apart.

pub mod handler;
pub mod review;

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::image::ImageRef;
use crate::policy::evaluate::{Decision, EvaluationInput, ImageDecision, Verdict, evaluate};
use crate::policy::explain::why_or_reason;
use crate::policy::{Enforcement, PolicySet, Reason};
use crate::scan::{ScanSource, ScanStatus};
use crate::workload::{
    ChildCheck, ContainerImage, ControllerIdentities, ImageChange, Workload, WorkloadError,
    check_child,
};

/// What every assessment shares: the policies, the scan data, the clock.
pub struct Context<'a> {
    pub policies: &'a PolicySet,
    pub scans: &'a dyn ScanSource,
    pub now: Timestamp,
    pub identities: &'a ControllerIdentities,
}

/// One pod-creating object under admission.
pub struct Subject<'a> {
    pub workload: &'a Workload,
    pub namespace: &'a str,
    /// The namespace's labels, `kubernetes.io/metadata.name` included.
    pub namespace_labels: &'a BTreeMap<String, String>,
    /// The requesting user (`userInfo.username`).
    pub user: &'a str,
    /// The object named by the workload's controller reference, as found in its namespace.
    pub owner: Option<&'a Workload>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    /// Made by the `Enforce` policies alone.
    pub decision: Decision,
    pub warnings: Vec<String>,
    /// What each applicable `Warn` or `Audit` policy, evaluated on its own, would reject.
    pub findings: Vec<Finding>,
}

/// An image that a `Warn` or `Audit` policy would reject (it changes no decision).
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub enforcement: Enforcement,
    pub policy: String,
    /// `None` when the policy itself is invalid.
    pub rule_index: Option<usize>,
    pub container: String,
    pub image: String,
    /// Why, as `policy::explain` words it: the rule and the criteria that matched.
    pub why: String,
}

pub use crate::policy::reason::UNCHANGED;

/// Decides one pod-creating object being created. An unparsable image is an error, never an
/// allow.
pub fn assess(context: &Context<'_>, subject: &Subject<'_>) -> Result<Assessment, WorkloadError> {
    assess_update(context, subject, None)
}

/// Decides one pod-creating object as an UPDATE of `old`, the object as stored before it
/// (policy-semantics §4): only the images new to the object are evaluated, and an UPDATE that
/// brings none is allowed without consulting any policy. With no `old` (a CREATE) every image
/// is evaluated.
pub fn assess_update(
    context: &Context<'_>,
    subject: &Subject<'_>,
    old: Option<&Workload>,
) -> Result<Assessment, WorkloadError> {
    if let Some(old) = old
        && let Some(assessment) = unchanged(context, subject.workload, old)
    {
        return Ok(assessment);
    }
    // The new images, to be decided, and per container in order the unchanged image or `None`
    // where the next new one goes.
    let changes = subject.workload.image_changes(old)?;
    let mut new = Vec::with_capacity(changes.len());
    let mut kept = Vec::with_capacity(changes.len());
    for change in changes {
        match change {
            ImageChange::New(image) => {
                new.push(image);
                kept.push(None);
            }
            ImageChange::Unchanged { container, image } => kept.push(Some((container, image))),
        }
    }
    let check = check_child(
        subject.workload,
        subject.namespace,
        subject.owner,
        subject.user,
        context.identities,
    );
    let (decided, warnings, findings) = match check {
        ChildCheck::Approved {
            owner_kind,
            owner_name,
        } => {
            let decisions = new
                .into_iter()
                .map(|image| {
                    let reason = Reason::CreatedByController {
                        owner_kind,
                        owner_name: owner_name.clone(),
                    };
                    not_judged(
                        context,
                        image.container,
                        image.image,
                        Some(image.reference),
                        reason,
                    )
                })
                .collect();
            (decisions, Vec::new(), Vec::new())
        }
        ChildCheck::Unclaimed => {
            let findings = advisory_findings(context, subject, &new);
            (evaluate_images(context, subject, new), Vec::new(), findings)
        }
        ChildCheck::Refused { warning } => {
            let findings = advisory_findings(context, subject, &new);
            (
                evaluate_images(context, subject, new),
                vec![warning],
                findings,
            )
        }
    };
    let mut decided = decided.into_iter();
    let images = kept
        .into_iter()
        .filter_map(|kept| match kept {
            Some((container, image)) => Some(unchanged_image(context, container, image)),
            None => decided.next(),
        })
        .collect();
    Ok(Assessment {
        decision: Decision::from_images(images),
        warnings,
        findings,
    })
}

/// An UPDATE from `old` that brings no new image: allowed without consulting any policy, every
/// image reported as unchanged since admitted. `None` when the UPDATE brings a new image.
pub fn unchanged(context: &Context<'_>, workload: &Workload, old: &Workload) -> Option<Assessment> {
    if workload.brings_new_images(old) {
        return None;
    }
    // Nothing is new, so nothing is parsed and this cannot fail.
    let images = workload
        .image_changes(Some(old))
        .ok()?
        .into_iter()
        .filter_map(|change| match change {
            ImageChange::Unchanged { container, image } => {
                Some(unchanged_image(context, container, image))
            }
            ImageChange::New(_) => None,
        })
        .collect();
    Some(Assessment {
        decision: Decision::from_images(images),
        warnings: Vec::new(),
        findings: Vec::new(),
    })
}

/// Each `Warn` or `Audit` policy evaluated on its own, as if it were the only policy: the
/// images it would reject, with why.
fn advisory_findings(
    context: &Context<'_>,
    subject: &Subject<'_>,
    images: &[ContainerImage],
) -> Vec<Finding> {
    let advisory = context.policies.advisory();
    if advisory.is_empty() || images.is_empty() {
        return Vec::new();
    }
    let input = EvaluationInput {
        object_labels: subject.workload.labels(),
        namespace_labels: subject.namespace_labels,
        scans: context.scans,
        now: context.now,
    };
    let mut findings = Vec::new();
    for policy in advisory {
        let decision = evaluate(&policy.set, &input, images.to_vec());
        let rejected = decision
            .images
            .iter()
            .filter(|image| image.decision == Verdict::Rejected);
        for image in rejected {
            findings.push(Finding {
                enforcement: policy.enforcement,
                policy: image.policy.clone().unwrap_or_default(),
                rule_index: image.rule_index,
                container: image.container.clone(),
                image: image.image.clone(),
                why: why_or_reason(&policy.set, image),
            });
        }
    }
    findings
}

fn evaluate_images(
    context: &Context<'_>,
    subject: &Subject<'_>,
    images: Vec<ContainerImage>,
) -> Vec<ImageDecision> {
    let input = EvaluationInput {
        object_labels: subject.workload.labels(),
        namespace_labels: subject.namespace_labels,
        scans: context.scans,
        now: context.now,
    };
    evaluate(context.policies, &input, images).images
}

fn unchanged_image(context: &Context<'_>, container: String, image: String) -> ImageDecision {
    // Admitted as written, so it may not parse under today's rules; then it is shown as written.
    let reference = ImageRef::parse(&image).ok();
    not_judged(context, container, image, reference, Reason::Unchanged)
}

/// An image allowed without evaluation. The scan data is reported for information only.
fn not_judged(
    context: &Context<'_>,
    container: String,
    image: String,
    reference: Option<ImageRef>,
    reason: Reason,
) -> ImageDecision {
    let scan = reference
        .as_ref()
        .and_then(|reference| context.scans.lookup(reference).ok().flatten());
    ImageDecision {
        container,
        image,
        reference,
        status: scan.map_or(ScanStatus::Unknown, |scan| scan.status),
        last_scan: scan.and_then(|scan| scan.last_scan),
        decision: Verdict::Allowed,
        policy: None,
        rule_index: None,
        reason,
    }
}

/// The label the API server puts on every namespace, which selectors may use.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Namespace labels as the API server would have them: `kubernetes.io/metadata.name` is set
/// to the namespace's name whatever else is given.
pub fn namespace_labels(
    namespace: &str,
    labels: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = labels.into_iter().collect();
    labels.insert(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string());
    labels
}
