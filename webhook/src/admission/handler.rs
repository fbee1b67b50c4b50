//! Answering one AdmissionRequest: the webhook's decision path (architecture.md, "An admission
//! request, end to end"), with the cluster behind a trait so it runs offline in tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use serde_json::value::RawValue;

use super::review::{allow, deny, is_evaluated};
use super::{Assessment, Context, Finding, Subject, assess_update, namespace_labels, unchanged};
use crate::policy::Enforcement;
use crate::policy::evaluate::Verdict;
use crate::policy::explain::why;
use crate::policy::{ContainerAdmissionPolicy, PolicySet, compile_policy};
use crate::quote::{cut, quote};
use crate::scan::ScanSource;
use crate::workload::{ControllerIdentities, Workload, WorkloadKind, controller_reference};

/// A lookup the decision needed but could not make (the API server did not answer in time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

/// What the decision reads from the cluster. Policies and scan data come from watched caches;
/// namespace labels from a cache with a bounded fallback; owners from bounded lookups.
pub trait ClusterView: Send + Sync {
    fn policies(&self) -> Arc<PolicySet>;
    fn scans(&self) -> &dyn ScanSource;
    /// The namespace's labels (without `kubernetes.io/metadata.name`, which is added).
    fn namespace_labels(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, LookupError>> + Send;
    /// Records that an UPDATE of an existing object was refused (an Event on it); nothing by
    /// default.
    fn update_rejected(&self, request: &AdmissionRequest<DynamicObject>, message: &str) {
        let _ = (request, message);
    }
    /// Counts what `Warn` and `Audit` policies would have rejected (metrics); nothing by default.
    fn record_findings(&self, findings: &[Finding]) {
        let _ = findings;
    }
    /// The object a controller reference names, in `namespace`; `Ok(None)` when it does not exist.
    fn owner(
        &self,
        reference: &OwnerReference,
        namespace: &str,
    ) -> impl Future<Output = Result<Option<Workload>, LookupError>> + Send;
}

/// What one review came to, for metrics and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `allowed`, `rejected`, or `skipped` (not a pod-creating request).
    pub decision: &'static str,
    pub kind: String,
}

pub const AUDIT_DECISION: &str = "image-assurance.tigera.io/decision";
pub const AUDIT_RULE: &str = "image-assurance.tigera.io/rule";
/// What `Warn` policies would have rejected (also told to the user as warnings).
pub const AUDIT_WARN: &str = "image-assurance.tigera.io/warn";
/// What `Audit` policies would have rejected.
pub const AUDIT_AUDIT: &str = "image-assurance.tigera.io/audit";

/// How a `Warn` or `Audit` policy's would-be rejection is told: `Warn policy P would reject
/// image "i" (container "c"): rule index 0 of ContainerPolicy P matched: …`.
pub fn finding_text(finding: &Finding) -> String {
    format!(
        "{} policy {} would reject {}",
        finding.enforcement.name(),
        finding.policy,
        finding.why
    )
}

pub struct Admitter<C: ClusterView> {
    pub cluster: C,
    pub identities: ControllerIdentities,
}

/// The object under review: as kube decodes it, or still the JSON text it came in (what the
/// webhook passes: decoded once, straight into the type its kind names).
#[derive(Clone, Copy, Debug)]
pub enum ReviewObject<'a> {
    Dynamic(&'a DynamicObject),
    Text(&'a RawValue),
}

impl ReviewObject<'_> {
    fn workload(self, kind: WorkloadKind) -> Result<Workload, String> {
        match self {
            ReviewObject::Dynamic(object) => {
                let value = serde_json::to_value(object).map_err(|error| error.to_string())?;
                Workload::from_value(kind, &value).map_err(|error| error.to_string())
            }
            ReviewObject::Text(text) => {
                Workload::from_json(kind, text.get()).map_err(|error| error.to_string())
            }
        }
    }
}

impl<C: ClusterView> Admitter<C> {
    /// `/admission-review`: pod-creating resources.
    pub async fn review(
        &self,
        request: &AdmissionRequest<DynamicObject>,
        now: Timestamp,
    ) -> (AdmissionResponse, Outcome) {
        self.review_object(
            request,
            request.object.as_ref().map(ReviewObject::Dynamic),
            now,
        )
        .await
    }

