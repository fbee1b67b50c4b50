//! The kubelet keeps Secret and ConfigMap volumes up to date: a process (`/usr/bin/python3`
//! stands in for a registered image) serving files of its volumes sees new values after the
//! objects are updated, removed keys disappear, `items` and `defaultMode` still apply, a deleted
//! Secret leaves the last contents, and environment taken from a Secret is not refreshed.

mod kubelet_support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kubelet_support::{Cluster, is_ready, pod_ip, until};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PYTHON: &str = "/usr/bin/python3";
const IMAGE: &str = "example.com/files:1";

/// `/file/<i>/<path>` answers a file of the i-th directory argument (404 when missing),
/// `/mode/<i>/<path>` its permission bits in octal, `/env/<name>` an environment variable.
const SERVER: &str = r#"
import http.server, os, sys
listen, dirs = sys.argv[1], sys.argv[2:]
host, port = listen.rsplit(':', 1)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        parts = self.path.split('/', 3)
        try:
            if parts[1] == 'file':
                body = open(os.path.join(dirs[int(parts[2])], parts[3]), 'rb').read()
            elif parts[1] == 'mode':
                body = oct(os.stat(os.path.join(dirs[int(parts[2])], parts[3])).st_mode & 0o777).encode()
            elif parts[1] == 'env':
                body = os.environ.get(parts[2], '').encode()
            else:
                body = b'ok'
        except (OSError, IndexError, ValueError):
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((host, int(port)), Handler).serve_forever()
"#;

/// A plain HTTP GET; `None` unless it answers 200.
async fn http_get(address: &str, path: &str) -> Option<String> {
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

/// Polls until `path` answers `expected`.
async fn until_served(address: &str, path: &str, expected: Option<&str>) {
    until(
        Duration::from_secs(5),
        &format!("{path} answering {expected:?}"),
        || async {
            let got = http_get(address, path).await;
            (got.as_deref() == expected).then_some(())
        },
    )
    .await;
}

/// Replaces the object's contents (an update, as `kubectl replace` does: keys not given go).
async fn replace<K>(api: &Api<K>, name: &str, object: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let current = api.get(name).await.unwrap();
    let mut object: K = serde_json::from_value(object).unwrap();
    object.meta_mut().resource_version = current.meta().resource_version.clone();
    api.replace(name, &PostParams::default(), &object)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_and_config_map_volumes_follow_their_objects() {
    let cluster = Cluster::start(&[(IMAGE, PYTHON)]).await;
    let secrets: Api<Secret> = Api::namespaced(cluster.client(), "default");
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let secret = |data: serde_json::Value| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "files"}, "stringData": data});
    let config_map = |data: serde_json::Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}, "data": data});
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(secret(json!({"a": "1", "b": "2"}))).unwrap(),
        )
        .await
        .unwrap();
    maps.create(
        &PostParams::default(),
        &serde_json::from_value(config_map(json!({"x": "old", "unused": "-"}))).unwrap(),
    )
    .await
    .unwrap();
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "files"},
        "spec": {
            "containers": [{
                "name": "server",
                "image": IMAGE,
                "command": ["python3"],
                "args": ["-c", SERVER, "0.0.0.0:8080", "/etc/secret", "/etc/conf"],
                "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "files", "key": "a"}}}],
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}},
                "volumeMounts": [
                    {"name": "secret", "mountPath": "/etc/secret"},
                    {"name": "conf", "mountPath": "/etc/conf"},
                ],
            }],
            "volumes": [
                {"name": "secret", "secret": {"secretName": "files", "defaultMode": 0o400}},
                {"name": "conf", "configMap": {"name": "conf", "items": [{"key": "x", "path": "sub/y"}]}},
            ],
        },
    }))
    .unwrap();
    cluster
        .pods("default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    let pod = cluster
        .pod_until("default", "files", "pod files Ready", is_ready)
        .await;
    let address = format!("{}:8080", pod_ip(&pod));
    until_served(&address, "/file/0/a", Some("1")).await;
    until_served(&address, "/file/1/sub/y", Some("old")).await;

    // An update: a changed key, a removed one, a new one with the volume's defaultMode.
    replace(&secrets, "files", secret(json!({"a": "10", "c": "3"}))).await;
    until_served(&address, "/file/0/a", Some("10")).await;
    assert_eq!(http_get(&address, "/file/0/c").await.as_deref(), Some("3"));
    assert_eq!(http_get(&address, "/file/0/b").await, None, "b was removed");
    assert_eq!(
        http_get(&address, "/mode/0/c").await.as_deref(),
        Some("0o400")
    );
    // The environment keeps the value the container started with.
    assert_eq!(http_get(&address, "/env/A").await.as_deref(), Some("1"));

    // A ConfigMap volume with `items`: only the listed key, at its path.
    replace(
        &maps,
        "conf",
        config_map(json!({"x": "new", "unused": "-"})),
    )
    .await;
    until_served(&address, "/file/1/sub/y", Some("new")).await;
    assert_eq!(http_get(&address, "/file/1/unused").await, None);

    // A deleted Secret leaves the last contents: once a later change (the ConfigMap's) is
    // seen, the Secret's files are still there.
    secrets
        .delete("files", &DeleteParams::default())
        .await
        .unwrap();
    replace(&maps, "conf", config_map(json!({"x": "newer"}))).await;
    until_served(&address, "/file/1/sub/y", Some("newer")).await;
    assert_eq!(http_get(&address, "/file/0/a").await.as_deref(), Some("10"));
}
