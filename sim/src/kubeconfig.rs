//! A kubeconfig for the emulator, so `kubectl` and kube-rs reach it unchanged.

use std::path::Path;

/// The kubeconfig text for a server at `http://address` (no TLS and no credentials: the
/// emulator does not authenticate).
pub fn render(address: &str) -> String {
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
    namespace: default
current-context: sim
users:
- name: sim
  user: {{}}
"
    )
}

pub fn write(path: &Path, address: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, render(address))
}
