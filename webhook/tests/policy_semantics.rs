//! One or more tests for every rule of `policy-semantics.md` §1–§7. Each test's name starts with
//! the section it covers (`s3_…` is §3).

use image_assurance::admission::{self, Assessment, Context, Subject};
use image_assurance::image::ImageRef;
use image_assurance::manifest::parse_documents;
use image_assurance::policy::compile::compile_policy;
use image_assurance::policy::evaluate::subtract_calendar;
use image_assurance::policy::{ContainerAdmissionPolicy, PolicySet, Verdict, decode_policy};
use image_assurance::scan::{
    NoScanData, ScanIndex, ScanRecord, ScanResult, ScanSource, ScanStatus, ScanUnavailable,
};
use image_assurance::timestamp::parse_rfc3339;
use image_assurance::workload::{ControllerIdentities, Workload, WorkloadKind};
use jiff::Timestamp;

const NOW: &str = "2026-11-26T12:00:00Z";

fn ts(text: &str) -> Timestamp {
    parse_rfc3339(text).unwrap()
}

fn policies_from(yaml: &str) -> Vec<ContainerAdmissionPolicy> {
    parse_documents("test.yaml", yaml)
        .unwrap()
        .iter()
        .map(|document| decode_policy(document).unwrap())
        .collect()
}

fn policy_set(yaml: &str) -> PolicySet {
    PolicySet::compile(&policies_from(yaml))
}

fn workload(yaml: &str) -> Workload {
    let documents = parse_documents("workload.yaml", yaml).unwrap();
    let (api_version, kind) = documents[0].type_meta().unwrap();
    let kind = WorkloadKind::from_type(api_version, kind).unwrap();
    Workload::from_value(kind, &documents[0].value).unwrap()
}

fn pod(images: &[&str], labels: &[(&str, &str)]) -> Workload {
    let containers: Vec<String> = images
        .iter()
        .enumerate()
        .map(|(index, image)| format!("    - {{name: c{index}, image: \"{image}\"}}"))
        .collect();
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}: \"{v}\""))
        .collect();
    workload(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {{{}}}\nspec:\n  containers:\n{}\n",
        labels.join(", "),
        containers.join("\n")
    ))
}

fn scans(records: &[(&str, ScanStatus, Option<&str>)]) -> ScanIndex {
    ScanIndex::from_records(records.iter().map(|(image, status, last_scan)| ScanRecord {
        image: ImageRef::parse(image).unwrap(),
        result: ScanResult {
            status: *status,
            last_scan: last_scan.map(ts),
        },
    }))
}

struct Case<'a> {
    policies: &'a PolicySet,
    scans: &'a dyn ScanSource,
    namespace_labels: &'a [(&'a str, &'a str)],
    user: &'a str,
    owner: Option<&'a Workload>,
}

impl<'a> Case<'a> {
    fn new(policies: &'a PolicySet, scans: &'a dyn ScanSource) -> Self {
        Case {
            policies,
            scans,
            namespace_labels: &[],
            user: "jane",
            owner: None,
        }
    }

    fn assess(&self, workload: &Workload) -> Assessment {
        self.assess_update(None, workload)
    }

    /// An UPDATE from `old` to `workload` (a CREATE when `old` is `None`).
    fn assess_update(&self, old: Option<&Workload>, workload: &Workload) -> Assessment {
        let identities = ControllerIdentities::default();
        let context = Context {
            policies: self.policies,
            scans: self.scans,
            now: ts(NOW),
            identities: &identities,
        };
        let labels = admission::namespace_labels(
            "team-a",
            self.namespace_labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let subject = Subject {
            workload,
            namespace: "team-a",
            namespace_labels: &labels,
            user: self.user,
            owner: self.owner,
        };
        admission::assess_update(&context, &subject, old).unwrap()
    }
}

const SEED_POLICY_1: &str = include_str!("../../fixtures/policies/reject-failed-and-non-gcr.yaml");
const SEED_POLICY_2: &str = include_str!("../../fixtures/policies/reject-outdated-scans.yaml");

fn one_rule_policy(name: &str, order: &str, rules: &str) -> String {
    format!(
        "apiVersion: containersecurity.tigera.io/v1beta1\nkind: ContainerAdmissionPolicy\nmetadata: {{name: {name}}}\nspec:\n  {order}\n  rules:\n{rules}\n"
    )
}

// ---------- §1 The resource ----------

#[test]
fn s1_resource_is_cluster_scoped_in_calicos_group_and_version() {
    use kube::CustomResourceExt;
    let crd = ContainerAdmissionPolicy::crd();
    assert_eq!(crd.spec.group, "containersecurity.tigera.io");
    assert_eq!(crd.spec.scope, "Cluster");
    assert_eq!(crd.spec.names.plural, "containeradmissionpolicies");
    assert_eq!(crd.spec.versions[0].name, "v1beta1");
}

#[test]
fn s1_crd_schema_enumerates_action_operators_and_scan_statuses() {
    let yaml = image_assurance::policy::crd::crd_yaml().unwrap();
    for values in [
        ["Allow", "Reject"].as_slice(),
        &["IsOneOf", "IsNoneOf"],
        &["gt", "lt"],
        &["Pass", "Warn", "Fail", "Unknown"],
    ] {
        for value in values {
            assert!(
                yaml.contains(&format!("- {value}\n")),
                "enum value {value} missing from CRD schema"
            );
        }
    }
}

#[test]
fn s1_selector_and_namespace_selector_default_to_all() {
    let set = policy_set(&one_rule_policy("p", "order: 1", "    - action: Reject"));
    assert!(set.policies()[0].selector.is_all());
    assert!(set.policies()[0].namespace_selector.is_all());
}

#[test]
fn s1_invalid_selector_is_refused_naming_the_field_and_position() {
    let policy = &policies_from(
        "apiVersion: containersecurity.tigera.io/v1beta1\nkind: ContainerAdmissionPolicy\nmetadata: {name: bad}\nspec:\n  selector: \"a = 'b'\"\n  rules: [{action: Reject}]\n",
    )[0];
    let error = compile_policy(policy).unwrap_err();
    assert_eq!(error.policy, "bad");
    assert_eq!(error.field, "spec.selector");
    assert!(error.message.contains("position 2"), "{}", error.message);
}

#[test]
fn s1_invalid_regex_is_refused_naming_the_value() {
    let yaml = one_rule_policy(
        "bad-regex",
        "order: 1",
        "    - action: Reject\n      imagePath: {operator: IsOneOf, values: ['^ok', '(unclosed']}",
    );
    let error = compile_policy(&policies_from(&yaml)[0]).unwrap_err();
    assert_eq!(error.field, "spec.rules[0].imagePath.values[1]");
}

#[test]
fn s1_unknown_fields_are_refused_so_a_typo_cannot_turn_a_rule_into_a_catch_all() {
    let documents = parse_documents(
        "typo.yaml",
        &one_rule_policy(
            "typo",
            "order: 1",
            "    - action: Allow\n      imagepath: {operator: IsOneOf, values: ['^x']}",
        ),
    )
    .unwrap();
    let error = decode_policy(&documents[0]).unwrap_err().to_string();
    assert!(
        error.contains("spec.rules[0]") && error.contains("imagepath"),
        "{error}"
    );
}

// ---------- §2 Which policies apply ----------

#[test]
fn s2_policy_applies_only_when_namespace_selector_and_selector_both_match() {
    let set = policy_set(SEED_POLICY_2);
    let no_data = NoScanData;
    let labelled = pod(&["nginx"], &[("reject-policy", "reject-outdated-scans")]);
    let mut case = Case::new(&set, &no_data);
    // Namespace not labelled: the policy does not apply, default allow.
    assert!(case.assess(&labelled).decision.allowed);
    case.namespace_labels = &[("apply-container-policies", "true")];
    let decision = case.assess(&labelled).decision;
    assert!(!decision.allowed);
    assert_eq!(decision.images[0].rule_index, Some(1));
    // Workload not labelled: does not apply.
    assert!(case.assess(&pod(&["nginx"], &[])).decision.allowed);
}

#[test]
fn s2_selector_matches_the_objects_own_labels_not_its_pod_template_labels() {
    let set = policy_set(&one_rule_policy(
        "p",
        "selector: \"app == 'web'\"",
        "    - action: Reject",
    ));
    let deployment = workload(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: nginx}]}\n",
    );
    assert!(
        Case::new(&set, &NoScanData)
            .assess(&deployment)
            .decision
            .allowed
    );
}

