//! The endpoints controller (`system:serviceaccount:kube-system:endpoint-controller`): for each
//! Service with a selector, an Endpoints object of the same name listing the selected pods —
//! Ready ones under `addresses`, the others under `notReadyAddresses` — with the Service's
//! ports resolved against each pod's container ports. The admission chain resolves webhook
//! Services through these.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};

/// Writes are attributed to kube-controller-manager in `managedFields`, as on a real cluster.
fn post_params() -> PostParams {
    PostParams {
        field_manager: Some("kube-controller-manager".into()),
        ..PostParams::default()
    }
}

pub(super) fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The port a Service port reaches on `pod`: `targetPort` by number, or the container port
/// of that name; `None` when the pod has no port of that name.
pub(super) fn target_port(
    port: &k8s_openapi::api::core::v1::ServicePort,
    pod: &Pod,
) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(number)) => Some(*number),
        Some(IntOrString::String(name)) => pod
            .spec
            .iter()
            .flat_map(|spec| spec.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
    }
}

/// A Service port resolved for one pod: name, number, protocol.
type ResolvedPort = (String, i32, String);
type Addresses = Vec<EndpointAddress>;

/// The subsets for `service` over `pods` (those of its namespace): pods grouped by their
/// resolved ports, as the endpoints controller repacks them.
pub fn subsets(service: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let Some(spec) = &service.spec else {
        return Vec::new();
    };
    let selector = spec.selector.clone().unwrap_or_default();
    let namespace = service.metadata.namespace.as_deref();
    let mut groups: BTreeMap<Vec<ResolvedPort>, (Addresses, Addresses)> = BTreeMap::new();
    for pod in pods {
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .unwrap_or_default();
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("");
        if pod.metadata.namespace.as_deref() != namespace
            || !selects(&selector, pod)
            || ip.is_empty()
            || pod.metadata.deletion_timestamp.is_some()
            || phase == "Succeeded"
            || phase == "Failed"
        {
            continue;
        }
        let ports: Option<Vec<ResolvedPort>> = spec
            .ports
            .iter()
            .flatten()
            .map(|port| {
                Some((
                    port.name.clone().unwrap_or_default(),
                    target_port(port, pod)?,
                    port.protocol.clone().unwrap_or_else(|| "TCP".into()),
                ))
            })
            .collect();
        let Some(ports) = ports else { continue };
        let address = EndpointAddress {
            ip,
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                namespace: pod.metadata.namespace.clone(),
                uid: pod.metadata.uid.clone(),
                ..ObjectReference::default()
            }),
            hostname: None,
        };
        let group = groups.entry(ports).or_default();
        if is_ready(pod) {
            group.0.push(address);
        } else {
            group.1.push(address);
        }
    }
    groups
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then(|| {
                    ports
                        .into_iter()
                        .map(|(name, port, protocol)| EndpointPort {
                            name: (!name.is_empty()).then_some(name),
                            port,
                            protocol: Some(protocol),
                            app_protocol: None,
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

/// What changed: a namespace's pods, or one Service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Dirty {
    Namespace(String),
    Service(String, String),
}

struct Controller {
    client: kube::Client,
    /// The EndpointSlice controller's own identity.
    slices_client: kube::Client,
    services: Store<Service>,
    pods: Store<Pod>,
}

impl Controller {
    async fn sync(&self, namespace: &str, name: &str) -> Result<(), kube::Error> {
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), namespace);
        let service = self.services.state().into_iter().find(|s| {
            s.metadata.namespace.as_deref() == Some(namespace)
                && s.metadata.name.as_deref() == Some(name)
        });
        let pods: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
            .collect();
        if let Err(error) = super::endpoint_slices::sync(
            &self.slices_client,
            namespace,
            name,
            service.as_deref(),
            &pods,
        )
        .await
        {
            tracing::debug!(%error, namespace, name, "endpoint slices: cannot sync");
        }
        let Some(service) = service else {
            // The Service is gone: so are its endpoints.
            return match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                Err(error) => Err(error),
            };
        };
        let has_selector = service
            .spec
            .as_ref()
            .and_then(|spec| spec.selector.as_ref())
            .is_some_and(|selector| !selector.is_empty());
        if !has_selector {
            // Endpoints of a Service without a selector are the user's to write.
            return Ok(());
        }
        let subsets = subsets(&service, &pods);
        let subsets = (!subsets.is_empty()).then_some(subsets);
        let labels = service.metadata.labels.clone();
        match api.get_opt(name).await? {
            Some(mut existing) => {
                if existing.subsets == subsets && existing.metadata.labels == labels {
                    return Ok(());
                }
                existing.subsets = subsets;
                existing.metadata.labels = labels;
                api.replace(name, &post_params(), &existing).await?;
            }
            None => {
                let endpoints = Endpoints {
                    metadata: ObjectMeta {
                        name: Some(name.to_string()),
                        namespace: Some(namespace.to_string()),
                        labels,
                        ..ObjectMeta::default()
                    },
                    subsets,
                };
                api.create(&post_params(), &endpoints).await?;
            }
        }
        Ok(())
    }

    /// The Services a change touches.
    fn services_of(&self, dirty: &BTreeSet<Dirty>) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        let namespaces: BTreeSet<&str> = dirty
            .iter()
            .filter_map(|d| match d {
                Dirty::Namespace(ns) => Some(ns.as_str()),
                Dirty::Service(..) => None,
            })
            .collect();
        for service in self.services.state() {
            let ns = service.metadata.namespace.clone().unwrap_or_default();
            if namespaces.contains(ns.as_str()) {
                out.insert((ns, service.metadata.name.clone().unwrap_or_default()));
            }
        }
        for d in dirty {
            if let Dirty::Service(ns, name) = d {
                out.insert((ns.clone(), name.clone()));
            }
        }
        out
    }
}

