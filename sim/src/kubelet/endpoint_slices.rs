//! The EndpointSlice controller's part (`system:serviceaccount:kube-system:endpointslice-controller`):
//! for each Service with a selector, EndpointSlices (`<service>-<random>`, `addressType: IPv4`)
//! listing the selected pods with their `ready`/`serving`/`terminating` conditions and the
//! Service's ports as resolved on them, labelled and owned as kube's controller does (the
//! Service's labels, `kubernetes.io/service-name`, `endpointslice.kubernetes.io/managed-by`),
//! one slice per distinct port mapping, a placeholder slice without endpoints when no pod is
//! selected. Deleting the Service deletes its slices through the garbage collector.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};

/// `endpointslice.kubernetes.io/managed-by`'s value for kube's controller.
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some("kube-controller-manager".into()),
        ..PostParams::default()
    }
}

/// The `endpoints` and `ports` of each slice `service` should have over `pods` (its
/// namespace's), one slice per distinct set of resolved ports; the placeholder (no endpoints,
/// no ports) when nothing is selected.
pub fn desired(service: &Service, pods: &[Arc<Pod>]) -> Vec<(Value, Value)> {
    let Some(spec) = &service.spec else {
        return Vec::new();
    };
    let selector = spec.selector.clone().unwrap_or_default();
    let namespace = service.metadata.namespace.as_deref();
    let mut groups: BTreeMap<String, (Value, Vec<(String, Value)>)> = BTreeMap::new();
    for pod in pods {
        let status = pod.status.clone().unwrap_or_default();
        let ip = status.pod_ip.clone().unwrap_or_default();
        let phase = status.phase.as_deref().unwrap_or("");
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        if pod.metadata.namespace.as_deref() != namespace
            || !selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            || ip.is_empty()
            || phase == "Succeeded"
            || phase == "Failed"
        {
            continue;
        }
        let ports: Option<Vec<Value>> = spec
            .ports
            .iter()
            .flatten()
            .map(|port| {
                Some(json!({
                    "name": port.name.clone().unwrap_or_default(),
                    "port": super::endpoints::target_port(port, pod)?,
                    "protocol": port.protocol.clone().unwrap_or_else(|| "TCP".into()),
                }))
            })
            .collect();
        let Some(ports) = ports else { continue };
        let ports = Value::Array(ports);
        let ready = super::endpoints::is_ready(pod);
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let mut endpoint = json!({
            "addresses": [ip],
            "conditions": {"ready": ready && !terminating, "serving": ready, "terminating": terminating},
            "targetRef": {"kind": "Pod", "namespace": pod.metadata.namespace, "name": pod.metadata.name, "uid": pod.metadata.uid},
        });
        if let Some(node) = pod.spec.as_ref().and_then(|spec| spec.node_name.clone()) {
            endpoint["nodeName"] = json!(node);
        }
        let entry = groups
            .entry(ports.to_string())
            .or_insert_with(|| (ports, Vec::new()));
        entry.1.push((ip, endpoint));
    }
    if groups.is_empty() {
        return vec![(Value::Null, Value::Null)];
    }
    groups
        .into_values()
        .map(|(ports, mut endpoints)| {
            endpoints.sort_by(|a, b| a.0.cmp(&b.0));
            let endpoints = endpoints
                .into_iter()
                .map(|(_, endpoint)| endpoint)
                .collect();
            (Value::Array(endpoints), ports)
        })
        .collect()
}

