//! An audit's violations as PolicyReports, one per namespace, in the format Kyverno writes:
//! one result per rejected image of an object, `fail` for `Enforce` and `Audit` policies (what
//! Kyverno's audit mode reports) and `warn` for `Warn` ones, the object in `resources`.
//!
//! A violation already reported keeps the timestamp it was first found at, so a report whose
//! violations did not change is the same object, and is not rewritten at every audit.

use std::collections::{BTreeMap, HashMap};

use kube::api::ObjectMeta;

use super::policy_report::{
    ObjectReference, PolicyReport, PolicyReportFields, PolicyReportResult, PolicyReportSummary,
    ResultKind, ResultTimestamp, SOURCE,
};
use super::{ObjectError, Violation};
use crate::policy::Enforcement;
use crate::workload::WorkloadKind;

/// Every namespace's report has this name.
pub const REPORT_NAME: &str = "image-assurance";
/// The label that marks the reports we own (and may delete).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "image-assurance";
/// `category` of every result (Policy Reporter groups by it).
pub const CATEGORY: &str = "Image Assurance";
/// `policy` of a result for an object whose images do not parse: no policy decided it, the
/// webhook rejects such an object outright.
pub const UNPARSABLE_POLICY: &str = "image-reference";

/// `rule` of a result: the rule's place in `spec.rules`.
pub fn rule_name(rule_index: Option<usize>) -> Option<String> {
    rule_index.map(|index| format!("rules[{index}]"))
}

/// The result kind of a violation of a policy with this enforcement.
pub fn result_kind(enforcement: Enforcement) -> ResultKind {
    match enforcement {
        Enforcement::Enforce | Enforcement::Audit => ResultKind::Fail,
        Enforcement::Warn => ResultKind::Warn,
    }
}

fn reference(
    api_version: &str,
    kind: WorkloadKind,
    name: &str,
    namespace: &str,
    uid: Option<&str>,
) -> ObjectReference {
    ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(kind.name().to_string()),
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        uid: uid.map(str::to_string),
        ..ObjectReference::default()
    }
}

/// The results of every namespace with a violation or an error, sorted (by object, then
/// container, then policy), all stamped `now`.
pub fn results_by_namespace(
    violations: &[Violation],
    errors: &[ObjectError],
    now: jiff::Timestamp,
) -> BTreeMap<String, Vec<PolicyReportResult>> {
    let timestamp = Some(ResultTimestamp::from_timestamp(now));
    let mut by_namespace: BTreeMap<String, Vec<PolicyReportResult>> = BTreeMap::new();
    for violation in violations {
        let properties = BTreeMap::from([
            ("container".to_string(), violation.container.clone()),
            ("image".to_string(), violation.image.clone()),
            (
                "scanStatus".to_string(),
                violation.status.as_str().to_string(),
            ),
            (
                "enforcement".to_string(),
                violation.enforcement.name().to_string(),
            ),
        ]);
        by_namespace
            .entry(violation.namespace.clone())
            .or_default()
            .push(PolicyReportResult {
                policy: violation.policy.clone(),
                rule: rule_name(violation.rule_index),
                result: Some(result_kind(violation.enforcement)),
                message: Some(violation.message.clone()),
                source: Some(SOURCE.to_string()),
                scored: Some(true),
                severity: None,
                category: Some(CATEGORY.to_string()),
                timestamp,
                resources: vec![reference(
                    &violation.api_version,
                    violation.kind,
                    &violation.name,
                    &violation.namespace,
                    violation.uid.as_deref(),
                )],
                properties,
            });
    }
    for error in errors {
        by_namespace
            .entry(error.namespace.clone())
            .or_default()
            .push(PolicyReportResult {
                policy: UNPARSABLE_POLICY.to_string(),
                result: Some(ResultKind::Error),
                message: Some(error.error.clone()),
                source: Some(SOURCE.to_string()),
                scored: Some(true),
                category: Some(CATEGORY.to_string()),
                timestamp,
                resources: vec![reference(
                    &error.api_version,
                    error.kind,
                    &error.name,
                    &error.namespace,
                    error.uid.as_deref(),
                )],
                ..PolicyReportResult::default()
            });
    }
    for results in by_namespace.values_mut() {
        results.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    }
    by_namespace
}

type SortKey<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a String>,
    &'a str,
    Option<&'a str>,
);

fn sort_key(result: &PolicyReportResult) -> SortKey<'_> {
    let resource = result.resources.first();
    (
        resource.and_then(|r| r.kind.as_deref()),
        resource.and_then(|r| r.name.as_deref()),
        result.properties.get("container"),
        result.policy.as_str(),
        result.rule.as_deref(),
    )
}

/// Counts the results by kind.
pub fn summary(results: &[PolicyReportResult]) -> PolicyReportSummary {
    let mut summary = PolicyReportSummary::default();
    for result in results {
        match result.result {
            Some(ResultKind::Pass) => summary.pass += 1,
            Some(ResultKind::Fail) => summary.fail += 1,
            Some(ResultKind::Warn) => summary.warn += 1,
            Some(ResultKind::Error) => summary.error += 1,
            Some(ResultKind::Skip) => summary.skip += 1,
            None => {}
        }
    }
    summary
}

/// What identifies a result across audits: everything but when it was found.
fn identity(result: &PolicyReportResult) -> PolicyReportResult {
    PolicyReportResult {
        timestamp: None,
        ..result.clone()
    }
}

