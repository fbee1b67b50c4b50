//! A pod's private directory: its volumes (Secret and ConfigMap contents as files, empty
//! directories), a kubeconfig for its service account, and its containers' logs.
//!
//! Layout: `<work>/pods/<namespace>_<name>_<uid>/` with `volumes/<volume>/`, `kubeconfig`
//! and `<container>.log`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Container, KeyToPath, Pod, Secret, Volume};
use kube::Api;

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

fn write_file(dir: &Path, relative: &str, bytes: &[u8], mode: i32) -> Result<(), String> {
    // Keys and item paths are relative and may not climb out (the API server validates them;
    // checked again here because this writes to the host).
    if relative.is_empty()
        || Path::new(relative).is_absolute()
        || relative.split('/').any(|part| part == "..")
    {
        return Err(format!(
            "volume path {relative:?} is not a relative path inside the volume"
        ));
    }
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    std::fs::write(&path, bytes)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    let mode = u32::try_from(mode & 0o777).unwrap_or(0o644);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .map_err(|error| format!("cannot set the mode of {}: {error}", path.display()))
}

/// Writes `data` as files, all keys or only `items`, as the kubelet's atomic writer would.
fn write_keys(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: Option<i32>,
    what: &str,
) -> Result<(), String> {
    let default_mode = default_mode.unwrap_or(DEFAULT_MODE);
    std::fs::create_dir_all(dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    match items {
        Some(items) => {
            for item in items {
                let bytes = data
                    .get(&item.key)
                    .ok_or_else(|| format!("couldn't find key {} in {what}", item.key))?;
                write_file(dir, &item.path, bytes, item.mode.unwrap_or(default_mode))?;
            }
        }
        None => {
            for (key, bytes) in data {
                write_file(dir, key, bytes, default_mode)?;
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

/// Writes one volume's contents; a missing non-optional Secret or ConfigMap is an error the
/// pod waits on (`ContainerCreating`), as on a real node.
async fn write_volume(
    client: &kube::Client,
    namespace: &str,
    volume: &Volume,
    dir: &Path,
    service_account_token: &(dyn Fn() -> String + Sync),
) -> Result<(), String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    if let Some(source) = &volume.secret {
        let name = source.secret_name.clone().unwrap_or_default();
        let what = format!("Secret {namespace}/{name}");
        match secrets
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read {what}: {e}"))?
        {
            Some(secret) => write_keys(
                dir,
                &secret_bytes(&secret),
                source.items.as_ref(),
                source.default_mode,
                &what,
            )?,
            None if source.optional == Some(true) => create_dir(dir)?,
            None => return Err(format!("secret \"{name}\" not found")),
        }
    } else if let Some(source) = &volume.config_map {
        let name = source.name.clone();
        let what = format!("ConfigMap {namespace}/{name}");
        match config_maps
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read {what}: {e}"))?
        {
            Some(map) => write_keys(
                dir,
                &config_map_bytes(&map),
                source.items.as_ref(),
                source.default_mode,
                &what,
            )?,
            None if source.optional == Some(true) => create_dir(dir)?,
            None => return Err(format!("configmap \"{name}\" not found")),
        }
    } else if let Some(projected) = &volume.projected {
        create_dir(dir)?;
        for source in projected.sources.iter().flatten() {
            if let Some(projection) = &source.secret {
                let name = projection.name.clone();
                let what = format!("Secret {namespace}/{name}");
                match secrets
                    .get_opt(&name)
                    .await
                    .map_err(|e| format!("cannot read {what}: {e}"))?
                {
                    Some(secret) => write_keys(
                        dir,
                        &secret_bytes(&secret),
                        projection.items.as_ref(),
                        projected.default_mode,
                        &what,
                    )?,
                    None if projection.optional == Some(true) => {}
                    None => return Err(format!("secret \"{name}\" not found")),
                }
            } else if let Some(projection) = &source.config_map {
                let name = projection.name.clone();
                let what = format!("ConfigMap {namespace}/{name}");
                match config_maps
                    .get_opt(&name)
                    .await
                    .map_err(|e| format!("cannot read {what}: {e}"))?
                {
                    Some(map) => write_keys(
                        dir,
                        &config_map_bytes(&map),
                        projection.items.as_ref(),
                        projected.default_mode,
                        &what,
                    )?,
                    None if projection.optional == Some(true) => {}
                    None => return Err(format!("configmap \"{name}\" not found")),
                }
            } else if let Some(token) = &source.service_account_token {
                write_file(
                    dir,
                    &token.path,
                    service_account_token().as_bytes(),
                    projected.default_mode.unwrap_or(DEFAULT_MODE),
                )?;
            }
        }
    } else {
        // emptyDir and every other kind: an empty directory of the pod's own.
        create_dir(dir)?;
    }
    Ok(())
}

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))
}

/// Writes every volume of the pod under `<pod dir>/volumes/` and returns where each went.
/// `hostPath` volumes are the host's paths themselves.
pub async fn prepare(
    client: &kube::Client,
    pod: &Pod,
    pod_dir: &Path,
    service_account_token: &(dyn Fn() -> String + Sync),
) -> Result<BTreeMap<String, PathBuf>, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let mut dirs = BTreeMap::new();
    for volume in pod
        .spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
    {
        if let Some(host) = &volume.host_path {
            dirs.insert(volume.name.clone(), PathBuf::from(&host.path));
            continue;
        }
        let dir = pod_dir.join("volumes").join(&volume.name);
        write_volume(client, &namespace, volume, &dir, service_account_token).await?;
        dirs.insert(volume.name.clone(), dir);
    }
    Ok(dirs)
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

/// A kubeconfig that authenticates as the pod's service account, with the pod's namespace as
/// its default (what in-cluster configuration gives a client).
pub fn kubeconfig(address: &str, token: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster:
    server: http://{address}
contexts:
- name: sim
  context:
    cluster: sim
    user: sim
    namespace: {namespace}
current-context: sim
users:
- name: sim
  user: {{token: {token}}}
"
    )
}
