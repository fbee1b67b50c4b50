//! The workload controllers of a simulated cluster (what kube-controller-manager runs): Deployment,
//! ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job and CronJob; the
//! ServiceAccount controller and root CA publisher, which give every namespace its `default`
//! ServiceAccount and `kube-root-ca.crt`; and the garbage collector and namespace controller,
//! which do the deletions a delete leaves to them.
//!
//! Each controller is an API client like the real ones: it authenticates with its own
//! service-account identity (`system:serviceaccount:kube-system:<name>-controller`), watches with
//! kube-runtime, and writes through the HTTP API, so every object it creates passes through the
//! admission chain and rejections come back to it as API errors. Reads of children go to the API
//! (a list per sync) rather than a cache: one server answers, so a list always sees the pods the
//! controller has just created and no "expectations" bookkeeping is needed.

mod backoff;
pub mod conditions;
pub mod cron;
mod cronjob;
mod daemonset;
mod deployment;
mod deployment_status;
pub mod events;
mod garbage_collector;
pub mod hash;
mod job;
mod namespace_deleter;
mod per_namespace;
pub mod pods;
mod replicaset;
pub mod rollout;
pub mod root_ca;
mod service_accounts;
mod statefulset;
pub mod status;
mod store_worker;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use crate::auth::{Tokens, UserInfo};

pub use backoff::Backoff;
pub use events::Recorder;

/// The running controllers; dropping the handle stops them.
pub struct Controllers {
    tasks: Vec<JoinHandle<()>>,
}

impl Controllers {
    /// Starts every controller against the API server at `url`, each with a token for its own
    /// identity issued from `tokens`.
    /// `root_ca` is the PEM certificate published as `kube-root-ca.crt`.
    /// The garbage collector and namespace controller read `state` (their informers) and write
    /// through the API like the others.
    pub fn start(
        url: &str,
        tokens: &Tokens,
        root_ca: String,
        state: &crate::api::SharedState,
    ) -> Result<Controllers, crate::StartError> {
        let client = |name: &str| {
            crate::server::client_for(url, Some(tokens.issue(&UserInfo::controller(name))))
        };
        // Every client first, so that a failure leaves no controller running.
        let deployment = Context::new(client("deployment")?, "deployment-controller");
        let replicaset = Context::new(client("replicaset")?, "replicaset-controller");
        let replication = Context::new(client("replication")?, "replication-controller");
        let statefulset = Context::new(client("statefulset")?, "statefulset-controller");
        let daemonset = Context::new(client("daemon-set")?, "daemonset-controller");
        let job = Context::new(client("job")?, "job-controller");
        let cronjob = Context::new(client("cronjob")?, "cronjob-controller");
        let service_account =
            Context::new(client("service-account")?, "service-account-controller");
        let root_ca_publisher = UserInfo::service_account("kube-system", "root-ca-cert-publisher");
        let root_ca_publisher = Context::new(
            crate::server::client_for(url, Some(tokens.issue(&root_ca_publisher)))?,
            "root-ca-cert-publisher",
        );
        let account = |name: &str| {
            crate::server::client_for(
                url,
                Some(tokens.issue(&UserInfo::service_account("kube-system", name))),
            )
        };
        let garbage_collector = account("generic-garbage-collector")?;
        let namespace_controller = client("namespace")?;
        let tasks = vec![
            tokio::spawn(garbage_collector::run(state.clone(), garbage_collector)),
            tokio::spawn(namespace_deleter::run(state.clone(), namespace_controller)),
            tokio::spawn(deployment::run(deployment)),
            tokio::spawn(replicaset::run_replicasets(replicaset)),
            tokio::spawn(replicaset::run_replication_controllers(replication)),
            tokio::spawn(statefulset::run(statefulset)),
            tokio::spawn(daemonset::run(daemonset)),
            tokio::spawn(job::run(job)),
            tokio::spawn(cronjob::run(cronjob)),
            tokio::spawn(service_accounts::run(service_account)),
            tokio::spawn(root_ca::run(root_ca_publisher, root_ca)),
        ];
        Ok(Controllers { tasks })
    }