fn dirty_of<K: kube::Resource>(event: &Event<K>, service: bool) -> Vec<Dirty> {
    let key = |object: &K| {
        let meta = object.meta();
        let namespace = meta.namespace.clone().unwrap_or_default();
        if service {
            Dirty::Service(namespace, meta.name.clone().unwrap_or_default())
        } else {
            Dirty::Namespace(namespace)
        }
    };
    match event {
        Event::Apply(object) | Event::Delete(object) | Event::InitApply(object) => {
            vec![key(object)]
        }
        Event::Init | Event::InitDone => Vec::new(),
    }
}

pub async fn run(client: kube::Client, slices_client: kube::Client) {
    let (services, services_writer) = reflector::store();
    let (pods, pods_writer) = reflector::store();
    let service_events = reflector::reflector(
        services_writer,
        watcher::watcher(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff(),
    )
    .map(|event| event.map(|e| dirty_of(&e, true)).unwrap_or_default());
    let pod_events = reflector::reflector(
        pods_writer,
        watcher::watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
            .default_backoff(),
    )
    .map(|event| event.map(|e| dirty_of(&e, false)).unwrap_or_default());
    let mut events = std::pin::pin!(futures::stream::select(service_events, pod_events));
    let controller = Controller {
        client,
        slices_client,
        services,
        pods,
    };
    while let Some(first) = events.next().await {
        // Take every change already waiting, then sync each touched Service once.
        let mut dirty: BTreeSet<Dirty> = first.into_iter().collect();
        while let Some(Some(more)) = events.next().now_or_never() {
            dirty.extend(more);
        }
        for (namespace, name) in controller.services_of(&dirty) {
            if let Err(error) = controller.sync(&namespace, &name).await {
                tracing::debug!(%error, namespace, name, "endpoints: cannot sync");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ip: &str, ready: bool) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "labels": {"app": "web"}},
                "spec": {"nodeName": "sim-node-1", "containers": [{"name": "c", "ports": [{"name": "https", "containerPort": 8443}]}]},
                "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
            }))
            .unwrap(),
        )
    }

    #[test]
    fn ready_pods_are_addresses_and_named_ports_resolve() {
        let service: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "https", "port": 443, "targetPort": "https"}]},
        }))
        .unwrap();
        let other: Arc<Pod> = Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "x", "namespace": "ns", "labels": {"app": "db"}}, "status": {"podIP": "127.0.1.9"}}))
                .unwrap(),
        );
        let subsets = subsets(
            &service,
            &[
                pod("b", "127.0.1.2", true),
                pod("a", "127.0.1.1", true),
                pod("c", "127.0.1.3", false),
                other,
            ],
        );
        assert_eq!(subsets.len(), 1);
        let ips: Vec<&str> = subsets[0]
            .addresses
            .iter()
            .flatten()
            .map(|a| a.ip.as_str())
            .collect();
        assert_eq!(ips, ["127.0.1.1", "127.0.1.2"]);
        let not_ready = subsets[0].not_ready_addresses.as_ref().unwrap();
        assert_eq!(
            not_ready[0].target_ref.as_ref().unwrap().name.as_deref(),
            Some("c")
        );
        let ports = subsets[0].ports.as_ref().unwrap();
        assert_eq!(
            (ports[0].name.as_deref(), ports[0].port),
            (Some("https"), 8443)
        );
    }
}
