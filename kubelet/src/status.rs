//! The pod status the kubelet posts: phase, conditions and container statuses, from the
//! kubelet's own view of its containers (what `kubectl get pods` READY and STATUS read).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::now_rfc3339;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terminated {
    pub exit_code: i32,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub container_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: String,
    },
    Terminated(Terminated),
}

/// One container as the kubelet sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub state: State,
    pub last: Option<Terminated>,
    pub ready: bool,
    pub started: bool,
    pub restart_count: i32,
    pub container_id: String,
    /// No more runs will follow (terminated and not restarted by the restart policy).
    pub done: bool,
}

impl Container {
    pub fn waiting(name: &str, image: &str, reason: &str) -> Container {
        Container {
            name: name.to_string(),
            image: image.to_string(),
            state: State::Waiting {
                reason: reason.to_string(),
                message: None,
            },
            last: None,
            ready: false,
            started: false,
            restart_count: 0,
            container_id: String::new(),
            done: false,
        }
    }

    pub fn succeeded(&self) -> bool {
        matches!(&self.state, State::Terminated(t) if t.exit_code == 0)
    }

    fn render(&self) -> Value {
        let terminated = |t: &Terminated| {
            let mut value = json!({
                "exitCode": t.exit_code, "reason": t.reason,
                "startedAt": t.started_at, "finishedAt": t.finished_at,
            });
            if let Some(message) = &t.message {
                value["message"] = json!(message);
            }
            if !t.container_id.is_empty() {
                value["containerID"] = json!(t.container_id);
            }
            json!({"terminated": value})
        };
        let state = match &self.state {
            State::Waiting { reason, message } => {
                let mut waiting = json!({"reason": reason});
                if let Some(message) = message {
                    waiting["message"] = json!(message);
                }
                json!({"waiting": waiting})
            }
            State::Running { started_at } => json!({"running": {"startedAt": started_at}}),
            State::Terminated(t) => terminated(t),
        };
        let mut status = json!({
            "name": self.name,
            "image": self.image,
            "imageID": format!("sim://{}", self.image),
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": state,
            "lastState": self.last.as_ref().map_or_else(|| json!({}), terminated),
        });
        if !self.container_id.is_empty() {
            status["containerID"] = json!(self.container_id);
        }
        status
    }
}

/// The whole pod as the kubelet sees it.
#[derive(Clone, Debug)]
pub struct Pod {
    pub ip: String,
    /// The node's address.
    pub host_ip: String,
    pub start_time: String,
    pub init: Vec<Container>,
    pub containers: Vec<Container>,
    pub initialized: bool,
    /// Condition type → (status, lastTransitionTime).
    transitions: BTreeMap<&'static str, (bool, String)>,
}

impl Pod {
    pub fn new(
        ip: String,
        host_ip: String,
        init: Vec<Container>,
        containers: Vec<Container>,
    ) -> Pod {
        Pod {
            ip,
            host_ip,
            start_time: now_rfc3339(),
            initialized: init.is_empty(),
            init,
            containers,
            transitions: BTreeMap::new(),
        }
    }