#[test]
fn s2_namespace_selector_sees_the_kubernetes_metadata_name_label() {
    let set = policy_set(&one_rule_policy(
        "p",
        "namespaceSelector: \"kubernetes.io/metadata.name == 'team-a'\"",
        "    - action: Reject",
    ));
    assert!(
        !Case::new(&set, &NoScanData)
            .assess(&pod(&["nginx"], &[]))
            .decision
            .allowed
    );
}

#[test]
fn s2_global_is_treated_as_all_in_both_selectors() {
    let set = policy_set(&one_rule_policy(
        "p",
        "selector: global()\n  namespaceSelector: global()",
        "    - action: Reject",
    ));
    assert!(
        !Case::new(&set, &NoScanData)
            .assess(&pod(&["nginx"], &[]))
            .decision
            .allowed
    );
}

#[test]
fn s2_policies_apply_in_ascending_order_unordered_last_ties_by_name() {
    let yaml = [
        one_rule_policy("z-unordered", "selector: all()", "    - action: Reject"),
        one_rule_policy("b-order-5", "order: 5", "    - action: Reject"),
        one_rule_policy("a-order-5", "order: 5", "    - action: Reject"),
        one_rule_policy("c-order-1.5", "order: 1.5", "    - action: Reject"),
        one_rule_policy("a-unordered", "selector: all()", "    - action: Reject"),
    ]
    .join("---\n");
    let set = policy_set(&yaml);
    let names: Vec<&str> = set
        .policies()
        .iter()
        .map(|policy| policy.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "c-order-1.5",
            "a-order-5",
            "b-order-5",
            "a-unordered",
            "z-unordered"
        ]
    );
    let decision = Case::new(&set, &NoScanData)
        .assess(&pod(&["nginx"], &[]))
        .decision;
    assert_eq!(decision.images[0].policy.as_deref(), Some("c-order-1.5"));
}

// ---------- §3 Deciding one image ----------

#[test]
fn s3_first_matching_rule_decides_seed_policy_1() {
    let set = policy_set(SEED_POLICY_1);
    let data = scans(&[
        (
            "gcr.io/company/production-repository/api:1.2",
            ScanStatus::Pass,
            None,
        ),
        (
            "gcr.io/company/production-repository/ledger:0.9",
            ScanStatus::Fail,
            None,
        ),
    ]);
    let case = Case::new(&set, &data);
    let outside = case.assess(&pod(&["nginx:1.27"], &[])).decision;
    assert_eq!(
        (outside.allowed, outside.images[0].rule_index),
        (false, Some(0))
    );
    let passing = case
        .assess(&pod(&["gcr.io/company/production-repository/api:1.2"], &[]))
        .decision;
    assert_eq!(
        (passing.allowed, passing.images[0].rule_index),
        (true, Some(1))
    );
    let failing = case
        .assess(&pod(
            &["gcr.io/company/production-repository/ledger:0.9"],
            &[],
        ))
        .decision;
    assert_eq!(
        (failing.allowed, failing.images[0].rule_index),
        (false, Some(2))
    );
}

#[test]
fn s3_a_rule_without_criteria_matches_every_image() {
    let set = policy_set(&one_rule_policy("p", "order: 1", "    - action: Reject"));
    let decision = Case::new(&set, &NoScanData)
        .assess(&pod(&["anything:1"], &[]))
        .decision;
    assert_eq!(decision.images[0].rule_index, Some(0));
}

#[test]
fn s3_a_policy_with_no_matching_rule_passes_the_image_to_the_next_policy() {
    let yaml = [
        one_rule_policy(
            "first",
            "order: 1",
            "    - action: Allow\n      imagePath: {operator: IsOneOf, values: ['^quay.io/']}",
        ),
        one_rule_policy("second", "order: 2", "    - action: Reject"),
    ]
    .join("---\n");
    let set = policy_set(&yaml);
    let case = Case::new(&set, &NoScanData);
    let decision = case.assess(&pod(&["nginx"], &[])).decision;
    assert_eq!(decision.images[0].policy.as_deref(), Some("second"));
    let decision = case.assess(&pod(&["quay.io/x/y:1"], &[])).decision;
    assert_eq!(decision.images[0].policy.as_deref(), Some("first"));
    assert!(decision.allowed);
}

