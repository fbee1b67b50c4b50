//! What every scenario of one run shares: the cluster's client, the install, the workspace.
//! cucumber creates a World per scenario with no arguments, so the run publishes this once,
//! before the features start, and each World takes a reference.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::install::{InstallBase, InstallPlan};

pub struct Context {
    pub client: kube::Client,
    /// `sim`, `kind` or `k3s`.
    pub backend: String,
    /// The workspace root (fixtures).
    pub root: PathBuf,
    pub base: InstallBase,
    /// The install every scenario starts from.
    pub standard: InstallPlan,
    scenarios: AtomicUsize,
}

impl Context {
    pub fn new(client: kube::Client, backend: &str, root: PathBuf, base: InstallBase) -> Context {
        Context {
            client,
            backend: backend.to_string(),
            root,
            base,
            standard: InstallPlan::default(),
            scenarios: AtomicUsize::new(0),
        }
    }

    /// A short token, unique in this run, that names a scenario's objects.
    pub fn next_token(&self) -> String {
        let n = self.scenarios.fetch_add(1, Ordering::Relaxed) + 1;
        format!("e2e{n}")
    }
}

static CURRENT: Mutex<Option<Arc<Context>>> = Mutex::new(None);

/// Publishes the context of the run about to start.
pub fn publish(context: Arc<Context>) {
    let mut current = CURRENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *current = Some(context);
}

pub fn current() -> Result<Arc<Context>, String> {
    CURRENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
        .ok_or_else(|| {
            "no cluster: the features must be run through conformance::runner".to_string()
        })
}
