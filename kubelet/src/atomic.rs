//! Writes a volume's files as the kubelet's `AtomicWriter` does, so that a program reading
//! them while they are refreshed sees either the old set or the new one, never a mix:
//!
//! ```text
//! <volume>/..2026_11_26_17_00_00.123456789/<key>   the files of one version
//! <volume>/..data -> ..2026_11_26_17_00_00.123456789
//! <volume>/<key>  -> ..data/<key>                  one link per top-level name
//! ```
//!
//! A new version is written to a fresh directory, then `..data` is replaced by `rename` of a
//! new link (atomic), then links of names that appeared are added and those of names that went
//! away removed, and the old directory is deleted. Rename of a link, rather than per file, is
//! what makes a multi-file update (a certificate with its key) consistent, and programs written
//! for Kubernetes expect this layout.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The files of one version of a volume: relative path → (contents, mode).
pub type Payload = BTreeMap<String, (Vec<u8>, u32)>;

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// Checks that a key or item path stays inside the volume (the API server validates them;
/// checked again because this writes to the host).
pub fn check_path(relative: &str) -> Result<(), String> {
    if relative.is_empty()
        || Path::new(relative).is_absolute()
        || relative
            .split('/')
            .any(|part| part == ".." || part.starts_with(".."))
    {
        return Err(format!(
            "volume path {relative:?} is not a relative path inside the volume"
        ));
    }
    Ok(())
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> String {
    let path = path.display().to_string();
    let what = what.to_string();
    move |error| format!("cannot {what} {path}: {error}")
}

/// A fresh, unique directory name for a version (`..<UTC time>.<nanos>_<n>`).
fn version_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = jiff::Timestamp::now();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "..{}.{:09}_{n}",
        now.strftime("%Y_%m_%d_%H_%M_%S"),
        now.subsec_nanosecond()
    )
}

/// The top-level name of a relative path (`a/b` → `a`).
fn top(relative: &str) -> &str {
    relative.split('/').next().unwrap_or(relative)
}

/// Writes `payload` into `dir` (created if needed), replacing what a previous call wrote.
pub fn write(dir: &Path, payload: &Payload) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let version = dir.join(version_name());
    std::fs::create_dir(&version).map_err(io("create", &version))?;
    for (relative, (bytes, mode)) in payload {
        check_path(relative)?;
        let path = version.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        std::fs::write(&path, bytes).map_err(io("write", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777))
            .map_err(io("set the mode of", &path))?;
    }
    let data = dir.join(DATA);
    let old: Option<PathBuf> = std::fs::read_link(&data).ok().map(|old| dir.join(old));
    // The swap: a new link renamed over the old one.
    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    let version_name = version
        .file_name()
        .map(PathBuf::from)
        .ok_or_else(|| format!("{} has no file name", version.display()))?;
    symlink(&version_name, &tmp).map_err(io("link", &tmp))?;
    std::fs::rename(&tmp, &data).map_err(io("rename to", &data))?;
    // Links for every top-level name; names no longer in the payload lose theirs.
    let names: BTreeSet<&str> = payload.keys().map(|relative| top(relative)).collect();
    for name in &names {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA).join(name), &link).map_err(io("link", &link))?;
        }
    }
    for entry in std::fs::read_dir(dir).map_err(io("read", dir))? {
        let entry = entry.map_err(io("read", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !names.contains(name.as_str()) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io("remove", &path))?;
        }
    }
    if let Some(old) = old.filter(|old| *old != version) {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(entries: &[(&str, &str)]) -> Payload {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), (v.as_bytes().to_vec(), 0o600)))
            .collect()
    }

    #[test]
    fn a_new_version_replaces_the_old_and_removed_keys_disappear() {
        let dir = std::env::temp_dir().join(format!("atomic-{}", uuid::Uuid::new_v4()));
        write(&dir, &payload(&[("a", "1"), ("sub/b", "2"), ("c", "3")])).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.join("sub/b")).unwrap(), "2");
        let mode = std::fs::metadata(dir.join("c"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        write(&dir, &payload(&[("a", "10"), ("d", "4")])).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "10");
        assert_eq!(std::fs::read_to_string(dir.join("d")).unwrap(), "4");
        assert!(!dir.join("c").exists() && !dir.join("sub").exists());
        // Only the current version's directory is left.
        let versions = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.starts_with("..") && name != DATA
            })
            .count();
        assert_eq!(versions, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn paths_outside_the_volume_are_refused() {
        assert!(check_path("../x").is_err());
        assert!(check_path("/etc/passwd").is_err());
        assert!(check_path("..data").is_err());
        assert!(check_path("a/b").is_ok());
    }
}