    /// As `review`, with the object given apart from the request (whose `object` is ignored).
    pub async fn review_object(
        &self,
        request: &AdmissionRequest<DynamicObject>,
        object: Option<ReviewObject<'_>>,
        now: Timestamp,
    ) -> (AdmissionResponse, Outcome) {
        let kind_name = request.kind.kind.clone();
        let skipped = |response| {
            (
                response,
                Outcome {
                    decision: "skipped",
                    kind: kind_name.clone(),
                },
            )
        };
        if !is_evaluated(&request.operation) {
            return skipped(allow(request));
        }
        let api_version = request.kind.api_version();
        let Some(kind) = WorkloadKind::from_type(&api_version, &request.kind.kind) else {
            return skipped(allow(request));
        };
        let rejected = |response| {
            (
                response,
                Outcome {
                    decision: "rejected",
                    kind: kind_name.clone(),
                },
            )
        };
        let Some(object) = object else {
            return rejected(deny(
                request,
                400,
                "BadRequest",
                &format!("the {kind} to evaluate is missing from the request"),
            ));
        };
        let workload = match object.workload(kind) {
            Ok(workload) => workload,
            Err(error) => {
                return rejected(deny(
                    request,
                    400,
                    "BadRequest",
                    &format!("cannot evaluate the {kind}: {error}"),
                ));
            }
        };
        // Only an UPDATE's old object matters (policy-semantics §4); kube-apiserver always
        // sends it, and without one every image is evaluated, as on CREATE.
        let old = match (&request.operation, &request.old_object) {
            (Operation::Update, Some(old)) => match ReviewObject::Dynamic(old).workload(kind) {
                Ok(old) => Some(old),
                Err(error) => {
                    return rejected(deny(
                        request,
                        400,
                        "BadRequest",
                        &format!("cannot evaluate the {kind}: field `oldObject`: {error}"),
                    ));
                }
            },
            _ => None,
        };
        let policies = self.cluster.policies();
        let context = Context {
            policies: &policies,
            scans: self.cluster.scans(),
            now,
            identities: &self.identities,
        };
        // An UPDATE that brings no new image needs neither the namespace nor the owner.
        let unchanged = old
            .as_ref()
            .and_then(|old| unchanged(&context, &workload, old));
        let (assessment, lookup_warning) = match unchanged {
            Some(assessment) => (Ok(assessment), None),
            None => {
                let namespace = request.namespace.clone().unwrap_or_default();
                let labels = match self.cluster.namespace_labels(&namespace).await {
                    Ok(labels) => namespace_labels(&namespace, labels),
                    Err(error) => {
                        let message = format!(
                            "cannot evaluate: the labels of namespace {} are unavailable: {error}",
                            quote(&namespace)
                        );
                        return rejected(deny(request, 500, "InternalError", &message));
                    }
                };
                let user = request.user_info.username.clone().unwrap_or_default();
                let (owner, lookup_warning) = self.owner_of(&workload, &namespace, &user).await;
                let subject = Subject {
                    workload: &workload,
                    namespace: &namespace,
                    namespace_labels: &labels,
                    user: &user,
                    owner: owner.as_ref(),
                };
                (
                    assess_update(&context, &subject, old.as_ref()),
                    lookup_warning,
                )
            }
        };
        let Assessment {
            decision,
            mut warnings,
            findings,
        } = match assessment {
            Ok(assessment) => assessment,
            Err(error) => {
                return rejected(deny(
                    request,
                    400,
                    "BadRequest",
                    &format!("cannot evaluate the {kind}: {error}"),
                ));
            }
        };
        warnings.extend(lookup_warning);
        // The denial keeps Calico's wording; the why of each rule's rejection goes beside it.
        warnings.extend(
            decision
                .images
                .iter()
                .filter(|image| image.decision == Verdict::Rejected)
                .filter_map(|image| why(&policies, image)),
        );
        // Each finding is told once: a warning for `Warn`, and the audit annotation of its kind.
        let told: Vec<(Enforcement, String)> = findings
            .iter()
            .map(|finding| (finding.enforcement, finding_text(finding)))
            .collect();
        warnings.extend(
            told.iter()
                .filter(|(enforcement, _)| *enforcement == Enforcement::Warn)
                .map(|(_, text)| text.clone()),
        );
        let mut response = match &decision.message {
            None => allow(request),
            Some(message) => {
                if request.operation == Operation::Update {
                    self.cluster.update_rejected(request, message);
                }
                deny(request, 403, "Forbidden", message)
            }
        };
        response.audit_annotations = audit_annotations(&decision);
        for (enforcement, key) in [
            (Enforcement::Warn, AUDIT_WARN),
            (Enforcement::Audit, AUDIT_AUDIT),
        ] {
            let texts: Vec<&str> = told
                .iter()
                .filter(|(kind, _)| *kind == enforcement)
                .map(|(_, text)| text.as_str())
                .collect();
            if !texts.is_empty() {
                response
                    .audit_annotations
                    .insert(key.to_string(), texts.join("; "));
            }
        }
        self.cluster.record_findings(&findings);
        if !warnings.is_empty() {
            response.warnings = Some(warnings);
        }
        let verdict = if decision.allowed {
            "allowed"
        } else {
            "rejected"
        };
        (
            response,
            Outcome {
                decision: verdict,
                kind: kind_name,
            },
        )
    }

