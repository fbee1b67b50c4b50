//! Keeping Secret, ConfigMap and projected volumes up to date, as the kubelet does: the node
//! agent watches Secrets and ConfigMaps (one watch per kind, as the node) and tells its pod
//! workers what changed; a worker whose pod mounts the changed object writes the volume's new
//! contents (`atomic`). A deleted Secret or ConfigMap leaves the last contents; environment
//! variables taken from them are never refreshed (nor are they in Kubernetes).

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Volume};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use tokio::sync::broadcast;

use super::atomic;
use super::volumes::{self, Missing, Volumes};

/// How many changes a slow pod worker may fall behind before it refreshes all its volumes.
pub const CAPACITY: usize = 256;

/// A Secret or ConfigMap that was created or updated.
#[derive(Clone, Debug, PartialEq)]
pub struct Changed {
    pub secret: bool,
    pub namespace: String,
    pub name: String,
}

/// Watches every object of one kind and sends each creation and update (also those listed
/// again after a watch restarts, which may have been missed).
pub async fn watch<K>(client: kube::Client, changes: broadcast::Sender<Changed>)
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K: Send + 'static,
{
    let secret = K::kind(&()) == "Secret";
    let api: Api<K> = Api::all(client);
    let mut events =
        std::pin::pin!(watcher::watcher(api, watcher::Config::default()).default_backoff());
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(object) | Event::InitApply(object)) => {
                // No receiver (no pod running) is not an error.
                let _ = changes.send(Changed {
                    secret,
                    namespace: object.namespace().unwrap_or_default(),
                    name: object.name_any(),
                });
            }
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "kubelet: volume source watch failed; retrying"),
        }
    }
}

/// Whether the volume's contents come from the changed object (`None`: anything may have).
fn affected(volume: &Volume, changed: Option<&Changed>) -> bool {
    let Some(changed) = changed else {
        return volume.secret.is_some()
            || volume.config_map.is_some()
            || volume.projected.is_some();
    };
    let name = changed.name.as_str();
    if changed.secret {
        volume
            .secret
            .as_ref()
            .is_some_and(|s| s.secret_name.as_deref() == Some(name))
            || volume.projected.iter().any(|p| {
                p.sources
                    .iter()
                    .flatten()
                    .any(|s| s.secret.as_ref().is_some_and(|s| s.name == name))
            })
    } else {
        volume.config_map.as_ref().is_some_and(|c| c.name == name)
            || volume.projected.iter().any(|p| {
                p.sources
                    .iter()
                    .flatten()
                    .any(|s| s.config_map.as_ref().is_some_and(|c| c.name == name))
            })
    }
}

/// Rewrites the pod's volumes whose source changed (all of them for `None`) when their contents
/// differ from what was written last. Failures are logged and leave the volume as it was.
pub async fn refresh(
    client: &kube::Client,
    pod: &Pod,
    volumes: &mut Volumes,
    changed: Option<&Changed>,
    service_account_token: &(dyn Fn() -> String + Sync),
) {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    if changed.is_some_and(|c| c.namespace != namespace) {
        return;
    }
    let all: BTreeMap<&str, &Volume> = pod
        .spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
        .map(|v| (v.name.as_str(), v))
        .collect();
    for (name, volume) in all {
        if !affected(volume, changed) {
            continue;
        }
        let (Some(dir), Some(last)) = (volumes.dirs.get(name), volumes.written.get(name)) else {
            continue;
        };
        let files = volumes::payload(
            client,
            &namespace,
            volume,
            Missing::KeepVolume,
            service_account_token,
        )
        .await;
        let files = match files {
            Ok(Some(files)) if files != *last => files,
            Ok(_) => continue,
            Err(error) => {
                tracing::debug!(%error, volume = name, "kubelet: volume not refreshed");
                continue;
            }
        };
        match atomic::write(dir, &files) {
            Ok(()) => {
                volumes.written.insert(name.to_string(), files);
            }
            Err(error) => tracing::warn!(%error, volume = name, "kubelet: cannot refresh a volume"),
        }
    }
}

/// Starts the two watches; the tasks end when the returned handles are dropped.
pub fn start(
    client: &kube::Client,
    changes: &broadcast::Sender<Changed>,
) -> [super::runner::AbortOnDrop; 2] {
    [
        super::runner::AbortOnDrop(tokio::spawn(watch::<Secret>(
            client.clone(),
            changes.clone(),
        ))),
        super::runner::AbortOnDrop(tokio::spawn(watch::<ConfigMap>(
            client.clone(),
            changes.clone(),
        ))),
    ]
}
