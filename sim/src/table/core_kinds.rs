//! Rows of the core/v1 kinds that are not workloads: namespaces, services, endpoints, events,
//! nodes, configmaps, secrets, service accounts and resource quotas, as kube-apiserver's printers fill them
//! (`printNamespace`, `printService`, ...; the wide cells are always included).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Cells, age, count, format_labels, int, none_if_empty, text};

pub(super) fn cells(group: &str, resource: &str) -> Option<Cells> {
    if !group.is_empty() {
        return None;
    }
    let cells: Cells = match resource {
        "namespaces" => namespace,
        "services" => service,
        "endpoints" => endpoints,
        "events" => event,
        "nodes" => node,
        "configmaps" => config_map,
        "secrets" => secret,
        "serviceaccounts" => service_account,
        "resourcequotas" => resource_quota,
        _ => return None,
    };
    Some(cells)
}

fn created(object: &Value, now: Timestamp) -> Value {
    json!(age(object, "/metadata/creationTimestamp", now))
}

fn name(object: &Value) -> Value {
    json!(text(object, "/metadata/name"))
}

fn namespace(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), json!(text(o, "/status/phase")), created(o, now)]
}

fn strings(object: &Value, pointer: &str) -> Vec<String> {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|value| value.as_str().map(str::to_string))
        .collect()
}

/// `getServiceExternalIP`.
fn external_ip(service: &Value) -> String {
    let external = strings(service, "/spec/externalIPs");
    match text(service, "/spec/type").as_str() {
        "ClusterIP" | "NodePort" => none_if_empty(external.join(",")),
        "LoadBalancer" => {
            let ingress: Vec<String> = service
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|entry| {
                    let ip = text(entry, "/ip");
                    if ip.is_empty() {
                        text(entry, "/hostname")
                    } else {
                        ip
                    }
                })
                .filter(|address| !address.is_empty())
                .collect();
            let all: Vec<String> = ingress.into_iter().chain(external).collect();
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(service, "/spec/externalName"),
        _ => "<unknown>".into(),
    }
}

/// `makePortString`.
fn service_ports(service: &Value) -> String {
    let ports: Vec<String> = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|port| {
            // Defaulted to TCP on write; an object stored without it still reads so.
            let protocol = Some(text(port, "/protocol"))
                .filter(|protocol| !protocol.is_empty())
                .unwrap_or_else(|| "TCP".into());
            let node_port = int(port, "/nodePort");
            if node_port > 0 {
                format!("{}:{node_port}/{protocol}", int(port, "/port"))
            } else {
                format!("{}/{protocol}", int(port, "/port"))
            }
        })
        .collect();
    none_if_empty(ports.join(","))
}

fn service(o: &Value, now: Timestamp) -> Vec<Value> {
    let cluster_ip = strings(o, "/spec/clusterIPs")
        .into_iter()
        .next()
        .unwrap_or_else(|| "<none>".into());
    vec![
        name(o),
        json!(text(o, "/spec/type")),
        json!(cluster_ip),
        json!(external_ip(o)),
        json!(service_ports(o)),
        created(o, now),
        json!(format_labels(o, "/spec/selector")),
    ]
}

/// `formatEndpoints`: up to three `ip:port` (or bare IPs for a subset without ports), then
/// `+ N more...`.
fn endpoints_text(endpoints: &Value) -> String {
    let subsets = endpoints
        .pointer("/subsets")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let (mut list, mut more, mut total) = (Vec::new(), false, 0);
    for subset in subsets {
        let addresses: Vec<String> = subset
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|address| text(address, "/ip"))
            .collect();
        let ports: Vec<i64> = subset
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|port| int(port, "/port"))
            .collect();
        let entries: Vec<String> = if ports.is_empty() {
            addresses.clone()
        } else {
            ports
                .iter()
                .flat_map(|port| {
                    addresses.iter().map(move |ip| {
                        // net.JoinHostPort brackets IPv6 addresses.
                        if ip.contains(':') {
                            format!("[{ip}]:{port}")
                        } else {
                            format!("{ip}:{port}")
                        }
                    })
                })
                .collect()
        };
        total += entries.len();
        for entry in entries {
            if list.len() == MAX {
                more = true;
                break;
            }
            list.push(entry);
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", total - MAX)
    } else {
        joined
    }
}

fn endpoints(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), json!(endpoints_text(o)), created(o, now)]
}

fn is_set(object: &Value, pointer: &str) -> bool {
    object
        .pointer(pointer)
        .is_some_and(|value| !value.is_null() && value != "")
}

