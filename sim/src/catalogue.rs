//! What the emulated API server serves: each resource's group, version, names and scope, the
//! built-in ones and those that CustomResourceDefinitions add at run time.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

/// One served resource (one group/version/resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    /// Plural, as in the URL.
    pub resource: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// Subresources served: `status`, `scale`, `ephemeralcontainers`, ...
    pub subresources: Vec<String>,
    /// Built in (strategic merge patch, protobuf) as opposed to a custom resource.
    pub builtin: bool,
    /// Categories such as `all` (what `kubectl get all` lists).
    pub categories: Vec<String>,
    /// Only for CRDs: the version's `additionalPrinterColumns`, for tables.
    pub printer_columns: Vec<Value>,
}

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, as in error messages (`deployments.apps "web" not found`).
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    /// The key objects of this resource are stored under: all versions of a group/resource
    /// share storage.
    pub fn storage_key(&self) -> (String, String) {
        (self.group.clone(), self.resource.clone())
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|sub| sub == name)
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    subresources: &'static [&'static str],
    in_all: bool,
}

// One row of the table below: positional arguments keep each row on a line or two.
#[allow(clippy::too_many_arguments)]
const fn builtin(
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    subresources: &'static [&'static str],
    in_all: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        resource,
        kind,
        namespaced,
        short_names,
        subresources,
        in_all,
    }
}

const WORKLOAD_SUBRESOURCES: &[&str] = &["status", "scale"];

/// Every built-in resource the emulator serves (kube-apiserver's names, short names and
/// subresources for them).
const BUILTINS: &[Builtin] = &[
    builtin(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        &["ns"],
        &["status", "finalize"],
        false,
    ),
    builtin(
        "",
        "v1",
        "pods",
        "Pod",
        true,
        &["po"],
        &[
            "status",
            "ephemeralcontainers",
            "binding",
            "eviction",
            "exec",
            "attach",
            "portforward",
        ],
        true,
    ),
    builtin(
        "",
        "v1",
        "services",
        "Service",
        true,
        &["svc"],
        &["status"],
        true,
    ),
    builtin(
        "",
        "v1",
        "endpoints",
        "Endpoints",
        true,
        &["ep"],
        &[],
        false,
    ),
    builtin(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        &["cm"],
        &[],
        false,
    ),
    builtin("", "v1", "secrets", "Secret", true, &[], &[], false),
    builtin(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        &["sa"],
        &["token"],
        false,
    ),
    builtin("", "v1", "events", "Event", true, &["ev"], &[], false),
    // Stored only: no volume is provisioned or bound (nothing here has storage).
    builtin(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        &["status"],
        false,
    ),
    // Stored only: no quota is counted or enforced, no limit applied (no such admission).
    builtin(
        "",
        "v1",
        "resourcequotas",
        "ResourceQuota",
        true,
        &["quota"],
        &["status"],
        false,
    ),
    builtin(
        "",
        "v1",
        "limitranges",
        "LimitRange",
        true,
        &["limits"],
        &[],
        false,
    ),
    builtin(
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        false,
        &["pv"],
        &["status"],
        false,
    ),
    builtin(
        "",
        "v1",
        "nodes",
        "Node",
        false,
        &["no"],
        &["status"],
        false,
    ),
    builtin(
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        true,
        &["rc"],
        WORKLOAD_SUBRESOURCES,
        true,
    ),
    builtin(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        WORKLOAD_SUBRESOURCES,
        true,
    ),
    builtin(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        WORKLOAD_SUBRESOURCES,
        true,
    ),
    builtin(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        &["sts"],
        WORKLOAD_SUBRESOURCES,
        true,
    ),
    builtin(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        true,
        &["ds"],
        &["status"],
        true,
    ),
    builtin("batch", "v1", "jobs", "Job", true, &[], &["status"], true),
    builtin(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        true,
        &["cj"],
        &["status"],
        true,
    ),
    builtin(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        &["status"],
        false,
    ),
    // Leader election (the webhook's audit, client-go's leader election): stored only.
    builtin(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        &[],
        &[],
        false,
    ),
    // Stored only: nothing here enforces it (pods are local processes), as on a cluster whose
    // network plugin does not implement NetworkPolicy.
    builtin(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        &["netpol"],
        &[],
        false,
    ),
    // Written by the EndpointSlice controller (in a cluster), as Endpoints are.
    builtin(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        true,
        &[],
        &[],
        false,
    ),
    // Stored only: no ingress controller runs.
    builtin(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        &["ing"],
        &["status"],
        false,
    ),
    // Create-only reviews, answered by `api::auth_reviews`; nothing is stored.
    builtin(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        false,
        &[],
        &[],
        false,
    ),
    builtin(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        false,
        &[],
        &[],
        false,
    ),
    // One `Local` APIService per served group/version, kept in step by `api::apiservices`.
    builtin(
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "APIService",
        false,
        &[],
        &["status"],
        false,
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        &[],
        &[],
        false,
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        &[],
        &[],
        false,
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
        &[],
        false,
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
        &[],
        false,
    ),
    builtin(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
        &[],
        &[],
        false,
    ),
    builtin(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
        &[],
        &[],
        false,
    ),
    builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        &["status"],
        false,
    ),
];