#[test]
fn s3_no_rule_matched_anywhere_allows_the_image() {
    let set = policy_set(&one_rule_policy(
        "p",
        "order: 1",
        "    - action: Reject\n      imagePath: {operator: IsOneOf, values: ['^quay.io/']}",
    ));
    let decision = Case::new(&set, &NoScanData)
        .assess(&pod(&["nginx"], &[]))
        .decision;
    assert!(decision.allowed);
    assert_eq!(decision.images[0].policy, None);
    assert_eq!(decision.images[0].rule_index, None);
    // And with no policy at all.
    let empty = PolicySet::default();
    assert!(
        Case::new(&empty, &NoScanData)
            .assess(&pod(&["nginx"], &[]))
            .decision
            .allowed
    );
}

#[test]
fn s3_criteria_in_one_rule_are_anded() {
    let set = policy_set(&one_rule_policy(
        "p",
        "order: 1",
        "    - action: Allow\n      imagePath: {operator: IsOneOf, values: ['^gcr.io/']}\n      imageScanStatus: {operator: IsOneOf, values: [Pass]}\n    - action: Reject",
    ));
    let data = scans(&[
        ("gcr.io/a/b:1", ScanStatus::Pass, None),
        ("gcr.io/a/c:1", ScanStatus::Fail, None),
    ]);
    let case = Case::new(&set, &data);
    assert!(case.assess(&pod(&["gcr.io/a/b:1"], &[])).decision.allowed);
    assert!(!case.assess(&pod(&["gcr.io/a/c:1"], &[])).decision.allowed);
    assert!(!case.assess(&pod(&["quay.io/a/b:1"], &[])).decision.allowed);
}

#[test]
fn s3_image_path_is_an_unanchored_regex_on_the_normalised_reference() {
    let policy = |pattern: &str| {
        policy_set(&one_rule_policy(
            "p",
            "order: 1",
            &format!(
                "    - action: Reject\n      imagePath: {{operator: IsOneOf, values: ['{pattern}']}}"
            ),
        ))
    };
    let rejected = |pattern: &str, image: &str| {
        let set = policy(pattern);
        !Case::new(&set, &NoScanData)
            .assess(&pod(&[image], &[]))
            .decision
            .allowed
    };
    // Unanchored: a match anywhere counts.
    assert!(rejected("library/nginx", "nginx"));
    // The subject is normalised: Docker Hub defaults and :latest.
    assert!(rejected("^docker.io/library/nginx:latest$", "nginx"));
    assert!(rejected("^docker.io/foo/bar:1$", "foo/bar:1"));
    assert!(rejected(
        "^docker.io/library/x:latest$",
        "index.docker.io/x"
    ));
    assert!(rejected(
        "^localhost:5000/app:latest$",
        "localhost:5000/app"
    ));
    assert!(rejected(
        "^registry.hub.docker.com/regisftm/website:v1.1.0$",
        "registry.hub.docker.com/regisftm/website:v1.1.0"
    ));
    // A digest without a tag gets no :latest.
    let digest = format!("sha256:{}", "a".repeat(64));
    assert!(rejected(
        &format!("^gcr.io/p/app@{digest}$"),
        &format!("gcr.io/p/app@{digest}")
    ));
    // Users anchor with ^ themselves.
    assert!(!rejected("^library/nginx", "nginx"));
}

#[test]
fn s3_image_path_is_none_of_matches_when_no_value_matches() {
    let set = policy_set(&one_rule_policy(
        "p",
        "order: 1",
        "    - action: Reject\n      imagePath: {operator: IsNoneOf, values: ['^gcr.io/', '^quay.io/']}",
    ));
    let case = Case::new(&set, &NoScanData);
    assert!(!case.assess(&pod(&["nginx"], &[])).decision.allowed);
    assert!(case.assess(&pod(&["quay.io/a/b"], &[])).decision.allowed);
}

#[test]
fn s3_scan_status_values_are_case_sensitive_and_other_values_are_invalid() {
    let documents = parse_documents(
        "lower.yaml",
        &one_rule_policy(
            "p",
            "order: 1",
            "    - action: Allow\n      imageScanStatus: {operator: IsOneOf, values: [pass]}",
        ),
    )
    .unwrap();
    let error = decode_policy(&documents[0]).unwrap_err().to_string();
    assert!(
        error.contains("spec.rules[0].imageScanStatus.values[0]"),
        "{error}"
    );
}

#[test]
fn s3_an_image_never_scanned_has_status_unknown() {
    let set = policy_set(&one_rule_policy(
        "p",
        "order: 1",
        "    - action: Reject\n      imageScanStatus: {operator: IsOneOf, values: [Unknown]}",
    ));
    let decision = Case::new(&set, &scans(&[]))
        .assess(&pod(&["nginx"], &[]))
        .decision;
    assert!(!decision.allowed);
    assert_eq!(decision.images[0].status, ScanStatus::Unknown);
}

fn last_scan_policy(criterion: &str) -> PolicySet {
    policy_set(&one_rule_policy(
        "p",
        "order: 1",
        &format!("    - action: Allow\n      imageLastScan: {criterion}\n    - action: Reject"),
    ))
}

fn allowed_when_scanned_at(set: &PolicySet, scanned_at: &str) -> bool {
    let data = scans(&[("nginx", ScanStatus::Pass, Some(scanned_at))]);
    Case::new(set, &data)
        .assess(&pod(&["nginx"], &[]))
        .decision
        .allowed
}

#[test]
fn s3_last_scan_gt_duration_matches_scans_within_the_window() {
    let set = last_scan_policy("{operator: gt, duration: {days: 3}}");
    assert!(allowed_when_scanned_at(&set, "2026-11-24T12:00:00Z"));
    assert!(!allowed_when_scanned_at(&set, "2026-11-22T12:00:00Z"));
}

#[test]
fn s3_last_scan_lt_duration_matches_scans_older_than_the_window() {
    let set = last_scan_policy("{operator: lt, duration: {days: 3}}");
    assert!(!allowed_when_scanned_at(&set, "2026-11-24T12:00:00Z"));
    assert!(allowed_when_scanned_at(&set, "2026-11-22T12:00:00Z"));
}

