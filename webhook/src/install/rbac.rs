//! The webhook's identity and permissions: read-only, and only the requests the server makes
//! (webhook/src/server/caches.rs). It never writes to the cluster, so a compromised webhook can
//! deny admissions but change nothing, and it reads no CRD but the one it looks for.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{CLUSTER_ROLE_NAME, SERVICE_ACCOUNT_NAME, app_labels};

/// The CRD whose presence decides whether VulnerabilityReports are a scan source; the server
/// GETs it by this name (and only it) until it appears.
pub const VULNERABILITY_REPORTS_CRD: &str = "vulnerabilityreports.aquasecurity.github.io";

/// A reflector: one LIST, then a WATCH; it never GETs single objects.
const REFLECT: [&str; 2] = ["list", "watch"];
/// Namespaces are reflected too, and a namespace missing from the cache (created a moment ago)
/// is fetched once by name.
const REFLECT_AND_GET: [&str; 3] = ["get", "list", "watch"];
/// Owners fetched on demand when deciding whether a child was created by an admitted controller
/// (policy-semantics §5): one object at a time, by name.
const GET: [&str; 1] = ["get"];

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
            // the one named (policy-semantics §5, condition 1).
            rule("", &["pods", "replicationcontrollers"], &GET),
            rule(
                "apps",
                &["deployments", "replicasets", "statefulsets", "daemonsets"],
                &GET,
            ),
            rule("batch", &["jobs", "cronjobs"], &GET),
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

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}
