//! Containers' logs, kept and served as a kubelet does. Each run of a container writes its
//! output to `<pod dir>/logs/<container>/<restart count>.log` in the CRI format (`capture`);
//! the current run's and the previous one's are kept, older ones deleted. The kubelet's
//! HTTPS endpoint (`server`) serves them at `/containerLogs/<namespace>/<pod>/<container>`,
//! which is where kube-apiserver's `pods/log` goes: the node's `InternalIP` and
//! `daemonEndpoints.kubeletEndpoint.Port`.
//!
//! Which run a request reads, and what it says when there is none, follows the kubelet's
//! `validateContainerLogStatus`; a simulated container (its image is not registered) has no
//! output and says so.

pub mod capture;
pub mod read;
pub mod server;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::watch;

pub use read::LogOptions;

use crate::status::{self, State};

/// One run's CRI log and how far it is written (closed once the run's output has ended).
#[derive(Clone, Debug)]
pub struct Run {
    pub path: PathBuf,
    pub written: watch::Receiver<u64>,
}

/// Why a request has no log to read: the kubelet's HTTP status and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub message: String,
}

impl Refusal {
    fn new(code: u16, message: String) -> Refusal {
        Refusal { code, message }
    }
}

/// What a request reads.
#[derive(Debug)]
pub enum Found {
    Run(Run),
    /// The run exists but wrote no log (it never started).
    Nothing,
}

struct Entry {
    uid: String,
    /// Every container of the spec, init containers too.
    containers: Vec<String>,
    /// Container → image, for containers that are simulated.
    simulated: HashMap<String, String>,
    /// The kubelet's latest view of each container.
    statuses: HashMap<String, status::Container>,
    /// Container → its kept runs, by container ID.
    runs: HashMap<String, Vec<(String, Run)>>,
}