#[test]
fn s3_last_scan_boundaries_are_strict() {
    let boundary = "2026-11-23T12:00:00Z";
    assert!(!allowed_when_scanned_at(
        &last_scan_policy("{operator: gt, duration: {days: 3}}"),
        boundary
    ));
    assert!(!allowed_when_scanned_at(
        &last_scan_policy("{operator: lt, duration: {days: 3}}"),
        boundary
    ));
    assert!(!allowed_when_scanned_at(
        &last_scan_policy("{operator: gt, time: '2026-11-23T12:00:00Z'}"),
        boundary
    ));
    assert!(!allowed_when_scanned_at(
        &last_scan_policy("{operator: lt, time: '2026-11-23T12:00:00Z'}"),
        boundary
    ));
}

#[test]
fn s3_last_scan_absolute_time_as_in_calicos_example() {
    // Calico's example, one-digit hour included: gt 2022-01-02T0:00:00Z is false for
    // 2022-01-01 and true for 2022-01-03.
    let set = last_scan_policy("{operator: gt, time: '2022-01-02T0:00:00Z'}");
    assert!(!allowed_when_scanned_at(&set, "2022-01-01T0:00:00Z"));
    assert!(allowed_when_scanned_at(&set, "2022-01-03T0:00:00Z"));
    let set = last_scan_policy("{operator: lt, time: '2022-01-02T00:00:00+02:00'}");
    assert!(allowed_when_scanned_at(&set, "2022-01-01T21:59:59.5Z"));
    assert!(!allowed_when_scanned_at(&set, "2022-01-01T22:00:00.5Z"));
}

#[test]
fn s3_durations_subtract_months_then_days_clamping_the_day_of_month() {
    assert_eq!(
        subtract_calendar(ts("2026-03-31T10:00:00Z"), 1, 0),
        ts("2026-02-28T10:00:00Z")
    );
    assert_eq!(
        subtract_calendar(ts("2024-03-31T10:00:00Z"), 1, 0),
        ts("2024-02-29T10:00:00Z")
    );
    assert_eq!(
        subtract_calendar(ts("2024-02-29T00:00:00Z"), 13, 0),
        ts("2023-01-29T00:00:00Z")
    );
    // Months first, then days: 31 March − (1 month, 1 day) = 28 Feb − 1 day = 27 Feb.
    assert_eq!(
        subtract_calendar(ts("2026-03-31T00:00:00Z"), 1, 1),
        ts("2026-02-27T00:00:00Z")
    );
    // Absurd lengths saturate instead of failing.
    assert_eq!(
        subtract_calendar(ts(NOW), 12 * 1_000_000, 0),
        Timestamp::MIN
    );
}

#[test]
fn s3_years_and_months_in_last_scan_durations() {
    let set = last_scan_policy("{operator: gt, duration: {years: 1, months: 1}}");
    // now − 1 year 1 month = 2025-10-26T12:00:00Z.
    assert!(allowed_when_scanned_at(&set, "2025-10-26T12:00:01Z"));
    assert!(!allowed_when_scanned_at(&set, "2025-10-26T11:59:59Z"));
}

#[test]
fn s3_an_image_without_scan_time_matches_no_last_scan_criterion() {
    let data = scans(&[("nginx", ScanStatus::Pass, None)]);
    for operator in ["gt", "lt"] {
        let set = last_scan_policy(&format!("{{operator: {operator}, duration: {{days: 3}}}}"));
        let decision = Case::new(&set, &data)
            .assess(&pod(&["nginx"], &[]))
            .decision;
        assert_eq!(
            decision.images[0].rule_index,
            Some(1),
            "operator {operator}"
        );
    }
}

#[test]
fn s3_both_or_neither_of_duration_and_time_make_the_policy_invalid() {
    for criterion in [
        "{operator: gt, duration: {days: 1}, time: '2026-01-01T00:00:00Z'}",
        "{operator: gt}",
    ] {
        let yaml = one_rule_policy(
            "p",
            "order: 1",
            &format!("    - action: Allow\n      imageLastScan: {criterion}"),
        );
        let error = compile_policy(&policies_from(&yaml)[0]).unwrap_err();
        assert_eq!(error.field, "spec.rules[0].imageLastScan", "{criterion}");
    }
}

#[test]
fn s3_negative_durations_and_bad_times_are_invalid() {
    let yaml = one_rule_policy(
        "p",
        "order: 1",
        "    - action: Allow\n      imageLastScan: {operator: gt, duration: {days: -1}}",
    );
    assert_eq!(
        compile_policy(&policies_from(&yaml)[0]).unwrap_err().field,
        "spec.rules[0].imageLastScan.duration.days"
    );
    let yaml = one_rule_policy(
        "p",
        "order: 1",
        "    - action: Allow\n      imageLastScan: {operator: gt, time: '2022-01-02 00:00:00Z'}",
    );
    assert_eq!(
        compile_policy(&policies_from(&yaml)[0]).unwrap_err().field,
        "spec.rules[0].imageLastScan.time"
    );
}

// ---------- §4 Deciding a request ----------

#[test]
fn s4_images_come_from_containers_init_and_ephemeral_containers() {
    let with_all = workload(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers: [{name: init, image: 'busybox:1'}]\n  containers: [{name: main, image: 'nginx:1'}]\n  ephemeralContainers: [{name: debug, image: 'alpine:3'}]\n",
    );
    let images: Vec<String> = with_all
        .images()
        .unwrap()
        .into_iter()
        .map(|image| image.container)
        .collect();
    assert_eq!(images, ["init", "main", "debug"]);
    let set = policy_set(&one_rule_policy(
        "p",
        "order: 1",
        "    - action: Reject\n      imagePath: {operator: IsOneOf, values: ['alpine']}",
    ));
    let decision = Case::new(&set, &NoScanData).assess(&with_all).decision;
    assert!(!decision.allowed);
    assert_eq!(
        decision.message.as_deref(),
        Some(
            "image \"alpine:3\" (container \"debug\"): Action 'Reject' enforced by ContainerPolicy p rule index 0"
        )
    );
}

