//! Where a webhook call goes: `clientConfig.url` as given, or `clientConfig.service` resolved
//! through the Service and its Endpoints to a ready pod IP and port, as kube-apiserver's service
//! resolver does. The certificate is always checked against the name in the canonical URL.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::store::{ObjectKey, Store};

/// A resolved call target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// Where to connect.
    pub address: SocketAddr,
    /// The name the certificate must be valid for.
    pub server_name: String,
    /// `Host` header value.
    pub authority: String,
    /// Path and `?timeout=<N>s`.
    pub path_and_query: String,
}

/// The URL kube-apiserver names in its messages: `https://<svc>.<ns>.svc:<port><path>` or the
/// configured URL, with `?timeout=<N>s`. `Err` when the clientConfig is unusable.
pub fn canonical_url(client_config: &Value, timeout_seconds: u64) -> Result<String, String> {
    let query = format!("timeout={timeout_seconds}s");
    if let Some(url) = client_config.get("url").and_then(Value::as_str) {
        let separator = if url.contains('?') { '&' } else { '?' };
        return Ok(format!("{url}{separator}{query}"));
    }
    let service = client_config
        .get("service")
        .filter(|s| s.is_object())
        .ok_or("clientConfig has neither url nor service")?;
    let (name, namespace, port, path) = service_fields(service);
    Ok(format!(
        "https://{name}.{namespace}.svc:{port}{path}?{query}"
    ))
}

fn service_fields(service: &Value) -> (&str, &str, i64, &str) {
    let text = |field: &str| service.get(field).and_then(Value::as_str).unwrap_or("");
    let port = service.get("port").and_then(Value::as_i64).unwrap_or(443);
    let path = Some(text("path")).filter(|p| !p.is_empty()).unwrap_or("/");
    (text("name"), text("namespace"), port, path)
}

/// Picks ready addresses round-robin, as kube-apiserver picks one at random.
static NEXT_ADDRESS: AtomicUsize = AtomicUsize::new(0);

/// Resolves `clientConfig`. `Err` is the error Go's dialer would report, as it appears after
/// `Post "<url>": `.
pub async fn resolve(
    store: &Store,
    client_config: &Value,
    timeout_seconds: u64,
) -> Result<Destination, String> {
    let url = canonical_url(client_config, timeout_seconds)?;
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| "unsupported protocol scheme".to_string())?;
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let path_and_query = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let (host, port) = split_host_port(authority)?;
    let address = match client_config.get("service").filter(|s| s.is_object()) {
        Some(service) => resolve_service(store, service)?,
        None => lookup(host, port).await?,
    };
    Ok(Destination {
        address,
        server_name: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        authority: authority.to_string(),
        path_and_query,
    })
}

fn split_host_port(authority: &str) -> Result<(&str, u16), String> {
    // Bracketed IPv6 literals carry colons of their own.
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => port
            .parse()
            .map(|port| (host, port))
            .map_err(|_| format!("invalid port {port:?} after host")),
        _ => Ok((authority, 443)),
    }
}

async fn lookup(host: &str, port: u16) -> Result<SocketAddr, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let mut addresses = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|_| format!("dial tcp: lookup {bare}: no such host"))?;
    addresses
        .next()
        .ok_or_else(|| format!("dial tcp: lookup {bare}: no such host"))
}

