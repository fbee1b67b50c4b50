//! A pod's private directory: its volumes (Secret and ConfigMap contents as files, empty
//! directories), a kubeconfig for its service account, and its containers' logs.
//!
//! Layout: `<work>/pods/<namespace>_<name>_<uid>/` with `volumes/<volume>/`, `kubeconfig`
//! and `<container>.log`. Secret, ConfigMap and projected volumes are written by `atomic` and
//! refreshed when their sources change (`refresh`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, DownwardAPIVolumeFile, KeyToPath, Pod, Secret, Volume,
};
use kube::Api;

use super::atomic::{self, Payload};
use super::launch;

/// Mode of volume files when neither `items[].mode` nor `defaultMode` says (0644).
const DEFAULT_MODE: i32 = 0o644;

pub fn pod_dir(work_dir: &Path, pod: &Pod) -> PathBuf {
    let part = |value: &Option<String>| value.as_deref().unwrap_or("").replace(['/', '.'], "-");
    work_dir.join("pods").join(format!(
        "{}_{}_{}",
        part(&pod.metadata.namespace),
        part(&pod.metadata.name),
        part(&pod.metadata.uid)
    ))
}

/// Adds `data` to the payload, all keys or only `items`, with their modes.
fn add_keys(
    payload: &mut Payload,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: Option<i32>,
    what: &str,
) -> Result<(), String> {
    let mode = |mode: Option<i32>| {
        u32::try_from(mode.or(default_mode).unwrap_or(DEFAULT_MODE) & 0o777).unwrap_or(0o644)
    };
    match items {
        Some(items) => {
            for item in items {
                let bytes = data
                    .get(&item.key)
                    .ok_or_else(|| format!("couldn't find key {} in {what}", item.key))?;
                atomic::check_path(&item.path)?;
                payload.insert(item.path.clone(), (bytes.clone(), mode(item.mode)));
            }
        }
        None => {
            for (key, bytes) in data {
                atomic::check_path(key)?;
                payload.insert(key.clone(), (bytes.clone(), mode(None)));
            }
        }
    }
    Ok(())
}

fn secret_bytes(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    data
}

fn config_map_bytes(config_map: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = config_map
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    for (k, v) in config_map.binary_data.iter().flatten() {
        data.insert(k.clone(), v.0.clone());
    }
    data
}

/// Whether a missing optional source is skipped (at pod start) or stops the write (on a
/// refresh: a deleted Secret or ConfigMap leaves the volume as it was, as the kubelet does).
#[derive(Clone, Copy, PartialEq)]
pub enum Missing {
    SkipOptional,
    KeepVolume,
}

/// Where a volume's keys come from: the Secrets or the ConfigMaps of the pod's namespace.
struct KeySource<K> {
    api: Api<K>,
    /// As messages name the kind (`Secret`) and as the API's not-found message does (`secret`).
    kind: &'static str,
    resource: &'static str,
    bytes: fn(&K) -> BTreeMap<String, Vec<u8>>,
}

impl<K> KeySource<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    /// The object's keys (`None` for an optional one that is missing, when that is allowed),
    /// and how messages name it.
    async fn get(
        &self,
        name: &str,
        optional: Option<bool>,
        missing: Missing,
    ) -> Result<(Option<BTreeMap<String, Vec<u8>>>, String), String> {
        let namespace = self.api.namespace().unwrap_or_default();
        let what = format!("{} {namespace}/{name}", self.kind);
        match self
            .api
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read {what}: {e}"))?
        {
            Some(object) => Ok((Some((self.bytes)(&object)), what)),
            None if optional == Some(true) && missing == Missing::SkipOptional => Ok((None, what)),
            None => Err(format!("{} \"{name}\" not found", self.resource)),
        }
    }
}

/// The files of a Secret, ConfigMap or projected volume; `None` for every other kind (an
/// empty directory). A missing non-optional Secret or ConfigMap is an error the pod waits on
/// (`ContainerCreating`), as on a real node.
pub async fn payload(
    client: &kube::Client,
    pod: &Pod,
    volume: &Volume,
    missing: Missing,
    service_account_token: &(dyn Fn() -> String + Sync),
) -> Result<Option<Payload>, String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let secrets = KeySource {
        api: Api::<Secret>::namespaced(client.clone(), namespace),
        kind: "Secret",
        resource: "secret",
        bytes: secret_bytes,
    };
    let config_maps = KeySource {
        api: Api::<ConfigMap>::namespaced(client.clone(), namespace),
        kind: "ConfigMap",
        resource: "configmap",
        bytes: config_map_bytes,
    };
    let mut payload = Payload::new();
    if let Some(from) = &volume.secret {
        let name = from.secret_name.clone().unwrap_or_default();
        if let (Some(data), what) = secrets.get(&name, from.optional, missing).await? {
            add_keys(
                &mut payload,
                &data,
                from.items.as_ref(),
                from.default_mode,
                &what,
            )?;
        }
    } else if let Some(from) = &volume.config_map {
        if let (Some(data), what) = config_maps.get(&from.name, from.optional, missing).await? {
            add_keys(
                &mut payload,
                &data,
                from.items.as_ref(),
                from.default_mode,
                &what,
            )?;
        }
    } else if let Some(projected) = &volume.projected {
        let mode = projected.default_mode;
        for from in projected.sources.iter().flatten() {
            if let Some(p) = &from.secret {
                if let (Some(data), what) = secrets.get(&p.name, p.optional, missing).await? {
                    add_keys(&mut payload, &data, p.items.as_ref(), mode, &what)?;
                }
            } else if let Some(p) = &from.config_map {
                if let (Some(data), what) = config_maps.get(&p.name, p.optional, missing).await? {
                    add_keys(&mut payload, &data, p.items.as_ref(), mode, &what)?;
                }
            } else if let Some(downward) = &from.downward_api {
                add_fields(&mut payload, pod, downward.items.as_deref(), mode)?;
            } else if let Some(token) = &from.service_account_token {
                atomic::check_path(&token.path)?;
                let mode = u32::try_from(mode.unwrap_or(DEFAULT_MODE) & 0o777).unwrap_or(0o644);
                payload.insert(
                    token.path.clone(),
                    (service_account_token().into_bytes(), mode),
                );
            }
        }
    } else if let Some(downward) = &volume.downward_api {
        add_fields(
            &mut payload,
            pod,
            downward.items.as_deref(),
            downward.default_mode,
        )?;
    } else {
        return Ok(None);
    }
    Ok(Some(payload))
}