    /// Stops every controller and waits until they have stopped.
    pub async fn stop(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What every reconcile of one controller shares.
pub struct Context {
    pub client: Client,
    pub events: Recorder,
    pub backoff: Backoff,
}

impl Context {
    /// `component` is what events name as their source (`replicaset-controller`, ...).
    pub fn new(client: Client, component: &'static str) -> Arc<Context> {
        Arc::new(Context {
            events: Recorder::new(client.clone(), component),
            client,
            backoff: Backoff::default(),
        })
    }
}

/// Why a sync did not finish; the object is requeued with backoff.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{action}: {source}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },
    /// Children could not be created or deleted (already reported in events and conditions).
    #[error("{0}")]
    Children(String),
}

impl SyncError {
    pub fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> SyncError {
        let action = action.into();
        move |source| SyncError::Api { action, source }
    }
}

/// The message kube-apiserver sent for a failed request (what controllers put in events).
pub fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

pub fn is_already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409 && status.reason == "AlreadyExists")
}

/// kube-controller-manager's field manager, what `managedFields` shows for controllers' writes.
pub const FIELD_MANAGER: &str = "kube-controller-manager";

pub fn post_params() -> kube::api::PostParams {
    kube::api::PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

pub fn patch_params() -> kube::api::PatchParams {
    kube::api::PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// The API resource the catalogue serves as `info` (for controllers that act on any kind).
pub fn api_resource_of(info: &crate::catalogue::ResourceInfo) -> ApiResource {
    ApiResource {
        group: info.group.clone(),
        version: info.version.clone(),
        api_version: info.api_version(),
        kind: info.kind.clone(),
        plural: info.resource.clone(),
    }
}

/// The API resource of a k8s-openapi type.
pub fn resource_of<K: Resource<DynamicType = ()>>() -> ApiResource {
    ApiResource::erase::<K>(&())
}

/// An object watched untyped, as its k8s-openapi type. Watching untyped keeps one odd object
/// (a field of the wrong type) from breaking the watch for all the others.
pub fn decode<K: DeserializeOwned>(object: &DynamicObject) -> Result<K, String> {
    let value = serde_json::to_value(object).map_err(|error| error.to_string())?;
    serde_json::from_value(value).map_err(|error| error.to_string())
}

/// The owner a child names in its controller reference, if it is of `owner`'s kind.
pub fn controller_owner(
    child: &DynamicObject,
    owner: &ApiResource,
) -> Option<ObjectRef<DynamicObject>> {
    let reference = child
        .owner_references()
        .iter()
        .find(|reference| reference.controller == Some(true))?;
    if reference.kind != owner.kind || reference.api_version != owner.api_version {
        return None;
    }
    let mut object = ObjectRef::new_with(&reference.name, owner.clone());
    if let Some(namespace) = child.namespace() {
        object = object.within(&namespace);
    }
    Some(object)
}

/// Runs a controller of `owner` objects until its task is aborted: `reconcile` on every change
/// of an owner or of one of `children` (by controller reference), requeued with backoff on
/// error. `extra` may add more triggers (e.g. nodes for DaemonSets).
pub async fn run_controller<F, Fut>(
    context: Arc<Context>,
    owner: ApiResource,
    children: Vec<ApiResource>,
    extra: impl FnOnce(Controller<DynamicObject>) -> Controller<DynamicObject>,
    reconcile: F,
) where
    F: Fn(Arc<DynamicObject>, Arc<Context>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, SyncError>> + Send + 'static,
{
    let client = context.client.clone();
    let mut controller = Controller::new_with(
        Api::all_with(client.clone(), &owner),
        watcher::Config::default(),
        owner.clone(),
    );
    for child in children {
        let owner = owner.clone();
        controller = controller.watches_with(
            Api::<DynamicObject>::all_with(client.clone(), &child),
            child.clone(),
            watcher::Config::default(),
            move |object| controller_owner(&object, &owner),
        );
    }
    controller = extra(controller);
    let reconcile = Arc::new(reconcile);
    controller
        .run(
            move |object, context: Arc<Context>| {
                let reconcile = reconcile.clone();
                async move {
                    let key = backoff_key(&object);
                    let result = reconcile(object, context.clone()).await;
                    if result.is_ok() {
                        context.backoff.reset(&key);
                    }
                    result
                }
            },
            |object, error, context| {
                let key = backoff_key(&object);
                tracing::debug!(object = %key, %error, "sync failed; retrying");
                Action::requeue(context.backoff.next(&key))
            },
            context,
        )
        .for_each(|_| futures::future::ready(()))
        .await;
}

fn backoff_key(object: &DynamicObject) -> String {
    format!(
        "{}/{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any(),
        object.uid().unwrap_or_default()
    )
}

/// Requeue after `delay`, or wait for a change when there is nothing timed to wait for.
pub fn requeue_after(delay: Option<Duration>) -> Action {
    match delay {
        Some(delay) => Action::requeue(delay),
        None => Action::await_change(),
    }
}
