//! A node agent (the kubelet proper): watches the pods bound to its node, as
//! `system:node:<node>`, and keeps one pod worker per pod (see `pod`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{broadcast, watch};

use super::Context;
use super::events::Recorder;
use super::refresh;
use super::runner::AbortOnDrop;

struct Entry {
    updates: watch::Sender<Option<Arc<Pod>>>,
    task: AbortOnDrop,
}

/// The pods this node runs, by uid. Dropping it (the agent's task ends) aborts every worker,
/// whose processes are then killed.
#[derive(Default)]
struct Pods {
    running: HashMap<String, Entry>,
    /// Workers of deleted pods, still stopping their containers.
    stopping: Vec<AbortOnDrop>,
}

impl Pods {
    fn apply(
        &mut self,
        context: &Arc<Context>,
        client: &kube::Client,
        events: &Recorder,
        pod: Pod,
    ) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let pod = Arc::new(pod);
        if let Some(entry) = self.running.get(&uid) {
            entry.updates.send_replace(Some(pod));
            return;
        }
        let finished = pod
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref())
            .is_some_and(|phase| phase == "Succeeded" || phase == "Failed");
        if finished {
            // Already run to completion (seen again after a relist): nothing to do.
            return;
        }
        let (updates, receiver) = watch::channel(Some(pod.clone()));
        let (changes, changed) = broadcast::channel(refresh::CAPACITY);
        // Watching before the worker reads the volumes' sources, so no change is missed.
        let watches = refresh::start(client, &pod, &changes);
        let worker = super::pod::run(
            context.clone(),
            client.clone(),
            events.clone(),
            pod,
            receiver,
            changed,
        );
        let task = tokio::spawn(async move {
            // The watches live as long as the worker.
            let _watches = watches;
            worker.await
        });
        self.running.insert(
            uid,
            Entry {
                updates,
                task: AbortOnDrop(task),
            },
        );
    }

    fn delete(&mut self, uid: &str) {
        if let Some(entry) = self.running.remove(uid) {
            // The worker sees the channel close and stops the pod's containers.
            drop(entry.updates);
            self.stopping.push(entry.task);
        }
        self.stopping.retain(|task| !task.0.is_finished());
    }
}

pub async fn run(context: Arc<Context>, client: kube::Client, recorder: Recorder, node: String) {
    let api: Api<Pod> = Api::all(client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
    let mut pods = Pods::default();
    // Uids listed since the last `Init`: on `InitDone`, pods not among them were deleted
    // while the watch was down.
    let mut listed: HashSet<String> = HashSet::new();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(pod)) => pods.apply(&context, &client, &recorder, pod),
            Ok(Event::InitApply(pod)) => {
                if let Some(uid) = &pod.metadata.uid {
                    listed.insert(uid.clone());
                }
                pods.apply(&context, &client, &recorder, pod);
            }
            Ok(Event::Delete(pod)) => {
                if let Some(uid) = &pod.metadata.uid {
                    pods.delete(uid);
                }
            }
            Ok(Event::Init) => listed.clear(),
            Ok(Event::InitDone) => {
                let gone: Vec<String> = pods
                    .running
                    .keys()
                    .filter(|uid| !listed.contains(*uid))
                    .cloned()
                    .collect();
                for uid in gone {
                    pods.delete(&uid);
                }
            }
            Err(error) => tracing::debug!(%error, node, "kubelet: pod watch failed; retrying"),
        }
    }
}
