//! The emulator driven by kube-rs, the client our webhook and steps use: typed `Api`s, and
//! `kube::runtime` watchers and reflectors (initial list, live events, a forced watch restart).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::api::api_error;
use common::poll::until;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;
use sim::{Config, Simulator};

fn config_map(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()},
        "data": {"k": "v"},
    }))
    .expect("valid ConfigMap")
}

fn deployment(name: &str, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": image}]}},
        },
    }))
    .expect("valid Deployment")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_four_initial_namespaces_exist_with_their_name_label() {
    let (_sim, client) = common::start::api().await;
    let namespaces: Api<Namespace> = Api::all(client);
    let list = namespaces.list(&ListParams::default()).await.unwrap();
    let mut names: Vec<String> = list
        .items
        .iter()
        .filter_map(|ns| ns.metadata.name.clone())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    for ns in &list.items {
        let labels = ns.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("kubernetes.io/metadata.name"),
            ns.metadata.name.as_ref()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_crud_fills_metadata_like_kube_apiserver() {
    let (_sim, client) = common::start::api().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let created = deployments
        .create(&PostParams::default(), &deployment("web", "nginx:1.27"))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|uid| uid.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    let first_rv: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();

    // A spec change bumps generation and resourceVersion.
    let patched = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(2));
    assert!(
        patched
            .metadata
            .resource_version
            .as_deref()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > first_rv
    );
    // A label change does not bump generation.
    let labelled = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(2));

    // Strategic merge keeps other containers: containers merge by name.
    let strategic = json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}}});
    let merged = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(strategic))
        .await
        .unwrap();
    let names: Vec<String> = merged
        .spec
        .template
        .spec
        .unwrap()
        .containers
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let fetched = deployments.get("web").await.unwrap();
    assert_eq!(fetched.metadata.uid, created.metadata.uid);
    deployments
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let (code, reason, message) = api_error(deployments.get("web").await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (404, "NotFound", "deployments.apps \"web\" not found")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_carry_kube_apiservers_reasons_and_codes() {
    let (_sim, client) = common::start::api().await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    maps.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let (code, reason, message) = api_error(
        maps.create(&PostParams::default(), &config_map("a", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (409, "AlreadyExists", "configmaps \"a\" already exists")
    );

    let ghost: Api<ConfigMap> = Api::namespaced(client.clone(), "ghost");
    let (code, reason, message) = api_error(
        ghost
            .create(&PostParams::default(), &config_map("a", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (404, "NotFound", "namespaces \"ghost\" not found")
    );

    let (code, reason, message) = api_error(
        maps.create(&PostParams::default(), &config_map("Bad_Name", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(
        message.starts_with(
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""
        ),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_resource_version_is_a_conflict() {
    let (_sim, client) = common::start::api().await;
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let original = maps
        .create(&PostParams::default(), &config_map("c", &[]))
        .await
        .unwrap();
    let mut first = original.clone();
    first.data = Some(BTreeMap::from([("k".to_string(), "first".to_string())]));
    maps.replace("c", &PostParams::default(), &first)
        .await
        .unwrap();
    let mut stale = original;
    stale.data = Some(BTreeMap::from([("k".to_string(), "stale".to_string())]));
    let (code, reason, message) = api_error(
        maps.replace("c", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(
        message.contains("the object has been modified"),
        "{message}"
    );
    assert_eq!(maps.get("c").await.unwrap().data.unwrap()["k"], "first");
}

#[tokio::test(flavor = "multi_thread")]
async fn generate_name_and_label_and_field_selectors() {
    let (_sim, client) = common::start::api().await;
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut generated = config_map("", &[("tier", "web")]);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("cfg-".into());
    let made = maps
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    assert!(
        made.metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("cfg-") && n.len() == 9)
    );
    maps.create(
        &PostParams::default(),
        &config_map("api", &[("tier", "api")]),
    )
    .await
    .unwrap();
    maps.create(
        &PostParams::default(),
        &config_map("db", &[("tier", "db"), ("critical", "yes")]),
    )
    .await
    .unwrap();
    let names = |list: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        let mut names: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|m| m.metadata.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("tier in (api,db)"))
                .await
                .unwrap()
        ),
        ["api", "db"]
    );
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("tier!=web,!critical"))
                .await
                .unwrap()
        ),
        ["api"]
    );
    assert_eq!(
        names(
            maps.list(&ListParams::default().fields("metadata.name=db"))
                .await
                .unwrap()
        ),
        ["db"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_with_limit_and_continue() {
    let (_sim, client) = common::start::api().await;
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    for index in 0..7 {
        maps.create(
            &PostParams::default(),
            &config_map(&format!("m{index}"), &[]),
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(3);
    loop {
        let page = maps.list(&params).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().filter_map(|m| m.metadata.name));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reflector_sees_the_initial_list_then_live_events_then_survives_a_watch_restart() {
    let (_sim, client) = common::start::api().await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    maps.create(&PostParams::default(), &config_map("before", &[]))
        .await
        .unwrap();
    let (reader, writer) = reflector::store::<ConfigMap>();
    // A one-second server-side timeout ends every watch quickly, forcing restarts from the
    // last resourceVersion.
    let stream = reflector(
        writer,
        watcher(maps.clone(), watcher::Config::default().timeout(1)),
    )
    .applied_objects()
    .boxed();
    let task = tokio::spawn(async move { stream.try_for_each(|_| async { Ok(()) }).await });
    let has = |names: &'static [&'static str]| {
        let reader = reader.clone();
        move || {
            let reader = reader.clone();
            async move {
                let mut present: Vec<String> = reader
                    .state()
                    .iter()
                    .filter_map(|m| m.metadata.name.clone())
                    .collect();
                present.sort();
                present == names
            }
        }
    };
    until("initial list", Duration::from_secs(5), has(&["before"])).await;
    maps.create(&PostParams::default(), &config_map("live", &[]))
        .await
        .unwrap();
    until(
        "live event",
        Duration::from_secs(5),
        has(&["before", "live"]),
    )
    .await;
    // Outlast the watch timeout, then change things: the restarted watch must catch them.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    maps.delete("before", &DeleteParams::default())
        .await
        .unwrap();
    maps.create(&PostParams::default(), &config_map("after-restart", &[]))
        .await
        .unwrap();
    until(
        "after the restart",
        Duration::from_secs(5),
        has(&["after-restart", "live"]),
    )
    .await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_from_a_compacted_version_gets_410_gone() {
    let sim = Simulator::start(Config {
        event_log_capacity: 4,
        ..Config::default()
    })
    .await
    .unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(sim.client().unwrap(), "default");
    let first = maps
        .create(&PostParams::default(), &config_map("m0", &[]))
        .await
        .unwrap();
    for index in 1..10 {
        maps.create(
            &PostParams::default(),
            &config_map(&format!("m{index}"), &[]),
        )
        .await
        .unwrap();
    }
    let old = first.metadata.resource_version.unwrap();
    let mut events = maps
        .watch(&kube::api::WatchParams::default(), &old)
        .await
        .unwrap()
        .boxed();
    match events.try_next().await.unwrap() {
        Some(kube::api::WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_from_a_version_replays_what_came_after_it_in_order() {
    let (_sim, client) = common::start::api().await;
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    maps.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    maps.delete("a", &DeleteParams::default()).await.unwrap();
    let rv = first.metadata.resource_version.unwrap();
    let mut events = maps
        .watch(&kube::api::WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match events.try_next().await.unwrap() {
            Some(kube::api::WatchEvent::Added(m)) => {
                seen.push(format!("ADDED {}", m.metadata.name.unwrap()))
            }
            Some(kube::api::WatchEvent::Deleted(m)) => {
                seen.push(format!("DELETED {}", m.metadata.name.unwrap()))
            }
            Some(kube::api::WatchEvent::Bookmark(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["ADDED b", "DELETED a"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_owner_cascades_to_dependents_unless_orphaned() {
    let (_sim, client) = common::start::cluster().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let replicasets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (owner_name, policy) in [("cascade", None), ("orphan", Some(DeleteParams::orphan()))] {
        // Zero replicas: the dependents below are the only ones.
        let mut owner = deployment(owner_name, "nginx");
        owner.spec.replicas = Some(0);
        let owner = deployments
            .create(&PostParams::default(), &owner)
            .await
            .unwrap();
        let owner_ref = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner_name, "uid": owner.metadata.uid, "controller": true}]);
        let rs: ReplicaSet = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("{owner_name}-rs"), "ownerReferences": owner_ref},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": format!("{owner_name}-other")}}, "template": {"metadata": {"labels": {"app": format!("{owner_name}-other")}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
        }))
        .unwrap();
        let rs = replicasets
            .create(&PostParams::default(), &rs)
            .await
            .unwrap();
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{owner_name}-pod"), "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{owner_name}-rs"), "uid": rs.metadata.uid, "controller": true}]},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        deployments
            .delete(owner_name, &policy.unwrap_or_default())
            .await
            .unwrap();
    }
    // Background cascade: the garbage collector deletes the ReplicaSet and, through it, its Pod.
    until(
        "the dependents of a deleted owner are collected",
        Duration::from_secs(10),
        || async {
            replicasets.get_opt("cascade-rs").await.unwrap().is_none()
                && pods.get_opt("cascade-pod").await.unwrap().is_none()
        },
    )
    .await;
    // Orphan: the owner waits for its `orphan` finalizer; the collector strips the references
    // and then the finalizer, and the ReplicaSet and its Pod stay.
    until(
        "the orphaned ReplicaSet lost its reference and the owner went",
        Duration::from_secs(10),
        || async {
            deployments.get_opt("orphan").await.unwrap().is_none()
                && replicasets
                    .get("orphan-rs")
                    .await
                    .unwrap()
                    .metadata
                    .owner_references
                    .is_none()
        },
    )
    .await;
    assert!(pods.get_opt("orphan-pod").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_namespace_terminates_it_until_the_controller_has_emptied_it() {
    let (_sim, client) = common::start::cluster().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}),
    )
    .unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    maps.create(&PostParams::default(), &config_map("inside", &[]))
        .await
        .unwrap();
    let answered = namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let terminating = answered.left().expect("a namespace answers with itself");
    assert_eq!(
        terminating
            .status
            .and_then(|status| status.phase)
            .as_deref(),
        Some("Terminating")
    );
    until(
        "the namespace controller empties and finalizes it",
        Duration::from_secs(10),
        || async { namespaces.get_opt("doomed").await.unwrap().is_none() },
    )
    .await;
    assert!(maps.get_opt("inside").await.unwrap().is_none());
}

fn widget_crd(scope: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": scope,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                {"name": "v1beta1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
            ],
        },
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_created_crd_is_served_at_once_in_every_version_and_deleting_it_removes_its_objects() {
    let (_sim, client) = common::start::api().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let created = crds
        .create(&PostParams::default(), &widget_crd("Namespaced"))
        .await
        .unwrap();
    let established = created
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    assert!(
        established
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );
    let resource = |version: &str| {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", version, "Widget"),
            "widgets",
        )
    };
    let v1: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource("v1"));
    let widget: DynamicObject = serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}})).unwrap();
    v1.create(&PostParams::default(), &widget).await.unwrap();
    let via_beta: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &resource("v1beta1"));
    let seen = via_beta.get("w").await.unwrap();
    assert_eq!(seen.types.unwrap().api_version, "example.com/v1beta1");
    assert_eq!(seen.data["spec"]["size"], 3);
    // Discovery lists it.
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    assert!(discovery.groups().any(|g| g.name() == "example.com"));

    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    let (code, _, _) = api_error(v1.get("w").await.unwrap_err());
    assert_eq!(code, 404);
    // Re-created: the old objects are gone for good.
    crds.create(&PostParams::default(), &widget_crd("Cluster"))
        .await
        .unwrap();
    let cluster: Api<DynamicObject> = Api::all_with(client, &resource("v1"));
    assert!(
        cluster
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_side_apply_creates_then_updates_and_the_scale_and_status_subresources_work() {
    let (_sim, client) = common::start::api().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let params = PatchParams::apply("test-manager");
    let applied = deployments
        .patch("ssa", &params, &Patch::Apply(deployment("ssa", "nginx:1")))
        .await
        .unwrap();
    assert_eq!(
        applied.metadata.managed_fields.unwrap()[0]
            .manager
            .as_deref(),
        Some("test-manager")
    );
    let mut changed = deployment("ssa", "nginx:2");
    changed.metadata.labels = Some(BTreeMap::from([("a".to_string(), "b".to_string())]));
    let updated = deployments
        .patch("ssa", &params, &Patch::Apply(changed))
        .await
        .unwrap();
    assert_eq!(
        updated.spec.template.spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("nginx:2")
    );

    let scale = deployments.get_scale("ssa").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    deployments
        .patch_scale(
            "ssa",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(deployments.get("ssa").await.unwrap().spec.replicas, Some(4));

    // Status goes through /status only.
    deployments
        .patch_status(
            "ssa",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 4, "readyReplicas": 2}})),
        )
        .await
        .unwrap();
    deployments
        .patch(
            "ssa",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 99}})),
        )
        .await
        .unwrap();
    let status = deployments.get("ssa").await.unwrap().status.unwrap();
    assert_eq!(status.ready_replicas, Some(2));
}
