//! Prometheus metrics, served on their own plain-HTTP port: requests by decision and kind,
//! latency, readiness, policies loaded and invalid, each source's sync state, and per scan
//! source its result count and data age.
//!
//! Every label value comes from a fixed set, never from a request: a label per distinct value
//! keeps a time series for ever, so a request-derived label would let any client grow memory
//! and `/metrics` without bound.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::workload::WorkloadKind;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub decision: &'static str,
    /// See [`kind_label`].
    pub kind: &'static str,
    pub endpoint: &'static str,
}

/// The `kind` label of a request: a pod-creating kind, `ContainerAdmissionPolicy` (on
/// `/validate-policy`), or `other` for anything else a client may send.
pub fn kind_label(kind: &str) -> &'static str {
    if kind == crate::policy::KIND {
        return crate::policy::KIND;
    }
    WorkloadKind::ALL
        .into_iter()
        .map(WorkloadKind::name)
        .find(|name| *name == kind)
        .unwrap_or("other")
}

/// The data sources the webhook watches or reads.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Policies,
    Namespaces,
    VulnerabilityReports,
    ScanResultsFile,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Policies => "policies",
            Source::Namespaces => "namespaces",
            Source::VulnerabilityReports => "vulnerabilityreports",
            Source::ScanResultsFile => "scan-results-file",
        }
    }
}

/// A `Warn` or `Audit` policy: its name comes from the cluster's policies (as many series as
/// policies), never from a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdvisoryLabels {
    pub enforcement: &'static str,
    pub policy: String,
}

/// A (namespace, policy) pair with violations at the last audit: namespaces come from those
/// the webhook covers and policies from the cluster's policies, and a series is removed when
/// its count drops to 0, so the set stays bounded by what actually violates.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct AuditLabels {
    pub namespace: String,
    pub policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: &'static str,
}

impl From<Source> for SourceLabels {
    fn from(source: Source) -> Self {
        SourceLabels {
            source: source.name(),
        }
    }
}

