//! Shared by the `kubelet_*.rs` tests, on a cluster started with `Cluster::with_nodes` (nodes,
//! scheduler, process kubelet, endpoints controller): `/usr/bin/python3` standing in for a
//! registered image, pods created and awaited, their events, and plain HTTP to what they serve.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::kubectl::Cluster;
use crate::common::objects::{events_for, is_ready};
use crate::common::poll::wait_for;

/// The executable registered for the tests' images.
pub const PYTHON: &str = "/usr/bin/python3";
/// An image registered as [`PYTHON`] by the tests that run Python code (see [`python`]).
pub const PYTHON_IMAGE: &str = "example.com/python:1";

/// A container `name` of [`PYTHON_IMAGE`] running `code`.
pub fn python(name: &str, code: &str) -> Value {
    json!({"name": name, "image": PYTHON_IMAGE, "command": ["python3"], "args": ["-c", code]})
}

impl Cluster {
    /// A cluster whose kubelet runs [`PYTHON_IMAGE`] as [`PYTHON`].
    pub async fn with_python() -> Cluster {
        Cluster::with_nodes(&[(PYTHON_IMAGE, PYTHON)]).await
    }

    pub fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client(), namespace)
    }

    /// Creates `pod` (JSON) in `default`.
    pub async fn create_pod(&self, pod: Value) -> Pod {
        let pod: Pod = serde_json::from_value(pod).unwrap();
        self.pods("default")
            .create(&PostParams::default(), &pod)
            .await
            .unwrap()
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
        wait_for(what, Duration::from_secs(20), || async {
            pods.get_opt(name)
                .await
                .ok()
                .flatten()
                .filter(|pod| check(pod))
        })
        .await
    }

    /// Polls until the pod `name` in `default` is Ready; returns it.
    pub async fn ready_pod(&self, name: &str) -> Pod {
        self.pod_until("default", name, &format!("pod {name} Ready"), is_ready)
            .await
    }

    /// Polls until an event about the pod has `reason` and a message containing `text`.
    pub async fn event_until(
        &self,
        namespace: &str,
        name: &str,
        reason: &str,
        text: &str,
    ) -> Event {
        let client = self.client();
        wait_for(
            &format!("a {reason} event on {name} saying {text:?}"),
            Duration::from_secs(20),
            || async {
                events_for(&client, namespace, name)
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

/// A plain HTTP GET; `None` unless it answers 200 (or when nothing answers).
pub async fn http_get(address: &str, path: &str) -> Option<String> {
    let mut stream = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(address),
    )
    .await
    .ok()?
    .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
        .await
        .ok()?
        .ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_string())
}
