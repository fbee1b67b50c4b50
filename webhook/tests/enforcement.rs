//! Issue #14 §1–§2: `Warn` and `Audit` policies never change a decision and report what they
//! would reject; the global dry run; the why of a rule's decision.

use image_assurance::admission::handler::finding_text;
use image_assurance::admission::{self, Assessment, Context, Subject};
use image_assurance::image::ImageRef;
use image_assurance::manifest::parse_documents;
use image_assurance::policy::explain::why;
use image_assurance::policy::{ContainerAdmissionPolicy, Enforcement, PolicySet, decode_policy};
use image_assurance::scan::{
    NoScanData, ScanIndex, ScanRecord, ScanResult, ScanSource, ScanStatus,
};
use image_assurance::timestamp::parse_rfc3339;
use image_assurance::workload::{ControllerIdentities, Workload, WorkloadKind};

const SEED_POLICY_1: &str = include_str!("../../fixtures/policies/reject-failed-and-non-gcr.yaml");
const NOW: &str = "2026-11-26T12:00:00Z";

fn policies(yaml: &str) -> Vec<ContainerAdmissionPolicy> {
    parse_documents("test.yaml", yaml)
        .unwrap()
        .iter()
        .map(|document| decode_policy(document).unwrap())
        .collect()
}

/// The seed's first policy under another name and enforcement.
fn seed_as(name: &str, enforcement: &str) -> String {
    SEED_POLICY_1
        .replace("name: reject-failed-and-non-gcr", &format!("name: {name}"))
        .replace(
            "  order: 10\n",
            &format!("  order: 10\n  enforcement: {enforcement}\n"),
        )
}

fn pod(images: &[&str]) -> Workload {
    let containers: Vec<String> = images
        .iter()
        .enumerate()
        .map(|(index, image)| format!("{{name: c{index}, image: '{image}'}}"))
        .collect();
    let documents = parse_documents(
        "pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{containers: [{}]}}\n",
            containers.join(", ")
        ),
    )
    .unwrap();
    Workload::from_value(WorkloadKind::Pod, &documents[0].value).unwrap()
}

fn assess(set: &PolicySet, scans: &dyn ScanSource, workload: &Workload) -> Assessment {
    let identities = ControllerIdentities::default();
    let context = Context {
        policies: set,
        scans,
        now: parse_rfc3339(NOW).unwrap(),
        identities: &identities,
    };
    let labels = admission::namespace_labels("team-a", []);
    let subject = Subject {
        workload,
        namespace: "team-a",
        namespace_labels: &labels,
        user: "jane",
        owner: None,
    };
    admission::assess(&context, &subject).unwrap()
}

const GCR: &str = "gcr.io/company/production-repository/api:1.2";

fn failed_gcr_image() -> ScanIndex {
    ScanIndex::from_records([ScanRecord {
        image: ImageRef::parse(GCR).unwrap(),
        result: ScanResult {
            status: ScanStatus::Fail,
            last_scan: parse_rfc3339("2026-11-25T10:00:00Z").ok(),
        },
    }])
}

#[test]
fn a_warn_policy_admits_and_reports_each_image_it_would_reject() {
    let set = PolicySet::compile(&policies(&seed_as("try-out", "Warn")));
    assert!(set.policies().is_empty(), "not among the enforced policies");
    let assessment = assess(&set, &NoScanData, &pod(&["nginx:1.27", GCR]));
    assert!(assessment.decision.allowed, "{:?}", assessment.decision);
    let texts: Vec<String> = assessment.findings.iter().map(finding_text).collect();
    assert_eq!(
        texts,
        [
            "Warn policy try-out would reject image \"nginx:1.27\" (container \"c0\"): rule index 0 of ContainerPolicy try-out matched: imagePath IsNoneOf ['^gcr.io/company/production-repository/.*'] (image is docker.io/library/nginx:1.27)",
            "Warn policy try-out would reject image \"gcr.io/company/production-repository/api:1.2\" (container \"c1\"): rule index 2 of ContainerPolicy try-out matched: the rule has no criteria, so it matches every image",
        ]
    );
    assert_eq!(assessment.findings[0].enforcement, Enforcement::Warn);
    assert_eq!(assessment.findings[1].rule_index, Some(2));
}

#[test]
fn warn_and_audit_policies_never_change_the_enforced_decision() {
    let yaml = [
        seed_as("enforced", "Enforce"),
        seed_as("warned", "Warn"),
        seed_as("audited", "Audit"),
    ]
    .join("---\n");
    let set = PolicySet::compile(&policies(&yaml));
    let scans = failed_gcr_image();
    let assessment = assess(&set, &scans, &pod(&[GCR]));
    // Decided by the enforced policy alone, as if the others did not exist.
    let alone = PolicySet::compile(&policies(&seed_as("enforced", "Enforce")));
    assert_eq!(
        assessment.decision,
        assess(&alone, &scans, &pod(&[GCR])).decision
    );
    assert!(!assessment.decision.allowed);
    let found: Vec<(Enforcement, &str, Option<usize>)> = assessment
        .findings
        .iter()
        .map(|finding| {
            (
                finding.enforcement,
                finding.policy.as_str(),
                finding.rule_index,
            )
        })
        .collect();
    // Each evaluated on its own: scan status Fail passes no Allow rule, so rule index 2.
    assert_eq!(
        found,
        [
            (Enforcement::Audit, "audited", Some(2)),
            (Enforcement::Warn, "warned", Some(2)),
        ]
    );
}

