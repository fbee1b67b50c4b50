//! Registered images run as local processes: `/usr/bin/python3` stands in for an image here.
//! The process sees its arguments and environment resolved (fieldRef, secretKeyRef, `$(VAR)`),
//! its Secret volume written to a private directory that replaces the mount path, and its
//! wildcard listen address rewritten to the pod IP; probes make it Ready; Endpoints list it;
//! deleting the pod or stopping the simulator stops the process; a crashing one restarts.

mod common;
mod kubelet_support;

use std::collections::BTreeMap;
use std::time::Duration;

use common::kubectl::Cluster;
use common::objects::{is_ready, pod, pod_ip, service};
use common::poll::wait_for;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Secret, Service};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kubelet_support::{PYTHON, http_get};
use serde_json::{Value, json};

const IMAGE: &str = "example.com/pyserver:1";

/// A small server: `/env` answers its environment and argv, `/file/<name>` a file of the
/// directory given as its second argument, `/readyz` ok. HTTPS when `TLS=1` (the certificate
/// and key are `tls.crt` and `tls.key` in that directory).
const SERVER: &str = r#"
import http.server, json, os, ssl, sys
listen, files = sys.argv[1], sys.argv[2]
host, port = listen.rsplit(':', 1)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/env':
            body = json.dumps({'env': dict(os.environ), 'argv': sys.argv, 'pid': os.getpid()}).encode()
        elif self.path.startswith('/file/'):
            body = open(os.path.join(files, self.path[6:]), 'rb').read()
        elif self.path == '/readyz':
            body = b'ok'
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
if os.environ.get('TLS') == '1':
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(files, 'tls.crt'), os.path.join(files, 'tls.key'))
    server.socket = context.wrap_socket(server.socket, server_side=True)
print('serving on', listen, flush=True)
server.serve_forever()
"#;

fn server_pod(name: &str, port: i32, tls: bool, readiness_path: &str) -> Pod {
    let scheme = if tls { "HTTPS" } else { "HTTP" };
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {
            "containers": [{
                "name": "server",
                "image": IMAGE,
                "command": ["python3"],
                "args": ["-c", SERVER, format!("0.0.0.0:{port}"), "/etc/files", "--peer=$(POD_IP)"],
                "env": [
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "GREETING", "value": "hello from $(POD_NAME) at $(POD_IP)"},
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "files", "key": "password"}}},
                    {"name": "CERT", "value": "/etc/files/tls.crt"},
                    {"name": "TLS", "value": if tls { "1" } else { "0" }},
                ],
                "ports": [{"name": "web", "containerPort": port}],
                "readinessProbe": {"httpGet": {"path": readiness_path, "port": "web", "scheme": scheme}, "periodSeconds": 1},
                "volumeMounts": [{"name": "files", "mountPath": "/etc/files", "readOnly": true}],
            }],
            "volumes": [{"name": "files", "secret": {"secretName": "files"}}],
        },
    }))
    .unwrap()
}

