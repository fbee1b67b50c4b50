//! kube-apiserver's ServiceAccount admission plugin on pod create
//! (`plugin/pkg/admission/serviceaccount`): the pod runs as `default` unless it names a service
//! account, which must exist; unless automounting is off (pod first, then service account) every
//! container mounts a projected `kube-api-access-<random>` volume with a bound token, the
//! cluster CA and the namespace; the service account's image pull secrets are copied.

use serde_json::{Value, json};

use super::fields::{Object, child, items, text};
use crate::api::lifecycle::generated_name;
use crate::status::ApiError;
use crate::store::{ObjectKey, Store};

pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
const VOLUME_PREFIX: &str = "kube-api-access-";
const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// `serviceaccount.WarnOnlyBoundTokenExpirationSeconds`: one hour and seven seconds.
const TOKEN_EXPIRATION_SECONDS: i64 = 60 * 60 + 7;

/// `display_name` is the name admission errors use: the pod's name, or its `generateName`.
pub fn admit(
    store: &Store,
    namespace: &str,
    display_name: &str,
    pod: &mut Object,
) -> Result<(), ApiError> {
    let mirror = pod
        .get("metadata")
        .and_then(|metadata| metadata.get("annotations"))
        .and_then(|annotations| annotations.get(MIRROR_POD_ANNOTATION))
        .is_some();
    if mirror {
        // Mirror pods (static pods a kubelet publishes) never use service accounts.
        return Ok(());
    }
    let Some(spec) = child(pod, "spec") else {
        return Ok(());
    };
    if text(spec, "serviceAccountName").is_empty() {
        spec.insert("serviceAccountName".into(), json!(DEFAULT_SERVICE_ACCOUNT));
    }
    let name = text(spec, "serviceAccountName").to_string();
    // The same copy the v1 conversion writes.
    spec.insert("serviceAccount".into(), json!(name));
    let account = match store.get(&ObjectKey::new("", "serviceaccounts", namespace, &name)) {
        Some(account) => (*account).clone(),
        // Until every namespace has its `default` service account, a missing one stands for an
        // account with no settings.
        None if name == DEFAULT_SERVICE_ACCOUNT => json!({}),
        None => {
            return Err(forbidden(
                display_name,
                &format!(
                    "error looking up service account {namespace}/{name}: serviceaccount \"{name}\" not found"
                ),
            ));
        }
    };
    if should_automount(spec, &account) {
        mount_token(spec);
    }
    let has_pull_secrets = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|secrets| !secrets.is_empty());
    if !has_pull_secrets
        && let Some(secrets) = account.get("imagePullSecrets").and_then(Value::as_array)
        && !secrets.is_empty()
    {
        let references: Vec<Value> = secrets
            .iter()
            .map(|secret| json!({"name": secret.get("name").cloned().unwrap_or(json!(""))}))
            .collect();
        spec.insert("imagePullSecrets".into(), Value::Array(references));
    }
    Ok(())
}

/// `admission.NewForbidden` for a pod.
pub fn forbidden(display_name: &str, reason: &str) -> ApiError {
    let mut error = ApiError::new(
        403,
        "Forbidden",
        format!("pods \"{display_name}\" is forbidden: {reason}"),
    );
    error.details = Some(json!({"name": display_name, "kind": "pods"}));
    error
}

fn should_automount(spec: &Object, account: &Value) -> bool {
    if let Some(automount) = spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
    {
        return automount;
    }
    account
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

fn mount_token(spec: &mut Object) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|volume| volume.get("name").and_then(Value::as_str))
        .find(|name| name.starts_with(VOLUME_PREFIX))
        .map(str::to_string);
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| generated_name(VOLUME_PREFIX));
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
    let mut mounted = false;
    for key in ["initContainers", "containers"] {
        for container in items(spec, key) {
            let has_mount = container
                .get("volumeMounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH));
            if has_mount {
                continue;
            }
            let mounts = container.entry("volumeMounts").or_insert_with(|| json!([]));
            if !mounts.is_array() {
                *mounts = json!([]);
            }
            if let Some(mounts) = mounts.as_array_mut() {
                mounts.push(mount.clone());
                mounted = true;
            }
        }
    }
    if existing.is_none() && mounted {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if !volumes.is_array() {
            *volumes = json!([]);
        }
        if let Some(volumes) = volumes.as_array_mut() {
            volumes.push(token_volume(&volume_name));
        }
    }
}

/// `TokenVolumeSource()`, with the v1 defaults it is stored with.
fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    })
}
