//! Files the tests read: the workspace's fixtures, and the recordings in `sim/tests/data`.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The workspace root: fixtures are given to kubectl from there, as a user would. Canonical,
/// because kubectl names the files of a directory by their cleaned path in what it prints.
pub fn workspace() -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    root.canonicalize().expect("the workspace root exists")
}

/// The path of `path` (e.g. `fixtures/workloads/pod.yaml`) in the workspace, as kubectl is given
/// it.
pub fn fixture(path: &str) -> String {
    workspace().join(path).to_string_lossy().into_owned()
}

/// The contents of `sim/tests/data/<name>`.
pub fn bytes(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `sim/tests/data/<name>`, a JSON document.
pub fn json(name: &str) -> Value {
    serde_json::from_slice(&bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}
