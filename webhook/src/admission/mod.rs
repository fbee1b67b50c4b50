//! From an object under admission to a decision: the child check of policy-semantics §5, then
//! policy evaluation. The webhook and `image-assurance evaluate` both go through `assess`, so
//! online and offline decisions cannot drift apart.

pub mod handler;
pub mod review;

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::policy::PolicySet;
use crate::policy::evaluate::{Decision, EvaluationInput, ImageDecision, Verdict, evaluate};
use crate::scan::{ScanSource, ScanStatus};
use crate::workload::{ChildCheck, ControllerIdentities, Workload, WorkloadError, check_child};

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
    pub decision: Decision,
    pub warnings: Vec<String>,
}

/// Decides one pod-creating object. An unparsable image is an error, never an allow.
pub fn assess(context: &Context<'_>, subject: &Subject<'_>) -> Result<Assessment, WorkloadError> {
    let images = subject.workload.images()?;
    let check = check_child(
        subject.workload,
        subject.namespace,
        subject.owner,
        subject.user,
        context.identities,
    );
    let warnings = match check {
        ChildCheck::Approved {
            owner_kind,
            owner_name,
        } => {
            let reason = format!(
                "created by the admitted {owner_kind} {owner_name:?} through its controller: not re-evaluated"
            );
            let decisions = images
                .iter()
                .map(|image| {
                    // Reported for information only: an approved child needs no scan data.
                    let scan = context.scans.lookup(&image.reference).ok().flatten();
                    ImageDecision {
                        container: image.container.clone(),
                        image: image.image.clone(),
                        subject: image.reference.normalised().to_string(),
                        status: scan.map_or(ScanStatus::Unknown, |scan| scan.status),
                        last_scan: scan.and_then(|scan| scan.last_scan),
                        decision: Verdict::Allowed,
                        policy: None,
                        rule_index: None,
                        reason: reason.clone(),
                    }
                })
                .collect();
            return Ok(Assessment {
                decision: Decision::from_images(decisions),
                warnings: Vec::new(),
            });
        }
        ChildCheck::NotAChild => Vec::new(),
        ChildCheck::Refused { warning } => vec![warning],
    };
    let input = EvaluationInput {
        object_labels: subject.workload.labels(),
        namespace_labels: subject.namespace_labels,
        images: &images,
        scans: context.scans,
        now: context.now,
    };
    Ok(Assessment {
        decision: evaluate(context.policies, &input),
        warnings,
    })
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
