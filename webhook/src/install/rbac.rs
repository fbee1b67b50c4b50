//! The webhook's identity and permissions: read-only, and only what its caches and the owner
//! check read. It never writes to the cluster, so a compromised webhook can deny admissions
//! but change nothing.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{CLUSTER_ROLE_NAME, SERVICE_ACCOUNT_NAME, app_labels};

/// Verbs for what the webhook keeps in watched caches.
const WATCH: [&str; 3] = ["get", "list", "watch"];
/// Verbs for owners fetched on demand when deciding whether a child was created by an admitted
/// controller (policy-semantics §5): one object at a time, by name.
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
                &WATCH,
            ),
            rule("", &["namespaces"], &WATCH),
            // Trivy operator scan results, one scan source.
            rule("aquasecurity.github.io", &["vulnerabilityreports"], &WATCH),
            // Whether the VulnerabilityReport CRD is installed decides if that source is used.
            rule(
                "apiextensions.k8s.io",
                &["customresourcedefinitions"],
                &WATCH,
            ),
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
