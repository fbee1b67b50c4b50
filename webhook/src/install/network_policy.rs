//! The NetworkPolicy of the webhook's pods: ingress only to the HTTPS port (admission reviews
//! from the API server, and the kubelet's probes) and the metrics port (Prometheus). Everything
//! else, e.g. a port a future flag opens by mistake, is dropped where the network plugin
//! enforces NetworkPolicy.
//!
//! Sources are not narrowed: the API server reaches webhooks from host or node addresses that
//! differ between clusters (and NetworkPolicy cannot name them portably), and where Prometheus
//! runs is the operator's choice. Egress is left open: the webhook only dials the API server,
//! whose address is just as cluster-specific.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{HTTPS_PORT, METRICS_PORT, NETWORK_POLICY_NAME, app_labels, pod_selector_labels};

pub fn network_policy(namespace: &str) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(NETWORK_POLICY_NAME.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(app_labels()),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(pod_selector_labels()),
                match_expressions: None,
            }),
            // Numbers rather than the container ports' names: every NetworkPolicy
            // implementation supports numbers, not all resolve names.
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: None,
                ports: Some(vec![tcp(HTTPS_PORT), tcp(METRICS_PORT)]),
            }]),
            egress: None,
            policy_types: Some(vec!["Ingress".to_string()]),
        }),
    }
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".to_string()),
        end_port: None,
    }
}
