//! The audit: every pod-creating object that already runs, decided as if it were created now,
//! so that policies and scan data that changed after admission show what they would reject.
//! `image-assurance audit` prints the result; the webhook's lease holder publishes it as
//! PolicyReports, policy statuses and a metric (`server::audit_task`).
//!
//! An object made by a controller that still exists is judged through that controller, once:
//! the Pods of a ReplicaSet of a Deployment are the Deployment's images, and reporting each of
//! them again would say the same thing once per replica.

pub mod cluster;
pub mod lease;
pub mod policy_report;
pub mod publish;
pub mod report;
pub mod status;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::admission::{self, Context, Subject};
use crate::image::ImageRef;
use crate::policy::Enforcement;
use crate::policy::evaluate::Verdict;
use crate::scan::ScanStatus;
use crate::workload::{Workload, WorkloadKind, controller_reference};

/// Who the audit acts as: not a controller, so children are evaluated like direct objects
/// (policy-semantics §5), as a person re-creating them would be.
pub const AUDIT_USER: &str = "image-assurance:audit";

/// A pod-creating object read from the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditObject {
    /// As read, e.g. `apps/v1`.
    pub api_version: String,
    pub workload: Workload,
}

impl AuditObject {
    pub fn kind(&self) -> WorkloadKind {
        self.workload.kind()
    }

    pub fn name(&self) -> &str {
        self.workload.metadata().name.as_deref().unwrap_or("")
    }

    pub fn namespace(&self) -> &str {
        self.workload.metadata().namespace.as_deref().unwrap_or("")
    }

    pub fn uid(&self) -> Option<&str> {
        self.workload.metadata().uid.as_deref()
    }
}

/// One image of one object that a policy rejects.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub namespace: String,
    pub kind: WorkloadKind,
    pub api_version: String,
    pub name: String,
    pub uid: Option<String>,
    pub container: String,
    pub image: String,
    /// The image's scan status (`Unknown` when it has no scan result).
    pub status: ScanStatus,
    pub policy: String,
    /// `None` when the policy itself is invalid (it rejects whatever it could apply to).
    pub rule_index: Option<usize>,
    pub enforcement: Enforcement,
    /// Why, as the webhook words it (the denial message for an enforced policy).
    pub message: String,
}

/// An object that could not be decided: its images do not parse. The webhook would reject it.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectError {
    pub namespace: String,
    pub kind: WorkloadKind,
    pub api_version: String,
    pub name: String,
    pub uid: Option<String>,
    pub error: String,
}

/// What one audit found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditOutcome {
    /// Objects decided (children reported through their owner are not counted).
    pub evaluated: usize,
    /// Objects skipped because their controller is audited instead.
    pub through_owner: usize,
    pub violations: Vec<Violation>,
    pub errors: Vec<ObjectError>,
}

impl AuditOutcome {
    /// Whether anything would be rejected.
    pub fn rejects_anything(&self) -> bool {
        !self.violations.is_empty() || !self.errors.is_empty()
    }
}

/// The objects to decide: all but those whose controller reference names a pod-creating object
/// that exists (same namespace, kind and name, and the same uid when both have one), which are
/// reported through that owner. Applied at every level, a Pod of a ReplicaSet of a Deployment
/// is reported once, as the Deployment.
pub fn roots<'a>(objects: impl IntoIterator<Item = &'a AuditObject>) -> Vec<&'a AuditObject> {
    let objects: Vec<&AuditObject> = objects.into_iter().collect();
    // Each object by namespace, kind and name, with its uid.
    let uids: HashMap<(&str, WorkloadKind, &str), Option<&str>> = objects
        .iter()
        .map(|object| {
            (
                (object.namespace(), object.kind(), object.name()),
                object.uid(),
            )
        })
        .collect();
    objects
        .iter()
        .copied()
        .filter(|object| {
            let Some(owner) = controller_reference(object.workload.metadata()) else {
                return true;
            };
            let Some(kind) = WorkloadKind::from_type(&owner.api_version, &owner.kind) else {
                return true;
            };
            let key = (object.namespace(), kind, owner.name.as_str());
            let Some(owner_uid) = uids.get(&key) else {
                return true;
            };
            // A recreated owner of the same name is another object: its old children are not
            // its own.
            let same_uid = match owner_uid {
                Some(uid) => owner.uid.is_empty() || owner.uid == *uid,
                None => true,
            };
            !same_uid
        })
        .collect()
}