/// Service → the `spec.ports` entry with the webhook's port → the Endpoints port of the same
/// name (kube-apiserver's rule), else the entry's `targetPort` (a number, or a name among the
/// endpoint ports) → a ready address.
fn resolve_service(store: &Store, service_ref: &Value) -> Result<SocketAddr, String> {
    let (name, namespace, port, _) = service_fields(service_ref);
    let service = store
        .get(&ObjectKey::new("", "services", namespace, name))
        .ok_or_else(|| format!("service {name:?} not found"))?;
    let service_port = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|entry| entry.get("port").and_then(Value::as_i64) == Some(port))
        .ok_or_else(|| format!("no service port {port} found for service {name:?}"))?;
    let port_name = service_port
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let target_port = service_port.get("targetPort");
    let no_endpoints = || format!("no endpoints available for service {name:?}");
    let endpoints = store
        .get(&ObjectKey::new("", "endpoints", namespace, name))
        .ok_or_else(no_endpoints)?;
    let mut candidates = Vec::new();
    for subset in endpoints
        .get("subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ports: Vec<(&str, i64)> = subset
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let number = p.get("port").and_then(Value::as_i64)?;
                Some((p.get("name").and_then(Value::as_str).unwrap_or(""), number))
            })
            .collect();
        let by_name = |wanted: &str| {
            ports
                .iter()
                .find(|(port_name, _)| *port_name == wanted)
                .map(|(_, number)| *number)
        };
        let chosen = by_name(port_name).or_else(|| match target_port {
            Some(Value::Number(number)) => number.as_i64(),
            Some(Value::String(target_name)) => by_name(target_name),
            _ => None,
        });
        let Some(chosen) = chosen.and_then(|p| u16::try_from(p).ok()) else {
            continue;
        };
        for address in subset
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(ip) = address
                .get("ip")
                .and_then(Value::as_str)
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            {
                candidates.push(SocketAddr::new(ip, chosen));
            }
        }
    }
    if candidates.is_empty() {
        return Err(no_endpoints());
    }
    let index = NEXT_ADDRESS.fetch_add(1, Ordering::Relaxed) % candidates.len();
    Ok(candidates[index])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store_with(objects: &[(&str, Value)]) -> Store {
        let store = Store::new(100);
        for (resource, object) in objects {
            let name = object["metadata"]["name"].as_str().unwrap();
            store
                .create(ObjectKey::new("", resource, "ns", name), object.clone())
                .unwrap();
        }
        store
    }

    fn config() -> Value {
        json!({"service": {"name": "svc", "namespace": "ns", "path": "/validate", "port": 443}})
    }

    #[tokio::test]
    async fn services_resolve_through_their_endpoints() {
        let service = json!({"metadata": {"name": "svc"}, "spec": {"ports": [
            {"name": "https", "port": 443, "targetPort": "web"}]}});
        let endpoints = json!({"metadata": {"name": "svc"}, "subsets": [{
            "addresses": [{"ip": "127.0.1.5"}], "notReadyAddresses": [{"ip": "127.0.1.6"}],
            "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]}]});
        let store = store_with(&[("services", service), ("endpoints", endpoints)]);
        let destination = resolve(&store, &config(), 7).await.unwrap();
        assert_eq!(destination.address, "127.0.1.5:8443".parse().unwrap());
        assert_eq!(destination.server_name, "svc.ns.svc");
        assert_eq!(destination.authority, "svc.ns.svc:443");
        assert_eq!(destination.path_and_query, "/validate?timeout=7s");
    }

    #[tokio::test]
    async fn resolution_failures_use_kube_apiservers_words() {
        let store = store_with(&[]);
        assert_eq!(
            resolve(&store, &config(), 10).await.unwrap_err(),
            "service \"svc\" not found"
        );
        let service = json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 443, "targetPort": 8443}]}});
        let endpoints = json!({"metadata": {"name": "svc"}, "subsets": [{
            "notReadyAddresses": [{"ip": "127.0.1.6"}], "ports": [{"port": 8443}]}]});
        let store = store_with(&[("services", service), ("endpoints", endpoints)]);
        assert_eq!(
            resolve(&store, &config(), 10).await.unwrap_err(),
            "no endpoints available for service \"svc\""
        );
        assert_eq!(
            canonical_url(
                &json!({"service": {"name": "s", "namespace": "n", "port": 443}}),
                10
            )
            .unwrap(),
            "https://s.n.svc:443/?timeout=10s"
        );
    }
}