#[test]
fn an_advisory_policy_that_would_allow_reports_nothing() {
    let set = PolicySet::compile(&policies(&seed_as("warned", "Warn")));
    let scans = ScanIndex::from_records([ScanRecord {
        image: ImageRef::parse(GCR).unwrap(),
        result: ScanResult {
            status: ScanStatus::Pass,
            last_scan: None,
        },
    }]);
    let assessment = assess(&set, &scans, &pod(&[GCR]));
    assert!(assessment.decision.allowed);
    assert!(assessment.findings.is_empty());
}

#[test]
fn an_invalid_warn_policy_rejects_nothing_and_is_reported() {
    let broken = seed_as("broken", "Warn").replace("selector: all()", "selector: \"a = 'b'\"");
    let set = PolicySet::compile(&policies(&broken));
    assert!(
        set.invalid().is_empty(),
        "an invalid Warn policy does not fail closed"
    );
    let assessment = assess(&set, &NoScanData, &pod(&["nginx:1.27"]));
    assert!(assessment.decision.allowed);
    assert_eq!(assessment.findings.len(), 1);
    assert!(
        assessment.findings[0]
            .why
            .contains("ContainerAdmissionPolicy broken is invalid"),
        "{:?}",
        assessment.findings[0]
    );
}

#[test]
fn the_global_dry_run_treats_every_policy_as_warn() {
    let set = PolicySet::compile_enforcing(
        &policies(&seed_as("enforced", "Enforce")),
        Vec::new(),
        Some(Enforcement::Warn),
    );
    let assessment = assess(&set, &NoScanData, &pod(&["nginx:1.27"]));
    assert!(assessment.decision.allowed);
    assert_eq!(assessment.findings.len(), 1);
    assert_eq!(assessment.findings[0].enforcement, Enforcement::Warn);
}

#[test]
fn the_why_of_a_rejection_names_the_rule_its_criteria_and_what_the_image_is() {
    let set = PolicySet::compile(&policies(SEED_POLICY_1));
    let scans = failed_gcr_image();
    let assessment = assess(&set, &scans, &pod(&["nginx:1.27", GCR]));
    // The denial keeps Calico's wording.
    assert_eq!(
        assessment.decision.message.as_deref(),
        Some(
            "image \"nginx:1.27\" (container \"c0\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0; image \"gcr.io/company/production-repository/api:1.2\" (container \"c1\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 2"
        )
    );
    let whys: Vec<Option<String>> = assessment
        .decision
        .images
        .iter()
        .map(|image| why(&set, image))
        .collect();
    assert_eq!(
        whys[0].as_deref(),
        Some(
            "image \"nginx:1.27\" (container \"c0\"): rule index 0 of ContainerPolicy reject-failed-and-non-gcr matched: imagePath IsNoneOf ['^gcr.io/company/production-repository/.*'] (image is docker.io/library/nginx:1.27)"
        )
    );
    assert!(
        whys[1]
            .as_deref()
            .is_some_and(|why| why.contains("rule index 2"))
    );
}

#[test]
fn the_why_of_scan_criteria_gives_the_status_and_the_scan_time() {
    let yaml = "apiVersion: containersecurity.tigera.io/v1beta1\nkind: ContainerAdmissionPolicy\nmetadata: {name: scans}\nspec:\n  rules:\n    - action: Reject\n      imageScanStatus: {operator: IsOneOf, values: [Fail, Unknown]}\n      imageLastScan: {operator: gt, duration: {months: 1, days: 2}}\n";
    let set = PolicySet::compile(&policies(yaml));
    let scans = failed_gcr_image();
    let assessment = assess(&set, &scans, &pod(&[GCR]));
    let image = &assessment.decision.images[0];
    assert_eq!(
        why(&set, image).as_deref(),
        Some(
            "image \"gcr.io/company/production-repository/api:1.2\" (container \"c0\"): rule index 0 of ContainerPolicy scans matched: imageScanStatus IsOneOf ['Fail', 'Unknown'] (scan status is Fail) and imageLastScan gt 1 month 2 days ago (last scanned 2026-11-25T10:00:00Z)"
        )
    );
    // A default allow has no rule to explain.
    let allowed = assess(&set, &NoScanData, &pod(&["nginx:1.27"]));
    assert_eq!(why(&set, &allowed.decision.images[0]), None);
}
