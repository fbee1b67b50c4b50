//! A pod's QoS class, as kube v1.32 computes it on create (`pkg/apis/core/helper/qos`): only
//! CPU and memory count; no positive request or limit is BestEffort; every container limiting
//! both, with requests equal to limits, is Guaranteed; anything else Burstable.

use std::collections::BTreeMap;

use serde_json::Value;

use super::quantity::milli_value;

const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

pub fn pod_qos_class(spec: &Value) -> &'static str {
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .into_iter()
        .filter_map(|key| spec.get(key).and_then(Value::as_array))
        .flatten();
    for container in containers {
        let resources = container.get("resources");
        add_positive(resources.and_then(|r| r.get("requests")), &mut requests);
        let found = add_positive(resources.and_then(|r| r.get("limits")), &mut limits);
        if !QOS_RESOURCES.iter().all(|name| found.contains(name)) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let requests_match_limits = requests
        .iter()
        .all(|(name, request)| limits.get(name) == Some(request));
    if guaranteed && requests_match_limits && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Adds the positive CPU and memory quantities of `list` to `sums`; returns their names.
fn add_positive<'a>(list: Option<&Value>, sums: &mut BTreeMap<&'a str, i128>) -> Vec<&'a str> {
    let mut found = Vec::new();
    let Some(list) = list.and_then(Value::as_object) else {
        return found;
    };
    for name in QOS_RESOURCES {
        let Some(value) = list.get(name).and_then(milli_value).filter(|v| *v > 0) else {
            continue;
        };
        let sum = sums.entry(name).or_insert(0);
        *sum = sum.saturating_add(value);
        found.push(name);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn class(containers: Value) -> &'static str {
        pod_qos_class(&json!({ "containers": containers }))
    }

    #[test]
    fn classes_follow_requests_and_limits() {
        assert_eq!(class(json!([{"name": "a"}])), "BestEffort");
        assert_eq!(
            class(json!([{"resources": {"requests": {"cpu": "0", "ephemeral-storage": "1Gi"}}}])),
            "BestEffort",
            "zero quantities and other resources do not count"
        );
        assert_eq!(
            class(json!([{"resources": {"requests": {"cpu": "100m"}}}])),
            "Burstable"
        );
        assert_eq!(
            class(
                json!([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}}}])
            ),
            "Guaranteed",
            "equal quantities in different notations"
        );
        assert_eq!(
            class(
                json!([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}}])
            ),
            "Burstable"
        );
        assert_eq!(
            class(json!([
                {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}},
                {"resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}
            ])),
            "Burstable",
            "every container must limit both"
        );
    }
}
