//! The per-request cost of the policy engine (`cargo bench -p image-assurance`, or
//! `cargo xtask bench`). Figures and goals are recorded in BENCHMARKS.md.
//!
//! The policy benchmarks are the worst case: every policy applies (its selectors match) and
//! every rule is walked, because no rule matches until the default allow.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use image_assurance::admission::{self, Context, Subject};
use image_assurance::image::ImageRef;
use image_assurance::manifest::parse_documents;
use image_assurance::policy::{ContainerAdmissionPolicy, PolicySet, decode_policy};
use image_assurance::scan::{ScanIndex, ScanRecord, ScanResult, ScanSource, ScanStatus};
use image_assurance::selector::Selector;
use image_assurance::timestamp::parse_rfc3339;
use image_assurance::workload::{ControllerIdentities, Workload, WorkloadKind};

const SELECTOR: &str =
    "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}";

fn selector(c: &mut Criterion) {
    let mut labels = BTreeMap::new();
    labels.insert("my-label".to_string(), "production".to_string());
    labels.insert("role".to_string(), "business".to_string());
    let parsed = Selector::parse(SELECTOR).expect("valid selector");
    c.bench_function("selector/parse", |b| {
        b.iter(|| Selector::parse(black_box(SELECTOR)))
    });
    c.bench_function("selector/match", |b| {
        b.iter(|| parsed.matches(black_box(&labels)))
    });
}

/// A policy that applies to the benchmark's workload and namespace but whose rules match none
/// of its images, so evaluation walks all of it.
fn policy_yaml(index: usize) -> String {
    format!(
        "apiVersion: containersecurity.tigera.io/v1beta1
kind: ContainerAdmissionPolicy
metadata: {{name: policy-{index:04}}}
spec:
  order: {index}
  selector: \"app == 'shop' && tier in {{'web', 'api'}}\"
  namespaceSelector: \"env == 'production'\"
  rules:
    - action: Reject
      imagePath: {{operator: IsOneOf, values: ['^quay.io/blocked-{index}/', '^docker.io/library/forbidden-{index}:']}}
    - action: Allow
      imagePath: {{operator: IsOneOf, values: ['^registry.example.com/team-{index}/']}}
      imageScanStatus: {{operator: IsOneOf, values: [Pass]}}
"
    )
}

fn policies(count: usize) -> PolicySet {
    let yaml: Vec<String> = (0..count).map(policy_yaml).collect();
    let parsed: Vec<ContainerAdmissionPolicy> = parse_documents("bench.yaml", &yaml.join("---\n"))
        .expect("valid YAML")
        .iter()
        .map(|document| decode_policy(document).expect("valid policy"))
        .collect();
    let set = PolicySet::compile(&parsed);
    assert_eq!(set.policies().len(), count);
    set
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: shop, labels: {app: shop, tier: web}}
spec:
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      initContainers:
        - {name: migrate, image: 'gcr.io/company/production-repository/migrations:5'}
      containers:
        - {name: web, image: 'gcr.io/company/production-repository/web:2.1'}
        - {name: api, image: 'gcr.io/company/production-repository/api:1.2'}
        - {name: cache, image: 'redis:7.4'}
        - {name: proxy, image: 'envoyproxy/envoy:v1.31.0'}
";

fn deployment() -> Workload {
    let documents = parse_documents("deployment.yaml", DEPLOYMENT).expect("valid YAML");
    Workload::from_value(WorkloadKind::Deployment, &documents[0].value).expect("valid Deployment")
}

fn scan_index(count: usize) -> ScanIndex {
    let scanned = parse_rfc3339("2026-11-25T10:00:00Z").ok();
    ScanIndex::from_records((0..count).map(|index| {
        ScanRecord {
            image: ImageRef::parse(&format!(
                "registry.example.com/team-{}/service-{index}:1.{}",
                index % 97,
                index % 13
            ))
            .expect("valid reference"),
            result: ScanResult {
                status: ScanStatus::Pass,
                last_scan: scanned,
            },
        }
    }))
}

fn evaluation(c: &mut Criterion) {
    let workload = deployment();
    let namespace_labels =
        admission::namespace_labels("shop", [("env".to_string(), "production".to_string())]);
    let scans = scan_index(1_000);
    let identities = ControllerIdentities::default();
    let now = parse_rfc3339("2026-11-26T12:00:00Z").expect("valid time");
    let mut group = c.benchmark_group("evaluate/5-container-deployment");
    for count in [10, 100, 1000] {
        let set = policies(count);
        let context = Context {
            policies: &set,
            scans: &scans,
            now,
            identities: &identities,
        };
        let subject = Subject {
            workload: &workload,
            namespace: "shop",
            namespace_labels: &namespace_labels,
            user: "jane",
            owner: None,
        };
        // The benchmark only means something if every image reaches the default allow.
        let assessment = admission::assess(&context, &subject).expect("valid workload");
        assert!(
            assessment
                .decision
                .images
                .iter()
                .all(|image| image.rule_index.is_none())
        );
        group.bench_with_input(BenchmarkId::new("policies", count), &count, |b, _| {
            b.iter(|| admission::assess(black_box(&context), black_box(&subject)))
        });
    }
    group.finish();
}

fn scan_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("scan-lookup");
    for count in [1_000, 1_000_000] {
        let index = scan_index(count);
        let present = ImageRef::parse(&format!(
            "registry.example.com/team-{}/service-{}:1.{}",
            500 % 97,
            500,
            500 % 13
        ))
        .expect("valid reference");
        let absent = ImageRef::parse("registry.example.com/team-1/never-scanned:1.0")
            .expect("valid reference");
        assert!(matches!(index.lookup(&present), Ok(Some(_))));
        group.bench_with_input(BenchmarkId::new("hit", count), &count, |b, _| {
            b.iter(|| index.lookup(black_box(&present)))
        });
        group.bench_with_input(BenchmarkId::new("miss", count), &count, |b, _| {
            b.iter(|| index.lookup(black_box(&absent)))
        });
    }
    group.finish();
}

criterion_group!(benches, selector, evaluation, scan_lookup);
criterion_main!(benches);
