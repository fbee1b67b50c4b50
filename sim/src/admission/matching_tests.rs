//! Unit tests for `matching`: rule scope, wildcard subresource rules, and the evaluation
//! order around held-back selector errors.

use serde_json::json;

use super::*;
use crate::admission::config_defaults::apply_defaults;

fn pod_create<'a>(namespace_labels: &'a BTreeMap<String, String>) -> RequestAttributes<'a> {
    RequestAttributes {
        operation: "CREATE",
        group: "",
        version: "v1",
        resource: "pods",
        subresource: "",
        namespace: "default",
        namespace_labels: Some(namespace_labels),
        object_labels: Some(namespace_labels),
        old_object_labels: None,
        kind: None,
        equivalent_resources: &[],
        cluster_scoped: false,
    }
}

fn webhook(rule: Value) -> Value {
    let mut webhook = json!({"name": "w.example.com", "rules": [rule]});
    apply_defaults(&mut webhook);
    webhook
}

fn rule(resources: &[&str], scope: &str) -> Value {
    json!({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"],
           "resources": resources, "scope": scope})
}

fn called(webhook: &Value, request: &RequestAttributes<'_>) -> bool {
    matches!(matches(webhook, request), MatchOutcome::Called { .. })
}

#[test]
fn scope_namespaced_and_cluster() {
    let labels = BTreeMap::new();
    let pod = pod_create(&labels);
    let node = RequestAttributes {
        resource: "nodes",
        namespace: "",
        cluster_scoped: true,
        ..pod
    };
    let namespace = RequestAttributes {
        resource: "namespaces",
        namespace: "team-a",
        cluster_scoped: true,
        ..pod
    };
    // Subresources of a namespace follow the parent's scope.
    let finalize = RequestAttributes {
        subresource: "finalize",
        operation: "UPDATE",
        namespace_labels: Some(&labels),
        ..namespace
    };
    let namespaced = webhook(rule(&["*/*"], "Namespaced"));
    let cluster = webhook(rule(&["*/*"], "Cluster"));
    let any = webhook(rule(&["*/*"], "*"));
    let bogus = webhook(rule(&["*/*"], "Bogus"));
    for (request, is_cluster) in [
        (pod, false),
        (node, true),
        (namespace, true),
        (finalize, true),
    ] {
        assert_eq!(called(&namespaced, &request), !is_cluster, "{request:?}");
        assert_eq!(called(&cluster, &request), is_cluster, "{request:?}");
        assert!(called(&any, &request));
        assert!(!called(&bogus, &request));
    }
    // Without the caller's flag, Go's own derivation still makes a Namespace cluster-scoped.
    let unflagged = RequestAttributes {
        cluster_scoped: false,
        ..namespace
    };
    assert!(called(&cluster, &unflagged));
    assert!(!called(&namespaced, &unflagged));
}

#[test]
fn wildcard_subresource_rules() {
    let labels = BTreeMap::new();
    let main = pod_create(&labels);
    let sub = |subresource| RequestAttributes {
        subresource,
        ..main
    };
    let other = RequestAttributes {
        group: "apps",
        resource: "deployments",
        ..main
    };
    let other_scale = RequestAttributes {
        subresource: "scale",
        ..other
    };
    for (resources, expected) in [
        (&["pods"][..], [true, false, false, false, false]),
        (&["pods/*"], [true, true, true, false, false]),
        (&["pods/status"], [false, true, false, false, false]),
        (&["*"], [true, false, false, true, false]),
        (&["*/*"], [true, true, true, true, true]),
        (&["*/scale"], [false, false, false, false, true]),
        (&["*/status", "pods"], [true, true, false, false, false]),
        // Only the first '/' splits: "pods/a/b" asks for subresource "a/b".
        (&["pods/exec/x"], [false, false, false, false, false]),
    ] {
        let webhook = webhook(rule(resources, "*"));
        let requests = [main, sub("status"), sub("exec"), other, other_scale];
        let actual = requests.map(|request| called(&webhook, &request));
        assert_eq!(actual, expected, "{resources:?}");
    }
}

#[test]
fn held_back_selector_errors() {
    let labels = BTreeMap::new();
    let missing_namespace = RequestAttributes {
        namespace_labels: None,
        ..pod_create(&labels)
    };
    let mut with_selector = webhook(rule(&["pods"], "*"));
    with_selector["namespaceSelector"] = json!({"matchLabels": {"env": "prod"}});
    assert_eq!(
        matches(&with_selector, &missing_namespace),
        MatchOutcome::Error("namespaces \"default\" not found".to_string())
    );
    // No rule matches: the error is dropped.
    with_selector["rules"] = json!([rule(&["deployments"], "*")]);
    assert_eq!(
        matches(&with_selector, &missing_namespace),
        MatchOutcome::NotCalled
    );
    // An invalid objectSelector with a matching rule fails the request as a 500.
    let mut invalid = webhook(rule(&["pods"], "*"));
    invalid["objectSelector"] = json!({"matchExpressions": [{"key": "k", "operator": "In"}]});
    assert_eq!(
        matches(&invalid, &pod_create(&labels)),
        MatchOutcome::Error(
            "Internal error occurred: values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
                .to_string()
        )
    );
    // A definite objectSelector "no" wins over a held-back namespace error.
    let mut both = webhook(rule(&["pods"], "*"));
    both["namespaceSelector"] = json!({"matchLabels": {"env": "prod"}});
    both["objectSelector"] = json!({"matchLabels": {"app": "web"}});
    assert_eq!(matches(&both, &missing_namespace), MatchOutcome::NotCalled);
}

#[test]
fn exemptions_and_match_conditions() {
    let labels = BTreeMap::new();
    let everything = webhook(rule(&["*/*"], "*"));
    let configuration = RequestAttributes {
        group: "admissionregistration.k8s.io",
        resource: "validatingwebhookconfigurations",
        namespace: "",
        cluster_scoped: true,
        ..pod_create(&labels)
    };
    assert_eq!(
        matches(&everything, &configuration),
        MatchOutcome::NotCalled
    );
    let by_kind = RequestAttributes {
        resource: "anything",
        kind: Some((
            "admissionregistration.k8s.io",
            "v1",
            "MutatingAdmissionPolicyBinding",
        )),
        ..configuration
    };
    assert_eq!(matches(&everything, &by_kind), MatchOutcome::NotCalled);
    let mut conditions = everything.clone();
    conditions["matchConditions"] = json!([{"name": "c", "expression": "true"}]);
    assert_eq!(
        matches(&conditions, &pod_create(&labels)),
        MatchOutcome::Error(MATCH_CONDITIONS_UNSUPPORTED.to_string())
    );
    conditions["matchConditions"] = json!([]);
    assert!(called(&conditions, &pod_create(&labels)));
}
