//! Shared by the `kubelet_*.rs` tests: the simulator started as a cluster (nodes, scheduler,
//! process kubelet, endpoints controller), kubectl against it, and bounded polling.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use sim::{ClusterOptions, Config, Simulator};

pub struct Cluster {
    pub sim: Simulator,
    pub kubeconfig: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// A cluster with the default nodes and `images` registered.
    pub async fn start(images: &[(&str, &str)]) -> Cluster {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let images: BTreeMap<String, PathBuf> = images
            .iter()
            .map(|(image, path)| (image.to_string(), PathBuf::from(path)))
            .collect();
        let config = Config {
            cluster: Some(ClusterOptions {
                images,
                work_dir: Some(dir.path().join("work")),
                ..ClusterOptions::default()
            }),
            ..Config::default()
        };
        let mut sim = Simulator::start(config)
            .await
            .expect("the simulator starts");
        let kubeconfig = sim
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("the kubeconfig is written");
        Cluster {
            sim,
            kubeconfig,
            dir,
        }
    }

    pub fn client(&self) -> kube::Client {
        self.sim.client().expect("a kube client")
    }

    pub fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client(), namespace)
    }

    /// Runs kubectl, which must succeed; returns its stdout.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        let output = tokio::process::Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), output)
            .await
            .expect("kubectl finishes")
            .expect("kubectl runs (it must be on PATH)");
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Polls until the pod satisfies `check`; returns it.
    pub async fn pod_until(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&Pod) -> bool,
    ) -> Pod {
        let pods = self.pods(namespace);
        until(Duration::from_secs(20), what, || async {
            pods.get_opt(name)
                .await
                .ok()
                .flatten()
                .filter(|pod| check(pod))
        })
        .await
    }
}

/// Polls `probe` every 20 ms until it gives a value or `timeout` passes.
pub async fn until<T, F: Future<Output = Option<T>>>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn pod_ip(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default()
}

impl Cluster {
    /// Runs kubectl, which may fail; returns whether it succeeded, its stdout and its stderr.
    pub async fn kubectl_result(&self, args: &[&str]) -> (bool, String, String) {
        let output = tokio::process::Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), output)
            .await
            .expect("kubectl finishes")
            .expect("kubectl runs (it must be on PATH)");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// The Events about the pod `name` in `namespace` (any of its containers too).
    pub async fn events_of(
        &self,
        namespace: &str,
        name: &str,
    ) -> Vec<k8s_openapi::api::core::v1::Event> {
        let events: Api<k8s_openapi::api::core::v1::Event> =
            Api::namespaced(self.client(), namespace);
        events
            .list(&Default::default())
            .await
            .map(|list| list.items)
            .unwrap_or_default()
            .into_iter()
            .filter(|event| event.involved_object.name.as_deref() == Some(name))
            .collect()
    }

    /// Polls until an event about the pod has `reason` and a message containing `text`.
    pub async fn event_until(
        &self,
        namespace: &str,
        name: &str,
        reason: &str,
        text: &str,
    ) -> k8s_openapi::api::core::v1::Event {
        until(
            Duration::from_secs(20),
            &format!("a {reason} event on {name} saying {text:?}"),
            || async {
                self.events_of(namespace, name)
                    .await
                    .into_iter()
                    .find(|event| {
                        event.reason.as_deref() == Some(reason)
                            && event.message.as_deref().unwrap_or("").contains(text)
                    })
            },
        )
        .await
    }
}
