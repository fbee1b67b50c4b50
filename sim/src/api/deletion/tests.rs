//! What a DELETE does, through the handler functions: marking, finalizing, namespaces.
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use super::*;
use crate::api::ServerState;
use crate::api::objects::{create, guaranteed_update};
use crate::catalogue::Catalogue;
use crate::store::Store;

fn state() -> SharedState {
    Arc::new(ServerState {
        store: Store::new(100),
        catalogue: Catalogue::default(),
        address: "127.0.0.1:0".into(),
        max_body_bytes: 1 << 20,
        bookmark_interval: std::time::Duration::from_secs(60),
        next_service_ip: AtomicU32::new(1),
        tokens: Default::default(),
        webhook_client: Default::default(),
    })
}

fn target(state: &SharedState, group: &str, resource: &str, namespace: Option<&str>) -> Target {
    Target {
        info: state.catalogue.get(group, "v1", resource).unwrap(),
        namespace: namespace.map(str::to_string),
        name: None,
        subresource: None,
    }
}

async fn namespace(state: &SharedState, name: &str) {
    let namespaces = target(state, "", "namespaces", None);
    create(
        state,
        &namespaces,
        json!({"metadata": {"name": name}}),
        &HashMap::new(),
        &Caller::admin(),
    )
    .await
    .unwrap();
}

async fn delete_with(
    state: &SharedState,
    target: &Target,
    name: &str,
    options: Value,
) -> Result<Deleted, ApiError> {
    delete(
        state,
        target,
        name,
        &options,
        &HashMap::new(),
        &Caller::admin(),
    )
    .await
}

