//! The ServiceAccount controller (pkg/controller/serviceaccount): a `default` ServiceAccount
//! in every active namespace, recreated if deleted.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, ObjectMeta};
use kube::runtime::controller::Action;

use super::{Context, SyncError, is_already_exists, is_not_found, post_params, resource_of};

const ACCOUNT: &str = "default";

pub async fn run(context: Arc<Context>) {
    super::per_namespace::run(context, resource_of::<ServiceAccount>(), ACCOUNT, sync).await;
}

async fn sync(namespace: String, context: Arc<Context>) -> Result<Action, SyncError> {
    let accounts: Api<ServiceAccount> = Api::namespaced(context.client.clone(), &namespace);
    let existing = accounts
        .get_opt(ACCOUNT)
        .await
        .map_err(SyncError::api("get the default ServiceAccount"))?;
    if existing.is_some() {
        return Ok(Action::await_change());
    }
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(ACCOUNT.into()),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    match accounts.create(&post_params(), &account).await {
        // Created meanwhile, or the namespace is already gone: nothing to do.
        Ok(_) => Ok(Action::await_change()),
        Err(error) if is_already_exists(&error) || is_not_found(&error) => {
            Ok(Action::await_change())
        }
        Err(error) => Err(SyncError::api(format!(
            "create ServiceAccount {namespace}/{ACCOUNT}"
        ))(error)),
    }
}
