//! The per-request cost of the policy engine (`cargo bench -p image-assurance`, or
//! `cargo xtask bench`). Figures and goals are recorded in BENCHMARKS.md.
//!
//! The policy benchmarks are the worst case: every policy applies (its selectors match) and no
//! rule matches, so every image reaches the default allow. `review/…` is the webhook's whole
//! decision path for one request body, without the network: decode, decide, encode.

#[path = "support/request.rs"]
mod request;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use image_assurance::admission::handler::{Admitter, ClusterView, LookupError, ReviewObject};
use image_assurance::admission::review::{TextRequest, read_request_text, review_json};
use image_assurance::admission::{self, Context, Subject};
use image_assurance::image::ImageRef;
use image_assurance::manifest::parse_documents;
use image_assurance::policy::{ContainerAdmissionPolicy, PolicySet};
use image_assurance::scan::{ScanIndex, ScanRecord, ScanResult, ScanSource, ScanStatus};
use image_assurance::selector::Selector;
use image_assurance::timestamp::parse_rfc3339;
use image_assurance::workload::{ControllerIdentities, Workload, WorkloadKind};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

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

fn policies(count: usize) -> PolicySet {
    let parsed: Vec<ContainerAdmissionPolicy> = (0..count)
        .map(|index| serde_json::from_value(request::policy(index)).expect("valid policy"))
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

/// The cluster as the webhook's caches would hold it: the policies, the scan results, the
/// request's namespace; no owner lookups (the request comes from a person).
struct CachedCluster {
    policies: Arc<PolicySet>,
    scans: ScanIndex,
}

impl ClusterView for CachedCluster {
    fn policies(&self) -> Arc<PolicySet> {
        self.policies.clone()
    }

    fn scans(&self) -> &dyn ScanSource {
        &self.scans
    }

    async fn namespace_labels(&self, _: &str) -> Result<BTreeMap<String, String>, LookupError> {
        Ok(BTreeMap::from([(
            "env".to_string(),
            "production".to_string(),
        )]))
    }

    async fn owner(&self, _: &OwnerReference, _: &str) -> Result<Option<Workload>, LookupError> {
        Ok(None)
    }
}

/// What `POST /admission-review` does with a body, minus HTTP: read the review, decide, write
/// the response.
fn answer(admitter: &Admitter<CachedCluster>, body: &[u8], now: Timestamp) -> Vec<u8> {
    let TextRequest { request, object } = read_request_text(body).expect("a valid review");
    let review = admitter.review_object(&request, object.map(ReviewObject::Text), now);
    let (response, _) = futures::executor::block_on(review);
    review_json(response)
}

fn review(c: &mut Criterion) {
    let body = request::Review::new()
        .expect("the review encodes")
        .body("6f0d9a52-0000-4b1e-9c3a-000000000001");
    let now = parse_rfc3339("2026-11-26T12:00:00Z").expect("valid time");
    let mut group = c.benchmark_group("review/5-container-deployment");
    for count in [10, 100, 1000] {
        let admitter = Admitter {
            cluster: CachedCluster {
                policies: Arc::new(policies(count)),
                scans: scan_index(1_000),
            },
            identities: ControllerIdentities::default(),
        };
        // Only meaningful if the request is decided, and allowed, as in the load benchmark.
        let answer_text = answer(&admitter, &body, now);
        let answered: serde_json::Value =
            serde_json::from_slice(&answer_text).expect("a JSON answer");
        assert_eq!(answered["response"]["allowed"], true, "{answered}");
        group.bench_with_input(BenchmarkId::new("policies", count), &count, |b, _| {
            b.iter(|| answer(black_box(&admitter), black_box(&body), now))
        });
    }
    group.finish();
}

criterion_group!(benches, selector, evaluation, review, scan_lookup);
criterion_main!(benches);