    /// Pending, Running, Succeeded or Failed, by the kubelet's rules.
    pub fn phase(&self) -> &'static str {
        let init_failed = self.init.iter().any(|c| c.done && !c.succeeded());
        if init_failed {
            return "Failed";
        }
        if !self.initialized {
            return "Pending";
        }
        if !self.containers.is_empty() && self.containers.iter().all(|c| c.done) {
            return if self.containers.iter().all(Container::succeeded) {
                "Succeeded"
            } else {
                "Failed"
            };
        }
        let creating = self.containers.iter().all(|c| {
            !c.started && c.restart_count == 0 && matches!(c.state, State::Waiting { .. })
        });
        if creating { "Pending" } else { "Running" }
    }

    pub fn terminal(&self) -> bool {
        matches!(self.phase(), "Succeeded" | "Failed")
    }

    fn condition(&mut self, kind: &'static str, status: bool, reason: Option<&str>) -> Value {
        let now = now_rfc3339();
        let entry = self
            .transitions
            .entry(kind)
            .or_insert_with(|| (status, now.clone()));
        if entry.0 != status {
            *entry = (status, now);
        }
        let mut condition = json!({
            "type": kind,
            "status": if status { "True" } else { "False" },
            "lastProbeTime": null,
            "lastTransitionTime": entry.1,
        });
        if let Some(reason) = reason {
            condition["reason"] = json!(reason);
        }
        condition
    }

    /// The `status` to post, as a merge patch body.
    pub fn render(&mut self) -> Value {
        let phase = self.phase();
        let completed = phase == "Succeeded" || phase == "Failed";
        let ready = !completed && self.initialized && self.containers.iter().all(|c| c.ready);
        let not_ready_reason = if completed {
            Some("PodCompleted")
        } else if ready {
            None
        } else if !self.initialized {
            Some("ContainersNotInitialized")
        } else {
            Some("ContainersNotReady")
        };
        let initialized = self.initialized || self.init.iter().all(|c| c.done);
        let conditions = vec![
            self.condition("PodReadyToStartContainers", true, None),
            self.condition(
                "Initialized",
                initialized,
                (!initialized).then_some("ContainersNotInitialized"),
            ),
            self.condition("Ready", ready, not_ready_reason),
            self.condition("ContainersReady", ready, not_ready_reason),
            self.condition("PodScheduled", true, None),
        ];
        let mut status = json!({
            "phase": phase,
            "conditions": conditions,
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": self.start_time,
            "containerStatuses": self.containers.iter().map(Container::render).collect::<Vec<_>>(),
        });
        if !self.init.is_empty() {
            status["initContainerStatuses"] =
                json!(self.init.iter().map(Container::render).collect::<Vec<_>>());
        }
        json!({"status": status})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(name: &str, ready: bool) -> Container {
        Container {
            state: State::Running {
                started_at: "2026-01-01T00:00:00Z".into(),
            },
            ready,
            started: true,
            ..Container::waiting(name, "nginx", "ContainerCreating")
        }
    }

    fn exited(name: &str, code: i32) -> Container {
        Container {
            state: State::Terminated(Terminated {
                exit_code: code,
                reason: if code == 0 { "Completed" } else { "Error" }.into(),
                message: None,
                started_at: "2026-01-01T00:00:00Z".into(),
                finished_at: "2026-01-01T00:00:01Z".into(),
                container_id: String::new(),
            }),
            done: true,
            ..Container::waiting(name, "busybox", "ContainerCreating")
        }
    }

    #[test]
    fn phases_follow_the_containers() {
        let creating = Pod::new(
            "127.0.1.1".into(),
            "127.0.0.1".into(),
            vec![],
            vec![Container::waiting("a", "i", "ContainerCreating")],
        );
        assert_eq!(creating.phase(), "Pending");
        let mut pod = Pod::new(
            "127.0.1.1".into(),
            "127.0.0.1".into(),
            vec![],
            vec![running("a", true), running("b", false)],
        );
        assert_eq!(pod.phase(), "Running");
        let status = pod.render();
        let ready = status["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()
            .clone();
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "ContainersNotReady");
        assert_eq!(
            Pod::new(String::new(), String::new(), vec![], vec![exited("a", 0)]).phase(),
            "Succeeded"
        );
        assert_eq!(
            Pod::new(
                String::new(),
                String::new(),
                vec![],
                vec![exited("a", 0), exited("b", 2)]
            )
            .phase(),
            "Failed"
        );
        let mut waiting_on_init = Pod::new(
            String::new(),
            String::new(),
            vec![running("init", false)],
            vec![Container::waiting("a", "i", "PodInitializing")],
        );
        assert_eq!(waiting_on_init.phase(), "Pending");
        let status = waiting_on_init.render();
        assert_eq!(status["status"]["initContainerStatuses"][0]["name"], "init");
        assert_eq!(
            Pod::new(
                String::new(),
                String::new(),
                vec![exited("init", 1)],
                vec![]
            )
            .phase(),
            "Failed"
        );
    }
}
