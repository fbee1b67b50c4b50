//! Answers compared with kube-apiserver v1.32's own, byte for byte or column for column: error
//! Status bodies as Go encodes them, DELETE answers, `kubectl get` tables, re-applied
//! PodDisruptionBudgets, and metadata-only answers (`as=PartialObjectMetadata`). The expected
//! bodies and rows were taken from a real kube-apiserver v1.32.9 given the same requests.

mod common;

use common::kubectl::{Cluster, tables};
use futures::{StreamExt, TryStreamExt};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use kube::api::{ListParams, WatchEvent, WatchParams};
use serde_json::Value;

/// One request through the kube client; the status code and the body's bytes.
async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    accept: &str,
    body: &str,
) -> (u16, String) {
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json");
    if !accept.is_empty() {
        request = request.header("Accept", accept);
    }
    let request = request.body(body.as_bytes().to_vec().into()).unwrap();
    let response = client.send(request).await.unwrap();
    let code = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (code, String::from_utf8(bytes.to_vec()).unwrap())
}

const JSON: &str = "application/json";
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

const NAME_RULE: &str = r#"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#;

#[tokio::test(flavor = "multi_thread")]
async fn error_bodies_are_what_go_encodes() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let cases: Vec<(&str, &str, &str, u16, String)> = vec![
        (
            "GET",
            "/api/v1/namespaces/default/pods/nope",
            "",
            404,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"pods"},"code":404}"#.into(),
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/default/deployments/nope",
            "",
            404,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"nope\" not found","reason":"NotFound","details":{"name":"nope","group":"apps","kind":"deployments"},"code":404}"#.into(),
        ),
        (
            "POST",
            "/api/v1/namespaces",
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}"#,
            409,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"default\" already exists","reason":"AlreadyExists","details":{"name":"default","kind":"namespaces"},"code":409}"#.into(),
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#,
            422,
            format!(
                r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": {NAME_RULE}","reason":"Invalid","details":{{"name":"Bad_Name","kind":"ConfigMap","causes":[{{"reason":"FieldValueInvalid","message":"Invalid value: \"Bad_Name\": {NAME_RULE}","field":"metadata.name"}}]}},"code":422}}"#
            ),
        ),
        (
            "GET",
            "/api/v1/pods?labelSelector=a%20in%20(",
            "",
            400,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"unable to parse requirement: found '', expected: ',', ')' or identifier","reason":"BadRequest","code":400}"#.into(),
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/configmaps",
            "{}",
            405,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server does not allow this method on the requested resource","reason":"MethodNotAllowed","details":{},"code":405}"#.into(),
        ),
        (
            // Namespaces have no deletecollection.
            "DELETE",
            "/api/v1/namespaces",
            "",
            405,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server does not allow this method on the requested resource","reason":"MethodNotAllowed","details":{},"code":405}"#.into(),
        ),
    ];
    for (method, path, body, code, expected) in cases {
        let answer = raw(&client, method, path, JSON, body).await;
        assert_eq!(answer, (code, format!("{expected}\n")), "{method} {path}");
    }
    let namespaces = raw(&client, "GET", "/api/v1/namespaces", JSON, "").await;
    assert!(
        namespaces.1.contains(r#""name":"default""#),
        "no namespace was deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deletes_answer_a_success_status_or_the_object_by_kind() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = configmaps
        .create(
            &Default::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "c"}})).unwrap(),
        )
        .await
        .unwrap();
    let uid = created.metadata.uid.unwrap();
    let deleted = raw(
        &client,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/c",
        JSON,
        "",
    )
    .await;
    assert_eq!(
        deleted,
        (
            200,
            format!(
                r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Success","details":{{"name":"c","kind":"configmaps","uid":"{uid}"}}}}"#
            ) + "\n"
        )
    );
    let role =
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r"}}"#;
    let roles = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles";
    assert_eq!(raw(&client, "POST", roles, JSON, role).await.0, 201);
    let deleted = raw(&client, "DELETE", &format!("{roles}/r"), JSON, "").await;
    assert!(
        deleted.1.starts_with(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"r","group":"rbac.authorization.k8s.io","kind":"roles","uid":""#
        ),
        "{deleted:?}"
    );
    // Service accounts are among the kinds kube-apiserver answers with the deleted object.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    accounts
        .create(
            &Default::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "sa"}})).unwrap(),
        )
        .await
        .unwrap();
    let deleted = accounts.delete("sa", &Default::default()).await.unwrap();
    assert!(deleted.is_left(), "{deleted:?}");
    // A foreground deletion waits on a finalizer in kube-apiserver: the object comes back.
    configmaps
        .create(
            &Default::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "f"}})).unwrap(),
        )
        .await
        .unwrap();
    let deleted = configmaps
        .delete("f", &kube::api::DeleteParams::foreground())
        .await
        .unwrap();
    assert!(deleted.is_left(), "{deleted:?}");
}

