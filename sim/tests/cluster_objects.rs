//! What every cluster has, checked through kubectl and kube-rs as on kube-apiserver v1.32 with
//! kube-controller-manager: the `default` ServiceAccount and `kube-root-ca.crt` in every
//! namespace, the `kubernetes` Service, node ports, TokenRequest, the self reviews of
//! `kubectl auth`, APIServices, and the storage and ingress kinds `kubectl apply --prune` lists.

mod common;

use std::time::Duration;

use common::kubectl::{Cluster, lines, tables};
use common::poll::wait_for;
use common::start;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Service, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// A bound on how long a controller may take; only a broken controller comes near it.
const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread")]
async fn every_namespace_gets_a_default_service_account_and_the_root_ca() {
    let (_sim, client) = start::cluster().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some("team-a".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    for namespace in sim::INITIAL_NAMESPACES.into_iter().chain(["team-a"]) {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        wait_for(&format!("{namespace}/default"), LIMIT, || async {
            accounts.get_opt("default").await.unwrap()
        })
        .await;
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let root_ca = wait_for(&format!("{namespace}/kube-root-ca.crt"), LIMIT, || async {
            maps.get_opt("kube-root-ca.crt").await.unwrap()
        })
        .await;
        let pem = &root_ca.data.unwrap_or_default()["ca.crt"];
        assert!(
            pem.starts_with("-----BEGIN CERTIFICATE-----")
                && pem.trim_end().ends_with("-----END CERTIFICATE-----"),
            "{pem}"
        );
        let annotations = root_ca.metadata.annotations.unwrap_or_default();
        assert!(annotations["kubernetes.io/description"].starts_with("Contains a CA bundle"));
    }

    // Deleted or changed, they come back as they were.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team-a");
    let first = accounts.get("default").await.unwrap().metadata.uid;
    accounts
        .delete("default", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the default ServiceAccount recreated", LIMIT, || async {
        accounts
            .get_opt("default")
            .await
            .unwrap()
            .filter(|account| account.metadata.uid != first)
    })
    .await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let published = maps.get("kube-root-ca.crt").await.unwrap().data;
    let tampered = json!({"data": {"ca.crt": "not a certificate"}});
    maps.patch(
        "kube-root-ca.crt",
        &PatchParams::default(),
        &Patch::Merge(&tampered),
    )
    .await
    .unwrap();
    wait_for("kube-root-ca.crt restored", LIMIT, || async {
        let map = maps.get("kube-root-ca.crt").await.unwrap();
        (map.data == published).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kubernetes_service_takes_the_first_cluster_ip_and_points_at_the_api_server() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let port = i32::from(cluster.sim.address().port());
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let kubernetes = services.get("kubernetes").await.unwrap();
    let labels = kubernetes.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["component"], "apiserver");
    assert_eq!(labels["provider"], "kubernetes");
    let spec = serde_json::to_value(kubernetes.spec.unwrap()).unwrap();
    assert_eq!(spec["clusterIP"], "10.96.0.1");
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(
        spec["ports"],
        json!([{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}])
    );
    let endpoints = Api::<Endpoints>::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    let subsets = serde_json::to_value(endpoints.subsets).unwrap();
    assert_eq!(
        subsets,
        json!([{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}])
    );

    // Other Services never get its address, and cannot ask for it.
    let other = cluster
        .ok(&[
            "create",
            "service",
            "clusterip",
            "web",
            "--tcp=80:8080",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .await;
    assert!(other.starts_with("10.9") && other != "10.96.0.1", "{other}");
    let refused = cluster
        .fails(&[
            "create",
            "service",
            "clusterip",
            "copy",
            "--tcp=80:80",
            "--clusterip=10.96.0.1",
        ])
        .await;
    assert!(
        refused.contains(r#"Service "copy" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: provided IP is already allocated"#),
        "{refused}"
    );
}

fn node_ports(cluster_output: &str) -> Vec<i64> {
    let ports: Value = serde_json::from_str(cluster_output).unwrap();
    ports
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|port| port["nodePort"].as_i64())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn node_ports_are_allocated_once_and_released_on_delete() {
    let cluster = Cluster::start().await;
    let ports = "jsonpath={.spec.ports}";
    let a = cluster
        .ok(&[
            "create",
            "service",
            "nodeport",
            "a",
            "--tcp=80:80",
            "--node-port=30080",
            "-o",
            ports,
        ])
        .await;
    assert_eq!(node_ports(&a), [30080]);
    let duplicate = cluster
        .fails(&[
            "create",
            "service",
            "nodeport",
            "b",
            "--tcp=80:80",
            "--node-port=30080",
        ])
        .await;
    assert!(
        duplicate.contains(r#"Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"#),
        "{duplicate}"
    );
    let out_of_range = cluster
        .fails(&[
            "create",
            "service",
            "nodeport",
            "c",
            "--tcp=80:80",
            "--node-port=80",
        ])
        .await;
    assert!(
        out_of_range.contains("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"),
        "{out_of_range}"
    );
    let balanced = cluster
        .ok(&[
            "create",
            "service",
            "loadbalancer",
            "d",
            "--tcp=80:80,81:81",
            "-o",
            ports,
        ])
        .await;
    let assigned = node_ports(&balanced);
    assert_eq!(assigned.len(), 2, "{balanced}");
    assert!(
        assigned
            .iter()
            .all(|port| (30000..=32767).contains(port) && *port != 30080)
    );
    assert_ne!(assigned[0], assigned[1]);

    // TCP and UDP of one port number share a node port; a second number may not reuse it.
    let shared = cluster.write(
        "dns.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: dns}\nspec:\n  type: NodePort\n  ports:\n  - {name: tcp, port: 53, protocol: TCP, nodePort: 30053}\n  - {name: udp, port: 53, protocol: UDP}\n",
    );
    let dns = cluster.ok(&["create", "-f", &shared, "-o", ports]).await;
    assert_eq!(node_ports(&dns), [30053, 30053]);

    // A replace without nodePort keeps it; a change to ClusterIP gives it up.
    let service = cluster.ok(&["get", "service", "a", "-o", "json"]).await;
    let mut service: Value = serde_json::from_str(&service).unwrap();
    service["spec"]["ports"][0]
        .as_object_mut()
        .unwrap()
        .remove("nodePort");
    let file = cluster.write("a.json", &service.to_string());
    let replaced = cluster.ok(&["replace", "-f", &file, "-o", ports]).await;
    assert_eq!(node_ports(&replaced), [30080]);
    let cleared = cluster
        .ok(&[
            "patch",
            "service",
            "a",
            "-p",
            r#"{"spec":{"type":"ClusterIP"}}"#,
            "-o",
            ports,
        ])
        .await;
    assert_eq!(node_ports(&cleared), Vec::<i64>::new());
    let b = cluster
        .ok(&[
            "create",
            "service",
            "nodeport",
            "b",
            "--tcp=80:80",
            "--node-port=30080",
            "-o",
            ports,
        ])
        .await;
    assert_eq!(node_ports(&b), [30080], "released by the type change");
    cluster.ok(&["delete", "service", "b"]).await;
    let again = cluster
        .ok(&[
            "create",
            "service",
            "nodeport",
            "e",
            "--tcp=80:80",
            "--node-port=30080",
            "-o",
            ports,
        ])
        .await;
    assert_eq!(node_ports(&again), [30080], "released by the delete");
}

/// A kube-rs client that authenticates with `token`. (kubectl sends bearer tokens only over
/// TLS, which the emulator does not serve: clientcmd drops them for an `http://` server.)
fn client_with_token(cluster: &Cluster, token: &str) -> kube::Client {
    sim::server::client_for(&cluster.sim.url(), Some(token.to_string())).unwrap()
}

async fn whoami(client: &kube::Client) -> Value {
    let review = SelfSubjectReview::default();
    let answer = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap();
    serde_json::to_value(answer.status.unwrap().user_info.unwrap()).unwrap()
}

async fn can_i(client: &kube::Client, attributes: Value) -> bool {
    let review: SelfSubjectAccessReview =
        serde_json::from_value(json!({"spec": {"resourceAttributes": attributes}})).unwrap();
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap();
    answer.status.unwrap().allowed
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_create_token_gives_a_token_of_the_service_account() {
    let cluster = Cluster::start().await;
    let token = cluster.ok(&["create", "token", "default"]).await;
    let token = token.trim();
    assert!(!token.is_empty());
    let account = Api::<ServiceAccount>::namespaced(cluster.client(), "default")
        .get("default")
        .await
        .unwrap();
    assert_eq!(
        whoami(&client_with_token(&cluster, token)).await,
        json!({
            "username": "system:serviceaccount:default:default",
            "uid": account.metadata.uid.unwrap(),
            "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
        })
    );

    // The TokenRequest itself: defaults, the requested lifetime, kube's refusals.
    let request = cluster.write(
        "request.json",
        r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":1200}}"#,
    );
    let path = "/api/v1/namespaces/default/serviceaccounts/default/token";
    let answer: Value =
        serde_json::from_str(&cluster.ok(&["create", "--raw", path, "-f", &request]).await)
            .unwrap();
    assert_eq!(answer["kind"], "TokenRequest");
    assert_eq!(answer["metadata"]["name"], "default");
    assert_eq!(answer["spec"]["expirationSeconds"], 1200);
    assert_eq!(
        answer["spec"]["audiences"],
        json!(["https://kubernetes.default.svc.cluster.local"])
    );
    let created: jiff::Timestamp = answer["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expires: jiff::Timestamp = answer["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!((expires - created).get_seconds(), 1200);
    let default = cluster
        .ok(&["create", "token", "default", "-o", "json"])
        .await;
    let default: Value = serde_json::from_str(&default).unwrap();
    assert_eq!(default["spec"]["expirationSeconds"], 3600);
    let short = cluster
        .fails(&["create", "token", "default", "--duration=1m"])
        .await;
    assert!(
        short.contains(r#"error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"#),
        "{short}"
    );
    let missing = cluster.fails(&["create", "token", "nope"]).await;
    assert!(
        missing.contains(r#"serviceaccounts "nope" not found"#),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_auth_answers_from_the_callers_identity_and_the_stored_rbac() {
    let cluster = Cluster::start().await;
    assert_eq!(
        lines(&cluster.ok(&["auth", "can-i", "create", "pods"]).await),
        ["yes"]
    );
    let whoami = cluster.ok(&["auth", "whoami"]).await;
    let table = &tables(&whoami)[0];
    assert_eq!(table.cell("Username", "VALUE"), "kubernetes-admin");
    assert_eq!(
        table.cell("Groups", "VALUE"),
        "[system:masters system:authenticated]"
    );

    let token = cluster.ok(&["create", "token", "default"]).await;
    let account = client_with_token(&cluster, token.trim());
    let pods = |verb: &str, namespace: &str, subresource: &str| json!({"verb": verb, "resource": "pods", "namespace": namespace, "subresource": subresource});
    assert!(!can_i(&account, pods("create", "default", "")).await);
    let rbac = cluster.write(
        "rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-maker}
rules:
- {apiGroups: [\"\"], resources: [pods], verbs: [create, get]}
- {apiGroups: [\"\"], resources: [pods/log], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-maker}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-maker}
subjects:
- {kind: ServiceAccount, name: default}
",
    );
    cluster.ok(&["create", "-f", &rbac]).await;
    assert!(can_i(&account, pods("create", "default", "")).await);
    assert!(can_i(&account, pods("get", "default", "log")).await);
    assert!(!can_i(&account, pods("delete", "default", "")).await);
    assert!(!can_i(&account, pods("create", "kube-system", "")).await);

    let empty = cluster.write(
        "empty.json",
        r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}"#,
    );
    let refused = cluster
        .fails(&[
            "create",
            "--raw",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            "-f",
            &empty,
        ])
        .await;
    assert!(
        refused.contains(r#"spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified"#),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_services_list_each_served_group_version_as_local() {
    let cluster = Cluster::start().await;
    let crd = cluster.write(
        "crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
",
    );
    cluster.ok(&["create", "-f", &crd]).await;
    let columns = "custom-columns=NAME:.metadata.name,SERVICE:.status.conditions[0].reason,AVAILABLE:.status.conditions[0].status";
    let listed = cluster.ok(&["get", "apiservices", "-o", columns]).await;
    let table = &tables(&listed)[0];
    for name in [
        "v1.",
        "v1.apps",
        "v1.batch",
        "v1.authentication.k8s.io",
        "v1.example.com",
    ] {
        assert_eq!(table.cell(name, "SERVICE"), "Local", "{listed}");
        assert_eq!(table.cell(name, "AVAILABLE"), "True", "{listed}");
    }
    let apps = cluster
        .ok(&["get", "apiservice", "v1.apps", "-o", "json"])
        .await;
    let apps: Value = serde_json::from_str(&apps).unwrap();
    assert_eq!(
        apps["spec"],
        json!({"group": "apps", "version": "v1", "groupPriorityMinimum": 17800, "versionPriority": 15})
    );
    assert_eq!(
        apps["metadata"]["labels"]["kube-aggregator.kubernetes.io/automanaged"],
        "onstart"
    );
    cluster.ok(&["delete", "-f", &crd]).await;
    let after = cluster.ok(&["get", "apiservices", "-o", "name"]).await;
    assert!(!after.contains("v1.example.com"), "{after}");
}

/// `kubectl apply --prune` with its default allowlist, which names these kinds. kubectl warns
/// (on stderr) that it prunes cluster-scoped kinds too, as it does against any cluster.
async fn apply_prune(cluster: &Cluster, file: &str) -> String {
    let run = cluster
        .run(&["apply", "--prune", "-l", "app=shop", "-f", file])
        .await;
    assert!(run.success, "{}", run.stderr);
    let deprecation = "Deprecated: kubectl apply will no longer prune non-namespaced resources";
    let unexpected: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| !line.contains(deprecation))
        .collect();
    assert!(unexpected.is_empty(), "{}", run.stderr);
    run.stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_claims_and_ingresses_are_served_and_prune_lists_them() {
    let cluster = Cluster::start().await;
    let resources = cluster.ok(&["api-resources", "--no-headers"]).await;
    for (name, short) in [
        ("persistentvolumeclaims", "pvc"),
        ("persistentvolumes", "pv"),
        ("ingresses", "ing"),
    ] {
        assert!(
            resources.lines().any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.first() == Some(&name) && fields.get(1) == Some(&short)
            }),
            "{name} ({short}) missing from:\n{resources}"
        );
    }
    let objects = cluster.write(
        "app.yaml",
        "apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, labels: {app: shop}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, labels: {app: shop}}
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
",
    );
    let applied = apply_prune(&cluster, &objects).await;
    assert_eq!(
        lines(&applied),
        [
            "persistentvolumeclaim/data created",
            "ingress.networking.k8s.io/shop created"
        ]
    );
    let volume = cluster.write(
        "pv.yaml",
        "apiVersion: v1
kind: PersistentVolume
metadata: {name: disk}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /tmp/disk}
",
    );
    cluster.ok(&["create", "-f", &volume]).await;
    let names = cluster.ok(&["get", "pvc,ing,pv", "-o", "name"]).await;
    assert_eq!(
        lines(&names),
        [
            "persistentvolumeclaim/data",
            "ingress.networking.k8s.io/shop",
            "persistentvolume/disk"
        ]
    );
    // Only the claim is in the file now: the ingress is pruned.
    let both = std::fs::read_to_string(&objects).unwrap();
    let claim = both.split("---").next().unwrap();
    let claim_only = cluster.write("claim.yaml", claim);
    let pruned = apply_prune(&cluster, &claim_only).await;
    assert_eq!(
        lines(&pruned),
        [
            "persistentvolumeclaim/data unchanged",
            "ingress.networking.k8s.io/shop pruned"
        ]
    );
}
