//! The kubelet keeps Secret and ConfigMap volumes up to date: a process (`/usr/bin/python3`
//! stands in for a registered image) serving files of its volumes sees new values after the
//! objects are updated, removed keys disappear, `items` and `defaultMode` still apply, a deleted
//! Secret leaves the last contents, and environment taken from a Secret is not refreshed.

mod common;
mod kubelet_support;

use std::time::Duration;

use common::kubectl::Cluster;
use common::objects::{pod, pod_ip};
use common::poll::wait_for;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kubelet_support::{PYTHON, http_get};
use serde_json::json;

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

/// Polls until `path` answers `expected`.
async fn until_served(address: &str, path: &str, expected: Option<&str>) {
    wait_for(
        &format!("{path} answering {expected:?}"),
        Duration::from_secs(5),
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
    let cluster = Cluster::with_nodes(&[(IMAGE, PYTHON)]).await;
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
    let spec = json!({
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
    });
    cluster.create_pod(pod("files", spec)).await;
    let pod = cluster.ready_pod("files").await;
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