/// `printEvent`, wide: last seen, type, reason, object, subobject, source, message, first
/// seen, count, name.
fn event(o: &Value, now: Timestamp) -> Vec<Value> {
    let first = if is_set(o, "/firstTimestamp") {
        age(o, "/firstTimestamp", now)
    } else {
        age(o, "/eventTime", now)
    };
    let mut last = if is_set(o, "/lastTimestamp") {
        age(o, "/lastTimestamp", now)
    } else {
        first.clone()
    };
    let mut count = int(o, "/count");
    if is_set(o, "/series") {
        last = age(o, "/series/lastObservedTime", now);
        count = int(o, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = text(o, "/involvedObject/kind").to_lowercase();
    let involved = text(o, "/involvedObject/name");
    let target = if involved.is_empty() {
        kind
    } else {
        format!("{kind}/{involved}")
    };
    let first_non_empty = |a: String, b: String| if a.is_empty() { b } else { a };
    let component = first_non_empty(text(o, "/source/component"), text(o, "/reportingComponent"));
    let instance = first_non_empty(text(o, "/source/host"), text(o, "/reportingInstance"));
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(text(o, "/type")),
        json!(text(o, "/reason")),
        json!(target),
        json!(text(o, "/involvedObject/fieldPath")),
        json!(source),
        json!(text(o, "/message").trim()),
        json!(first),
        json!(count),
        name(o),
    ]
}

fn node_address(node: &Value, kind: &str) -> String {
    node.pointer("/status/addresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|address| text(address, "/type") == kind)
        .map_or_else(|| "<none>".into(), |address| text(address, "/address"))
}

fn node(o: &Value, now: Timestamp) -> Vec<Value> {
    let ready = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|condition| text(condition, "/type") == "Ready");
    let mut status = vec![match ready {
        Some(condition) if text(condition, "/status") == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    // findNodeRoles: a sorted set.
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(
            |(key, value)| match key.strip_prefix("node-role.kubernetes.io/") {
                Some(role) if !role.is_empty() => Some(role.to_string()),
                _ if key == "kubernetes.io/role" => {
                    value.as_str().filter(|v| !v.is_empty()).map(str::to_string)
                }
                _ => None,
            },
        )
        .collect();
    roles.sort();
    roles.dedup();
    let unknown = |pointer: &str| {
        let value = text(o, pointer);
        if value.is_empty() {
            "<unknown>".to_string()
        } else {
            value
        }
    };
    vec![
        name(o),
        json!(status.join(",")),
        json!(none_if_empty(roles.join(","))),
        created(o, now),
        json!(text(o, "/status/nodeInfo/kubeletVersion")),
        json!(node_address(o, "InternalIP")),
        json!(node_address(o, "ExternalIP")),
        json!(unknown("/status/nodeInfo/osImage")),
        json!(unknown("/status/nodeInfo/kernelVersion")),
        json!(unknown("/status/nodeInfo/containerRuntimeVersion")),
    ]
}

fn config_map(o: &Value, now: Timestamp) -> Vec<Value> {
    let entries = count(o, "/data") + count(o, "/binaryData");
    vec![name(o), json!(entries), created(o, now)]
}

fn secret(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(o),
        json!(text(o, "/type")),
        json!(count(o, "/data")),
        created(o, now),
    ]
}

fn service_account(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), json!(count(o, "/secrets")), created(o, now)]
}

/// `printResourceQuota`: `resource: used/hard` for each resource of `status.hard` by name,
/// `limits.*` under Limit, the others under Request (nothing counts usage here, so a quota
/// shows what a quota controller has written, if anything).
fn resource_quota(o: &Value, now: Timestamp) -> Vec<Value> {
    let mut request = Vec::new();
    let mut limit = Vec::new();
    if let Some(hard) = o.pointer("/status/hard").and_then(Value::as_object) {
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for resource in names {
            let quantity = |map: &str| {
                o.pointer(&format!("/status/{map}"))
                    .and_then(|values| values.get(resource.as_str()))
                    .map(|value| match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| "0".into())
            };
            let cell = format!("{resource}: {}/{}", quantity("used"), quantity("hard"));
            if resource.split('.').next() == Some("limits") && resource.contains('.') {
                limit.push(cell);
            } else {
                request.push(cell);
            }
        }
    }
    vec![
        name(o),
        created(o, now),
        json!(request.join(", ")),
        json!(limit.join(", ")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-26T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn service_accounts_count_their_secrets() {
        let account = json!({"metadata": {"name": "sa", "creationTimestamp": "2026-11-26T11:59:00Z"},
            "secrets": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(
            service_account(&account, now()),
            [json!("sa"), json!(2), json!("60s")]
        );
    }

    #[test]
    fn endpoints_show_three_addresses_then_how_many_more() {
        let endpoints = json!({"metadata": {"name": "e"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(
            endpoints_text(&endpoints),
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
        );
        assert_eq!(endpoints_text(&json!({})), "<none>");
    }

    #[test]
    fn services_show_their_selector_and_external_ips_by_type() {
        let service = json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer",
            "clusterIPs": ["10.96.0.10"], "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}],
            "selector": {"b": "2", "a": "1"}}});
        let cells = super::service(&service, now());
        assert_eq!(
            cells[2..5],
            [
                json!("10.96.0.10"),
                json!("<pending>"),
                json!("80:30080/TCP")
            ]
        );
        assert_eq!(cells[6], json!("a=1,b=2"));
    }

    #[test]
    fn a_quota_shows_used_over_hard_with_limits_apart() {
        let quota = json!({"metadata": {"name": "pods", "creationTimestamp": "2026-12-03T00:00:00Z"},
            "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1Gi"},
                       "used": {"pods": "3"}}});
        let cells = resource_quota(&quota, "2026-12-03T00:00:05Z".parse().unwrap());
        assert_eq!(cells[2], "pods: 3/10, requests.memory: 0/1Gi");
        assert_eq!(cells[3], "limits.cpu: 0/2");
    }
}