    /// Looks the owner up only when it could matter: a controller reference to a pod-creating
    /// kind on a request from a controller identity (anyone else is evaluated regardless).
    async fn owner_of(
        &self,
        workload: &Workload,
        namespace: &str,
        user: &str,
    ) -> (Option<Workload>, Option<String>) {
        let Some(reference) = controller_reference(workload.metadata()) else {
            return (None, None);
        };
        if !self.identities.contains(user)
            || WorkloadKind::from_type(&reference.api_version, &reference.kind).is_none()
        {
            return (None, None);
        }
        match self.cluster.owner(reference, namespace).await {
            Ok(owner) => (owner, None),
            Err(error) => (
                None,
                Some(format!(
                    "the owner {} {} could not be looked up: {error}",
                    cut(&reference.kind),
                    quote(&reference.name)
                )),
            ),
        }
    }

    /// `/validate-policy`: refuses a ContainerAdmissionPolicy the engine could not evaluate,
    /// naming the field and, for selectors, the position.
    pub fn validate_policy(
        &self,
        request: &AdmissionRequest<DynamicObject>,
    ) -> (AdmissionResponse, Outcome) {
        let outcome = |decision| Outcome {
            decision,
            kind: request.kind.kind.clone(),
        };
        if !is_evaluated(&request.operation) {
            return (allow(request), outcome("skipped"));
        }
        let Some(object) = &request.object else {
            return (
                deny(
                    request,
                    400,
                    "BadRequest",
                    "the ContainerAdmissionPolicy is missing from the request",
                ),
                outcome("rejected"),
            );
        };
        let decoded = serde_json::to_value(object)
            .map_err(|error| error.to_string())
            .and_then(|value| {
                serde_path_to_error::deserialize::<_, ContainerAdmissionPolicy>(&value)
                    .map_err(|error| format!("field `{}`: {}", error.path(), error.inner()))
            });
        let result = decoded.and_then(|policy| {
            compile_policy(&policy)
                .map(|_| ())
                .map_err(|error| error.to_string())
        });
        match result {
            Ok(()) => (allow(request), outcome("allowed")),
            Err(message) => (deny(request, 422, "Invalid", &message), outcome("rejected")),
        }
    }
}