/// Gives each of `results` that `previous` already had the timestamp it had there.
pub fn keep_first_seen(results: &mut [PolicyReportResult], previous: &[PolicyReportResult]) {
    let first_seen: HashMap<String, ResultTimestamp> = previous
        .iter()
        .filter_map(|result| {
            let key = serde_json::to_string(&identity(result)).ok()?;
            Some((key, result.timestamp?))
        })
        .collect();
    for result in results {
        let Ok(key) = serde_json::to_string(&identity(result)) else {
            continue;
        };
        if let Some(timestamp) = first_seen.get(&key) {
            result.timestamp = Some(*timestamp);
        }
    }
}

/// The report of `namespace` holding `results`.
pub fn policy_report(namespace: &str, results: Vec<PolicyReportResult>) -> PolicyReport {
    let summary = summary(&results);
    PolicyReport {
        metadata: ObjectMeta {
            name: Some(REPORT_NAME.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_string(),
                MANAGED_BY.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        spec: PolicyReportFields {
            scope: None,
            summary: Some(summary),
            results,
        },
    }
}

/// Whether `stored` already says what `wanted` does (so no write is needed).
pub fn unchanged(stored: &PolicyReport, wanted: &PolicyReport) -> bool {
    stored.spec.summary == wanted.spec.summary && stored.spec.results == wanted.spec.results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ScanStatus;

    fn violation(name: &str, policy: &str, enforcement: Enforcement) -> Violation {
        Violation {
            namespace: "team-a".into(),
            kind: WorkloadKind::Deployment,
            api_version: "apps/v1".into(),
            name: name.into(),
            uid: Some(format!("uid-{name}")),
            container: "web".into(),
            image: "nginx:1.27".into(),
            status: ScanStatus::Fail,
            policy: policy.into(),
            rule_index: Some(2),
            enforcement,
            message: format!(
                "image \"nginx:1.27\" (container \"web\"): Action 'Reject' enforced by ContainerPolicy {policy} rule index 2"
            ),
        }
    }

    fn at(second: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn results_are_per_namespace_in_kyvernos_format() {
        let mut other = violation("api", "p", Enforcement::Enforce);
        other.namespace = "team-b".into();
        let violations = [violation("web", "p", Enforcement::Enforce), other];
        let results = results_by_namespace(&violations, &[], at(1_800_000_000));
        assert_eq!(results.keys().collect::<Vec<_>>(), ["team-a", "team-b"]);
        let value = serde_json::to_value(&results["team-a"][0]).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "policy": "p",
                "rule": "rules[2]",
                "result": "fail",
                "message": "image \"nginx:1.27\" (container \"web\"): Action 'Reject' enforced by ContainerPolicy p rule index 2",
                "source": "image-assurance",
                "scored": true,
                "category": "Image Assurance",
                "timestamp": {"seconds": 1_800_000_000, "nanos": 0},
                "resources": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "team-a", "uid": "uid-web"}],
                "properties": {"container": "web", "enforcement": "Enforce", "image": "nginx:1.27", "scanStatus": "Fail"},
            })
        );
    }

    #[test]
    fn the_summary_counts_results_by_kind() {
        let violations = [
            violation("a", "enforced", Enforcement::Enforce),
            violation("b", "audited", Enforcement::Audit),
            violation("c", "warned", Enforcement::Warn),
            violation("d", "warned", Enforcement::Warn),
        ];
        let errors = [ObjectError {
            namespace: "team-a".into(),
            kind: WorkloadKind::Pod,
            api_version: "v1".into(),
            name: "broken".into(),
            uid: None,
            error: "field `spec.containers[0].image`: invalid reference format".into(),
        }];
        let results = results_by_namespace(&violations, &errors, at(0));
        let report = policy_report("team-a", results["team-a"].clone());
        assert_eq!(
            report.spec.summary,
            Some(PolicyReportSummary {
                pass: 0,
                fail: 2,
                warn: 2,
                error: 1,
                skip: 0
            })
        );
        let kinds: Vec<_> = report.spec.results.iter().map(|r| r.result).collect();
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == Some(ResultKind::Error))
                .count(),
            1
        );
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert_eq!(value["kind"], "PolicyReport");
        assert_eq!(value["metadata"]["name"], "image-assurance");
        assert_eq!(value["summary"]["warn"], 2);
        assert!(value.get("spec").is_none(), "{value}");
        assert!(value.get("scope").is_none(), "{value}");
    }

    #[test]
    fn a_violation_found_before_keeps_its_timestamp_and_the_report_is_unchanged() {
        let violations = [violation("web", "p", Enforcement::Enforce)];
        let first = policy_report(
            "team-a",
            results_by_namespace(&violations, &[], at(100))
                .remove("team-a")
                .unwrap(),
        );
        let mut later = results_by_namespace(&violations, &[], at(400))
            .remove("team-a")
            .unwrap();
        let stale = policy_report("team-a", later.clone());
        assert!(!unchanged(&first, &stale));
        keep_first_seen(&mut later, &first.spec.results);
        assert_eq!(
            later[0].timestamp,
            Some(ResultTimestamp::from_timestamp(at(100)))
        );
        assert!(unchanged(&first, &policy_report("team-a", later)));
        // A new violation beside it is stamped with its own time.
        let two = [
            violation("web", "p", Enforcement::Enforce),
            violation("api", "p", Enforcement::Enforce),
        ];
        let mut results = results_by_namespace(&two, &[], at(700))
            .remove("team-a")
            .unwrap();
        keep_first_seen(&mut results, &first.spec.results);
        let stamps: Vec<_> = results
            .iter()
            .map(|r| {
                (
                    r.resources[0].name.clone().unwrap(),
                    r.timestamp.unwrap().seconds,
                )
            })
            .collect();
        assert_eq!(stamps, [("api".to_string(), 700), ("web".to_string(), 100)]);
    }
}