/// Progress of a long audit, for a line on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// Decides every root of `objects` in the namespaces of `namespaces` (name → labels; objects
/// in other namespaces are not covered and skipped) as if each were created now by
/// [`AUDIT_USER`]. `progress` is called after each object.
pub fn audit(
    context: &Context<'_>,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    objects: &[AuditObject],
    progress: &mut dyn FnMut(Progress),
) -> AuditOutcome {
    let covered: Vec<&AuditObject> = objects
        .iter()
        .filter(|object| namespaces.contains_key(object.namespace()))
        .collect();
    let covered_count = covered.len();
    let roots = roots(covered);
    let mut outcome = AuditOutcome {
        through_owner: covered_count - roots.len(),
        ..AuditOutcome::default()
    };
    let total = roots.len();
    for (done, object) in roots.into_iter().enumerate() {
        let namespace = object.namespace();
        let Some(labels) = namespaces.get(namespace) else {
            continue;
        };
        let labels = admission::namespace_labels(namespace, labels.clone());
        let subject = Subject {
            workload: &object.workload,
            namespace,
            namespace_labels: &labels,
            user: AUDIT_USER,
            owner: None,
        };
        outcome.evaluated += 1;
        match admission::assess(context, &subject) {
            Ok(assessment) => {
                let rejected = assessment
                    .decision
                    .images
                    .iter()
                    .filter(|image| image.decision == Verdict::Rejected);
                for image in rejected {
                    outcome.violations.push(violation(
                        object,
                        image.container.clone(),
                        image.image.clone(),
                        image.status,
                        image.policy.clone().unwrap_or_default(),
                        image.rule_index,
                        Enforcement::Enforce,
                        image.explain().to_string(),
                    ));
                }
                for finding in assessment.findings {
                    // Findings carry no scan status: looked up as the decision would have.
                    let status = ImageRef::parse(&finding.image)
                        .ok()
                        .and_then(|reference| context.scans.lookup(&reference).ok().flatten())
                        .map_or(ScanStatus::Unknown, |scan| scan.status);
                    outcome.violations.push(violation(
                        object,
                        finding.container,
                        finding.image,
                        status,
                        finding.policy,
                        finding.rule_index,
                        finding.enforcement,
                        finding.why,
                    ));
                }
            }
            Err(error) => outcome.errors.push(ObjectError {
                namespace: namespace.to_string(),
                kind: object.kind(),
                api_version: object.api_version.clone(),
                name: object.name().to_string(),
                uid: object.uid().map(str::to_string),
                error: error.to_string(),
            }),
        }
        progress(Progress {
            done: done + 1,
            total,
        });
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
fn violation(
    object: &AuditObject,
    container: String,
    image: String,
    status: ScanStatus,
    policy: String,
    rule_index: Option<usize>,
    enforcement: Enforcement,
    message: String,
) -> Violation {
    Violation {
        namespace: object.namespace().to_string(),
        kind: object.kind(),
        api_version: object.api_version.clone(),
        name: object.name().to_string(),
        uid: object.uid().map(str::to_string),
        container,
        image,
        status,
        policy,
        rule_index,
        enforcement,
        message,
    }
}

/// Per policy, how many objects it rejects at least one image of (what a policy's
/// `status.violations` counts).
pub fn objects_per_policy(violations: &[Violation]) -> BTreeMap<String, i64> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for ((_, policy), count) in objects_per_namespace_and_policy(violations) {
        *counts.entry(policy).or_default() += count;
    }
    counts
}

/// Per (namespace, policy), how many objects the policy rejects at least one image of (what
/// the `image_assurance_audit_violations` gauge shows).
pub fn objects_per_namespace_and_policy(
    violations: &[Violation],
) -> BTreeMap<(String, String), i64> {
    let mut seen: HashSet<(&str, &str, WorkloadKind, &str)> = HashSet::new();
    let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for violation in violations {
        let key = (
            violation.policy.as_str(),
            violation.namespace.as_str(),
            violation.kind,
            violation.name.as_str(),
        );
        if seen.insert(key) {
            *counts
                .entry((violation.namespace.clone(), violation.policy.clone()))
                .or_default() += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests;
