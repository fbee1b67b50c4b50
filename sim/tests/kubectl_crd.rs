//! CustomResourceDefinitions through kubectl: a created CRD serves its resource (namespaced and
//! cluster-scoped, with its printer columns), and a deleted one takes it away again.

mod common;

use common::kubectl::{Cluster, is_recent_age, lines, tables};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

const CRDS: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget, shortNames: [wg]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterwidgets.example.com
spec:
  group: example.com
  names: {kind: ClusterWidget, listKind: ClusterWidgetList, plural: clusterwidgets, singular: clusterwidget}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
";

const OBJECTS: &str = "apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
spec: {size: 3, color: blue}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w2
  namespace: kube-public
spec: {size: 5, color: red}
---
apiVersion: example.com/v1
kind: ClusterWidget
metadata:
  name: big
spec: {size: 100}
";

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", kind), plural)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crd_serves_its_resource_until_it_is_deleted() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let crds = cluster.write("crds.yaml", CRDS);
    let objects = cluster.write("objects.yaml", OBJECTS);

    let created = cluster.ok(&["create", "-f", &crds]).await;
    assert_eq!(
        lines(&created),
        [
            "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created",
            "customresourcedefinition.apiextensions.k8s.io/clusterwidgets.example.com created",
        ]
    );
    let stored = Api::<CustomResourceDefinition>::all(client.clone())
        .get("widgets.example.com")
        .await
        .unwrap();
    let established = stored
        .status
        .and_then(|status| status.conditions)
        .unwrap_or_default();
    assert!(
        established
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True"),
        "{established:?}"
    );

    let resources = cluster
        .ok(&["api-resources", "--api-group=example.com"])
        .await;
    let table = &tables(&resources)[0];
    assert_eq!(
        table.header,
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    assert_eq!(
        table.rows_without(&[]),
        [
            vec![
                "clusterwidgets",
                "",
                "example.com/v1",
                "false",
                "ClusterWidget"
            ],
            vec!["widgets", "wg", "example.com/v1", "true", "Widget"]
        ]
    );

    let created = cluster.ok(&["create", "-f", &objects]).await;
    assert_eq!(
        lines(&created),
        [
            "widget.example.com/w1 created",
            "widget.example.com/w2 created",
            "clusterwidget.example.com/big created"
        ]
    );
    let widgets = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        "default",
        &resource("Widget", "widgets"),
    );
    let w1 = widgets.get("w1").await.unwrap();
    assert_eq!(w1.data["spec"], json!({"size": 3, "color": "blue"}));
    assert_eq!(w1.metadata.generation, Some(1));

    let printed = cluster.ok(&["get", "widgets"]).await;
    let table = &tables(&printed)[0];
    assert_eq!(table.header, ["NAME", "SIZE", "COLOR", "AGE"]);
    assert_eq!(table.rows_without(&["AGE"]), [["w1", "3", "blue"]]);
    assert!(is_recent_age(table.cell("w1", "AGE")), "{printed}");
    let printed = cluster.ok(&["get", "wg", "-A"]).await;
    let table = &tables(&printed)[0];
    assert_eq!(table.header, ["NAMESPACE", "NAME", "SIZE", "COLOR", "AGE"]);
    assert_eq!(
        table.rows_without(&["AGE"]),
        [
            ["default", "w1", "3", "blue"],
            ["kube-public", "w2", "5", "red"]
        ]
    );
    let printed = cluster.ok(&["get", "clusterwidgets"]).await;
    let table = &tables(&printed)[0];
    assert_eq!(table.header, ["NAME", "SIZE"]);
    assert_eq!(table.rows_without(&[]), [["big", "100"]]);

    let yaml = cluster.ok(&["get", "widget", "w1", "-o", "yaml"]).await;
    let printed: Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(printed["apiVersion"], "example.com/v1");
    assert_eq!(printed["kind"], "Widget");
    assert_eq!(printed["spec"], json!({"size": 3, "color": "blue"}));
    assert_eq!(printed["metadata"]["name"], "w1");
    assert_eq!(printed["metadata"]["namespace"], "default");
    assert_eq!(
        printed["metadata"]["uid"].as_str(),
        w1.metadata.uid.as_deref()
    );
    assert_eq!(
        printed["metadata"]["resourceVersion"].as_str(),
        w1.metadata.resource_version.as_deref()
    );

    let deleted = cluster.ok(&["delete", "widget", "w1"]).await;
    assert_eq!(lines(&deleted), ["widget.example.com \"w1\" deleted"]);
    assert!(widgets.get_opt("w1").await.unwrap().is_none());
    let none = cluster.run(&["get", "widgets"]).await;
    assert_eq!(
        (none.success, none.stderr.as_str()),
        (true, "No resources found in default namespace.\n")
    );

    let deleted = cluster.ok(&["delete", "-f", &crds]).await;
    assert_eq!(
        lines(&deleted),
        [
            "customresourcedefinition.apiextensions.k8s.io \"widgets.example.com\" deleted",
            "customresourcedefinition.apiextensions.k8s.io \"clusterwidgets.example.com\" deleted",
        ]
    );
    assert!(
        Api::<CustomResourceDefinition>::all(client.clone())
            .get_opt("widgets.example.com")
            .await
            .unwrap()
            .is_none()
    );
    let (left, _) = cluster
        .sim
        .state()
        .store
        .list("example.com", "widgets", None);
    assert!(left.is_empty(), "the CRD's objects go with it: {left:?}");
    let (left, _) = cluster
        .sim
        .state()
        .store
        .list("example.com", "clusterwidgets", None);
    assert!(left.is_empty(), "the CRD's objects go with it: {left:?}");

    // kubectl still has the resource in its discovery cache, so it lists and gets the 404 of a
    // URL nothing serves; kube-apiserver answers that in plain text, which kubectl words itself.
    let stale = cluster.fails(&["get", "widgets"]).await;
    assert_eq!(
        lines(&stale),
        [
            r#"Error from server (NotFound): Unable to list "example.com/v1, Resource=widgets": the server could not find the requested resource (get widgets.example.com)"#
        ]
    );
    // api-resources always rediscovers (refreshing the cache): the resource is gone.
    let resources = cluster.ok(&["api-resources"]).await;
    assert!(!resources.contains("example.com"), "{resources}");
    let unknown = cluster.fails(&["get", "widgets"]).await;
    assert_eq!(
        lines(&unknown),
        [r#"error: the server doesn't have a resource type "widgets""#]
    );
    // So does a kubectl that never cached anything.
    let fresh = cluster
        .run_with_cache(
            &["get", "clusterwidgets"],
            &cluster.dir().join("fresh-cache"),
        )
        .await;
    assert!(!fresh.success);
    assert_eq!(
        lines(&fresh.stderr),
        [r#"error: the server doesn't have a resource type "clusterwidgets""#]
    );
}
