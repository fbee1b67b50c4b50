//! The `ContainerAdmissionPolicy` custom resource, as Calico Cloud defines it
//! (`containersecurity.tigera.io/v1beta1`, cluster-scoped), so that policies written for Calico
//! Cloud apply unchanged. Enumerated fields are Rust enums: the generated OpenAPI schema then
//! carries `enum`s and `kubectl apply` refuses misspellings.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scan::ScanStatus;

/// Admits or rejects pod-creating resources by the images they would run.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "containersecurity.tigera.io",
    version = "v1beta1",
    kind = "ContainerAdmissionPolicy",
    plural = "containeradmissionpolicies",
    singular = "containeradmissionpolicy",
    shortname = "cap",
    status = "ContainerAdmissionPolicyStatus",
    doc = "Admits or rejects pod-creating resources (Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers) by the images their containers would run: the image's registry and repository path, its vulnerability scan status and how recently it was scanned. Policies are applied in `order`; the first rule that matches an image decides it; `enforcement` says whether a rejection is enforced, only warned about, or only audited.",
    printcolumn = r#"{"name":"Order","type":"number","jsonPath":".spec.order"}"#,
    printcolumn = r#"{"name":"Enforcement","type":"string","jsonPath":".spec.enforcement"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Violations","type":"integer","jsonPath":".status.violations"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerAdmissionPolicySpec {
    /// Precedence: policies with a lower order are applied first; policies without one come
    /// after all that have one, ties broken by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<f64>,
    /// Calico selector over the labels of the pod-creating resource itself. Default `all()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Calico selector over the labels of the resource's namespace. Default `all()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<String>,
    /// Ordered list of rules: the first rule whose criteria all match an image decides it.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// `Enforce` (the default): rejections are enforced. `Warn`: the policy never changes a
    /// decision; what it would reject is told to the user as an admission warning and recorded
    /// in the audit annotation, metrics and policy reports. `Audit`: only recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<Enforcement>,
}

/// Whether a policy's rejections are enforced.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum Enforcement {
    #[default]
    Enforce,
    Warn,
    Audit,
}

impl Enforcement {
    pub fn name(self) -> &'static str {
        match self {
            Enforcement::Enforce => "Enforce",
            Enforcement::Warn => "Warn",
            Enforcement::Audit => "Audit",
        }
    }
}

/// What the webhook reports of a policy (written by the replica holding the audit lease).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerAdmissionPolicyStatus {
    /// `Ready`: `True` when the policy compiled and is applied, `False` with the error (reason
    /// `Invalid`) when it is not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Running workloads whose images the policy would reject, at the last audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<i64>,
    /// When `violations` was counted (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations_counted_at: Option<String>,
}

/// `metav1.Condition`'s schema, as Kubernetes publishes it (k8s-openapi's `Condition` has no
/// `JsonSchema` without its `schemars` feature, which would compile schemas for every type).
fn conditions_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "required": ["type", "status", "lastTransitionTime", "reason", "message"],
            "properties": {
                "type": {"type": "string", "maxLength": 316},
                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
                "lastTransitionTime": {"type": "string", "format": "date-time"},
                "reason": {"type": "string", "maxLength": 1024, "minLength": 1},
                "message": {"type": "string", "maxLength": 32768},
            },
        },
        "x-kubernetes-list-map-keys": ["type"],
        "x-kubernetes-list-type": "map",
    })
}

/// One rule: an action and the criteria (ANDed) an image must meet for the action to apply.
/// A rule without criteria matches every image.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub action: Action,
    /// Regular expressions matched (unanchored) against the normalised image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_path: Option<StringValueMatch<String>>,
    /// The image's vulnerability scan status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_scan_status: Option<StringValueMatch<ScanStatus>>,
    /// When the image was last scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_last_scan: Option<TimeMatch>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Action {
    Allow,
    Reject,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SetOperator {
    IsOneOf,
    IsNoneOf,
}

/// A match or negative match of a target against a set of values.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StringValueMatch<T> {
    pub operator: SetOperator,
    pub values: Vec<T>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimeOperator {
    Gt,
    Lt,
}

/// Compares the image's last scan time with `now − duration` or with an absolute `time`
/// (exactly one of the two).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeMatch {
    pub operator: TimeOperator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<CalendarDuration>,
    /// RFC 3339 time, e.g. `2022-01-02T00:00:00Z` (a one-digit hour is accepted, as in Go).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// A length of time into the past from now, in calendar units.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarDuration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub months: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub years: Option<i64>,
}

/// The CustomResourceDefinition as YAML, generated from the types above (what
/// `image-assurance crd` prints and `webhook/deploy/crd.yaml` must equal).
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    use kube::CustomResourceExt;
    let yaml = serde_saphyr::to_string(&ContainerAdmissionPolicy::crd())?;
    Ok(format!(
        "# Generated by `image-assurance crd` (cargo xtask crd). Do not edit.\n---\n{yaml}"
    ))
}