const OBJECTS: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa1}
secrets: [{name: s1}, {name: s2}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r1}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr1}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb1}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r1}
subjects:
- {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}
- {kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}
- {kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}
- {kind: ServiceAccount, name: sa1, namespace: default}
- {kind: ServiceAccount, name: sa2}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb1}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr1}
subjects:
- {kind: ServiceAccount, name: sa1, namespace: default}
- {kind: Group, name: g1, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pdb-min}
spec: {minAvailable: 2, selector: {matchLabels: {app: x}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pdb-max}
spec: {maxUnavailable: "50%", selector: {matchLabels: {app: yy}}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: vwc}
webhooks:
- name: a.example.com
  clientConfig: {url: "https://127.0.0.1:1/x"}
  rules: [{operations: [CREATE], apiGroups: ["example.com"], apiVersions: [v1], resources: [nothings]}]
  sideEffects: None
  admissionReviewVersions: [v1]
- name: b.example.com
  clientConfig: {url: "https://127.0.0.1:1/x"}
  rules: [{operations: [CREATE], apiGroups: ["example.com"], apiVersions: [v1], resources: [nothings]}]
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: mwc}
webhooks:
- name: a.example.com
  clientConfig: {url: "https://127.0.0.1:1/x"}
  rules: [{operations: [CREATE], apiGroups: ["example.com"], apiVersions: [v1], resources: [nothings]}]
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs1}
spec:
  replicas: 0
  selector: {matchLabels: {app: rs1}, matchExpressions: [{key: tier, operator: In, values: [b, a]}]}
  template:
    metadata: {labels: {app: rs1, tier: a}}
    spec:
      containers:
      - {name: c1, image: "busybox:1"}
      - {name: c2, image: "nginx:1"}
"#;

/// What `kubectl get <kind> -o wide` prints for a kind: header, then rows without ages.
type Printed = (
    &'static str,
    &'static [&'static str],
    &'static [&'static [&'static str]],
);