#[test]
fn s4_the_pod_spec_of_every_pod_creating_kind_is_found() {
    for (file, expected) in [
        ("pod.yaml", "nginx:1.27"),
        (
            "deployment.yaml",
            "gcr.io/company/production-repository/api:1.2",
        ),
        ("replicaset.yaml", "redis:7.4"),
        (
            "statefulset.yaml",
            "gcr.io/company/production-repository/ledger:0.9",
        ),
        (
            "daemonset.yaml",
            "gcr.io/company/production-repository/worker:3.1",
        ),
        ("job.yaml", "gcr.io/company/production-repository/web:2.0"),
        (
            "cronjob.yaml",
            "gcr.io/company/production-repository/web:2.1",
        ),
        (
            "replicationcontroller.yaml",
            "gcr.io/company/production-repository/web:2.1",
        ),
    ] {
        let path = format!(
            "{}/../fixtures/workloads/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let images = workload(&text).images().unwrap();
        assert!(
            images.iter().any(|image| image.image == expected),
            "{file}: {images:?}"
        );
    }
}

#[test]
fn s4_kinds_that_create_no_pods_are_not_workloads() {
    assert_eq!(WorkloadKind::from_type("v1", "Service"), None);
    assert_eq!(WorkloadKind::from_type("v1", "ConfigMap"), None);
    // Same kind name in a foreign group is not ours.
    assert_eq!(
        WorkloadKind::from_type("example.com/v1", "Deployment"),
        None
    );
    assert_eq!(
        WorkloadKind::from_type("apps/v1", "Deployment"),
        Some(WorkloadKind::Deployment)
    );
    assert_eq!(
        WorkloadKind::from_type("batch/v1", "CronJob"),
        Some(WorkloadKind::CronJob)
    );
}

#[test]
fn s4_one_rejected_image_rejects_the_request_and_messages_are_joined() {
    let set = policy_set(SEED_POLICY_1);
    let data = scans(&[(
        "gcr.io/company/production-repository/api:1.2",
        ScanStatus::Pass,
        None,
    )]);
    let decision = Case::new(&set, &data)
        .assess(&pod(
            &[
                "gcr.io/company/production-repository/api:1.2",
                "nginx",
                "redis:7",
            ],
            &[],
        ))
        .decision;
    assert!(!decision.allowed);
    assert_eq!(
        decision.message.as_deref(),
        Some(
            "image \"nginx\" (container \"c1\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0; \
             image \"redis:7\" (container \"c2\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0"
        )
    );
    assert_eq!(decision.images[0].decision, Verdict::Allowed);
}

#[test]
fn s4_an_unparsable_image_is_an_error_never_an_allow() {
    let bad = workload(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: 'Nginx:1'}]\n",
    );
    let error = bad.images().unwrap_err().to_string();
    assert!(error.contains("spec.containers[0].image"), "{error}");
}

#[test]
fn s4_delete_and_connect_are_not_evaluated_create_and_update_are() {
    use image_assurance::admission::review::is_evaluated;
    use kube::core::admission::Operation;
    assert!(is_evaluated(&Operation::Create));
    assert!(is_evaluated(&Operation::Update));
    assert!(!is_evaluated(&Operation::Delete));
    assert!(!is_evaluated(&Operation::Connect));
}

/// A Deployment `api` (uid OWNER_UID) with the given labels and containers (name, image).
fn api_deployment(labels: &str, containers: &[(&str, &str)]) -> Workload {
    let containers: Vec<String> = containers
        .iter()
        .map(|(name, image)| format!("{{name: {name}, image: '{image}'}}"))
        .collect();
    workload(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, uid: {OWNER_UID}, labels: {{{labels}}}}}\nspec:\n  selector: {{matchLabels: {{app: api}}}}\n  template:\n    metadata: {{labels: {{app: api}}}}\n    spec:\n      initContainers: [{{name: migrate, image: 'gcr.io/company/production-repository/migrations:5'}}]\n      containers: [{}]\n",
        containers.join(", ")
    ))
}

const API_IMAGE: &str = "gcr.io/company/production-repository/api:1.2";
const WEB_IMAGE: &str = "gcr.io/company/production-repository/web:2.0";

/// The seed's first policy, with `api:1.2` failing its scan since it was admitted.
fn api_now_fails() -> ScanIndex {
    scans(&[
        (API_IMAGE, ScanStatus::Fail, None),
        (WEB_IMAGE, ScanStatus::Pass, None),
        (
            "gcr.io/company/production-repository/migrations:5",
            ScanStatus::Pass,
            None,
        ),
    ])
}

#[test]
fn s4_an_update_that_changes_no_image_is_allowed_without_consulting_any_policy() {
    // Every policy would reject, one is invalid (which rejects every request it sees): none is
    // consulted.
    let yaml = [
        SEED_POLICY_1.to_string(),
        one_rule_policy("broken", "selector: \"a = 'b'\"", "    - action: Reject"),
    ]
    .join("---\n");
    let set = policy_set(&yaml);
    let data = api_now_fails();
    let case = Case::new(&set, &data);
    let old = api_deployment("app: api", &[("api", API_IMAGE)]);
    assert!(!case.assess(&old).decision.allowed, "a CREATE is evaluated");
    // Labelled, annotated, restarted (an annotation on the pod template), scaled.
    let new = workload(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, uid: {OWNER_UID}, labels: {{app: api, incident: quarantine}}}}\nspec:\n  replicas: 5\n  selector: {{matchLabels: {{app: api}}}}\n  template:\n    metadata: {{labels: {{app: api}}, annotations: {{kubectl.kubernetes.io/restartedAt: '{NOW}'}}}}\n    spec:\n      initContainers: [{{name: migrate, image: 'gcr.io/company/production-repository/migrations:5'}}]\n      containers: [{{name: api, image: '{API_IMAGE}'}}]\n"
    ));
    let assessment = case.assess_update(Some(&old), &new);
    assert!(assessment.decision.allowed, "{:?}", assessment.decision);
    assert!(assessment.warnings.is_empty());
    let reported: Vec<(&str, String, Option<&str>, ScanStatus)> = assessment
        .decision
        .images
        .iter()
        .map(|image| {
            (
                image.container.as_str(),
                image.explain().to_string(),
                image.policy.as_deref(),
                image.status,
            )
        })
        .collect();
    assert_eq!(
        reported,
        [
            (
                "migrate",
                "unchanged since admitted".to_string(),
                None,
                ScanStatus::Pass
            ),
            (
                "api",
                "unchanged since admitted".to_string(),
                None,
                ScanStatus::Fail
            ),
        ]
    );
}