/// Removes every finalizer, as a controller that finished its work does.
async fn clear_finalizers(state: &SharedState, target: &Target, name: &str) -> Value {
    let query = HashMap::new();
    let caller = Caller::admin();
    let write = Write::new(&caller, &query);
    guaranteed_update(state, target, name, &write, |current| {
        let mut updated = current.clone();
        updated["metadata"]["finalizers"] = json!([]);
        Ok(updated)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_foreground_delete_marks_the_owner_and_leaves_the_dependents_to_the_collector() {
    let state = state();
    namespace(&state, "default").await;
    let deployments = target(&state, "apps", "deployments", Some("default"));
    let owner = create(
        &state,
        &deployments,
        json!({"metadata": {"name": "web"}}),
        &HashMap::new(),
        &Caller::admin(),
    )
    .await
    .unwrap();
    let config_maps = target(&state, "", "configmaps", Some("default"));
    let reference = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": owner["metadata"]["uid"]});
    create(
        &state,
        &config_maps,
        json!({"metadata": {"name": "child", "ownerReferences": [reference]}}),
        &HashMap::new(),
        &Caller::admin(),
    )
    .await
    .unwrap();

    let Deleted::Pending { object, accepted } = delete_with(
        &state,
        &deployments,
        "web",
        json!({"propagationPolicy": "Foreground"}),
    )
    .await
    .unwrap() else {
        panic!("a foreground delete waits for the dependents");
    };
    assert!(!accepted);
    assert_eq!(object["metadata"]["finalizers"], json!([FOREGROUND]));
    assert!(object["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(object["metadata"]["generation"], 2);
    // The API server alone deletes no dependent: that is the garbage collector's work.
    assert!(state.store.get(&key_for(&config_maps, "child")).is_some());
    // A second delete answers the marked object and keeps the first timestamp.
    let Deleted::Pending { object: again, .. } =
        delete_with(&state, &deployments, "web", json!({}))
            .await
            .unwrap()
    else {
        panic!("still pending");
    };
    assert_eq!(
        again["metadata"]["deletionTimestamp"],
        object["metadata"]["deletionTimestamp"]
    );
    // The update that removes the last finalizer deletes it.
    clear_finalizers(&state, &deployments, "web").await;
    assert!(state.store.get(&key_for(&deployments, "web")).is_none());
}

#[tokio::test]
async fn an_object_with_a_finalizer_stays_until_it_is_removed_and_takes_no_new_one() {
    let state = state();
    namespace(&state, "default").await;
    let config_maps = target(&state, "", "configmaps", Some("default"));
    create(
        &state,
        &config_maps,
        json!({"metadata": {"name": "kept", "finalizers": ["example.com/hold"]}}),
        &HashMap::new(),
        &Caller::admin(),
    )
    .await
    .unwrap();
    let deleted = delete_with(&state, &config_maps, "kept", json!({}))
        .await
        .unwrap();
    assert!(matches!(deleted, Deleted::Pending { .. }), "{deleted:?}");
    let query = HashMap::new();
    let caller = Caller::admin();
    let write = Write::new(&caller, &query);
    let error = guaranteed_update(&state, &config_maps, "kept", &write, |current| {
        let mut updated = current.clone();
        updated["metadata"]["finalizers"] = json!(["example.com/hold", "example.com/more"]);
        Ok(updated)
    })
    .await
    .unwrap_err();
    assert_eq!(error.code, 422, "{error:?}");
    let mut events = state.store.subscribe(None).unwrap().live;
    clear_finalizers(&state, &config_maps, "kept").await;
    assert!(state.store.get(&key_for(&config_maps, "kept")).is_none());
    let event = events.recv().await.unwrap();
    assert_eq!(event.event_type, crate::store::EventType::Deleted);
}

#[tokio::test]
async fn a_job_deleted_without_a_policy_orphans_its_pods_and_says_so() {
    let state = state();
    namespace(&state, "default").await;
    let jobs = target(&state, "batch", "jobs", Some("default"));
    let job = json!({"metadata": {"name": "once"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}});
    create(&state, &jobs, job, &HashMap::new(), &Caller::admin())
        .await
        .unwrap();
    let caller = Caller::admin();
    let deleted = delete(&state, &jobs, "once", &json!({}), &HashMap::new(), &caller)
        .await
        .unwrap();
    let Deleted::Pending { object, .. } = deleted else {
        panic!("orphaning waits for the collector: {deleted:?}");
    };
    assert_eq!(object["metadata"]["finalizers"], json!([ORPHAN]));
    let headers = caller.warnings.headers();
    assert_eq!(headers.len(), 1);
    assert!(
        headers[0]
            .to_str()
            .unwrap()
            .contains("child pods are preserved by default"),
        "{headers:?}"
    );
}

#[tokio::test]
async fn a_namespace_terminates_takes_nothing_new_and_goes_when_finalized() {
    let state = state();
    namespace(&state, "doomed").await;
    let namespaces = target(&state, "", "namespaces", None);
    let Deleted::Object(marked) = delete_with(&state, &namespaces, "doomed", json!({}))
        .await
        .unwrap()
    else {
        panic!("a namespace answers with itself");
    };
    assert_eq!(marked["status"]["phase"], "Terminating");
    assert_eq!(marked["spec"]["finalizers"], json!(["kubernetes"]));
    let config_maps = target(&state, "", "configmaps", Some("doomed"));
    let error = create(
        &state,
        &config_maps,
        json!({"metadata": {"name": "late"}}),
        &HashMap::new(),
        &Caller::admin(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, 403);
    assert_eq!(
        error.message,
        "configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
    );
    assert_eq!(
        error.status()["details"]["causes"][0]["reason"],
        "NamespaceTerminating"
    );
    // Deleting it again changes nothing while its content is being removed.
    assert!(matches!(
        delete_with(&state, &namespaces, "doomed", json!({}))
            .await
            .unwrap(),
        Deleted::Object(_)
    ));
    assert!(state.store.get(&key_for(&namespaces, "doomed")).is_some());
    // The namespace controller's finalize removes it.
    let query = HashMap::new();
    let caller = Caller::admin();
    let write = Write {
        subresource: "finalize",
        ..Write::new(&caller, &query)
    };
    guaranteed_update(&state, &namespaces, "doomed", &write, |current| {
        let mut updated = current.clone();
        updated["spec"]["finalizers"] = json!([]);
        Ok(updated)
    })
    .await
    .unwrap();
    assert!(state.store.get(&key_for(&namespaces, "doomed")).is_none());
}

#[tokio::test]
async fn the_built_in_namespaces_cannot_be_deleted_and_preconditions_name_the_mismatch() {
    let state = state();
    namespace(&state, "kube-system").await;
    let namespaces = target(&state, "", "namespaces", None);
    let error = delete_with(&state, &namespaces, "kube-system", json!({}))
        .await
        .unwrap_err();
    assert_eq!(error.code, 403);
    assert_eq!(
        error.message,
        "namespaces \"kube-system\" is forbidden: this namespace may not be deleted"
    );
    let config_maps = target(&state, "", "configmaps", Some("kube-system"));
    let created = create(
        &state,
        &config_maps,
        json!({"metadata": {"name": "c"}}),
        &HashMap::new(),
        &Caller::admin(),
    )
    .await
    .unwrap();
    let error = delete_with(
        &state,
        &config_maps,
        "c",
        json!({"preconditions": {"uid": "other"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, 409);
    assert_eq!(
        error.message,
        format!(
            "Operation cannot be fulfilled on ConfigMap \"c\": the UID in the precondition (other) does not match the UID in record ({}). The object might have been deleted and then recreated",
            created["metadata"]["uid"].as_str().unwrap()
        )
    );
}