pub struct Metrics {
    pub registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Histogram,
    /// 1 while `/readyz` answers 200 (the policies have synced).
    pub ready: Gauge,
    pub policies_loaded: Gauge,
    pub policies_invalid: Gauge,
    /// 1 when a source has synced and can answer, 0 while it has not or cannot (unreadable).
    pub synced: Family<SourceLabels, Gauge>,
    /// Scan results each scan source holds (0 while it is unavailable).
    pub scan_results: Family<SourceLabels, Gauge<i64, AtomicI64>>,
    /// Seconds since a scan source's newest scan, computed when scraped. A source without any
    /// scan time (no data, unavailable, or results without `lastScan`) has no sample at all,
    /// so that "no data" never reads as fresh data.
    pub scan_data_age: Family<SourceLabels, Gauge<f64, AtomicU64>>,
    /// The newest resourceVersion this replica has seen from a watched source, when it is a
    /// number (kube-apiserver's are etcd revisions): how far this replica has caught up, which
    /// the conformance harness waits on for every replica.
    pub resource_version: Family<SourceLabels, Gauge<i64, AtomicI64>>,
    /// Images that `Warn` and `Audit` policies would have rejected, by enforcement and policy.
    pub advisory_rejections: Family<AdvisoryLabels, Counter>,
    /// Running workloads each policy would reject, per namespace, at the last audit.
    pub audit_violations: Family<AuditLabels, Gauge>,
    /// When the last audit finished (Unix seconds); 0 until one has on this replica.
    pub audit_last_run: Gauge,
    /// 1 while this replica holds the audit lease.
    pub audit_leader: Gauge,
    /// The series `audit_violations` has, to remove those that drop to 0.
    audit_series: Mutex<BTreeMap<AuditLabels, i64>>,
    /// The newest scan time of each scan source that has one.
    newest_scan: Mutex<BTreeMap<Source, jiff::Timestamp>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("image_assurance");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission requests by decision, kind (a pod-creating kind, ContainerAdmissionPolicy or other) and endpoint",
            requests.clone(),
        );
        // 0.1 ms to ~3 s: decisions take microseconds, the API server gives up at seconds.
        let latency = Histogram::new([
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5,
        ]);
        registry.register(
            "admission_duration_seconds",
            "Time to answer an admission request",
            latency.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 while this replica is ready (listener up, policies synced)",
            ready.clone(),
        );
        let policies_loaded = Gauge::default();
        registry.register(
            "policies_loaded",
            "Valid ContainerAdmissionPolicies loaded",
            policies_loaded.clone(),
        );
        let policies_invalid = Gauge::default();
        registry.register(
            "policies_invalid",
            "Invalid ContainerAdmissionPolicies (they reject what they could apply to)",
            policies_invalid.clone(),
        );
        let synced = Family::<SourceLabels, Gauge>::default();
        registry.register(
            "source_synced",
            "1 when a data source has synced and can answer, 0 while it has not or cannot",
            synced.clone(),
        );
        let scan_results = Family::<SourceLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "scan_results",
            "Scan results a scan source holds (0 while it is unavailable)",
            scan_results.clone(),
        );
        let scan_data_age = Family::<SourceLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "scan_data_age_seconds",
            "Seconds since a scan source's newest scan; no sample while it has no scan time",
            scan_data_age.clone(),
        );
        let resource_version = Family::<SourceLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "source_resource_version",
            "The newest resourceVersion seen from a watched source (when it is a number)",
            resource_version.clone(),
        );
        let advisory_rejections = Family::<AdvisoryLabels, Counter>::default();
        registry.register(
            "advisory_rejections",
            "Images that a Warn or Audit policy would have rejected in admission requests, by enforcement and policy",
            advisory_rejections.clone(),
        );
        let audit_violations = Family::<AuditLabels, Gauge>::default();
        registry.register(
            "audit_violations",
            "Running workloads that a policy would reject, by namespace and policy, at the last audit (only pairs with violations)",
            audit_violations.clone(),
        );
        let audit_last_run = Gauge::default();
        registry.register(
            "audit_last_run_timestamp_seconds",
            "When this replica last finished an audit (Unix seconds)",
            audit_last_run.clone(),
        );
        let audit_leader = Gauge::default();
        registry.register(
            "audit_leader",
            "1 while this replica holds the audit lease",
            audit_leader.clone(),
        );
        let metrics = Metrics {
            registry,
            resource_version,
            audit_violations,
            audit_last_run,
            audit_leader,
            audit_series: Mutex::new(BTreeMap::new()),
            advisory_rejections,
            requests,
            latency,
            ready,
            policies_loaded,
            policies_invalid,
            synced,
            scan_results,
            scan_data_age,
            newest_scan: Mutex::new(BTreeMap::new()),
        };
        // Every source is reported from the start, as not synced, so that a source that never
        // syncs is visible (and alertable) rather than absent.
        for source in [
            Source::Policies,
            Source::Namespaces,
            Source::VulnerabilityReports,
        ] {
            metrics.set_synced(source, false);
        }
        metrics
    }
}

impl Metrics {
    /// Raises the source's resourceVersion gauge to `version` if it is a newer number.
    pub fn saw_resource_version(&self, source: Source, version: &str) {
        if let Ok(version) = version.parse::<i64>() {
            let gauge = self.resource_version.get_or_create(&source.into());
            if version > gauge.get() {
                gauge.set(version);
            }
        }
    }

    pub fn set_synced(&self, source: Source, synced: bool) {
        self.synced
            .get_or_create(&source.into())
            .set(i64::from(synced));
    }

    /// What a scan source holds now: `results` results, the newest scanned at `newest`.
    pub fn set_scan_data(&self, source: Source, results: usize, newest: Option<jiff::Timestamp>) {
        self.scan_results
            .get_or_create(&source.into())
            .set(i64::try_from(results).unwrap_or(i64::MAX));
        let mut newest_scan = self
            .newest_scan
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match newest {
            Some(newest) => {
                newest_scan.insert(source, newest);
            }
            None => {
                newest_scan.remove(&source);
                self.scan_data_age.remove(&source.into());
            }
        }
    }

    /// The counts of the last audit: `counts` has every (namespace, policy) with violations;
    /// series that are not in it any more are removed.
    pub fn set_audit_violations(&self, counts: BTreeMap<AuditLabels, i64>) {
        let mut series = self
            .audit_series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for gone in series.keys().filter(|labels| !counts.contains_key(*labels)) {
            self.audit_violations.remove(gone);
        }
        for (labels, count) in &counts {
            self.audit_violations.get_or_create(labels).set(*count);
        }
        *series = counts;
    }

    /// The ages as of now: a gauge set when the data changed would stay at its age then.
    fn refresh_scan_data_age(&self) {
        let now = jiff::Timestamp::now();
        let newest_scan = self
            .newest_scan
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (source, newest) in newest_scan.iter() {
            let age = now.as_millisecond().saturating_sub(newest.as_millisecond()) as f64 / 1000.0;
            self.scan_data_age.get_or_create(&(*source).into()).set(age);
        }
    }