async fn create_secret(cluster: &Cluster) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let data: BTreeMap<String, ByteString> = [
        ("message.txt", b"content of a secret file".to_vec()),
        ("password", b"s3cret".to_vec()),
        ("tls.crt", certified.cert.pem().into_bytes()),
        (
            "tls.key",
            certified.signing_key.serialize_pem().into_bytes(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), ByteString(v)))
    .collect();
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("files".into()),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    };
    Api::<Secret>::namespaced(cluster.client(), "default")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registered_image_runs_as_a_process_with_its_volumes_env_and_endpoints() {
    let cluster = Cluster::with_nodes(&[(IMAGE, PYTHON)]).await;
    create_secret(&cluster).await;
    let web: Service = serde_json::from_value(service(
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}),
    ))
    .unwrap();
    Api::<Service>::namespaced(cluster.client(), "default")
        .create(&PostParams::default(), &web)
        .await
        .unwrap();
    let pods = cluster.pods("default");
    // Two replicas on the same container port: each listens on its own pod IP.
    for name in ["web-1", "web-2"] {
        pods.create(
            &PostParams::default(),
            &server_pod(name, 8080, false, "/readyz"),
        )
        .await
        .unwrap();
    }
    let first = cluster.ready_pod("web-1").await;
    let second = cluster.ready_pod("web-2").await;
    let (ip1, ip2) = (pod_ip(&first), pod_ip(&second));
    assert_ne!(ip1, ip2);
    let address = format!("{ip1}:8080");

    let file = http_get(&address, "/file/message.txt")
        .await
        .expect("the pod serves its secret file");
    assert_eq!(file, "content of a secret file");
    let seen: Value = serde_json::from_str(&http_get(&address, "/env").await.unwrap()).unwrap();
    let env = &seen["env"];
    assert_eq!(env["POD_IP"], ip1.as_str());
    assert_eq!(
        env["GREETING"],
        format!("hello from web-1 at {ip1}").as_str()
    );
    assert_eq!(env["PASSWORD"], "s3cret");
    let argv: Vec<String> = serde_json::from_value(seen["argv"].clone()).unwrap();
    // python's argv[0] is `-c`; then the listen address, the files directory, the peer flag.
    assert_eq!(argv[1], address);
    let files_dir = &argv[2];
    assert_ne!(files_dir, "/etc/files");
    assert!(files_dir.ends_with("/volumes/files"), "{files_dir}");
    assert!(
        files_dir.starts_with(cluster.dir().to_str().unwrap()),
        "{files_dir}"
    );
    assert_eq!(argv[3], format!("--peer={ip1}"));
    assert_eq!(env["CERT"], format!("{files_dir}/tls.crt").as_str());
    let kubeconfig = std::fs::read_to_string(env["KUBECONFIG"].as_str().unwrap()).unwrap();
    assert!(kubeconfig.contains("namespace: default") && kubeconfig.contains("token: sim-"));
    assert!(env["KUBERNETES_SERVICE_HOST"].is_string());

    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client(), "default");
    let listed = wait_for(
        "endpoints listing both pods",
        Duration::from_secs(10),
        || async {
            let e = endpoints.get_opt("web").await.ok().flatten()?;
            let subset = e.subsets?.into_iter().next()?;
            let mut ips: Vec<String> = subset.addresses?.into_iter().map(|a| a.ip).collect();
            ips.sort();
            (ips.len() == 2).then_some((ips, subset.ports?))
        },
    )
    .await;
    let mut expected = vec![ip1.clone(), ip2.clone()];
    expected.sort();
    assert_eq!(listed.0, expected);
    assert_eq!(
        (listed.1[0].name.as_deref(), listed.1[0].port),
        (Some("http"), 8080)
    );

    // Deleting the pod stops its process and takes it out of the endpoints.
    pods.delete("web-1", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(
        "web-1's port to stop answering",
        Duration::from_secs(10),
        || async { http_get(&address, "/readyz").await.is_none().then_some(()) },
    )
    .await;
    wait_for(
        "endpoints without web-1",
        Duration::from_secs(10),
        || async {
            let e = endpoints.get_opt("web").await.ok().flatten()?;
            let ips: Vec<String> = e
                .subsets?
                .into_iter()
                .flat_map(|s| s.addresses.unwrap_or_default())
                .map(|a| a.ip)
                .collect();
            (ips == [ip2.clone()]).then_some(())
        },
    )
    .await;
    assert!(http_get(&format!("{ip2}:8080"), "/readyz").await.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn https_readiness_probes_decide_readiness_and_stopping_the_simulator_stops_processes() {
    let cluster = Cluster::with_nodes(&[(IMAGE, PYTHON)]).await;
    create_secret(&cluster).await;
    let pods = cluster.pods("default");
    pods.create(
        &PostParams::default(),
        &server_pod("secure", 8443, true, "/readyz"),
    )
    .await
    .unwrap();
    pods.create(
        &PostParams::default(),
        &server_pod("never-ready", 8443, true, "/missing"),
    )
    .await
    .unwrap();
    let secure = cluster.ready_pod("secure").await;
    assert!(pod_ip(&secure).starts_with("127.0."));
    // The other serves too (its log says so), but its probe path answers 404: never Ready.
    let never = cluster
        .pod_until("default", "never-ready", "never-ready running", |p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|c| c[0].started == Some(true))
        })
        .await;
    let log = cluster
        .sim
        .kubelet()
        .unwrap()
        .work_dir()
        .join("pods")
        .join(format!(
            "default_never-ready_{}",
            never.metadata.uid.clone().unwrap()
        ))
        .join("server.log");
    wait_for("never-ready to serve", Duration::from_secs(10), || async {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|text| text.contains("serving on"))
            .map(|_| ())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let never = pods.get("never-ready").await.unwrap();
    assert!(
        !is_ready(&never),
        "a probe answered 404 keeps the pod unready"
    );

    assert_eq!(cluster.sim.kubelet().unwrap().running_processes(), 2);
    let addresses = [
        format!("{}:8443", pod_ip(&secure)),
        format!("{}:8443", pod_ip(&never)),
    ];
    for address in &addresses {
        assert!(tokio::net::TcpStream::connect(address).await.is_ok());
    }
    let Cluster { sim, .. } = cluster;
    sim.shutdown().await;
    wait_for(
        "the processes to be gone",
        Duration::from_secs(5),
        || async {
            for address in &addresses {
                if tokio::net::TcpStream::connect(address).await.is_ok() {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashing_process_is_restarted_with_backoff() {
    let cluster = Cluster::with_nodes(&[(IMAGE, PYTHON)]).await;
    let spec = json!({"containers": [{"name": "c", "image": IMAGE, "args": ["-c", "import sys; sys.exit(3)"]}]});
    cluster.create_pod(pod("crasher", spec)).await;
    let restarted = cluster
        .pod_until("default", "crasher", "two restarts", |p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|c| c[0].restart_count >= 2)
        })
        .await;
    let status = &restarted.status.unwrap().container_statuses.unwrap()[0];
    let last = status.last_state.clone().unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (3, Some("Error")));
    let state = status.state.clone().unwrap();
    let waiting = state.waiting.and_then(|w| w.reason);
    assert!(
        state.running.is_some() || waiting.as_deref() == Some("CrashLoopBackOff"),
        "between runs the container waits in CrashLoopBackOff: {waiting:?}"
    );
    let out = cluster.succeeds(&["get", "pod", "crasher"]).await;
    assert!(
        out.contains("CrashLoopBackOff") || out.contains("Running"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn config_map_volumes_honour_items_and_modes_and_env_from_imports_keys() {
    let cluster = Cluster::with_nodes(&[(IMAGE, PYTHON)]).await;
    let config_map: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "settings"},
        "data": {"mode": "strict", "motd": "welcome", "unlisted": "not written"},
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(cluster.client(), "default")
        .create(&PostParams::default(), &config_map)
        .await
        .unwrap();
    let spec = json!({
        "containers": [{
            "name": "server",
            "image": IMAGE,
            "args": ["-c", SERVER, ":8080", "/config"],
            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
            "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}],
            "ports": [{"containerPort": 8080}],
            "readinessProbe": {"tcpSocket": {"port": 8080}},
            "volumeMounts": [{"name": "config", "mountPath": "/config"}],
        }],
        "volumes": [{"name": "config", "configMap": {
            "name": "settings",
            "defaultMode": 0o640,
            "items": [{"key": "motd", "path": "text/motd.txt"}, {"key": "mode", "path": "mode", "mode": 0o400}],
        }}],
    });
    cluster.create_pod(pod("configured", spec)).await;
    let ready = cluster.ready_pod("configured").await;
    // `:8080` (listen on every address) became the pod's own address.
    let address = format!("{}:8080", pod_ip(&ready));
    assert_eq!(
        http_get(&address, "/file/text/motd.txt").await.as_deref(),
        Some("welcome")
    );
    let seen: Value = serde_json::from_str(&http_get(&address, "/env").await.unwrap()).unwrap();
    assert_eq!(seen["env"]["CFG_motd"], "welcome");
    assert_eq!(seen["env"]["MODE"], "strict");
    let dir = std::path::PathBuf::from(seen["argv"][2].as_str().unwrap());
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &str| {
        std::fs::metadata(dir.join(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("text/motd.txt"), 0o640);
    assert_eq!(mode("mode"), 0o400);
    assert!(
        !dir.join("unlisted").exists(),
        "only the listed items are written"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_liveness_probe_restarts_the_container() {
    let cluster = Cluster::with_nodes(&[(IMAGE, PYTHON)]).await;
    create_secret(&cluster).await;
    let mut pod = server_pod("unhealthy", 8080, false, "/readyz");
    let container = &mut pod.spec.as_mut().unwrap().containers[0];
    container.liveness_probe = Some(
        serde_json::from_value(json!({
            "httpGet": {"path": "/missing", "port": 8080},
            "initialDelaySeconds": 1, "periodSeconds": 1, "failureThreshold": 1,
        }))
        .unwrap(),
    );
    cluster
        .pods("default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    let restarted = cluster
        .pod_until(
            "default",
            "unhealthy",
            "a restart after the liveness probe failed",
            |p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|c| c[0].restart_count >= 1)
            },
        )
        .await;
    let status = &restarted.status.unwrap().container_statuses.unwrap()[0];
    let last = status.last_state.clone().unwrap().terminated.unwrap();
    let message = last.message.unwrap_or_default();
    assert!(message.starts_with("Liveness probe failed"), "{message}");
}
