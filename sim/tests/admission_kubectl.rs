//! The real kubectl against a simulator with a validating webhook: a rejected `kubectl apply`
//! prints kube-apiserver's Forbidden line, and webhook warnings print as `Warning: <text>`
//! (reference `k8s-admission.md` §2.2, §2.3).

mod admission_support;
mod common;

use admission_support::{Answer, Ca, TestWebhook, configure, webhook};
use common::kubectl::{Cluster, lines};
use serde_json::{Value, json};

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: NAME
spec:
  containers:
  - name: app
    image: nginx:1.27
";

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_prints_denials_and_warnings_as_it_does_against_kube_apiserver() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let ca = Ca::new("kubectl");
    let _hook = TestWebhook::serve(&client, &ca, "hook", |_, review: &Value| {
        let name = review["request"]["name"].as_str().unwrap_or("");
        if name == "root" {
            Answer::Deny {
                status: json!({"code": 403, "reason": "Forbidden", "message": "pods must run as non-root"}),
                warnings: vec!["the pod runs as root".into()],
            }
        } else {
            Answer::Allow {
                warnings: vec!["image nginx:1.27 is not pinned by digest".into()],
            }
        }
    })
    .await;
    configure(
        &client,
        "pods",
        vec![webhook("pods.example.com", "hook", "/", &ca, json!({}))],
    )
    .await;

    let denied = cluster.write("root.yaml", &POD.replace("NAME", "root"));
    let run = cluster.run(&["apply", "-f", &denied]).await;
    assert!(!run.success, "{run:?}");
    assert_eq!(
        lines(&run.stderr),
        [
            "Warning: the pod runs as root".to_string(),
            format!(
                "Error from server (Forbidden): error when creating \"{denied}\": admission webhook \"pods.example.com\" denied the request: pods must run as non-root"
            ),
        ]
    );

    let allowed = cluster.write("web.yaml", &POD.replace("NAME", "web"));
    let run = cluster.run(&["apply", "-f", &allowed]).await;
    assert!(run.success, "{run:?}");
    assert_eq!(lines(&run.stdout), ["pod/web created"]);
    assert_eq!(
        lines(&run.stderr),
        ["Warning: image nginx:1.27 is not pinned by digest"]
    );
}
