//! Keeping Secret, ConfigMap and projected volumes up to date, as the kubelet does: each pod
//! worker watches the Secrets and ConfigMaps its volumes name, one by one (a node may read only
//! the objects its pods reference, so it watches them by `metadata.name`, as a real kubelet's
//! watch-based manager does), and writes a volume's new contents when its source changed
//! (`atomic`). A deleted Secret or ConfigMap leaves the last contents; environment
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

/// Watches one Secret or ConfigMap and sends each creation and update (also those listed again
/// after a watch restarts, which may have been missed).
pub async fn watch<K>(
    client: kube::Client,
    namespace: String,
    name: String,
    changes: broadcast::Sender<Changed>,
) where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let secret = K::kind(&()) == "Secret";
    let api: Api<K> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(object) | Event::InitApply(object)) => {
                // No receiver (the pod is gone) is not an error.
                let _ = changes.send(Changed {
                    secret,
                    namespace: object.namespace().unwrap_or_default(),
                    name: object.name_any(),
                });
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%error, name, "kubelet: volume source watch failed; retrying")
            }
        }
    }
}

/// The Secrets (`true`) and ConfigMaps (`false`) the pod's volumes take files from.
fn sources(pod: &Pod) -> std::collections::BTreeSet<(bool, String)> {
    let mut sources = std::collections::BTreeSet::new();
    for volume in pod
        .spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
    {
        if let Some(name) = volume.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            sources.insert((true, name));
        }
        if let Some(config_map) = &volume.config_map {
            sources.insert((false, config_map.name.clone()));
        }
        for source in volume
            .projected
            .iter()
            .flat_map(|projected| projected.sources.iter().flatten())
        {
            if let Some(secret) = &source.secret {
                sources.insert((true, secret.name.clone()));
            }
            if let Some(config_map) = &source.config_map {
                sources.insert((false, config_map.name.clone()));
            }
        }
    }
    sources
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
            pod,
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

/// Starts a watch on every Secret and ConfigMap the pod's volumes name; the tasks end when
/// the returned handles are dropped.
pub fn start(
    client: &kube::Client,
    pod: &Pod,
    changes: &broadcast::Sender<Changed>,
) -> Vec<super::runner::AbortOnDrop> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    sources(pod)
        .into_iter()
        .map(|(secret, name)| {
            let (client, namespace, changes) = (client.clone(), namespace.clone(), changes.clone());
            super::runner::AbortOnDrop(if secret {
                tokio::spawn(watch::<Secret>(client, namespace, name, changes))
            } else {
                tokio::spawn(watch::<ConfigMap>(client, namespace, name, changes))
            })
        })
        .collect()
}
