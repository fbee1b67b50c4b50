//! What the ServiceAccount controller and the root CA publisher share: one object of a fixed
//! name in every active namespace. Each syncs a namespace when it appears and whenever its
//! object of that name changes or is deleted.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use super::{Context, SyncError, resource_of};

/// Runs `sync` for every namespace, triggered also by changes to `child`s named `name`.
pub async fn run<F, Fut>(context: Arc<Context>, child: ApiResource, name: &'static str, sync: F)
where
    F: Fn(String, Arc<Context>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, SyncError>> + Send + 'static,
{
    let client = context.client.clone();
    let namespaces = resource_of::<Namespace>();
    let owner = namespaces.clone();
    let sync = Arc::new(sync);
    super::run_controller(
        context,
        owner,
        Vec::new(),
        move |controller| {
            controller.watches_with(
                Api::<DynamicObject>::all_with(client, &child),
                child.clone(),
                watcher::Config::default().fields(&format!("metadata.name={name}")),
                move |object| {
                    object
                        .namespace()
                        .map(|namespace| ObjectRef::new_with(&namespace, namespaces.clone()))
                },
            )
        },
        move |namespace: Arc<DynamicObject>, context| {
            let sync = sync.clone();
            async move {
                // Nothing is created in a namespace that is going away.
                let terminating = namespace.metadata.deletion_timestamp.is_some()
                    || namespace
                        .data
                        .pointer("/status/phase")
                        .and_then(serde_json::Value::as_str)
                        .is_some_and(|phase| phase != "Active");
                if terminating {
                    return Ok(Action::await_change());
                }
                sync(namespace.name_any(), context).await
            }
        },
    )
    .await;
}
