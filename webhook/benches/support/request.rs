//! What both benchmarks send and configure: the AdmissionReview of a 5-container Deployment
//! (as the API server sends it for `kubectl apply`) and the policies it is evaluated against.
//! Included by `decisions` and `webhook_load` with `#[path]`.

use axum::body::Bytes;
use serde_json::{Value, json};

/// The namespace of the request (labelled `env: production` where a cluster is involved).
pub const NAMESPACE: &str = "shop";

/// A policy that applies to the request's workload and namespace (`app: shop, tier: web` in
/// `env: production`) but whose rules match none of its images, so every image reaches the
/// default allow.
pub fn policy(index: usize) -> Value {
    json!({
        "apiVersion": "containersecurity.tigera.io/v1beta1",
        "kind": "ContainerAdmissionPolicy",
        "metadata": {"name": format!("policy-{index:04}")},
        "spec": {
            "order": index,
            "selector": "app == 'shop' && tier in {'web', 'api'}",
            "namespaceSelector": "env == 'production'",
            "rules": [
                {"action": "Reject", "imagePath": {"operator": "IsOneOf", "values": [format!("^quay.io/blocked-{index}/"), format!("^docker.io/library/forbidden-{index}:")]}},
                {"action": "Allow", "imagePath": {"operator": "IsOneOf", "values": [format!("^registry.example.com/team-{index}/")]}, "imageScanStatus": {"operator": "IsOneOf", "values": ["Pass"]}},
            ],
        },
    })
}

pub const IMAGES: [&str; 5] = [
    "gcr.io/company/production-repository/migrations:5",
    "gcr.io/company/production-repository/web:2.1",
    "gcr.io/company/production-repository/api:1.2",
    "redis:7.4",
    "envoyproxy/envoy:v1.31.0",
];

fn container(name: &str, image: &str, port: u16) -> Value {
    json!({
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    })
}

const UID_PLACEHOLDER: &str = "@@UID@@";

/// The AdmissionReview the API server would send for `kubectl apply` of a 5-container
/// Deployment, split around its uid so each request gets a unique one cheaply.
pub struct Review {
    prefix: String,
    suffix: String,
}

impl Review {
    pub fn new() -> Result<Review, String> {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "shop", "namespace": NAMESPACE, "labels": {"app": "shop", "tier": "web"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"}"},
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "shop"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {
                    "metadata": {"labels": {"app": "shop", "tier": "web"}},
                    "spec": {
                        "serviceAccountName": "shop", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
                        "initContainers": [container("migrate", IMAGES[0], 9000)],
                        "containers": [container("web", IMAGES[1], 8080), container("api", IMAGES[2], 8081), container("cache", IMAGES[3], 6379), container("proxy", IMAGES[4], 9901)],
                    },
                },
            },
        });
        let review = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": UID_PLACEHOLDER,
                "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
                "requestKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "requestResource": {"group": "apps", "version": "v1", "resource": "deployments"},
                "name": "shop", "namespace": NAMESPACE, "operation": "CREATE",
                "userInfo": {"username": "jane@example.com", "uid": "1f9c3d2e", "groups": ["system:authenticated", "developers"]},
                "object": deployment, "oldObject": null, "dryRun": false,
                "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions", "fieldManager": "kubectl-client-side-apply"},
            },
        });
        let text = serde_json::to_string(&review)
            .map_err(|error| format!("cannot encode the review: {error}"))?;
        let (prefix, suffix) = text
            .split_once(UID_PLACEHOLDER)
            .ok_or("the review has no uid placeholder")?;
        Ok(Review {
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
        })
    }

    pub fn body(&self, uid: &str) -> Bytes {
        let mut body = String::with_capacity(self.prefix.len() + uid.len() + self.suffix.len());
        body.push_str(&self.prefix);
        body.push_str(uid);
        body.push_str(&self.suffix);
        Bytes::from(body)
    }
}