/// Adds the downward API's `fieldRef` files (what ServiceAccount admission's projected volume
/// uses for `namespace`). `resourceFieldRef` items have no value here and are left out.
fn add_fields(
    payload: &mut Payload,
    pod: &Pod,
    items: Option<&[DownwardAPIVolumeFile]>,
    default_mode: Option<i32>,
) -> Result<(), String> {
    for item in items.unwrap_or_default() {
        let Some(field) = &item.field_ref else {
            continue;
        };
        atomic::check_path(&item.path)?;
        let value = launch::field_value(pod, &field.field_path, "").ok_or_else(|| {
            format!(
                "downward API file {:?}: unsupported field {:?}",
                item.path, field.field_path
            )
        })?;
        let mode = item.mode.or(default_mode).unwrap_or(DEFAULT_MODE) & 0o777;
        payload.insert(
            item.path.clone(),
            (value.into_bytes(), u32::try_from(mode).unwrap_or(0o644)),
        );
    }
    Ok(())
}

/// A pod's volumes: where each is on this machine, and the files last written to those the
/// kubelet keeps up to date (Secret, ConfigMap, projected).
#[derive(Clone, Default)]
pub struct Volumes {
    pub dirs: BTreeMap<String, PathBuf>,
    pub written: BTreeMap<String, Payload>,
}

/// Writes every volume of the pod under `<pod dir>/volumes/`. `hostPath` volumes are the
/// host's paths themselves; emptyDir and every other kind an empty directory of the pod's own.
pub async fn prepare(
    client: &kube::Client,
    pod: &Pod,
    pod_dir: &Path,
    service_account_token: &(dyn Fn() -> String + Sync),
) -> Result<Volumes, String> {
    let mut volumes = Volumes::default();
    for volume in pod
        .spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
    {
        if let Some(host) = &volume.host_path {
            volumes
                .dirs
                .insert(volume.name.clone(), PathBuf::from(&host.path));
            continue;
        }
        let dir = pod_dir.join("volumes").join(&volume.name);
        // The kubelet's `FailedMount` wording, which names the volume.
        let failed = |error: String| {
            format!(
                "MountVolume.SetUp failed for volume {:?} : {error}",
                volume.name
            )
        };
        let files = payload(
            client,
            pod,
            volume,
            Missing::SkipOptional,
            service_account_token,
        )
        .await
        .map_err(failed)?;
        match files {
            Some(files) => {
                atomic::write(&dir, &files).map_err(failed)?;
                volumes.written.insert(volume.name.clone(), files);
            }
            None => std::fs::create_dir_all(&dir)
                .map_err(|error| format!("cannot create {}: {error}", dir.display()))?,
        }
        volumes.dirs.insert(volume.name.clone(), dir);
    }
    Ok(volumes)
}

/// The container's mounts: mount path → directory on this machine (`subPath` honoured).
pub fn mounts(
    container: &Container,
    volumes: &BTreeMap<String, PathBuf>,
) -> Vec<(String, PathBuf)> {
    container
        .volume_mounts
        .iter()
        .flatten()
        .filter_map(|mount| {
            let dir = volumes.get(&mount.name)?;
            let dir = match mount.sub_path.as_deref().filter(|p| !p.is_empty()) {
                Some(sub) => dir.join(sub),
                None => dir.clone(),
            };
            Some((mount.mount_path.trim_end_matches('/').to_string(), dir))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_downward_api_writes_the_namespace_as_service_account_admission_asks() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        }))
        .unwrap();
        let items: Vec<DownwardAPIVolumeFile> = serde_json::from_value(serde_json::json!([
            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}},
            {"path": "app", "fieldRef": {"fieldPath": "metadata.labels['app']"}, "mode": 0o600},
            {"path": "cpu", "resourceFieldRef": {"resource": "limits.cpu"}},
        ]))
        .unwrap();
        let mut payload = Payload::new();
        add_fields(&mut payload, &pod, Some(&items), Some(0o644)).unwrap();
        assert_eq!(payload.get("namespace"), Some(&(b"shop".to_vec(), 0o644)));
        assert_eq!(payload.get("app"), Some(&(b"web".to_vec(), 0o600)));
        assert!(!payload.contains_key("cpu"));
        let unknown: Vec<DownwardAPIVolumeFile> = serde_json::from_value(serde_json::json!([
            {"path": "x", "fieldRef": {"fieldPath": "spec.unknown"}},
        ]))
        .unwrap();
        let error = add_fields(&mut payload, &pod, Some(&unknown), None).unwrap_err();
        assert!(error.contains("spec.unknown"), "{error}");
    }
}