    pub fn encode(&self) -> String {
        self.refresh_scan_data_age();
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_labels_come_from_a_fixed_set() {
        assert_eq!(kind_label("Deployment"), "Deployment");
        assert_eq!(
            kind_label("ContainerAdmissionPolicy"),
            "ContainerAdmissionPolicy"
        );
        assert_eq!(kind_label("Service"), "other");
        assert_eq!(kind_label("deployment"), "other");
        assert_eq!(kind_label(&"K".repeat(1 << 20)), "other");
    }

    #[test]
    fn distinct_request_kinds_add_no_time_series() {
        let metrics = Metrics::default();
        for index in 0..100 {
            let labels = RequestLabels {
                decision: "allowed",
                kind: kind_label(&format!("Kind{index}")),
                endpoint: "admission-review",
            };
            metrics.requests.get_or_create(&labels).inc();
        }
        let text = metrics.encode();
        let series: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("image_assurance_admission_requests_total{"))
            .collect();
        assert_eq!(
            series,
            [
                "image_assurance_admission_requests_total{decision=\"allowed\",kind=\"other\",endpoint=\"admission-review\"} 100"
            ]
        );
    }

    #[test]
    fn audit_series_exist_only_while_they_have_violations() {
        let metrics = Metrics::default();
        let labels = |namespace: &str, policy: &str| AuditLabels {
            namespace: namespace.to_string(),
            policy: policy.to_string(),
        };
        metrics.set_audit_violations(BTreeMap::from([
            (labels("team-a", "p"), 2),
            (labels("team-b", "p"), 1),
        ]));
        // A family encodes its series in hash order: compare them sorted.
        let series = |text: &str| -> Vec<String> {
            let mut lines: Vec<String> = text
                .lines()
                .filter(|line| line.starts_with("image_assurance_audit_violations{"))
                .map(str::to_string)
                .collect();
            lines.sort();
            lines
        };
        assert_eq!(
            series(&metrics.encode()),
            [
                "image_assurance_audit_violations{namespace=\"team-a\",policy=\"p\"} 2",
                "image_assurance_audit_violations{namespace=\"team-b\",policy=\"p\"} 1"
            ]
        );
        metrics.set_audit_violations(BTreeMap::from([(labels("team-b", "p"), 3)]));
        assert_eq!(
            series(&metrics.encode()),
            ["image_assurance_audit_violations{namespace=\"team-b\",policy=\"p\"} 3"]
        );
        metrics.set_audit_violations(BTreeMap::new());
        assert!(series(&metrics.encode()).is_empty());
    }

    #[test]
    fn a_source_without_a_scan_time_has_no_age_sample() {
        let metrics = Metrics::default();
        metrics.set_scan_data(Source::ScanResultsFile, 0, None);
        let text = metrics.encode();
        assert!(
            text.contains("image_assurance_scan_results{source=\"scan-results-file\"} 0"),
            "{text}"
        );
        assert!(
            !text.contains("image_assurance_scan_data_age_seconds{"),
            "{text}"
        );
    }

    #[test]
    fn the_age_is_that_of_the_newest_scan_when_scraped_and_goes_when_the_data_does() {
        let metrics = Metrics::default();
        let day_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
        metrics.set_scan_data(Source::VulnerabilityReports, 3, Some(day_ago));
        let text = metrics.encode();
        let age: f64 = text
            .lines()
            .find_map(|line| {
                line.strip_prefix(
                    "image_assurance_scan_data_age_seconds{source=\"vulnerabilityreports\"} ",
                )
            })
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no age in {text}"));
        assert!((86_400.0..86_460.0).contains(&age), "{age}");
        assert!(
            text.contains("image_assurance_scan_results{source=\"vulnerabilityreports\"} 3"),
            "{text}"
        );
        metrics.set_scan_data(Source::VulnerabilityReports, 0, None);
        assert!(
            !metrics
                .encode()
                .contains("image_assurance_scan_data_age_seconds{"),
            "{}",
            metrics.encode()
        );
    }

    #[test]
    fn every_cluster_source_is_reported_before_it_syncs() {
        let text = Metrics::default().encode();
        for source in ["policies", "namespaces", "vulnerabilityreports"] {
            let line = format!("image_assurance_source_synced{{source=\"{source}\"}} 0");
            assert!(text.contains(&line), "{text}");
        }
        assert!(text.contains("image_assurance_ready 0"), "{text}");
    }
}
