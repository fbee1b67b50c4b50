//! A kubeconfig for the emulator, so `kubectl` and kube-rs reach it unchanged.

use std::path::Path;

/// The kubeconfig text for a server at `http://address` (no TLS), with `namespace` as the
/// default. Without a token the caller is the cluster admin; with one, the identity it was
/// issued for (see `auth`).
pub fn render(address: &str, token: Option<&str>, namespace: &str) -> String {
    let user = match token {
        Some(token) => format!("{{token: {token}}}"),
        None => "{}".to_string(),
    };
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster:
    server: http://{address}
contexts:
- name: sim
  context:
    cluster: sim
    user: sim
    namespace: {namespace}
current-context: sim
users:
- name: sim
  user: {user}
"
    )
}

pub fn write(path: &Path, address: &str, token: Option<&str>) -> std::io::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, render(address, token, "default"))
}