/// `kubectl get <kind> -o wide`'s header and rows (without AGE) for one kind.
async fn wide(cluster: &Cluster, kind: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let printed = cluster.ok(&["get", kind, "-o", "wide"]).await;
    let table = tables(&printed).remove(0);
    let rows = table
        .rows_without(&["AGE", "CREATED AT"])
        .into_iter()
        .map(|row| row.into_iter().map(str::to_string).collect())
        .collect();
    (table.header, rows)
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_get_shows_kube_apiservers_columns() {
    let cluster = Cluster::start().await;
    let file = cluster.write("objects.yaml", OBJECTS);
    cluster.ok(&["apply", "-f", &file]).await;
    let expected: [Printed; 8] = [
        (
            "serviceaccount/sa1",
            &["NAME", "SECRETS", "AGE"],
            &[&["sa1", "2"]],
        ),
        ("role", &["NAME", "CREATED AT"], &[&["r1"]]),
        ("clusterrole/cr1", &["NAME", "CREATED AT"], &[&["cr1"]]),
        (
            "rolebinding",
            &["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
            &[&["rb1", "Role/r1", "alice, bob", "devs", "default/sa1, /sa2"]],
        ),
        (
            "clusterrolebinding/crb1",
            &["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
            &[&["crb1", "ClusterRole/cr1", "", "g1", "default/sa1"]],
        ),
        (
            "pdb",
            &[
                "NAME",
                "MIN AVAILABLE",
                "MAX UNAVAILABLE",
                "ALLOWED DISRUPTIONS",
                "AGE",
            ],
            &[
                &["pdb-max", "N/A", "50%", "0"],
                &["pdb-min", "2", "N/A", "0"],
            ],
        ),
        (
            "validatingwebhookconfiguration/vwc",
            &["NAME", "WEBHOOKS", "AGE"],
            &[&["vwc", "2"]],
        ),
        (
            "rs",
            &[
                "NAME",
                "DESIRED",
                "CURRENT",
                "READY",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
            &[&[
                "rs1",
                "0",
                "0",
                "0",
                "c1,c2",
                "busybox:1,nginx:1",
                "app=rs1,tier in (a,b)",
            ]],
        ),
    ];
    for (kind, header, rows) in expected {
        let (printed_header, printed_rows) = wide(&cluster, kind).await;
        assert_eq!(printed_header, header, "{kind}");
        assert_eq!(printed_rows, rows, "{kind}");
    }
    let (header, rows) = wide(&cluster, "mutatingwebhookconfiguration/mwc").await;
    assert_eq!(
        (header.len(), rows),
        (3, vec![vec!["mwc".to_string(), "1".into()]])
    );

    // The Table itself: kube-apiserver's definitions (types, wide priorities, descriptions).
    let client = cluster.client();
    let (_, body) = raw(
        &client,
        "GET",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        TABLE,
        "",
    )
    .await;
    let table: Value = serde_json::from_str(&body).unwrap();
    let columns: Vec<(&str, &str, i64)> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["type"].as_str().unwrap(),
                c["priority"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("Name", "string", 0),
            ("Role", "string", 0),
            ("Age", "string", 0),
            ("Users", "string", 1),
            ("Groups", "string", 1),
            ("ServiceAccounts", "string", 1)
        ]
    );
    assert_eq!(
        table["columnDefinitions"][3]["description"],
        "Users in the roleBinding"
    );
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let (_, body) = raw(
        &client,
        "GET",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets/pdb-min",
        TABLE,
        "",
    )
    .await;
    let table: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        table["rows"][0]["cells"],
        serde_json::json!(["pdb-min", "2", "N/A", 0, table["rows"][0]["cells"][4]])
    );
    assert!(
        table["metadata"]["resourceVersion"].is_string(),
        "a one-object Table carries its version: {table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watching_as_a_table_sends_the_columns_once() {
    let cluster = Cluster::start().await;
    let file = cluster.write("objects.yaml", OBJECTS);
    cluster.ok(&["apply", "-f", &file]).await;
    let (code, body) = raw(
        &cluster.client(),
        "GET",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets?watch=1&timeoutSeconds=1",
        TABLE,
        "",
    )
    .await;
    assert_eq!(code, 200);
    let events: Vec<Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{body}");
    assert_eq!(events[0]["object"]["kind"], "Table");
    assert_eq!(
        events[0]["object"]["columnDefinitions"][1]["name"],
        "Min Available"
    );
    assert!(events[1]["object"]["columnDefinitions"].is_null());
    assert_eq!(events[1]["object"]["rows"][0]["cells"][0], "pdb-min");
}

#[tokio::test(flavor = "multi_thread")]
async fn reapplying_a_budget_changes_nothing() {
    let cluster = Cluster::start().await;
    let with_selector = cluster.write(
        "pdb.yaml",
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {minAvailable: 1, selector: {matchLabels: {app: web}}}\n",
    );
    let without = cluster.write(
        "pdb-all.yaml",
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: all}\nspec: {maxUnavailable: 1}\n",
    );
    cluster
        .ok(&["apply", "-f", &with_selector, "-f", &without])
        .await;
    let version = |name: &'static str| {
        let client = cluster.client();
        async move {
            let budgets: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> =
                Api::namespaced(client, "default");
            let budget = budgets.get(name).await.unwrap();
            (budget.metadata.resource_version, budget.metadata.generation)
        }
    };
    let before = (version("web").await, version("all").await);
    let again = cluster
        .ok(&["apply", "-f", &with_selector, "-f", &without])
        .await;
    // As against kube-apiserver: kubectl's patch always holds `spec.selector` (patch strategy
    // `replace`), so it prints `configured`, but the server finds nothing to change.
    assert_eq!(
        again.lines().collect::<Vec<_>>(),
        [
            "poddisruptionbudget.policy/web configured",
            "poddisruptionbudget.policy/all unchanged"
        ]
    );
    assert_eq!((version("web").await, version("all").await), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_only_answers_for_get_list_and_watch() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for name in ["a", "b"] {
        configmaps
            .create(
                &Default::default(),
                &serde_json::from_value(serde_json::json!({
                    "metadata": {"name": name, "labels": {"app": "x"}}, "data": {"k": "v"}}))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let one = configmaps.get_metadata("a").await.unwrap();
    assert_eq!(one.metadata.name.as_deref(), Some("a"));
    assert_eq!(
        one.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    let list = configmaps
        .list_metadata(&ListParams::default().labels("app=x"))
        .await
        .unwrap();
    let names: Vec<_> = list
        .items
        .iter()
        .filter_map(|item| item.metadata.name.clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list.types.kind, "PartialObjectMetadataList");

    let (code, body) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps/a",
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        "",
    )
    .await;
    let object: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 200);
    assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
    assert!(object.get("data").is_none(), "{object}");
    let (code, body) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        "",
    )
    .await;
    assert_eq!(code, 406);
    assert!(
        body.contains(r#""message":"you requested PartialObjectMetadata, but the requested object is a list (*core.ConfigMapList)","reason":"NotAcceptable""#),
        "{body}"
    );

    let events: Vec<_> = configmaps
        .watch_metadata(&WatchParams::default().labels("app=x").timeout(1), "0")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let added: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            WatchEvent::Added(meta) => meta.metadata.name.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(added, ["a", "b"]);

    // The runtime's watcher over metadata only, as controllers use it.
    let metadata: Api<kube::core::PartialObjectMeta<ConfigMap>> =
        Api::namespaced(client.clone(), "default");
    let watcher = kube::runtime::watcher(metadata, Default::default());
    let first = kube::runtime::WatchStreamExt::applied_objects(watcher)
        .boxed()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(first.metadata.name.as_deref(), Some("a" | "b")));
}
