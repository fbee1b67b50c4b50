//! The webhook's identity and permissions: only the requests the server makes
//! (webhook/src/server/caches.rs, and the audit's webhook/src/server/audit_task.rs). Admission
//! itself only reads. The audit writes only its own things: PolicyReports, the status
//! subresource of ContainerAdmissionPolicies (never their spec), and its Lease, in the
//! webhook's own namespace only. It reads no CRD but the one it looks for.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{CLUSTER_ROLE_NAME, SERVICE_ACCOUNT_NAME, WEBHOOK_CONFIGURATION_NAME, app_labels};

/// The CRD whose presence decides whether VulnerabilityReports are a scan source; the server
/// GETs it by this name (and only it) until it appears.
pub const VULNERABILITY_REPORTS_CRD: &str = "vulnerabilityreports.aquasecurity.github.io";

/// A reflector: one LIST, then a WATCH; it never GETs single objects.
const REFLECT: [&str; 2] = ["list", "watch"];
/// Namespaces are reflected too, and a namespace missing from the cache (created a moment ago)
/// is fetched once by name.
const REFLECT_AND_GET: [&str; 3] = ["get", "list", "watch"];
/// The one ValidatingWebhookConfiguration whose namespaceSelector the audit reads, and the
/// webhook's own CRD check.
const GET: [&str; 1] = ["get"];
/// Owners fetched on demand when deciding whether a child was created by an admitted controller
/// (policy-semantics §5), and every pod-creating object listed by the audit.
const GET_AND_LIST: [&str; 3] = ["get", "list", "watch"];
/// The audit's PolicyReports: listed to find the stale ones, applied, deleted when empty.
const REPORTS: [&str; 6] = ["get", "list", "create", "update", "patch", "delete"];
/// A policy's status, written by the audit's lease holder.
const STATUS: [&str; 2] = ["update", "patch"];
/// The audit Lease (client-go's leader election: get, create, update).
const LEASE: [&str; 3] = ["get", "create", "update"];

pub fn service_account(namespace: &str) -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(SERVICE_ACCOUNT_NAME.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(app_labels()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    }
}

pub fn cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(CLUSTER_ROLE_NAME.to_string()),
            labels: Some(app_labels()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![
            rule(
                "containersecurity.tigera.io",
                &["containeradmissionpolicies"],
                &REFLECT,
            ),
            rule("", &["namespaces"], &REFLECT_AND_GET),
            // Trivy operator scan results, one scan source.
            rule(
                "aquasecurity.github.io",
                &["vulnerabilityreports"],
                &REFLECT,
            ),
            // Only whether the VulnerabilityReport CRD exists: a GET of that one name. Every
            // other CRD stays unreadable (their schemas can describe what else runs here).
            PolicyRule {
                resource_names: Some(vec![VULNERABILITY_REPORTS_CRD.to_string()]),
                ..rule("apiextensions.k8s.io", &["customresourcedefinitions"], &GET)
            },
            // Every pod-creating kind may be named as a controller owner; the server fetches
            // the one named (policy-semantics §5, condition 1). The audit lists them all.
            rule("", &["pods", "replicationcontrollers"], &GET_AND_LIST),
            rule(
                "apps",
                &["deployments", "replicasets", "statefulsets", "daemonsets"],
                &GET_AND_LIST,
            ),
            rule("batch", &["jobs", "cronjobs"], &GET_AND_LIST),
            // The audit's results: one PolicyReport per namespace with violations.
            rule("wgpolicyk8s.io", &["policyreports"], &REPORTS),
            // Each policy's Ready condition and violation count.
            rule(
                "containersecurity.tigera.io",
                &["containeradmissionpolicies/status"],
                &STATUS,
            ),
            // A refused UPDATE is recorded as an Event on the object, in its namespace.
            rule("", &["events"], &["create"]),
            // Which namespaces the webhook covers, from its own configuration only.
            PolicyRule {
                resource_names: Some(vec![WEBHOOK_CONFIGURATION_NAME.to_string()]),
                ..rule(
                    "admissionregistration.k8s.io",
                    &["validatingwebhookconfigurations"],
                    &GET,
                )
            },
        ]),
        aggregation_rule: None,
    }
}

pub fn cluster_role_binding(namespace: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(CLUSTER_ROLE_NAME.to_string()),
            labels: Some(app_labels()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "ClusterRole".to_string(),
            name: CLUSTER_ROLE_NAME.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: SERVICE_ACCOUNT_NAME.to_string(),
            namespace: Some(namespace.to_string()),
            api_group: None,
        }]),
    }
}

/// The audit Lease, in the webhook's namespace only: a Role, not a ClusterRole, so the webhook
/// can take no other controller's lease.
pub fn lease_role(namespace: &str) -> Role {
    Role {
        metadata: ObjectMeta {
            name: Some(CLUSTER_ROLE_NAME.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(app_labels()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![rule("coordination.k8s.io", &["leases"], &LEASE)]),
    }
}

pub fn lease_role_binding(namespace: &str) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(CLUSTER_ROLE_NAME.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(app_labels()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "Role".to_string(),
            name: CLUSTER_ROLE_NAME.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: SERVICE_ACCOUNT_NAME.to_string(),
            namespace: Some(namespace.to_string()),
            api_group: None,
        }]),
    }
}

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}