/// Served resources by (group, version, resource).
type Resources = BTreeMap<(String, String, String), ResourceInfo>;

/// The set of served resources; CRDs add to and remove from it while the server runs.
#[derive(Clone, Debug)]
pub struct Catalogue {
    inner: Arc<RwLock<Resources>>,
}

impl Default for Catalogue {
    fn default() -> Self {
        let mut map = BTreeMap::new();
        for b in BUILTINS {
            let info = ResourceInfo {
                group: b.group.into(),
                version: b.version.into(),
                resource: b.resource.into(),
                singular: b.kind.to_lowercase(),
                kind: b.kind.into(),
                namespaced: b.namespaced,
                short_names: b.short_names.iter().map(|s| s.to_string()).collect(),
                subresources: b.subresources.iter().map(|s| s.to_string()).collect(),
                builtin: true,
                categories: if b.in_all {
                    vec!["all".into()]
                } else {
                    Vec::new()
                },
                printer_columns: Vec::new(),
            };
            map.insert(key(&info.group, &info.version, &info.resource), info);
        }
        Catalogue {
            inner: Arc::new(RwLock::new(map)),
        }
    }
}

/// Resources that only answer `create` (reviews): nothing is stored for them.
pub fn is_create_only(info: &ResourceInfo) -> bool {
    matches!(
        (info.group.as_str(), info.resource.as_str()),
        ("authentication.k8s.io", "selfsubjectreviews")
            | ("authorization.k8s.io", "selfsubjectaccessreviews")
    )
}

fn key(group: &str, version: &str, resource: &str) -> (String, String, String) {
    (group.to_string(), version.to_string(), resource.to_string())
}

impl Catalogue {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Resources> {
        // A poisoned lock only means another request panicked mid-read; the map is still whole.
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Resources> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, group: &str, version: &str, resource: &str) -> Option<ResourceInfo> {
        self.read().get(&key(group, version, resource)).cloned()
    }

    /// The resource of a kind in a group/version (`apps/v1`, `Deployment`).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<ResourceInfo> {
        let (group, version) = split_api_version(api_version);
        self.read()
            .values()
            .find(|info| info.group == group && info.version == version && info.kind == kind)
            .cloned()
    }

    /// Every served resource, sorted by group, version, resource.
    pub fn all(&self) -> Vec<ResourceInfo> {
        self.read().values().cloned().collect()
    }

    /// Every served version of `group`/`resource`, as (group, version, resource).
    pub fn versions_of(&self, group: &str, resource: &str) -> Vec<(String, String, String)> {
        self.read()
            .values()
            .filter(|info| info.group == group && info.resource == resource)
            .map(|info| {
                (
                    info.group.clone(),
                    info.version.clone(),
                    info.resource.clone(),
                )
            })
            .collect()
    }

    /// Served versions of each group, in the order they were registered, the preferred first.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for info in self.read().values() {
            let versions = groups.entry(info.group.clone()).or_default();
            if !versions.contains(&info.version) {
                versions.push(info.version.clone());
            }
        }
        for versions in groups.values_mut() {
            versions.sort_by_key(|version| std::cmp::Reverse(version_priority(version)));
        }
        groups.into_iter().collect()
    }

    pub fn insert(&self, info: ResourceInfo) {
        self.write()
            .insert(key(&info.group, &info.version, &info.resource), info);
    }

    /// Removes every version of a group/resource.
    pub fn remove(&self, group: &str, resource: &str) {
        self.write()
            .retain(|(g, _, r), _| !(g == group && r == resource));
    }
}

pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// Kubernetes' version ordering: GA > beta > alpha, higher numbers first.
fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stage, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (stage, major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_served_with_their_scope() {
        let catalogue = Catalogue::default();
        let deployments = catalogue.get("apps", "v1", "deployments").unwrap();
        assert!(deployments.namespaced);
        assert_eq!(deployments.kind, "Deployment");
        assert_eq!(deployments.qualified_name(), "deployments.apps");
        assert!(!catalogue.get("", "v1", "nodes").unwrap().namespaced);
        assert_eq!(catalogue.by_kind("v1", "Pod").unwrap().resource, "pods");
    }

    #[test]
    fn preferred_version_comes_first() {
        let catalogue = Catalogue::default();
        for version in ["v1alpha1", "v1", "v2beta1"] {
            let mut info = catalogue.get("", "v1", "pods").unwrap();
            info.group = "example.com".into();
            info.version = version.into();
            info.resource = "widgets".into();
            catalogue.insert(info);
        }
        let groups = catalogue.groups();
        let example = groups.iter().find(|(g, _)| g == "example.com").unwrap();
        assert_eq!(example.1, ["v1", "v2beta1", "v1alpha1"]);
    }
}