fn audit_annotations(decision: &crate::policy::Decision) -> HashMap<String, String> {
    let mut annotations = HashMap::new();
    let verdict = if decision.allowed {
        "allowed"
    } else {
        "rejected"
    };
    annotations.insert(AUDIT_DECISION.to_string(), verdict.to_string());
    // Else the first image's reason: an image allowed without a rule (unchanged since
    // admitted, an approved child, the default allow) says why.
    let deciding = decision
        .images
        .iter()
        .find(|image| image.decision == Verdict::Rejected)
        .or_else(|| decision.images.iter().find(|image| image.policy.is_some()))
        .or_else(|| decision.images.first());
    if let Some(image) = deciding {
        let rule = match (&image.policy, image.rule_index) {
            (Some(policy), Some(index)) => format!("ContainerPolicy {policy} rule index {index}"),
            (Some(policy), None) => format!("ContainerPolicy {policy}"),
            _ => image.explain().to_string(),
        };
        annotations.insert(AUDIT_RULE.to_string(), format!("{}: {rule}", image.image));
    }
    annotations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::NoScanData;
    use serde_json::json;

    struct FakeCluster {
        policies: Arc<PolicySet>,
        owners: Vec<Workload>,
        namespaces: BTreeMap<String, BTreeMap<String, String>>,
    }

    impl ClusterView for FakeCluster {
        fn policies(&self) -> Arc<PolicySet> {
            self.policies.clone()
        }

        fn scans(&self) -> &dyn ScanSource {
            &NoScanData
        }

        async fn namespace_labels(
            &self,
            namespace: &str,
        ) -> Result<BTreeMap<String, String>, LookupError> {
            self.namespaces
                .get(namespace)
                .cloned()
                .ok_or_else(|| LookupError(format!("namespaces {namespace:?} not found")))
        }

        async fn owner(
            &self,
            reference: &OwnerReference,
            _namespace: &str,
        ) -> Result<Option<Workload>, LookupError> {
            Ok(self
                .owners
                .iter()
                .find(|o| o.metadata().name.as_deref() == Some(&reference.name))
                .cloned())
        }
    }

    fn deny_all() -> Arc<PolicySet> {
        let policy: ContainerAdmissionPolicy = serde_json::from_value(json!({
            "apiVersion": "containersecurity.tigera.io/v1beta1", "kind": "ContainerAdmissionPolicy",
            "metadata": {"name": "deny-all"}, "spec": {"order": 1, "rules": [{"action": "Reject"}]},
        }))
        .unwrap();
        Arc::new(PolicySet::compile([&policy]))
    }

    fn admitter(owners: Vec<Workload>) -> Admitter<FakeCluster> {
        Admitter {
            cluster: FakeCluster {
                policies: deny_all(),
                owners,
                namespaces: BTreeMap::from([("team-a".to_string(), BTreeMap::new())]),
            },
            identities: ControllerIdentities::default(),
        }
    }

    fn request(
        object: serde_json::Value,
        kind: (&str, &str, &str),
        user: &str,
        operation: &str,
    ) -> AdmissionRequest<DynamicObject> {
        let review = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u-1", "kind": {"group": kind.0, "version": kind.1, "kind": kind.2},
                "resource": {"group": kind.0, "version": kind.1, "resource": "x"},
                "name": "n", "namespace": "team-a", "operation": operation,
                "userInfo": {"username": user}, "object": object, "dryRun": false,
            },
        });
        super::super::review::read_request(&review).unwrap()
    }

    fn pod(image: &str) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a"}, "spec": {"containers": [{"name": "c", "image": image}]}})
    }

    fn now() -> Timestamp {
        "2026-11-26T12:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn a_rejected_pod_gets_403_with_calicos_message_and_audit_annotations() {
        let admitter = admitter(Vec::new());
        let (response, outcome) = admitter
            .review(
                &request(pod("nginx"), ("", "v1", "Pod"), "jane", "CREATE"),
                now(),
            )
            .await;
        assert!(!response.allowed);
        assert_eq!(response.uid, "u-1");
        assert_eq!(response.result.code, 403);
        assert_eq!(
            response.result.message,
            "image \"nginx\" (container \"c\"): Action 'Reject' enforced by ContainerPolicy deny-all rule index 0"
        );
        assert_eq!(response.audit_annotations[AUDIT_DECISION], "rejected");
        assert_eq!(
            response.audit_annotations[AUDIT_RULE],
            "nginx: ContainerPolicy deny-all rule index 0"
        );
        assert_eq!(
            outcome,
            Outcome {
                decision: "rejected",
                kind: "Pod".into()
            }
        );
    }

    #[tokio::test]
    async fn an_object_given_as_text_is_decided_as_the_decoded_one() {
        let admitter = admitter(Vec::new());
        let mut malformed = pod("nginx");
        malformed["spec"]["containers"] = json!("nginx");
        for object in [pod("nginx"), pod("Nginx Latest"), malformed] {
            let request = request(object.clone(), ("", "v1", "Pod"), "jane", "CREATE");
            let text = serde_json::value::to_raw_value(&object).unwrap();
            let (decoded, _) = admitter.review(&request, now()).await;
            let (textual, _) = admitter
                .review_object(&request, Some(ReviewObject::Text(&text)), now())
                .await;
            assert_eq!(
                serde_json::to_value(&textual).unwrap(),
                serde_json::to_value(&decoded).unwrap()
            );
        }
        let (missing, _) = admitter
            .review_object(
                &request(pod("nginx"), ("", "v1", "Pod"), "jane", "CREATE"),
                None,
                now(),
            )
            .await;
        assert!(!missing.allowed);
        assert!(
            missing.result.message.contains("missing"),
            "{}",
            missing.result.message
        );
    }

    #[tokio::test]
    async fn kinds_and_operations_that_create_no_containers_are_allowed() {
        let admitter = admitter(Vec::new());
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}});
        let (response, outcome) = admitter
            .review(
                &request(service, ("", "v1", "Service"), "jane", "CREATE"),
                now(),
            )
            .await;
        assert!(response.allowed);
        assert_eq!(outcome.decision, "skipped");
        let (response, _) = admitter
            .review(
                &request(json!(null), ("", "v1", "Pod"), "jane", "DELETE"),
                now(),
            )
            .await;
        assert!(response.allowed);
    }

    #[tokio::test]
    async fn an_undecodable_pod_is_rejected_never_allowed() {
        let admitter = admitter(Vec::new());
        let bad = pod("Nginx Latest");
        let (response, _) = admitter
            .review(&request(bad, ("", "v1", "Pod"), "jane", "CREATE"), now())
            .await;
        assert!(!response.allowed);
        assert!(
            response.result.message.contains("spec.containers[0].image"),
            "{}",
            response.result.message
        );
    }

    #[tokio::test]
    async fn a_controller_created_child_of_an_existing_owner_is_admitted() {
        let owner = Workload::from_value(
            WorkloadKind::ReplicaSet,
            &json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "team-a", "uid": "rs-uid"},
                    "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        )
        .unwrap();
        let admitter = admitter(vec![owner]);
        let mut child = pod("nginx");
        child["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "rs-uid", "controller": true}]);
        let controller = "system:serviceaccount:kube-system:replicaset-controller";
        let (response, _) = admitter
            .review(
                &request(child.clone(), ("", "v1", "Pod"), controller, "CREATE"),
                now(),
            )
            .await;
        assert!(response.allowed, "{}", response.result.message);
        // The same pod from a person is evaluated: the normal path, so without a warning.
        let (response, _) = admitter
            .review(&request(child, ("", "v1", "Pod"), "jane", "CREATE"), now())
            .await;
        assert!(!response.allowed);
        // No child-check warning; only the why of the rejection.
        let warnings = response.warnings.unwrap_or_default();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("rule index 0 of ContainerPolicy")
                && warnings[0].contains(" matched: "),
            "{warnings:?}"
        );
    }

    /// An UPDATE as the webhook receives it: JSON text, read by `read_request_text`.
    async fn review_update(
        admitter: &Admitter<FakeCluster>,
        old: serde_json::Value,
        new: serde_json::Value,
        namespace: &str,
    ) -> (AdmissionResponse, Outcome) {
        let body = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u-2", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "name": "p", "namespace": namespace, "operation": "UPDATE",
                "userInfo": {"username": "jane"}, "object": new, "oldObject": old,
            },
        })
        .to_string();
        let text = super::super::review::read_request_text(body.as_bytes()).unwrap();
        admitter
            .review_object(&text.request, text.object.map(ReviewObject::Text), now())
            .await
    }

    #[tokio::test]
    async fn an_update_that_changes_no_image_is_allowed_without_looking_anything_up() {
        let admitter = admitter(Vec::new());
        let old = pod("nginx");
        let mut new = old.clone();
        new["metadata"]["labels"] = json!({"quarantine": "true"});
        // Namespace "ghost" is unknown: a lookup would fail closed.
        let (response, outcome) = review_update(&admitter, old, new, "ghost").await;
        assert!(response.allowed, "{}", response.result.message);
        assert_eq!(outcome.decision, "allowed");
        assert_eq!(
            response.audit_annotations[AUDIT_RULE],
            "nginx: unchanged since admitted"
        );
    }

    #[tokio::test]
    async fn an_update_judges_only_the_images_it_brings() {
        let admitter = admitter(Vec::new());
        let old = pod("nginx");
        let mut new = old.clone();
        new["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]);
        let (response, _) = review_update(&admitter, old.clone(), new, "team-a").await;
        assert!(!response.allowed);
        assert_eq!(
            response.result.message,
            "image \"busybox\" (container \"debug\"): Action 'Reject' enforced by ContainerPolicy deny-all rule index 0"
        );
        // Without an old object every image is new, as on CREATE.
        let (response, _) = review_update(&admitter, json!(null), old, "team-a").await;
        assert!(!response.allowed);
    }

    #[tokio::test]
    async fn an_unreadable_old_object_is_refused_naming_it() {
        let admitter = admitter(Vec::new());
        let mut old = pod("nginx");
        old["spec"]["containers"] = json!("nginx");
        let (response, _) = review_update(&admitter, old, pod("nginx"), "team-a").await;
        assert!(!response.allowed);
        assert_eq!(response.result.code, 400);
        assert!(
            response.result.message.contains("field `oldObject`")
                && response.result.message.contains("spec.containers"),
            "{}",
            response.result.message
        );
    }

    #[tokio::test]
    async fn unknown_namespace_labels_fail_closed() {
        let admitter = admitter(Vec::new());
        let mut elsewhere = request(pod("nginx"), ("", "v1", "Pod"), "jane", "CREATE");
        elsewhere.namespace = Some("ghost".into());
        let (response, _) = admitter.review(&elsewhere, now()).await;
        assert!(!response.allowed);
        assert!(response.result.message.contains("namespace \"ghost\""));
    }

    #[tokio::test]
    async fn a_v1beta1_review_is_answered_in_v1beta1() {
        let admitter = admitter(Vec::new());
        let review = json!({
            "apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
            "request": {
                "uid": "u-beta", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "name": "p", "namespace": "team-a", "operation": "CREATE",
                "userInfo": {"username": "jane"}, "object": pod("nginx"),
            },
        });
        let request = super::super::review::read_request(&review).unwrap();
        let (response, _) = admitter.review(&request, now()).await;
        let answered: serde_json::Value =
            serde_json::from_slice(&super::super::review::review_json(response)).unwrap();
        assert_eq!(answered["apiVersion"], "admission.k8s.io/v1beta1");
        assert_eq!(answered["kind"], "AdmissionReview");
        assert_eq!(answered["response"]["uid"], "u-beta");
        assert_eq!(answered["response"]["allowed"], false);
    }

    #[test]
    fn invalid_policies_are_refused_naming_field_and_position() {
        let admitter = admitter(Vec::new());
        let policy = json!({"apiVersion": "containersecurity.tigera.io/v1beta1", "kind": "ContainerAdmissionPolicy",
                            "metadata": {"name": "bad"}, "spec": {"selector": "a = 'b'", "rules": [{"action": "Reject"}]}});
        let (response, _) = admitter.validate_policy(&request(
            policy,
            (
                "containersecurity.tigera.io",
                "v1beta1",
                "ContainerAdmissionPolicy",
            ),
            "jane",
            "CREATE",
        ));
        assert!(!response.allowed);
        assert!(
            response.result.message.contains("spec.selector")
                && response.result.message.contains("position 2"),
            "{}",
            response.result.message
        );
        let good = json!({"apiVersion": "containersecurity.tigera.io/v1beta1", "kind": "ContainerAdmissionPolicy",
                          "metadata": {"name": "good"}, "spec": {"rules": [{"action": "Reject"}]}});
        let (response, _) = admitter.validate_policy(&request(
            good,
            (
                "containersecurity.tigera.io",
                "v1beta1",
                "ContainerAdmissionPolicy",
            ),
            "jane",
            "CREATE",
        ));
        assert!(response.allowed);
    }
}
