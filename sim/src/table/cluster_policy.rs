//! Rows of the kinds that say who and what may act: RBAC bindings, admission webhook
//! configurations, PodDisruptionBudgets and NetworkPolicies, as kube-apiserver's printers fill
//! them (`printRoleBinding`, `printValidatingWebhook`, `printPodDisruptionBudget`, ...).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Cells, age, count, format_label_selector, int, text};

pub(super) fn cells(group: &str, resource: &str) -> Option<Cells> {
    let cells: Cells = match (group, resource) {
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => binding,
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations" | "mutatingwebhookconfigurations",
        ) => webhook_configuration,
        ("policy", "poddisruptionbudgets") => disruption_budget,
        ("networking.k8s.io", "networkpolicies") => network_policy,
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

/// `rbac.SubjectsStrings`: users, groups and `namespace/name` service accounts, each joined
/// with `, ` (other kinds are not shown).
fn subjects(binding: &Value) -> [String; 3] {
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in binding
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let subject_name = text(subject, "/name");
        match text(subject, "/kind").as_str() {
            "ServiceAccount" => {
                accounts.push(format!("{}/{subject_name}", text(subject, "/namespace")));
            }
            "User" => users.push(subject_name),
            "Group" => groups.push(subject_name),
            _ => {}
        }
    }
    [users.join(", "), groups.join(", "), accounts.join(", ")]
}

fn binding(o: &Value, now: Timestamp) -> Vec<Value> {
    let role = format!("{}/{}", text(o, "/roleRef/kind"), text(o, "/roleRef/name"));
    let [users, groups, accounts] = subjects(o);
    vec![
        name(o),
        json!(role),
        created(o, now),
        json!(users),
        json!(groups),
        json!(accounts),
    ]
}

fn webhook_configuration(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), json!(count(o, "/webhooks")), created(o, now)]
}

/// `IntOrString.String()`, `N/A` when unset.
fn int_or_string(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(value)) => value.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => "N/A".into(),
    }
}

fn disruption_budget(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(o),
        json!(int_or_string(o, "/spec/minAvailable")),
        json!(int_or_string(o, "/spec/maxUnavailable")),
        json!(int(o, "/status/disruptionsAllowed")),
        created(o, now),
    ]
}

fn network_policy(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(o),
        json!(format_label_selector(Some(
            o.pointer("/spec/podSelector").unwrap_or(&json!({}))
        ))),
        created(o, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-26T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn bindings_list_their_subjects_by_kind() {
        let binding = json!({"metadata": {"name": "rb1", "creationTimestamp": "2026-11-26T11:59:27Z"},
            "roleRef": {"kind": "Role", "name": "r1"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "devs"}, {"kind": "ServiceAccount", "name": "sa1", "namespace": "ns"},
                {"kind": "ServiceAccount", "name": "sa2"}]});
        assert_eq!(
            super::binding(&binding, now()),
            [
                json!("rb1"),
                json!("Role/r1"),
                json!("33s"),
                json!("alice, bob"),
                json!("devs"),
                json!("ns/sa1, /sa2")
            ]
        );
    }

    #[test]
    fn budgets_show_what_is_set_and_na_for_the_rest() {
        let budget = json!({"metadata": {"name": "p"}, "spec": {"minAvailable": 2},
            "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            disruption_budget(&budget, now())[1..4],
            [json!("2"), json!("N/A"), json!(1)]
        );
        let percent = json!({"metadata": {"name": "p"}, "spec": {"maxUnavailable": "50%"}});
        assert_eq!(
            disruption_budget(&percent, now())[1..4],
            [json!("N/A"), json!("50%"), json!(0)]
        );
    }
}