#[test]
fn s4_on_update_only_images_new_to_the_object_are_evaluated() {
    let set = policy_set(SEED_POLICY_1);
    let data = api_now_fails();
    let case = Case::new(&set, &data);
    let old = api_deployment("", &[("api", API_IMAGE), ("sidecar", "nginx:1.27")]);
    // `set image` of one container to a passing image: the failing and the outside-the-
    // repository images are not judged again.
    let new = api_deployment("", &[("api", WEB_IMAGE), ("sidecar", "nginx:1.27")]);
    let decision = case.assess_update(Some(&old), &new).decision;
    assert!(decision.allowed, "{:?}", decision.message);
    let containers: Vec<(&str, Option<usize>)> = decision
        .images
        .iter()
        .map(|image| (image.container.as_str(), image.rule_index))
        .collect();
    assert_eq!(
        containers,
        [("migrate", None), ("api", Some(1)), ("sidecar", None)]
    );
    // A container that did not exist is new, whatever its image.
    let added = api_deployment(
        "",
        &[
            ("api", API_IMAGE),
            ("sidecar", "nginx:1.27"),
            ("extra", API_IMAGE),
        ],
    );
    assert_eq!(
        case.assess_update(Some(&old), &added)
            .decision
            .message
            .as_deref(),
        Some(
            "image \"gcr.io/company/production-repository/api:1.2\" (container \"extra\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 2"
        )
    );
    // Renaming a container makes it new; so does moving it to another list.
    let renamed = api_deployment("", &[("server", API_IMAGE), ("sidecar", "nginx:1.27")]);
    assert!(!case.assess_update(Some(&old), &renamed).decision.allowed);
    let moved = workload(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api}}\nspec:\n  selector: {{matchLabels: {{app: api}}}}\n  template:\n    spec:\n      initContainers: [{{name: api, image: '{API_IMAGE}'}}]\n      containers: [{{name: sidecar, image: 'nginx:1.27'}}, {{name: migrate, image: 'gcr.io/company/production-repository/migrations:5'}}]\n"
    ));
    let decision = case.assess_update(Some(&old), &moved).decision;
    assert_eq!(decision.images[0].rule_index, Some(2), "{decision:?}");
    assert_eq!(decision.images[2].rule_index, Some(1), "{decision:?}");
}

#[test]
fn s4_set_image_and_rollout_undo_to_a_rejected_image_are_rejected() {
    let set = policy_set(SEED_POLICY_1);
    let data = api_now_fails();
    let case = Case::new(&set, &data);
    let admitted = api_deployment("", &[("api", WEB_IMAGE)]);
    let outside = api_deployment("", &[("api", "nginx:1.27")]);
    assert_eq!(
        case.assess_update(Some(&admitted), &outside)
            .decision
            .message
            .as_deref(),
        Some(
            "image \"nginx:1.27\" (container \"api\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0"
        )
    );
    // `rollout undo` to the earlier template, whose image has failed its scan since.
    let undone = api_deployment("", &[("api", API_IMAGE)]);
    assert_eq!(
        case.assess_update(Some(&admitted), &undone).decision.images[1].rule_index,
        Some(2)
    );
    assert!(
        !case
            .assess_update(Some(&admitted), &undone)
            .decision
            .allowed
    );
}

#[test]
fn s4_kubectl_debug_judges_only_the_new_ephemeral_container() {
    let set = policy_set(SEED_POLICY_1);
    let data = api_now_fails();
    let case = Case::new(&set, &data);
    // A Pod of a Deployment, whose own image now fails; `kubectl debug` is a person's UPDATE
    // of pods/ephemeralcontainers.
    let pod_with = |ephemeral: &str| {
        workload(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: api-1\n  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: api-7d9f8b6c5, uid: u, controller: true}}]\nspec:\n  containers: [{{name: api, image: '{API_IMAGE}'}}]\n  ephemeralContainers: [{ephemeral}]\n"
        ))
    };
    let running = pod_with("");
    let debug = pod_with(&format!(
        "{{name: debug, image: '{WEB_IMAGE}', targetContainerName: api}}"
    ));
    let assessment = case.assess_update(Some(&running), &debug);
    assert!(
        assessment.decision.allowed,
        "{:?}",
        assessment.decision.message
    );
    assert!(assessment.warnings.is_empty(), "{:?}", assessment.warnings);
    assert_eq!(assessment.decision.images[1].rule_index, Some(1));
    let shell = pod_with(&format!(
        "{{name: debug, image: '{WEB_IMAGE}'}}, {{name: shell, image: 'busybox:1.36'}}"
    ));
    let assessment = case.assess_update(Some(&debug), &shell);
    assert_eq!(
        assessment.decision.message.as_deref(),
        Some(
            "image \"busybox:1.36\" (container \"shell\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0"
        )
    );
    assert!(assessment.warnings.is_empty(), "{:?}", assessment.warnings);
}

#[test]
fn s4_unchanged_images_are_not_parsed_again_new_ones_are() {
    let set = policy_set(SEED_POLICY_1);
    let case = Case::new(&set, &NoScanData);
    // Admitted before today's parsing rules (or before the webhook was installed).
    let old = pod(&["Legacy Image"], &[]);
    let labelled = pod(&["Legacy Image"], &[("quarantine", "true")]);
    let decision = case.assess_update(Some(&old), &labelled).decision;
    assert!(decision.allowed);
    assert_eq!(decision.images[0].subject(), "Legacy Image");
    assert!(pod(&["Nginx:1"], &[]).image_changes(Some(&old)).is_err());
}

// ---------- §5 Children of admitted controllers ----------

const OWNER_UID: &str = "0d7c1b2a-0000-4a59-9f5e-2f1c6a5e8c3b";

fn owner_deployment() -> Workload {
    workload(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: team-a, uid: {OWNER_UID}}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: 'nginx:1.27'}}]}}\n"
    ))
}

fn child_replicaset(image: &str, uid: &str, controller: bool) -> Workload {
    workload(&format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-abc\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: {uid}, controller: {controller}}}]\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: '{image}'}}]}}\n"
    ))
}

const DEPLOYMENT_CONTROLLER: &str = "system:serviceaccount:kube-system:deployment-controller";

