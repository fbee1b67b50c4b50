//! The `kubernetes` Service in `default`, which kube-apiserver creates at start-up: the first
//! address of the service range (10.96.0.1), port 443 `https` to the API server's port, and an
//! Endpoints object naming the API server (with `endpointslice.kubernetes.io/skip-mirror`,
//! as kube-apiserver's endpoint reconciler writes it).

use serde_json::{Value, json};

use super::{SharedState, Target};
use crate::admission::Caller;

/// Creates the Service and its Endpoints (the store is fresh, so nothing is in the way).
pub async fn create(state: &SharedState) {
    let (ip, port) = match state.address.parse::<std::net::SocketAddr>() {
        // The address clients reach: a wildcard listener is reachable on loopback.
        Ok(address) if address.ip().is_unspecified() => ("127.0.0.1".to_string(), address.port()),
        Ok(address) => (address.ip().to_string(), address.port()),
        Err(_) => ("127.0.0.1".to_string(), 443),
    };
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        },
    });
    let endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{
            "addresses": [{"ip": ip}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }],
    });
    for (resource, object) in [("services", service), ("endpoints", endpoints)] {
        create_one(state, resource, object).await;
    }
}

async fn create_one(state: &SharedState, resource: &str, object: Value) {
    let Some(info) = state.catalogue.get("", "v1", resource) else {
        return;
    };
    let target = Target {
        info,
        namespace: Some("default".into()),
        name: None,
        subresource: None,
    };
    let caller = Caller::admin();
    let query = [("fieldManager".to_string(), "kube-apiserver".to_string())].into();
    if let Err(error) = super::objects::create(state, &target, object, &query, &caller).await {
        tracing::error!(resource, error = %error.message, "cannot create the kubernetes Service");
    }
}
