//! `wgpolicyk8s.io/v1alpha2` `PolicyReport`, the Policy WG's report format that Kyverno writes
//! and Policy Reporter (and its UI) reads: the fields here are the ones the upstream CRD
//! (wg-policy-prototypes `wgpolicyk8s.io_policyreports.yaml`) defines, with its enums, so a
//! cluster that already has that CRD (Kyverno installed) stores our reports unchanged, and our
//! CRD stores Kyverno's.
//!
//! The report's properties sit at the top level of the object (no `spec`), as upstream's do.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "wgpolicyk8s.io";
pub const VERSION: &str = "v1alpha2";
/// The `source` of every result we write: what Policy Reporter groups and filters by.
pub const SOURCE: &str = "image-assurance";

/// The results of policies applied to the resources of one namespace.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "wgpolicyk8s.io",
    version = "v1alpha2",
    kind = "PolicyReport",
    plural = "policyreports",
    singular = "policyreport",
    shortname = "polr",
    namespaced,
    no_spec,
    derive = "PartialEq",
    derive = "Default",
    doc = "PolicyReport is the Schema for the policyreports API (wgpolicyk8s.io, the Kubernetes Policy Working Group's report format)",
    printcolumn = r#"{"name":"Pass","type":"integer","jsonPath":".summary.pass"}"#,
    printcolumn = r#"{"name":"Fail","type":"integer","jsonPath":".summary.fail"}"#,
    printcolumn = r#"{"name":"Warn","type":"integer","jsonPath":".summary.warn"}"#,
    printcolumn = r#"{"name":"Error","type":"integer","jsonPath":".summary.error"}"#,
    printcolumn = r#"{"name":"Skip","type":"integer","jsonPath":".summary.skip"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReportFields {
    /// An optional reference to the report's scope (e.g. a Deployment); none: the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ObjectReference>,
    /// A summary of the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<PolicyReportSummary>,
    /// The results of the policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<PolicyReportResult>,
}

/// How many results of each kind the report holds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PolicyReportSummary {
    /// Results whose policy requirements were met.
    #[serde(default)]
    pub pass: i64,
    /// Results whose policy requirements were not met.
    #[serde(default)]
    pub fail: i64,
    /// Results of non-scored policies whose requirements were not met.
    #[serde(default)]
    pub warn: i64,
    /// Results of policies that could not be evaluated.
    #[serde(default)]
    pub error: i64,
    /// Results of policies that were not selected for evaluation.
    #[serde(default)]
    pub skip: i64,
}

/// The result of one policy rule for the resources it names.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReportResult {
    /// The name or identifier of the policy.
    pub policy: String,
    /// The name or identifier of the rule within the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The outcome of the policy rule execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "result_schema")]
    pub result: Option<ResultKind>,
    /// A short user-friendly message for the policy rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The policy engine that manages this report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Whether this result is scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored: Option<bool>,
    /// The criticality of the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "severity_schema")]
    pub severity: Option<Severity>,
    /// The policy category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// When the result was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<ResultTimestamp>,
    /// The checked resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ObjectReference>,
    /// Additional information about the result.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// Upstream's schema: a string enum that may be absent (an `Option` would also allow `null`).
fn result_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "The outcome of the policy rule execution.",
        "type": "string",
        "enum": ["pass", "fail", "warn", "error", "skip"],
    })
}

fn severity_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "The criticality of the result.",
        "type": "string",
        "enum": ["critical", "high", "low", "medium", "info"],
    })
}

/// `result`: upstream's enum.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResultKind {
    Pass,
    Fail,
    Warn,
    Error,
    Skip,
}

/// `severity`: upstream's enum.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Low,
    Medium,
    Info,
}

/// A protobuf `Timestamp`, as upstream's schema has it (not an RFC 3339 string).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ResultTimestamp {
    /// Seconds of UTC time since the Unix epoch.
    pub seconds: i64,
    /// Non-negative fractions of a second at nanosecond resolution (0 to 999,999,999).
    #[schemars(range(min = 0, max = 999_999_999))]
    pub nanos: i32,
}

impl ResultTimestamp {
    pub fn from_timestamp(time: jiff::Timestamp) -> Self {
        ResultTimestamp {
            seconds: time.as_second(),
            nanos: time.subsec_nanosecond().max(0),
        }
    }
}

/// `corev1.ObjectReference` as the upstream schema lists it. k8s-openapi's `ObjectReference`
/// has the same fields but no `JsonSchema`, which the CRD is generated from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn the_crd_is_upstreams_group_version_and_shape() {
        let crd = PolicyReport::crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("policyreports.wgpolicyk8s.io")
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.short_names, Some(vec!["polr".to_string()]));
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha2");
        let schema = serde_json::to_value(&version.schema).unwrap();
        let properties = &schema["openAPIV3Schema"]["properties"];
        // The report's fields are top-level, as upstream's: no `spec`.
        assert!(properties.get("spec").is_none(), "{properties}");
        let result = &properties["results"]["items"]["properties"];
        assert_eq!(
            result["result"]["enum"],
            serde_json::json!(["pass", "fail", "warn", "error", "skip"])
        );
        assert_eq!(
            result["timestamp"]["properties"]["seconds"]["format"],
            "int64"
        );
        assert_eq!(
            properties["summary"]["properties"]["fail"]["type"],
            "integer"
        );
    }

    #[test]
    fn a_result_serializes_in_the_wire_format() {
        let result = PolicyReportResult {
            policy: "p".into(),
            rule: Some("rules[0]".into()),
            result: Some(ResultKind::Fail),
            source: Some(SOURCE.into()),
            timestamp: Some(ResultTimestamp::from_timestamp(
                jiff::Timestamp::from_second(1_800_000_000).unwrap(),
            )),
            resources: vec![ObjectReference {
                api_version: Some("apps/v1".into()),
                kind: Some("Deployment".into()),
                name: Some("web".into()),
                namespace: Some("team-a".into()),
                ..ObjectReference::default()
            }],
            ..PolicyReportResult::default()
        };
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            serde_json::json!({
                "policy": "p", "rule": "rules[0]", "result": "fail", "source": "image-assurance",
                "timestamp": {"seconds": 1_800_000_000, "nanos": 0},
                "resources": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "team-a"}],
            })
        );
    }
}
