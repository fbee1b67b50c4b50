//! Our webhook running inside the simulated cluster from its own manifests, as it would on
//! kind: the simulator's kubelet runs the `image-assurance` binary for the webhook's pods, the
//! API server calls it through its Service, and everything is checked with the real `kubectl`
//! and its printed output.

mod cluster_support;

use std::time::Duration;

use cluster_support::{
    ADMITTED_DEPLOYMENT, Cluster, DEPLOYMENT, KEY, NAMESPACE, SERVICE, WEBHOOK, rejected_pod,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_is_admitted_and_runs_and_a_direct_pod_is_rejected_with_the_upstream_message()
{
    let cluster = Cluster::with_webhook(&[]).await;
    cluster.shop().await;

    let printed = cluster
        .kubectl_ok(&["apply", "-f", "-"], Some(ADMITTED_DEPLOYMENT.as_bytes()))
        .await;
    assert_eq!(printed.trim(), "deployment.apps/web created");
    let pods = cluster
        .wait_until(
            &["get", "pods", "-n", "shop", "-l", "app=web", "--no-headers"],
            Duration::from_secs(20),
            |out, _| {
                out.lines().count() == 3
                    && out
                        .lines()
                        .all(|line| line.contains(" 1/1 ") && line.contains(" Running "))
            },
        )
        .await;
    assert!(pods.lines().all(|line| line.starts_with("web-")), "{pods}");
    cluster
        .wait_until(
            &["get", "deployment", "web", "-n", "shop", "--no-headers"],
            Duration::from_secs(10),
            |out, _| out.split_whitespace().take(4).collect::<Vec<_>>() == ["web", "3/3", "3", "3"],
        )
        .await;

    let output = cluster
        .kubectl(
            &["apply", "-f", "-"],
            Some(rejected_pod("nginx").as_bytes()),
        )
        .await;
    assert!(!output.status.success());
    // kubectl prints the webhook's why first, then the refusal.
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "Warning: image \"nginx:1.27\" (container \"app\"): rule index 0 of ContainerPolicy \
         reject-failed-and-non-gcr matched: imagePath IsNoneOf \
         ['^gcr.io/company/production-repository/.*'] (image is docker.io/library/nginx:1.27)\n\
         Error from server (Forbidden): error when creating \"STDIN\": admission webhook \
         \"image-assurance.tigera.io\" denied the request: image \"nginx:1.27\" (container \
         \"app\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule \
         index 0"
    );
    let none = cluster
        .kubectl(&["get", "pod", "nginx", "-n", "shop"], None)
        .await;
    assert!(!none.status.success(), "the rejected pod must not exist");

    // With the safe install, the webhook's own namespace and kube-system are not intercepted:
    // deleting the webhook's pods lets them come back, and kube-system is unaffected.
    delete_webhook_pods(&cluster).await;
    let created = run_in_kube_system(&cluster).await;
    assert_eq!(
        String::from_utf8_lossy(&created.stdout).trim(),
        "pod/probe created"
    );
    cluster.wait_rolled_out().await;
    drop(cluster.sim);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_critical_namespaces_selected_the_webhook_deadlocks_until_its_configuration_is_deleted()
 {
    let cluster = Cluster::with_webhook(&["--allow-critical-namespaces"]).await;
    for namespace in ["kube-system", NAMESPACE] {
        cluster
            .kubectl_ok(
                &["label", "namespace", namespace, &format!("{KEY}=true")],
                None,
            )
            .await;
    }
    delete_webhook_pods(&cluster).await;

    let failure = format!(
        "Internal error occurred: failed calling webhook \"{WEBHOOK}\": failed to call webhook: \
         Post \"https://{SERVICE}.{NAMESPACE}.svc:443/admission-review?timeout=5s\": no \
         endpoints available for service \"{SERVICE}\""
    );
    // The webhook's ReplicaSet cannot recreate its pods: the API server cannot reach the
    // webhook to ask about them.
    let events = cluster
        .wait_until(
            &["get", "events", "-n", NAMESPACE],
            Duration::from_secs(20),
            |out, _| out.contains(&format!("Error creating: {failure}")),
        )
        .await;
    assert!(events.contains("FailedCreate"), "{events}");
    let pods = cluster
        .kubectl_ok(&["get", "pods", "-n", NAMESPACE, "--no-headers"], None)
        .await;
    assert_eq!(pods.trim(), "", "no webhook pod may come back");

    let output = run_in_kube_system(&cluster).await;
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        format!("Error from server (InternalError): {failure}")
    );

    // Webhook configurations are never sent to webhooks, so this always works.
    let printed = cluster
        .kubectl_ok(&["delete", "validatingwebhookconfiguration", WEBHOOK], None)
        .await;
    assert_eq!(
        printed.trim(),
        format!(
            "validatingwebhookconfiguration.admissionregistration.k8s.io \"{WEBHOOK}\" deleted"
        )
    );
    cluster.wait_rolled_out().await;
    let created = run_in_kube_system(&cluster).await;
    assert_eq!(
        String::from_utf8_lossy(&created.stdout).trim(),
        "pod/probe created"
    );
    drop(cluster.sim);
}

async fn delete_webhook_pods(cluster: &Cluster) {
    let selector = format!("k8s-app={DEPLOYMENT}");
    cluster
        .kubectl_ok(&["delete", "pods", "-n", NAMESPACE, "-l", &selector], None)
        .await;
}

/// `kubectl run probe -n kube-system ...`: a pod in the namespace a deadlock would hurt most.
async fn run_in_kube_system(cluster: &Cluster) -> std::process::Output {
    let image = "--image=registry.k8s.io/pause:3.10";
    cluster
        .kubectl(&["run", "probe", "-n", "kube-system", image], None)
        .await
}