/// Brings the slices of `service` (in `namespace`, named `name`; `None` when it is gone) to
/// what its pods call for.
pub async fn sync(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    service: Option<&Service>,
    pods: &[Arc<Pod>],
) -> Result<(), kube::Error> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let ours = ListParams::default().labels(&format!(
        "kubernetes.io/service-name={name},endpointslice.kubernetes.io/managed-by={MANAGED_BY}"
    ));
    let existing = api.list(&ours).await?.items;
    let selecting = service.filter(|service| {
        service
            .spec
            .as_ref()
            .and_then(|spec| spec.selector.as_ref())
            .is_some_and(|selector| !selector.is_empty())
    });
    let Some(service) = selecting else {
        // No Service, or one without a selector: nothing of ours should remain.
        for slice in existing {
            delete(&api, slice).await?;
        }
        return Ok(());
    };
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    labels.insert("kubernetes.io/service-name".into(), name.to_string());
    labels.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        MANAGED_BY.into(),
    );
    let owner = json!([{"apiVersion": "v1", "kind": "Service", "name": name,
        "uid": service.metadata.uid, "controller": true, "blockOwnerDeletion": true}]);
    let mut unused: Vec<EndpointSlice> = existing;
    for (endpoints, ports) in desired(service, pods) {
        let mut slice = json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": namespace, "labels": labels, "ownerReferences": owner},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        });
        // A slice of the same ports is updated in place; otherwise a new one is made.
        let same_ports = unused.iter().position(|existing| {
            serde_json::to_value(&existing.ports).unwrap_or_default() == ports
        });
        match same_ports.map(|index| unused.remove(index)) {
            Some(existing) => {
                let current = serde_json::to_value(&existing).unwrap_or_default();
                let unchanged = current.get("endpoints").unwrap_or(&Value::Null)
                    == &slice["endpoints"]
                    && serde_json::to_value(&existing.metadata.labels).unwrap_or_default()
                        == json!(labels);
                if unchanged {
                    continue;
                }
                slice["metadata"] = serde_json::to_value(&existing.metadata).unwrap_or_default();
                slice["metadata"]["labels"] = json!(labels);
                let slice: EndpointSlice =
                    serde_json::from_value(slice).map_err(kube::Error::SerdeError)?;
                let slice_name = slice.metadata.name.clone().unwrap_or_default();
                api.replace(&slice_name, &post_params(), &slice).await?;
            }
            None => {
                slice["metadata"]["generateName"] = json!(format!("{name}-"));
                let slice: EndpointSlice =
                    serde_json::from_value(slice).map_err(kube::Error::SerdeError)?;
                api.create(&post_params(), &slice).await?;
            }
        }
    }
    for slice in unused {
        delete(&api, slice).await?;
    }
    Ok(())
}

/// Deletes a slice no longer wanted (already gone is fine).
async fn delete(api: &Api<EndpointSlice>, slice: EndpointSlice) -> Result<(), kube::Error> {
    let name = slice.metadata.name.unwrap_or_default();
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ip: &str, ready: bool) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "labels": {"app": "web"}},
                "spec": {"nodeName": "sim-node-1", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 80}]}]},
                "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
            }))
            .unwrap(),
        )
    }

    #[test]
    fn each_selected_pod_is_an_endpoint_with_its_conditions_and_the_ports_resolved() {
        let service: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": "http"}]},
        }))
        .unwrap();
        let slices = desired(
            &service,
            &[pod("b", "10.244.0.2", false), pod("a", "10.244.0.1", true)],
        );
        assert_eq!(slices.len(), 1);
        let (endpoints, ports) = &slices[0];
        assert_eq!(ports, &json!([{"name": "", "port": 80, "protocol": "TCP"}]));
        assert_eq!(endpoints[0]["addresses"], json!(["10.244.0.1"]));
        assert_eq!(
            endpoints[0]["conditions"],
            json!({"ready": true, "serving": true, "terminating": false})
        );
        assert_eq!(endpoints[1]["conditions"]["ready"], false);
        assert_eq!(endpoints[1]["targetRef"]["name"], "b");
        assert_eq!(endpoints[1]["nodeName"], "sim-node-1");
        // Nothing selected: one placeholder slice.
        assert_eq!(desired(&service, &[]), [(Value::Null, Value::Null)]);
    }
}
