//! Rows of the kinds that say where requests go: Ingresses (`printIngress`), EndpointSlices
//! (`printEndpointSlice`) and APIServices (kube-aggregator's own table convertor).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Cells, age, text};

pub(super) fn cells(group: &str, resource: &str) -> Option<Cells> {
    let cells: Cells = match (group, resource) {
        ("networking.k8s.io", "ingresses") => ingress,
        ("discovery.k8s.io", "endpointslices") => endpoint_slice,
        ("apiregistration.k8s.io", "apiservices") => api_service,
        _ => return None,
    };
    Some(cells)
}

fn items<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `formatHosts`: up to three hosts, then `+ N more...`; `*` when no rule names one.
fn hosts(ingress: &Value) -> String {
    const MAX: usize = 3;
    let rules = items(ingress, "/spec/rules");
    let (mut list, mut more) = (Vec::new(), false);
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = text(rule, "/host");
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".into();
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX)
    } else {
        joined
    }
}

fn ingress(o: &Value, now: Timestamp) -> Vec<Value> {
    let class = o
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    // A sorted set of IPs (else hostnames); wide, so never shortened.
    let addresses: BTreeSet<String> = items(o, "/status/loadBalancer/ingress")
        .iter()
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
    let ports = if items(o, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        json!(text(o, "/metadata/name")),
        json!(class),
        json!(hosts(o)),
        json!(addresses.into_iter().collect::<Vec<_>>().join(",")),
        json!(ports),
        json!(age(o, "/metadata/creationTimestamp", now)),
    ]
}

fn api_service(o: &Value, now: Timestamp) -> Vec<Value> {
    let service = if o.pointer("/spec/service").is_some_and(|s| !s.is_null()) {
        format!(
            "{}/{}",
            text(o, "/spec/service/namespace"),
            text(o, "/spec/service/name")
        )
    } else {
        "Local".into()
    };
    let available = items(o, "/status/conditions")
        .iter()
        .find(|condition| text(condition, "/type") == "Available")
        .map_or_else(
            || "Unknown".to_string(),
            |condition| {
                let status = text(condition, "/status");
                let reason = text(condition, "/reason");
                if status == "True" || reason.is_empty() {
                    status
                } else {
                    format!("{status} ({reason})")
                }
            },
        );
    vec![
        json!(text(o, "/metadata/name")),
        json!(service),
        json!(available),
        json!(age(o, "/metadata/creationTimestamp", now)),
    ]
}

/// `listWithMoreString`: up to three, then `+ N more...`; `<unset>` for none.
fn up_to_three(list: Vec<String>) -> String {
    const MAX: usize = 3;
    let count = list.len();
    let shown = list.into_iter().take(MAX).collect::<Vec<_>>().join(",");
    if count > MAX {
        format!("{shown} + {} more...", count - MAX)
    } else if shown.is_empty() {
        "<unset>".into()
    } else {
        shown
    }
}

fn endpoint_slice(slice: &Value, now: Timestamp) -> Vec<Value> {
    let ports = items(slice, "/ports")
        .iter()
        .map(|port| {
            match (
                port.get("port").and_then(Value::as_i64),
                port.get("name").and_then(Value::as_str),
            ) {
                (Some(number), _) => number.to_string(),
                (None, Some(name)) => name.to_string(),
                (None, None) => "*".to_string(),
            }
        })
        .collect();
    let addresses = items(slice, "/endpoints")
        .iter()
        .flat_map(|endpoint| items(endpoint, "/addresses"))
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    vec![
        json!(text(slice, "/metadata/name")),
        json!(text(slice, "/addressType")),
        json!(up_to_three(ports)),
        json!(up_to_three(addresses)),
        json!(age(slice, "/metadata/creationTimestamp", now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_slice_shows_three_ports_and_addresses_at_most() {
        let slice = json!({"metadata": {"name": "web-abcde"}, "addressType": "IPv4",
            "ports": [{"port": 80}, {"name": "metrics"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]});
        let cells = endpoint_slice(&slice, Timestamp::now());
        assert_eq!(cells[1], "IPv4");
        assert_eq!(cells[2], "80,metrics");
        assert_eq!(cells[3], "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...");
        assert_eq!(endpoint_slice(&json!({}), Timestamp::now())[3], "<unset>");
    }

    #[test]
    fn ingresses_list_hosts_addresses_and_ports() {
        let ingress = json!({"metadata": {"name": "i"}, "spec": {"ingressClassName": "nginx",
            "rules": [{"host": "a"}, {"host": "b"}, {}, {"host": "d"}, {"host": "e"}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb"}]}}});
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        assert_eq!(
            super::ingress(&ingress, now)[1..5],
            [
                json!("nginx"),
                json!("a,b,d + 2 more..."),
                json!("10.0.0.2,lb"),
                json!("80, 443")
            ]
        );
    }

    #[test]
    fn api_services_show_where_they_are_served_and_availability() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        let local = json!({"metadata": {"name": "v1."}, "spec": {},
            "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}});
        assert_eq!(
            api_service(&local, now)[1..3],
            [json!("Local"), json!("True")]
        );
        let missing = json!({"metadata": {"name": "v1.x"}, "spec": {"service": {"namespace": "ns", "name": "s"}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "ServiceNotFound"}]}});
        assert_eq!(
            api_service(&missing, now)[1..3],
            [json!("ns/s"), json!("False (ServiceNotFound)")]
        );
    }
}
