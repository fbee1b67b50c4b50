//! Prometheus metrics, served on their own plain-HTTP port: requests by decision and kind,
//! latency, policies loaded and invalid, cache sync state, scan-data age.

use std::sync::atomic::{AtomicI64, AtomicU64};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `decision` and `endpoint` take a few fixed values: counting a request allocates nothing
/// for them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub decision: &'static str,
    pub kind: String,
    pub endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: String,
}

pub struct Metrics {
    pub registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Histogram,
    pub policies_loaded: Gauge,
    pub policies_invalid: Gauge,
    pub synced: Family<SourceLabels, Gauge>,
    /// Seconds since the newest scan result (or -1 when there is none).
    pub scan_data_age: Gauge<f64, AtomicU64>,
    pub scan_results: Gauge<i64, AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("image_assurance");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission requests by decision, kind and endpoint",
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
            "1 when a data source has synced",
            synced.clone(),
        );
        let scan_data_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "scan_data_age_seconds",
            "Age of the newest scan result",
            scan_data_age.clone(),
        );
        let scan_results = Gauge::<i64, AtomicI64>::default();
        registry.register("scan_results", "Scan results known", scan_results.clone());
        Metrics {
            registry,
            requests,
            latency,
            policies_loaded,
            policies_invalid,
            synced,
            scan_data_age,
            scan_results,
        }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}
