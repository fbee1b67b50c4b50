//! Rows of the workload kinds: pods, deployments, replica sets, replication controllers,
//! stateful sets, daemon sets, jobs and cron jobs, as kube-apiserver's printers fill them
//! (`printPod`, `printDeployment`, ...; the wide cells are always included).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::pod_status::pod_status;
use super::{
    Cells, age, container_cells, format_label_selector, format_labels, human_duration, int,
    none_if_empty, selector_string, text,
};

pub(super) fn cells(group: &str, resource: &str) -> Option<Cells> {
    let cells: Cells = match (group, resource) {
        ("", "pods") => pod,
        ("apps", "deployments") => deployment,
        ("apps", "replicasets") => replica_set,
        ("", "replicationcontrollers") => replication_controller,
        ("apps", "statefulsets") => stateful_set,
        ("apps", "daemonsets") => daemon_set,
        ("batch", "jobs") => job,
        ("batch", "cronjobs") => cron_job,
        _ => return None,
    };
    Some(cells)
}

fn created(object: &Value, now: Timestamp) -> Value {
    json!(age(object, "/metadata/creationTimestamp", now))
}

fn name(object: &Value) -> Value {
    json!(text(object, "/metadata/name"))
}

fn items<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn containers_ready(pod: &Value) -> String {
    let total = items(pod, "/spec/containers").len();
    let ready = items(pod, "/status/containerStatuses")
        .iter()
        .filter(|s| {
            s.get("ready").and_then(Value::as_bool) == Some(true)
                && s.pointer("/state/running").is_some()
        })
        .count();
    format!("{ready}/{total}")
}