/// The pods this kubelet runs, by namespace and name, for their logs.
#[derive(Default)]
pub struct Table {
    /// Several pods may share a name for a moment (one stopping, its successor starting):
    /// the last registered is the one a request means.
    pods: Mutex<HashMap<(String, String), Vec<Entry>>>,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Vec<Entry>>> {
        self.pods
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a pod for as long as the returned registration lives. `registered(image)`
    /// tells whether an image runs as a process.
    pub fn register(
        self: &Arc<Table>,
        pod: &Pod,
        registered: &dyn Fn(&str) -> bool,
    ) -> Arc<Registration> {
        let key = (
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.metadata.name.clone().unwrap_or_default(),
        );
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let specs: Vec<&k8s_openapi::api::core::v1::Container> = pod
            .spec
            .iter()
            .flat_map(|spec| {
                spec.init_containers
                    .iter()
                    .flatten()
                    .chain(&spec.containers)
            })
            .collect();
        let entry = Entry {
            uid: uid.clone(),
            containers: specs.iter().map(|c| c.name.clone()).collect(),
            simulated: specs
                .iter()
                .filter_map(|c| {
                    let image = c.image.clone().unwrap_or_default();
                    (!registered(&image)).then(|| (c.name.clone(), image))
                })
                .collect(),
            statuses: HashMap::new(),
            runs: HashMap::new(),
        };
        self.lock().entry(key.clone()).or_default().push(entry);
        Arc::new(Registration {
            table: self.clone(),
            key,
            uid,
        })
    }

    fn with_entry<T>(
        &self,
        key: &(String, String),
        uid: &str,
        change: impl FnOnce(&mut Entry) -> T,
    ) -> Option<T> {
        self.lock()
            .get_mut(key)
            .and_then(|entries| entries.iter_mut().find(|entry| entry.uid == uid))
            .map(change)
    }

    /// The run a request for `container`'s log reads, or why there is none (the kubelet's
    /// status code and words).
    pub fn find(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<Found, Refusal> {
        let pods = self.lock();
        let entry = pods
            .get(&(namespace.to_string(), pod.to_string()))
            .and_then(|entries| entries.last())
            .ok_or_else(|| Refusal::new(404, format!("pod {pod:?} does not exist")))?;
        if !entry.containers.iter().any(|name| name == container) {
            return Err(Refusal::new(
                404,
                format!("container {container:?} not found in pod {pod:?}"),
            ));
        }
        if let Some(image) = entry.simulated.get(container) {
            return Err(Refusal::new(
                400,
                format!(
                    "container {container:?} in pod {pod:?} is simulated: no process runs (image {image:?} is not registered with the kubelet), so it has no logs"
                ),
            ));
        }
        let status = entry.statuses.get(container).ok_or_else(|| {
            Refusal::new(
                400,
                format!("container {container:?} in pod {pod:?} is not available"),
            )
        })?;
        let id = container_log_id(status, container, pod, previous)?;
        let run = entry
            .runs
            .get(container)
            .and_then(|runs| runs.iter().find(|(run_id, _)| *run_id == id))
            .map(|(_, run)| run.clone());
        Ok(run.map_or(Found::Nothing, Found::Run))
    }
}

/// The kubelet's `validateContainerLogStatus`: which run's log (by container ID) a request
/// reads, or why none.
fn container_log_id(
    status: &status::Container,
    container: &str,
    pod: &str,
    previous: bool,
) -> Result<String, Refusal> {
    let refuse = |message: String| Err(Refusal::new(400, message));
    let last_id = status
        .last
        .as_ref()
        .map(|last| last.container_id.clone())
        .filter(|id| !id.is_empty());
    if previous {
        return match last_id {
            Some(id) => Ok(id),
            None => refuse(format!(
                "previous terminated container {container:?} in pod {pod:?} not found"
            )),
        };
    }
    match &status.state {
        State::Running { .. } => Ok(status.container_id.clone()),
        State::Terminated(terminated) if !terminated.container_id.is_empty() => {
            Ok(terminated.container_id.clone())
        }
        State::Terminated(_) => match last_id {
            Some(id) => Ok(id),
            None => refuse(format!(
                "container {container:?} in pod {pod:?} is terminated"
            )),
        },
        State::Waiting { reason, .. } => match last_id {
            Some(id) => Ok(id),
            None => refuse(format!(
                "container {container:?} in pod {pod:?} is waiting to start: {reason}"
            )),
        },
    }
}

/// A pod's place in the table; removed when dropped (the pod worker ends).
pub struct Registration {
    table: Arc<Table>,
    key: (String, String),
    uid: String,
}

impl Registration {
    /// The kubelet's latest view of a container.
    pub fn update(&self, container: &status::Container) {
        self.table.with_entry(&self.key, &self.uid, |entry| {
            entry
                .statuses
                .insert(container.name.clone(), container.clone());
        });
    }

    /// A new run of `container` with its log; only it and the run `previous` (by container ID)
    /// stay readable.
    pub fn add_run(&self, container: &str, id: &str, run: Run, previous: Option<&str>) {
        self.table.with_entry(&self.key, &self.uid, |entry| {
            let runs = entry.runs.entry(container.to_string()).or_default();
            runs.retain(|(kept, _)| Some(kept.as_str()) == previous);
            runs.push((id.to_string(), run));
        });
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut pods = self.table.lock();
        if let Some(entries) = pods.get_mut(&self.key) {
            entries.retain(|entry| entry.uid != self.uid);
            if entries.is_empty() {
                pods.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Terminated;
    use serde_json::json;

    fn pod(uid: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": uid},
            "spec": {"containers": [
                {"name": "app", "image": "registered"},
                {"name": "sidecar", "image": "busybox"},
            ]},
        }))
        .unwrap()
    }

    fn terminated(id: &str) -> Terminated {
        Terminated {
            exit_code: 1,
            reason: "Error".into(),
            message: None,
            started_at: String::new(),
            finished_at: String::new(),
            container_id: id.into(),
        }
    }

    fn run(name: &str) -> Run {
        let (_, written) = watch::channel(0);
        Run {
            path: PathBuf::from(name),
            written,
        }
    }

    fn found_path(found: Result<Found, Refusal>) -> String {
        match found {
            Ok(Found::Run(run)) => run.path.display().to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_read_the_run_the_kubelet_would() {
        let table = Arc::new(Table::default());
        let registration = table.register(&pod("u1"), &|image| image == "registered");
        let refused = |previous| table.find("shop", "web", "app", previous).unwrap_err();
        assert_eq!(
            refused(false),
            Refusal::new(
                400,
                "container \"app\" in pod \"web\" is not available".into()
            )
        );
        let mut app = status::Container::waiting("app", "registered", "ContainerCreating");
        registration.update(&app);
        assert_eq!(
            refused(false).message,
            "container \"app\" in pod \"web\" is waiting to start: ContainerCreating"
        );
        app.state = State::Running {
            started_at: String::new(),
        };
        app.container_id = "sim://1".into();
        registration.update(&app);
        registration.add_run("app", "sim://1", run("0.log"), None);
        assert_eq!(found_path(table.find("shop", "web", "app", false)), "0.log");
        assert_eq!(
            refused(true).message,
            "previous terminated container \"app\" in pod \"web\" not found"
        );
        // It crashed and waits to restart: the crashed run is read, now and as `previous`.
        app.last = Some(terminated("sim://1"));
        app.state = State::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: None,
        };
        registration.update(&app);
        assert_eq!(found_path(table.find("shop", "web", "app", false)), "0.log");
        app.state = State::Running {
            started_at: String::new(),
        };
        app.container_id = "sim://2".into();
        registration.update(&app);
        registration.add_run("app", "sim://2", run("1.log"), Some("sim://1"));
        assert_eq!(found_path(table.find("shop", "web", "app", false)), "1.log");
        assert_eq!(found_path(table.find("shop", "web", "app", true)), "0.log");
        registration.add_run("app", "sim://3", run("2.log"), Some("sim://2"));
        app.last = Some(terminated("sim://2"));
        app.container_id = "sim://3".into();
        registration.update(&app);
        assert_eq!(found_path(table.find("shop", "web", "app", true)), "1.log");
        assert!(
            table.with_entry(&("shop".into(), "web".into()), "u1", |e| e.runs["app"]
                .len())
                == Some(2),
            "older runs are forgotten"
        );
    }

    #[test]
    fn unknown_pods_containers_and_simulated_ones_are_refused_in_the_kubelets_words() {
        let table = Arc::new(Table::default());
        let registration = table.register(&pod("u1"), &|image| image == "registered");
        assert_eq!(
            table.find("shop", "nope", "app", false).unwrap_err(),
            Refusal::new(404, "pod \"nope\" does not exist".into())
        );
        assert_eq!(
            table.find("shop", "web", "db", false).unwrap_err(),
            Refusal::new(404, "container \"db\" not found in pod \"web\"".into())
        );
        let simulated = table.find("shop", "web", "sidecar", false).unwrap_err();
        assert_eq!(simulated.code, 400);
        assert!(
            simulated.message.contains("is simulated") && simulated.message.contains("\"busybox\""),
            "{simulated:?}"
        );
        // A successor under the same name is the one asked about; the old one's end leaves it.
        let successor = table.register(&pod("u2"), &|_| true);
        assert!(matches!(
            table.find("shop", "web", "sidecar", false),
            Err(Refusal { code: 400, .. })
        ));
        drop(registration);
        assert!(table.find("shop", "web", "app", false).is_err());
        drop(successor);
        assert_eq!(
            table.find("shop", "web", "app", false).unwrap_err().code,
            404
        );
    }
}