#[test]
fn s5_a_child_of_an_admitted_controller_is_not_re_evaluated() {
    let set = policy_set(&one_rule_policy(
        "deny-all",
        "order: 1",
        "    - action: Reject",
    ));
    let owner = owner_deployment();
    let mut case = Case::new(&set, &NoScanData);
    case.user = DEPLOYMENT_CONTROLLER;
    case.owner = Some(&owner);
    let assessment = case.assess(&child_replicaset("nginx:1.27", OWNER_UID, true));
    assert!(assessment.decision.allowed);
    assert!(assessment.warnings.is_empty());
    assert_eq!(assessment.decision.images[0].policy, None);
    assert!(
        assessment.decision.images[0]
            .explain()
            .to_string()
            .contains("Deployment \"web\"")
    );
    // The controller-manager itself is a controller identity too.
    case.user = "system:kube-controller-manager";
    assert!(
        case.assess(&child_replicaset("nginx:1.27", OWNER_UID, true))
            .decision
            .allowed
    );
}

fn refused_warning(case: &Case<'_>, child: &Workload) -> String {
    let assessment = case.assess(child);
    assert!(
        !assessment.decision.allowed,
        "the child must be evaluated (and rejected by deny-all)"
    );
    assert_eq!(assessment.warnings.len(), 1);
    assessment.warnings[0].clone()
}

#[test]
fn s5_condition_1_a_non_controller_or_foreign_owner_reference_is_not_trusted() {
    let set = policy_set(&one_rule_policy(
        "deny-all",
        "order: 1",
        "    - action: Reject",
    ));
    let owner = owner_deployment();
    let mut case = Case::new(&set, &NoScanData);
    case.user = DEPLOYMENT_CONTROLLER;
    case.owner = Some(&owner);
    // controller: false is no controller reference: a plain object, evaluated without warning.
    let assessment = case.assess(&child_replicaset("nginx:1.27", OWNER_UID, false));
    assert!(!assessment.decision.allowed);
    assert!(assessment.warnings.is_empty());
    let foreign = workload(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  ownerReferences: [{apiVersion: example.com/v1, kind: Rollout, name: r, uid: u, controller: true}]\nspec: {containers: [{name: c, image: nginx}]}\n",
    );
    assert!(refused_warning(&case, &foreign).contains("not a pod-creating kind"));
}

#[test]
fn s5_condition_2_the_owner_must_exist_with_the_same_uid() {
    let set = policy_set(&one_rule_policy(
        "deny-all",
        "order: 1",
        "    - action: Reject",
    ));
    let owner = owner_deployment();
    let mut case = Case::new(&set, &NoScanData);
    case.user = DEPLOYMENT_CONTROLLER;
    assert!(
        refused_warning(&case, &child_replicaset("nginx:1.27", OWNER_UID, true))
            .contains("does not exist")
    );
    case.owner = Some(&owner);
    assert!(
        refused_warning(&case, &child_replicaset("nginx:1.27", "other-uid", true)).contains("uid")
    );
}

#[test]
fn s5_condition_3_every_image_of_the_child_must_be_in_the_owners_template() {
    let set = policy_set(&one_rule_policy(
        "deny-all",
        "order: 1",
        "    - action: Reject",
    ));
    let owner = owner_deployment();
    let mut case = Case::new(&set, &NoScanData);
    case.user = DEPLOYMENT_CONTROLLER;
    case.owner = Some(&owner);
    let warning = refused_warning(&case, &child_replicaset("busybox:1.36", OWNER_UID, true));
    assert!(
        warning.contains("busybox:1.36") && warning.contains("pod template"),
        "{warning}"
    );
}

#[test]
fn s5_condition_4_only_controller_identities_are_trusted() {
    let set = policy_set(&one_rule_policy(
        "deny-all",
        "order: 1",
        "    - action: Reject",
    ));
    let owner = owner_deployment();
    let mut case = Case::new(&set, &NoScanData);
    case.owner = Some(&owner);
    for user in [
        "jane",
        "system:serviceaccount:team-a:deployment-controller",
        "system:serviceaccount:kube-system:-controller",
    ] {
        case.user = user;
        // Evaluated like any object; only a controller's refused claim is warned about.
        let assessment = case.assess(&child_replicaset("nginx:1.27", OWNER_UID, true));
        assert!(!assessment.decision.allowed, "{user}");
        assert!(
            assessment.warnings.is_empty(),
            "{user}: {:?}",
            assessment.warnings
        );
    }
}

#[test]
fn s5_a_persons_request_carrying_an_owner_reference_is_evaluated_without_a_warning() {
    // `kubectl create job --from=cronjob/hourly-report`: a Job owned by the CronJob, sent by a
    // person.
    let set = policy_set(SEED_POLICY_1);
    let data = api_now_fails();
    let mut case = Case::new(&set, &data);
    case.user = "kubernetes-admin";
    let job = |image: &str| {
        workload(&format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: hourly-report-manual\n  ownerReferences: [{{apiVersion: batch/v1, kind: CronJob, name: hourly-report, uid: u, controller: true}}]\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: report, image: '{image}'}}]\n"
        ))
    };
    let allowed = case.assess(&job(WEB_IMAGE));
    assert!(allowed.decision.allowed);
    assert_eq!(allowed.decision.images[0].rule_index, Some(1));
    assert!(allowed.warnings.is_empty(), "{:?}", allowed.warnings);
    let rejected = case.assess(&job(API_IMAGE));
    assert!(!rejected.decision.allowed);
    assert!(rejected.warnings.is_empty(), "{:?}", rejected.warnings);
}

#[test]
fn s5_the_controller_identity_list_is_configurable() {
    let identities =
        ControllerIdentities::from_patterns(["system:serviceaccount:ops:*-operator", "argo"]);
    assert!(identities.contains("system:serviceaccount:ops:rollout-operator"));
    assert!(identities.contains("argo"));
    assert!(!identities.contains(DEPLOYMENT_CONTROLLER));
}

// ---------- §6 Scan results ----------

struct Unavailable;

impl ScanSource for Unavailable {
    fn lookup(&self, _: &ImageRef) -> Result<Option<ScanResult>, ScanUnavailable> {
        Err(ScanUnavailable {
            reason: "VulnerabilityReports not synced".into(),
        })
    }
}

#[test]
fn s6_an_unavailable_scan_source_fails_closed_with_a_message() {
    let set = policy_set(SEED_POLICY_1);
    let decision = Case::new(&set, &Unavailable)
        .assess(&pod(&["gcr.io/company/production-repository/api:1.2"], &[]))
        .decision;
    assert!(!decision.allowed);
    let message = decision.message.unwrap();
    assert!(
        message.contains("scan data is unavailable: VulnerabilityReports not synced"),
        "{message}"
    );
    assert_eq!(decision.images[0].rule_index, Some(1));
}

