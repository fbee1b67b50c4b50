//! The scheduler: binds every pod without `spec.nodeName` to a node, round-robin, as
//! `system:kube-scheduler`. A pod that names its node in a required node affinity on
//! `metadata.name` (what the DaemonSet controller writes) goes to that node.
//!
//! Binding posts `pods/<name>/binding` as kube-scheduler does, so webhooks on `pods` do not see
//! it (only rules naming `pods/binding` do).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::json;

use crate::auth::UserInfo;

pub fn user() -> UserInfo {
    UserInfo {
        username: "system:kube-scheduler".into(),
        uid: String::new(),
        groups: vec!["system:authenticated".into()],
    }
}

/// The node a pod must go to by a required `matchFields` term on `metadata.name`, if any.
fn pinned_node(pod: &Pod) -> Option<String> {
    let terms = &pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|term| {
        term.match_fields.as_ref()?.iter().find_map(|requirement| {
            (requirement.key == "metadata.name" && requirement.operator == "In")
                .then(|| requirement.values.as_ref()?.first().cloned())
                .flatten()
        })
    })
}

fn needs_binding(pod: &Pod) -> bool {
    let unbound = pod
        .spec
        .as_ref()
        .is_some_and(|spec| spec.node_name.as_deref().unwrap_or("").is_empty());
    let finished = pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .is_some_and(|phase| phase == "Succeeded" || phase == "Failed");
    unbound && !finished && pod.metadata.deletion_timestamp.is_none()
}

struct Binder {
    client: kube::Client,
}

impl Binder {
    async fn bind(&self, namespace: &str, name: &str, node: &str) -> Result<(), kube::Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let binding = json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        pods.create_subresource::<_, serde_json::Value>(
            "binding",
            name,
            &PostParams {
                field_manager: Some("kube-scheduler".into()),
                ..PostParams::default()
            },
            &binding,
        )
        .await?;
        self.record_scheduled(namespace, name, node).await;
        Ok(())
    }

    /// kube-scheduler's `Scheduled` event. It records through events.k8s.io/v1, which the
    /// core/v1 view shows with an empty `source`, `reportingComponent` and `eventTime`, and no
    /// first or last timestamp.
    async fn record_scheduled(&self, namespace: &str, name: &str, node: &str) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let Ok(pod) = pods.get(name).await else {
            return;
        };
        let now = jiff::Timestamp::now();
        let event = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{name}.{:x}", now.as_nanosecond()), "namespace": namespace},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": namespace, "name": name,
                               "uid": pod.metadata.uid, "resourceVersion": pod.metadata.resource_version},
            "type": "Normal",
            "reason": "Scheduled",
            "message": format!("Successfully assigned {namespace}/{name} to {node}"),
            "action": "Binding",
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler-sim",
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "source": {},
        });
        let events: Api<k8s_openapi::api::core::v1::Event> =
            Api::namespaced(self.client.clone(), namespace);
        let created = match serde_json::from_value(event) {
            Ok(event) => events
                .create(&PostParams::default(), &event)
                .await
                .map(|_| ()),
            Err(error) => {
                tracing::debug!(%error, "scheduler: the Scheduled event does not encode");
                return;
            }
        };
        if let Err(error) = created {
            // An event is best effort, as with kube's recorder.
            tracing::debug!(%error, namespace, name, "scheduler: cannot record Scheduled");
        }
    }
}

/// Binds, retrying with backoff while the pod exists and is unbound (a rejected binding, such
/// as an admission webhook failing the patch, would otherwise leave it Pending for good).
async fn bind_until_done(binder: Arc<Binder>, namespace: String, name: String, node: String) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let error = match binder.bind(&namespace, &name, &node).await {
            Ok(()) => return,
            Err(error) => error,
        };
        tracing::debug!(%error, namespace, name, node, "scheduler: cannot bind; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
        let pods: Api<Pod> = Api::namespaced(binder.client.clone(), &namespace);
        match pods.get_opt(&name).await {
            Ok(Some(pod)) if needs_binding(&pod) => {}
            // Bound meanwhile, or gone; or the API server is (the cluster stopping): no
            // task outlives its cluster.
            Ok(_) | Err(_) => return,
        }
    }
}

pub async fn run(client: kube::Client, nodes: Vec<String>) {
    if nodes.is_empty() {
        return;
    }
    let binder = Arc::new(Binder {
        client: client.clone(),
    });
    let pods: Api<Pod> = Api::all(client);
    let config = watcher::Config::default().fields("spec.nodeName=");
    let mut events = std::pin::pin!(watcher::watcher(pods, config).default_backoff());
    let mut next = 0usize;
    while let Some(event) = events.next().await {
        let pod = match event {
            Ok(Event::Apply(pod) | Event::InitApply(pod)) => pod,
            Ok(_) => continue,
            Err(error) => {
                tracing::debug!(%error, "scheduler: pod watch failed; retrying");
                continue;
            }
        };
        if !needs_binding(&pod) {
            continue;
        }
        let node = match pinned_node(&pod) {
            Some(node) => node,
            None => {
                next = (next + 1) % nodes.len();
                nodes[next].clone()
            }
        };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        // Bindings are independent: a burst of pods (a scale-up) is bound concurrently.
        tokio::spawn(bind_until_done(binder.clone(), namespace, name, node));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemonset_pods_go_to_the_node_their_affinity_names() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "ds-abc"},
            "spec": {
                "containers": [{"name": "c", "image": "i"}],
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["sim-node-2"]}]}],
                }}},
            },
        }))
        .unwrap();
        assert_eq!(pinned_node(&pod).as_deref(), Some("sim-node-2"));
        assert!(needs_binding(&pod));
        let bound: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"nodeName": "sim-node-1", "containers": [{"name": "c", "image": "i"}]},
        }))
        .unwrap();
        assert!(!needs_binding(&bound));
        assert_eq!(pinned_node(&bound), None);
    }
}
