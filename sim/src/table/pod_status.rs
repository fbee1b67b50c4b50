//! The STATUS and RESTARTS columns of `kubectl get pods`, as kubectl's `printPod` computes
//! them (kubernetes `pkg/printers/internalversion/printers.go`): the phase, unless an init
//! container is still running or failed (`Init:x/y`, `Init:<reason>`), a container waits or
//! ended with a reason (`CrashLoopBackOff`, `Completed`, `Error`), or the pod is being deleted.

use serde_json::Value;

fn text(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn statuses<'a>(pod: &'a Value, pointer: &str) -> &'a [Value] {
    pod.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn condition_true(pod: &Value, kind: &str) -> bool {
    statuses(pod, "/status/conditions")
        .iter()
        .any(|c| text(c, "/type") == kind && text(c, "/status") == "True")
}

/// The reason of a terminated container without one: its signal or exit code.
fn exit_reason(terminated: &Value) -> String {
    let signal = int(terminated, "/signal");
    if signal != 0 {
        format!("Signal:{signal}")
    } else {
        format!("ExitCode:{}", int(terminated, "/exitCode"))
    }
}

/// STATUS and RESTARTS of a pod.
pub fn pod_status(pod: &Value) -> (String, i64) {
    let phase = text(pod, "/status/phase");
    let mut reason = match text(pod, "/status/reason") {
        r if r.is_empty() => phase.clone(),
        r => r,
    };
    let mut restarts = 0;
    let init_total = statuses(pod, "/spec/initContainers").len();
    let mut initializing = false;
    for (i, container) in statuses(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        restarts += int(container, "/restartCount");
        let terminated = container.pointer("/state/terminated");
        let waiting = text(container, "/state/waiting/reason");
        match terminated {
            Some(t) if int(t, "/exitCode") == 0 => continue,
            Some(t) => {
                let why = text(t, "/reason");
                reason = if why.is_empty() {
                    format!("Init:{}", exit_reason(t))
                } else {
                    format!("Init:{why}")
                };
            }
            None if !waiting.is_empty() && waiting != "PodInitializing" => {
                reason = format!("Init:{waiting}");
            }
            None => reason = format!("Init:{i}/{init_total}"),
        }
        initializing = true;
        break;
    }
    if !initializing || condition_true(pod, "Initialized") {
        restarts = 0;
        let mut has_running = false;
        // Last to first, so the first container's state wins, as in kubectl.
        for container in statuses(pod, "/status/containerStatuses").iter().rev() {
            restarts += int(container, "/restartCount");
            let waiting = text(container, "/state/waiting/reason");
            if !waiting.is_empty() {
                reason = waiting;
            } else if let Some(t) = container.pointer("/state/terminated") {
                let why = text(t, "/reason");
                reason = if why.is_empty() { exit_reason(t) } else { why };
            } else if container.get("ready").and_then(Value::as_bool) == Some(true)
                && container.pointer("/state/running").is_some()
            {
                has_running = true;
            }
        }
        // A container that completed while another still runs: the pod is running.
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    let terminal = phase == "Succeeded" || phase == "Failed";
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        if text(pod, "/status/reason") == "NodeLost" {
            reason = "Unknown".into();
        } else if !terminal {
            reason = "Terminating".into();
        }
    }
    (reason, restarts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_read_like_kubectls() {
        let succeeded = json!({"status": {"phase": "Succeeded", "containerStatuses": [
            {"ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
        assert_eq!(pod_status(&succeeded), ("Completed".into(), 0));
        let crashing = json!({"status": {"phase": "Running", "containerStatuses": [
            {"ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&crashing), ("CrashLoopBackOff".into(), 3));
        let init = json!({"spec": {"initContainers": [{}, {}]}, "status": {"phase": "Pending",
            "initContainerStatuses": [
                {"restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"restartCount": 1, "state": {"running": {}}}],
            "containerStatuses": [{"ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]}});
        assert_eq!(pod_status(&init), ("Init:1/2".into(), 1));
        let init_failed = json!({"spec": {"initContainers": [{}]}, "status": {"phase": "Failed",
            "initContainerStatuses": [{"state": {"terminated": {"exitCode": 2}}}]}});
        assert_eq!(pod_status(&init_failed).0, "Init:ExitCode:2");
        let deleting = json!({"metadata": {"deletionTimestamp": "2026-11-26T12:00:00Z"},
            "status": {"phase": "Running", "containerStatuses": [{"ready": true, "state": {"running": {}}}]}});
        assert_eq!(pod_status(&deleting).0, "Terminating");
        let sidecar_done = json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"ready": true, "state": {"running": {}}}]}});
        assert_eq!(pod_status(&sidecar_done).0, "Running");
    }
}