#[test]
fn s6_rules_that_decide_before_any_scan_criterion_still_decide() {
    let set = policy_set(SEED_POLICY_1);
    let decision = Case::new(&set, &Unavailable)
        .assess(&pod(&["nginx"], &[]))
        .decision;
    assert_eq!(decision.images[0].rule_index, Some(0));
    assert!(decision.message.unwrap().contains("Action 'Reject'"));
}

#[test]
fn s6_without_scan_data_every_image_is_unknown_and_nothing_fails_closed() {
    let set = policy_set(SEED_POLICY_1);
    let decision = Case::new(&set, &NoScanData)
        .assess(&pod(&["gcr.io/company/production-repository/api:1.2"], &[]))
        .decision;
    assert_eq!(decision.images[0].status, ScanStatus::Unknown);
    assert_eq!(decision.images[0].rule_index, Some(2));
    assert!(!decision.message.unwrap().contains("unavailable"));
}

#[test]
fn s6_a_digest_result_matches_whatever_tag_the_reference_carries() {
    let digest = format!("sha256:{}", "b".repeat(64));
    let data = scans(&[(
        &format!("gcr.io/p/app@{digest}"),
        ScanStatus::Pass,
        Some("2026-11-25T00:00:00Z"),
    )]);
    let found = data
        .lookup(&ImageRef::parse(&format!("gcr.io/p/app:v9@{digest}")).unwrap())
        .unwrap();
    assert_eq!(found.map(|result| result.status), Some(ScanStatus::Pass));
}

// ---------- §7 Invalid policies ----------

#[test]
fn s7_an_invalid_policy_rejects_the_requests_it_could_apply_to() {
    let yaml = [
        one_rule_policy("allow-all", "order: 1", "    - action: Allow"),
        one_rule_policy(
            "broken-regex",
            "selector: \"team == 'payments'\"",
            "    - action: Reject\n      imagePath: {operator: IsOneOf, values: ['(']}",
        ),
    ]
    .join("---\n");
    let set = policy_set(&yaml);
    assert_eq!(set.invalid().len(), 1);
    let case = Case::new(&set, &NoScanData);
    let decision = case
        .assess(&pod(&["nginx"], &[("team", "payments")]))
        .decision;
    assert!(!decision.allowed);
    assert!(
        decision.message.as_deref().unwrap().starts_with(
            "ContainerAdmissionPolicy broken-regex is invalid: field `spec.rules[0].imagePath.values[0]`:"
        ),
        "{:?}",
        decision.message
    );
    // Requests its selector does not match are unaffected.
    assert!(
        case.assess(&pod(&["nginx"], &[("team", "web")]))
            .decision
            .allowed
    );
}

#[test]
fn s7_an_invalid_selector_rejects_every_request() {
    let yaml = [
        one_rule_policy("allow-all", "order: 1", "    - action: Allow"),
        one_rule_policy(
            "broken-selector",
            "selector: \"team = 'payments'\"",
            "    - action: Reject",
        ),
    ]
    .join("---\n");
    let set = policy_set(&yaml);
    let decision = Case::new(&set, &NoScanData)
        .assess(&pod(&["nginx"], &[("team", "web")]))
        .decision;
    assert!(!decision.allowed);
    assert!(
        decision
            .message
            .unwrap()
            .contains("ContainerAdmissionPolicy broken-selector is invalid: field `spec.selector`")
    );
}

#[test]
fn s6_when_several_results_share_a_key_the_newest_scan_wins() {
    let data = scans(&[
        (
            "gcr.io/p/app:1",
            ScanStatus::Fail,
            Some("2026-11-20T00:00:00Z"),
        ),
        (
            "gcr.io/p/app:1",
            ScanStatus::Pass,
            Some("2026-11-25T00:00:00Z"),
        ),
        (
            "gcr.io/p/app:1",
            ScanStatus::Warn,
            Some("2026-11-22T00:00:00Z"),
        ),
    ]);
    let found = data
        .lookup(&ImageRef::parse("gcr.io/p/app:1").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(found.status, ScanStatus::Pass);
    assert_eq!(found.last_scan, Some(ts("2026-11-25T00:00:00Z")));
}

#[test]
fn s6_a_digest_result_wins_over_a_tag_result() {
    let digest = format!("sha256:{}", "c".repeat(64));
    let data = scans(&[
        (
            "gcr.io/p/app:v1",
            ScanStatus::Pass,
            Some("2026-11-25T00:00:00Z"),
        ),
        (
            &format!("gcr.io/p/app@{digest}"),
            ScanStatus::Fail,
            Some("2026-11-01T00:00:00Z"),
        ),
    ]);
    let found = data
        .lookup(&ImageRef::parse(&format!("gcr.io/p/app:v1@{digest}")).unwrap())
        .unwrap();
    assert_eq!(found.map(|result| result.status), Some(ScanStatus::Fail));
}

#[test]
fn s6_trivy_reports_follow_calicos_cvss_thresholds_by_default() {
    use image_assurance::scan::{SeverityThresholds, parse_scan_documents};
    let report = |critical: u32, high: u32, medium: u32, low: u32| {
        format!(
            "apiVersion: aquasecurity.github.io/v1alpha1\nkind: VulnerabilityReport\nmetadata: {{name: r, namespace: default}}\nreport:\n  updateTimestamp: '2026-11-25T10:00:00Z'\n  registry: {{server: index.docker.io}}\n  artifact: {{repository: library/nginx, tag: '1.27'}}\n  summary: {{criticalCount: {critical}, highCount: {high}, mediumCount: {medium}, lowCount: {low}, unknownCount: 0}}\n"
        )
    };
    let nginx = ImageRef::parse("nginx:1.27").unwrap();
    for (counts, expected) in [
        ((1, 0, 0, 0), ScanStatus::Fail),
        ((0, 1, 5, 5), ScanStatus::Fail),
        ((0, 0, 1, 5), ScanStatus::Warn),
        ((0, 0, 0, 9), ScanStatus::Pass),
    ] {
        let (critical, high, medium, low) = counts;
        let index = parse_scan_documents(
            "r.yaml",
            &report(critical, high, medium, low),
            &SeverityThresholds::default(),
        )
        .unwrap();
        let found = index.lookup(&nginx).unwrap().unwrap();
        assert_eq!(found.status, expected, "{counts:?}");
        assert_eq!(found.last_scan, Some(ts("2026-11-25T10:00:00Z")));
    }
}