fn readiness_gates(pod: &Value) -> String {
    let gates = items(pod, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".into();
    }
    let conditions = items(pod, "/status/conditions");
    let met = gates
        .iter()
        .filter(|gate| {
            let kind = text(gate, "/conditionType");
            conditions
                .iter()
                .find(|condition| text(condition, "/type") == kind)
                .is_some_and(|condition| text(condition, "/status") == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

fn pod(o: &Value, now: Timestamp) -> Vec<Value> {
    let (status, restarts) = pod_status(o);
    let ip = items(o, "/status/podIPs")
        .first()
        .map(|ip| text(ip, "/ip"))
        // kube-apiserver keeps podIPs[0] equal to podIP; a pod written without the list
        // still shows its IP.
        .unwrap_or_else(|| text(o, "/status/podIP"));
    vec![
        name(o),
        json!(containers_ready(o)),
        json!(status),
        json!(restarts.to_string()),
        created(o, now),
        json!(none_if_empty(ip)),
        json!(none_if_empty(text(o, "/spec/nodeName"))),
        json!(none_if_empty(text(o, "/status/nominatedNodeName"))),
        json!(readiness_gates(o)),
    ]
}

fn deployment(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(o, "/spec/template/spec/containers");
    // printDeployment prints the selector without FormatLabelSelector's `<none>`.
    let selector =
        selector_string(o.pointer("/spec/selector")).unwrap_or_else(|| "<invalid>".into());
    vec![
        name(o),
        json!(format!(
            "{}/{}",
            int(o, "/status/readyReplicas"),
            int(o, "/spec/replicas")
        )),
        json!(int(o, "/status/updatedReplicas")),
        json!(int(o, "/status/availableReplicas")),
        created(o, now),
        json!(names),
        json!(images),
        json!(selector),
    ]
}

fn replica_set(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(o, "/spec/template/spec/containers");
    vec![
        name(o),
        json!(int(o, "/spec/replicas")),
        json!(int(o, "/status/replicas")),
        json!(int(o, "/status/readyReplicas")),
        created(o, now),
        json!(names),
        json!(images),
        json!(format_label_selector(o.pointer("/spec/selector"))),
    ]
}

fn replication_controller(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(o, "/spec/template/spec/containers");
    vec![
        name(o),
        json!(int(o, "/spec/replicas")),
        json!(int(o, "/status/replicas")),
        json!(int(o, "/status/readyReplicas")),
        created(o, now),
        json!(names),
        json!(images),
        json!(format_labels(o, "/spec/selector")),
    ]
}

fn stateful_set(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(o, "/spec/template/spec/containers");
    vec![
        name(o),
        json!(format!(
            "{}/{}",
            int(o, "/status/readyReplicas"),
            int(o, "/spec/replicas")
        )),
        created(o, now),
        json!(names),
        json!(images),
    ]
}

fn daemon_set(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(o, "/spec/template/spec/containers");
    vec![
        name(o),
        json!(int(o, "/status/desiredNumberScheduled")),
        json!(int(o, "/status/currentNumberScheduled")),
        json!(int(o, "/status/numberReady")),
        json!(int(o, "/status/updatedNumberScheduled")),
        json!(int(o, "/status/numberAvailable")),
        json!(format_labels(o, "/spec/template/spec/nodeSelector")),
        created(o, now),
        json!(names),
        json!(images),
        json!(format_label_selector(o.pointer("/spec/selector"))),
    ]
}

/// `hasJobCondition`: the first condition of the type decides.
fn has_condition(object: &Value, kind: &str) -> bool {
    items(object, "/status/conditions")
        .iter()
        .find(|condition| text(condition, "/type") == kind)
        .is_some_and(|condition| text(condition, "/status") == "True")
}

fn job(o: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(o, "/status/succeeded");
    let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => match int(o, "/spec/parallelism") {
            parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let seconds = |pointer: &str| {
        text(o, pointer)
            .parse::<Timestamp>()
            .ok()
            .map(|t| t.as_second())
    };
    let duration = match (
        seconds("/status/startTime"),
        seconds("/status/completionTime"),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now.as_second() - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let status = if has_condition(o, "Complete") {
        "Complete"
    } else if has_condition(o, "Failed") {
        "Failed"
    } else if o.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if has_condition(o, "Suspended") {
        "Suspended"
    } else if has_condition(o, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = container_cells(o, "/spec/template/spec/containers");
    vec![
        name(o),
        json!(status),
        json!(completions),
        json!(duration),
        created(o, now),
        json!(names),
        json!(images),
        json!(format_label_selector(o.pointer("/spec/selector"))),
    ]
}

fn cron_job(o: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = if o.pointer("/status/lastScheduleTime").is_some() {
        age(o, "/status/lastScheduleTime", now)
    } else {
        "<none>".into()
    };
    let time_zone = o
        .pointer("/spec/timeZone")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    // printBoolPtr: a string, though the column says boolean.
    let suspend = match o.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let template = "/spec/jobTemplate/spec/template/spec/containers";
    let (names, images) = container_cells(o, template);
    vec![
        name(o),
        json!(text(o, "/spec/schedule")),
        json!(time_zone),
        json!(suspend),
        json!(items(o, "/status/active").len()),
        json!(last_schedule),
        created(o, now),
        json!(names),
        json!(images),
        json!(format_label_selector(
            o.pointer("/spec/jobTemplate/spec/selector")
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-26T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn deployments_show_ready_up_to_date_available_and_wide_cells() {
        let deployment = json!({
            "metadata": {"name": "web", "creationTimestamp": "2026-11-26T11:55:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "a", "image": "i:1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        assert_eq!(
            super::deployment(&deployment, now()),
            [
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("5m"),
                json!("a"),
                json!("i:1"),
                json!("app=web")
            ]
        );
    }

    #[test]
    fn replica_sets_show_containers_images_and_selector() {
        let rs = json!({"metadata": {"name": "rs1", "creationTimestamp": "2026-11-26T11:59:26Z"},
            "spec": {"replicas": 0,
                "selector": {"matchLabels": {"app": "rs1"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
                "template": {"spec": {"containers": [{"name": "c1", "image": "busybox:1"}, {"name": "c2", "image": "nginx:1"}]}}}});
        assert_eq!(
            replica_set(&rs, now()),
            [
                json!("rs1"),
                json!(0),
                json!(0),
                json!(0),
                json!("34s"),
                json!("c1,c2"),
                json!("busybox:1,nginx:1"),
                json!("app=rs1,tier in (a,b)")
            ]
        );
    }

    #[test]
    fn jobs_read_their_conditions_and_duration() {
        let job = json!({"metadata": {"name": "j"}, "spec": {"completions": 2, "parallelism": 1},
            "status": {"succeeded": 2, "startTime": "2026-11-26T11:58:00Z", "completionTime": "2026-11-26T11:58:30Z",
                "conditions": [{"type": "Complete", "status": "True"}]}});
        let cells = super::job(&job, now());
        assert_eq!(cells[1..4], [json!("Complete"), json!("2/2"), json!("30s")]);
        let running = json!({"metadata": {"name": "j"}, "spec": {"parallelism": 3}, "status": {}});
        assert_eq!(
            super::job(&running, now())[1..4],
            [json!("Running"), json!("0/1 of 3"), json!("")]
        );
    }
}
