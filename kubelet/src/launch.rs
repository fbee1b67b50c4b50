//! From a container spec to a process: which program with which arguments, and the
//! environment — `env` and `envFrom` resolved (`fieldRef`, Secret and ConfigMap keys),
//! `$(VAR)` expanded as the kubelet does, then the two rewrites a shared host network needs:
//! volume mount paths to the pod's private directories, wildcard listen addresses to the pod IP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, Pod, Secret};
use kube::Api;

/// The arguments for the registered executable. Kubernetes' `command` replaces the image's
/// entrypoint: when its first element names the registered program (same file name) or is
/// the image's own entrypoint spelled as that path, the rest of `command` precedes `args`;
/// any other `command` names a program the image would contain and we cannot run, so only
/// `args` are passed.
pub fn arguments(program: &Path, container: &Container) -> Vec<String> {
    let args = container.args.clone().unwrap_or_default();
    let Some(command) = container.command.as_ref().filter(|c| !c.is_empty()) else {
        return args;
    };
    let file_name = |path: &str| {
        Path::new(path)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
    };
    let program_name = program
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    if file_name(&command[0]) == program_name || Path::new(&command[0]) == program {
        command[1..].iter().cloned().chain(args).collect()
    } else {
        args
    }
}

/// kubelet's `$(VAR)` expansion: `$(NAME)` becomes the variable's value when defined (and stays
/// as written when not), `$$` is a literal `$`.
pub fn expand(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
        {
            let name = &inner[..close];
            match vars(name) {
                Some(value) => out.push_str(&value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Rewrites every occurrence of a mount path to its directory on this machine (longest mount
/// path first, so `/etc/a/b` is not rewritten as `/etc/a` + `/b`).
pub fn rewrite_mounts(text: &str, mounts: &[(String, PathBuf)]) -> String {
    let mut sorted: Vec<&(String, PathBuf)> =
        mounts.iter().filter(|(path, _)| !path.is_empty()).collect();
    sorted.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    // Placeholders first, so a replacement is never rewritten again by a shorter mount path.
    let mut out = text.to_string();
    for (index, (path, _)) in sorted.iter().enumerate() {
        out = out.replace(path.as_str(), &format!("\u{0}{index}\u{0}"));
    }
    for (index, (_, dir)) in sorted.iter().enumerate() {
        out = out.replace(&format!("\u{0}{index}\u{0}"), &dir.to_string_lossy());
    }
    out
}

/// Wildcard listen addresses become the pod's own: `0.0.0.0:<port>` and `[::]:<port>`
/// anywhere, and a bare `:<port>` as a whole value or after `=` (`--listen=:8443`).
pub fn rewrite_listen(text: &str, pod_ip: &str) -> String {
    let mut out = text.to_string();
    for wildcard in ["0.0.0.0:", "[::]:"] {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(wildcard) {
            let after = &rest[at + wildcard.len()..];
            result.push_str(&rest[..at]);
            if after.starts_with(|c: char| c.is_ascii_digit()) {
                result.push_str(pod_ip);
                result.push(':');
            } else {
                result.push_str(wildcard);
            }
            rest = after;
        }
        result.push_str(rest);
        out = result;
    }
    let is_port = |s: &str| !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(port) = out.strip_prefix(':')
        && is_port(port)
    {
        return format!("{pod_ip}:{port}");
    }
    if let Some((flag, value)) = out.split_once('=')
        && let Some(port) = value.strip_prefix(':')
        && is_port(port)
    {
        return format!("{flag}={pod_ip}:{port}");
    }
    out
}

/// The value of a `fieldRef` (what the downward API offers for env).
pub fn field_value(pod: &Pod, path: &str, pod_ip: &str) -> Option<String> {
    let metadata = &pod.metadata;
    let spec = pod.spec.as_ref();
    let keyed = |prefix: &str, map: &Option<BTreeMap<String, String>>| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.as_ref()?.get(key).cloned().unwrap_or_default())
    };
    match path {
        "metadata.name" => metadata.name.clone(),
        "metadata.namespace" => metadata.namespace.clone(),
        "metadata.uid" => metadata.uid.clone(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()),
        "spec.serviceAccountName" => Some(
            spec.and_then(|s| s.service_account_name.clone())
                .unwrap_or_else(|| "default".into()),
        ),
        "status.podIP" | "status.podIPs" => Some(pod_ip.to_string()),
        "status.hostIP" | "status.hostIPs" => Some("127.0.0.1".into()),
        _ => keyed("metadata.labels['", &metadata.labels)
            .or_else(|| keyed("metadata.annotations['", &metadata.annotations)),
    }
}

/// What a container's environment needs from the API: Secrets and ConfigMaps by name.
pub struct Sources {
    pub client: kube::Client,
    pub namespace: String,
}

impl Sources {
    async fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        Api::<Secret>::namespaced(self.client.clone(), &self.namespace)
            .get_opt(name)
            .await
            .map_err(|error| format!("cannot read secret {}/{name}: {error}", self.namespace))
    }

    async fn config_map(&self, name: &str) -> Result<Option<ConfigMap>, String> {
        Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace)
            .get_opt(name)
            .await
            .map_err(|error| format!("cannot read configmap {}/{name}: {error}", self.namespace))
    }
}

fn secret_data(secret: &Secret) -> BTreeMap<String, String> {
    let mut data: BTreeMap<String, String> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    data.extend(secret.string_data.clone().unwrap_or_default());
    data
}

fn config_map_data(config_map: &ConfigMap) -> BTreeMap<String, String> {
    config_map.data.clone().unwrap_or_default()
}

/// The container's environment, in kubelet's order: `envFrom` sources, then `env` (each value
/// expanded against the variables defined before it). Errors are what the kubelet reports as
/// `CreateContainerConfigError`.
pub async fn environment(
    pod: &Pod,
    container: &Container,
    pod_ip: &str,
    sources: &Sources,
) -> Result<Vec<(String, String)>, String> {
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, name: String, value: String| {
        env.retain(|(existing, _)| *existing != name);
        env.push((name, value));
    };
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let data = if let Some(reference) = &from.secret_ref {
            match sources.secret(&reference.name).await? {
                Some(secret) => secret_data(&secret),
                None if reference.optional == Some(true) => BTreeMap::new(),
                None => return Err(format!("secret \"{}\" not found", reference.name)),
            }
        } else if let Some(reference) = &from.config_map_ref {
            match sources.config_map(&reference.name).await? {
                Some(config_map) => config_map_data(&config_map),
                None if reference.optional == Some(true) => BTreeMap::new(),
                None => return Err(format!("configmap \"{}\" not found", reference.name)),
            }
        } else {
            BTreeMap::new()
        };
        for (key, value) in data {
            set(&mut env, format!("{prefix}{key}"), value);
        }
    }
    for variable in container.env.iter().flatten() {
        let value = env_value(pod, variable, pod_ip, sources).await?;
        let Some(value) = value else { continue };
        let defined = env.clone();
        let lookup = |name: &str| {
            defined
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let value = if variable.value.is_some() {
            expand(&value, &lookup)
        } else {
            value
        };
        set(&mut env, variable.name.clone(), value);
    }
    Ok(env)
}

/// One `env` entry's value; `None` for an optional reference that is missing.
async fn env_value(
    pod: &Pod,
    variable: &EnvVar,
    pod_ip: &str,
    sources: &Sources,
) -> Result<Option<String>, String> {
    let Some(from) = &variable.value_from else {
        return Ok(Some(variable.value.clone().unwrap_or_default()));
    };
    if let Some(field) = &from.field_ref {
        return field_value(pod, &field.field_path, pod_ip)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "env {}: unsupported fieldRef {}",
                    variable.name, field.field_path
                )
            });
    }
    if let Some(selector) = &from.secret_key_ref {
        let value = sources
            .secret(&selector.name)
            .await?
            .and_then(|secret| secret_data(&secret).remove(&selector.key));
        return match value {
            Some(value) => Ok(Some(value)),
            None if selector.optional == Some(true) => Ok(None),
            None => Err(format!(
                "couldn't find key {} in Secret {}/{}",
                selector.key, sources.namespace, selector.name
            )),
        };
    }
    if let Some(selector) = &from.config_map_key_ref {
        let value = sources
            .config_map(&selector.name)
            .await?
            .and_then(|config_map| config_map_data(&config_map).remove(&selector.key));
        return match value {
            Some(value) => Ok(Some(value)),
            None if selector.optional == Some(true) => Ok(None),
            None => Err(format!(
                "couldn't find key {} in ConfigMap {}/{}",
                selector.key, sources.namespace, selector.name
            )),
        };
    }
    if let Some(resource) = &from.resource_field_ref {
        // No limits are enforced here; report the node's capacity as the kubelet does for a
        // container without limits.
        let value = match resource.resource.as_str() {
            "limits.cpu" | "requests.cpu" => "8",
            "limits.memory" | "requests.memory" => "34359738368",
            _ => "0",
        };
        return Ok(Some(value.to_string()));
    }
    Ok(Some(String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(name: &str) -> Option<String> {
        match name {
            "POD_IP" => Some("127.0.1.7".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expansion_follows_kubelet() {
        assert_eq!(expand("--addr=$(POD_IP):80", &vars), "--addr=127.0.1.7:80");
        assert_eq!(expand("$(UNDEFINED)/x", &vars), "$(UNDEFINED)/x");
        assert_eq!(expand("$$(POD_IP)", &vars), "$(POD_IP)");
        assert_eq!(
            expand("a$(EMPTY)b $ c $(unclosed", &vars),
            "ab $ c $(unclosed"
        );
    }

    #[test]
    fn mount_paths_are_rewritten_longest_first() {
        let mounts = vec![
            (
                "/etc/certs".to_string(),
                PathBuf::from("/work/p/volumes/certs"),
            ),
            (
                "/etc/certs/extra".to_string(),
                PathBuf::from("/work/p/volumes/extra"),
            ),
        ];
        assert_eq!(
            rewrite_mounts("--cert=/etc/certs/tls.crt --x=/etc/certs/extra/y", &mounts),
            "--cert=/work/p/volumes/certs/tls.crt --x=/work/p/volumes/extra/y"
        );
        assert_eq!(rewrite_mounts("/etc/other", &mounts), "/etc/other");
    }

    #[test]
    fn wildcard_listen_addresses_become_the_pod_ip() {
        let ip = "127.0.1.3";
        assert_eq!(
            rewrite_listen("--listen=0.0.0.0:8443", ip),
            "--listen=127.0.1.3:8443"
        );
        assert_eq!(rewrite_listen("[::]:9090", ip), "127.0.1.3:9090");
        assert_eq!(rewrite_listen(":8080", ip), "127.0.1.3:8080");
        assert_eq!(
            rewrite_listen("--metrics=:9000", ip),
            "--metrics=127.0.1.3:9000"
        );
        assert_eq!(rewrite_listen("http://example:80", ip), "http://example:80");
        assert_eq!(rewrite_listen("0.0.0.0", ip), "0.0.0.0");
    }

    #[test]
    fn command_maps_onto_the_registered_program() {
        let container: Container = serde_json::from_value(json!({
            "name": "c", "command": ["/usr/local/bin/image-assurance", "serve"], "args": ["--x"],
        }))
        .unwrap();
        let program = Path::new("/build/target/debug/image-assurance");
        assert_eq!(arguments(program, &container), ["serve", "--x"]);
        let shell: Container = serde_json::from_value(json!({
            "name": "c", "command": ["/bin/sh", "-c"], "args": ["serve"],
        }))
        .unwrap();
        assert_eq!(arguments(program, &shell), ["serve"]);
    }

    #[test]
    fn downward_api_fields() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
            "spec": {"nodeName": "sim-node-1", "containers": []},
        }))
        .unwrap();
        assert_eq!(
            field_value(&pod, "status.podIP", "127.0.1.1").as_deref(),
            Some("127.0.1.1")
        );
        assert_eq!(
            field_value(&pod, "metadata.labels['app']", "").as_deref(),
            Some("web")
        );
        assert_eq!(
            field_value(&pod, "spec.serviceAccountName", "").as_deref(),
            Some("default")
        );
        assert_eq!(
            field_value(&pod, "spec.nodeName", "").as_deref(),
            Some("sim-node-1")
        );
        assert_eq!(field_value(&pod, "status.unknown", ""), None);
    }
}
