//! Custom resources against their CRD's `openAPIV3Schema`: pruning, defaulting and validation
//! on every write, with kube-apiserver v1.32's messages and field paths (each expected text was
//! taken from a real kube-apiserver given the same CRD and objects), and `kubectl explain`
//! answered from the schema.

mod common;

use common::api::{Raw, request};
use common::data::fixture;
use common::kubectl::Cluster;
use serde_json::{Value, json};

const WIDGETS: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.schema.example.com
spec:
  group: schema.example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
              ratio: {type: number, minimum: 0.5, exclusiveMaximum: true, maximum: 2.5}
              name: {type: string, minLength: 3, maxLength: 5, pattern: '^[a-z]+$'}
              color: {type: string, enum: [red, green]}
              count: {type: integer, enum: [1, 2]}
              tags: {type: array, minItems: 1, maxItems: 2, items: {type: string}}
              enabled: {type: boolean}
              port: {x-kubernetes-int-or-string: true}
              opt: {type: string, nullable: true}
              mode: {type: string, default: fast}
              nested:
                type: object
                default: {}
                properties:
                  inner: {type: string, default: deep}
                  keep: {type: integer}
              free: {type: object, x-kubernetes-preserve-unknown-fields: true, properties: {known: {type: object, properties: {x: {type: string}}}}}
              labels: {type: object, additionalProperties: {type: string}}
              id: {type: string, format: uuid}
              items:
                type: array
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    weight: {type: integer, default: 1}
          status:
            type: object
            properties:
              phase: {type: string, enum: [Ready, Failed]}
";

const COLLECTION: &str = "/apis/schema.example.com/v1/namespaces/default/widgets";

async fn send(
    cluster: &Cluster,
    method: &str,
    path: &str,
    content_type: &str,
    body: &Value,
) -> Raw {
    request(&cluster.client(), method, path, content_type, Some(body)).await
}

async fn create(cluster: &Cluster, spec: Value) -> Raw {
    let widget = json!({"apiVersion": "schema.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec});
    send(cluster, "POST", COLLECTION, "application/json", &widget).await
}

async fn cluster_with_widgets() -> Cluster {
    let cluster = Cluster::start().await;
    let file = cluster.write("widgets.yaml", WIDGETS);
    cluster.ok(&["apply", "-f", &file]).await;
    cluster
}

/// The one error of a refused create.
async fn refusal(cluster: &Cluster, spec: Value) -> String {
    let answer = create(cluster, spec).await;
    assert_eq!(answer.code, 422, "{}", answer.body);
    answer.message().to_string()
}

#[tokio::test]
async fn each_type_mismatch_is_a_cause_worded_as_kube_openapi_words_it() {
    let cluster = cluster_with_widgets().await;
    let answer = create(
        &cluster,
        json!({"size": "x", "ratio": "x", "name": 5, "color": 1, "count": "3", "tags": "x",
               "enabled": "yes", "port": true, "opt": null, "labels": {"a": 1}, "id": 7}),
    )
    .await;
    assert_eq!(answer.code, 422);
    assert_eq!(answer.body["reason"], "Invalid");
    assert_eq!(answer.body["details"]["group"], "schema.example.com");
    assert_eq!(answer.body["details"]["kind"], "Widget");
    // kube-apiserver lists sibling fields in Go map order (it varies between requests); the
    // simulator in name order.
    let typed = |field: &str, found: &str, expected: &str| {
        (
            "FieldValueTypeInvalid".to_string(),
            field.to_string(),
            format!(
                "Invalid value: \"{found}\": {field} in body must be of type {expected}: \"{found}\""
            ),
        )
    };
    let unsupported = |field: &str, message: &str| {
        (
            "FieldValueNotSupported".to_string(),
            field.to_string(),
            message.to_string(),
        )
    };
    assert_eq!(
        answer.causes(),
        [
            typed("spec.color", "integer", "string"),
            unsupported(
                "spec.color",
                "Unsupported value: 1: supported values: \"red\", \"green\""
            ),
            typed("spec.count", "string", "integer"),
            unsupported(
                "spec.count",
                "Unsupported value: \"3\": supported values: \"1\", \"2\""
            ),
            typed("spec.enabled", "string", "boolean"),
            typed("spec.id", "int64", "uuid"),
            typed("spec.labels.a", "integer", "string"),
            typed("spec.name", "integer", "string"),
            typed("spec.port", "boolean", "integer,string"),
            typed("spec.ratio", "string", "number"),
            typed("spec.size", "string", "integer"),
            typed("spec.tags", "string", "array"),
        ]
    );
    assert!(
        answer.message().starts_with(
            "Widget.schema.example.com \"w\" is invalid: [spec.color: Invalid value: \"integer\": spec.color in body must be of type string: \"integer\", spec.color: Unsupported value: 1: supported values: \"red\", \"green\", "
        ),
        "{}",
        answer.message()
    );
    assert_eq!(
        refusal(&cluster, json!({"size": 1.5})).await,
        "Widget.schema.example.com \"w\" is invalid: spec.size: Invalid value: \"number\": spec.size in body must be of type integer: \"number\""
    );
    assert_eq!(
        refusal(&cluster, json!("x")).await,
        "Widget.schema.example.com \"w\" is invalid: spec: Invalid value: \"string\": spec in body must be of type object: \"string\""
    );
}

#[tokio::test]
async fn bounds_lengths_patterns_items_and_formats_are_worded_as_kube_apiserver_words_them() {
    let cluster = cluster_with_widgets().await;
    let prefix = "Widget.schema.example.com \"w\" is invalid: ";
    let cases = [
        (
            json!({"size": 0}),
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
        ),
        (
            json!({"size": 11, "ratio": 2.5}),
            "[spec.ratio: Invalid value: 2.5: spec.ratio in body should be less than 2.5, spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10]",
        ),
        (
            json!({"size": 3, "ratio": 0.25}),
            "spec.ratio: Invalid value: 0.25: spec.ratio in body should be greater than or equal to 0.5",
        ),
        (
            json!({"size": 3, "name": "ab"}),
            "spec.name: Invalid value: \"ab\": spec.name in body should be at least 3 chars long",
        ),
        (
            json!({"size": 3, "name": "abcdef"}),
            "spec.name: Too long: may not be more than 5 bytes",
        ),
        (
            json!({"size": 3, "name": "AB1"}),
            "spec.name: Invalid value: \"AB1\": spec.name in body should match '^[a-z]+$'",
        ),
        // Five characters in ten bytes: the length is counted in characters.
        (
            json!({"size": 3, "name": "ÄÖÜéé"}),
            "spec.name: Invalid value: \"ÄÖÜéé\": spec.name in body should match '^[a-z]+$'",
        ),
        (
            json!({"size": 3, "tags": []}),
            "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items",
        ),
        (
            json!({"size": 3, "tags": ["a", "b", "c"]}),
            "spec.tags: Too many: 3: must have at most 2 items",
        ),
        (
            json!({"size": 3, "id": "nope"}),
            "spec.id: Invalid value: \"nope\": spec.id in body must be of type uuid: \"nope\"",
        ),
        (
            json!({"size": 3, "port": "http", "labels": {"a": {"b": 1}}, "tags": [1, {"a": 1}]}),
            "[spec.labels.a: Invalid value: \"object\": spec.labels.a in body must be of type string: \"object\", spec.tags[0]: Invalid value: \"integer\": spec.tags[0] in body must be of type string: \"integer\", spec.tags[1]: Invalid value: \"object\": spec.tags[1] in body must be of type string: \"object\"]",
        ),
    ];
    for (spec, expected) in cases {
        assert_eq!(
            refusal(&cluster, spec.clone()).await,
            format!("{prefix}{expected}"),
            "{spec}"
        );
    }
    let answer = create(&cluster, json!({"size": 3, "name": "abcdef"})).await;
    assert_eq!(
        answer.causes(),
        [(
            "FieldValueTooLong".into(),
            "spec.name".into(),
            "Too long: may not be more than 5 bytes".into()
        )]
    );
    assert_eq!(create(&cluster, json!({"size": 3.0, "ratio": 1, "port": 8080, "id": "0f8fad5b-d9cb-469f-a165-70867728950e"})).await.code, 201);
}

#[tokio::test]
async fn required_fields_and_nulls_are_refused_as_kube_apiserver_refuses_them() {
    let cluster = cluster_with_widgets().await;
    let prefix = "Widget.schema.example.com \"w\" is invalid: ";
    let missing_spec =
        json!({"apiVersion": "schema.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let answer = send(
        &cluster,
        "POST",
        COLLECTION,
        "application/json",
        &missing_spec,
    )
    .await;
    assert_eq!(answer.message(), format!("{prefix}spec: Required value"));
    assert_eq!(
        answer.causes(),
        [(
            "FieldValueRequired".into(),
            "spec".into(),
            "Required value".into()
        )]
    );
    assert_eq!(
        refusal(&cluster, json!({"color": "blue"})).await,
        format!(
            "{prefix}[spec.color: Unsupported value: \"blue\": supported values: \"red\", \"green\", spec.size: Required value]"
        )
    );
    assert_eq!(
        refusal(&cluster, json!({"size": 3, "items": [{"weight": "x"}]})).await,
        format!(
            "{prefix}[spec.items[0].weight: Invalid value: \"string\": spec.items[0].weight in body must be of type integer: \"string\", spec.items[0].name: Required value]"
        )
    );
    // A null the schema does not allow is dropped (then `size` is missing); a nullable one stays;
    // list items are not dropped.
    assert_eq!(
        refusal(
            &cluster,
            json!({"size": null, "opt": null, "color": null, "tags": [null], "nested": null})
        )
        .await,
        format!(
            "{prefix}[spec.tags[0]: Invalid value: \"null\": spec.tags[0] in body must be of type string: \"null\", spec.size: Required value]"
        )
    );
}

#[tokio::test]
async fn unknown_fields_are_pruned_and_reported_per_field_validation() {
    let cluster = cluster_with_widgets().await;
    let widget = json!({
        "apiVersion": "schema.example.com/v1", "kind": "Widget",
        "metadata": {"name": "w3", "bogusmeta": 1, "labels": {"a": "b"}},
        "bogus": 1, "status": {"phase": "Ready", "x": 1},
        "spec": {"size": 3, "bogus": 2, "nested": {"keep": 1, "zzz": 1},
                 "free": {"any": {"deep": 1}, "known": {"x": "y", "drop": 1}},
                 "items": [{"name": "a", "extra": 1}]},
    });
    let unknown = [
        "metadata.bogusmeta",
        "bogus",
        "spec.bogus",
        "spec.free.known.drop",
        "spec.items[0].extra",
        "spec.nested.zzz",
        "status.x",
    ];
    let strict = send(
        &cluster,
        "POST",
        &format!("{COLLECTION}?fieldValidation=Strict"),
        "application/json",
        &widget,
    )
    .await;
    assert_eq!(strict.code, 400);
    let listed: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    assert_eq!(
        strict.message(),
        format!(
            "Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: {}",
            listed.join(", ")
        )
    );
    let warned = send(&cluster, "POST", COLLECTION, "application/json", &widget).await;
    assert_eq!(warned.code, 201, "{}", warned.body);
    let expected_warnings: Vec<String> = unknown
        .iter()
        .map(|f| format!("299 - \"unknown field \\\"{f}\\\"\""))
        .collect();
    assert_eq!(warned.warnings, expected_warnings);
    let stored = cluster.ok(&["get", "widget", "w3", "-o", "json"]).await;
    let mut stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["metadata"]["labels"], json!({"a": "b"}));
    assert!(stored["metadata"].get("bogusmeta").is_none());
    stored.as_object_mut().unwrap().remove("metadata");
    // Defaults filled in, unknown fields gone except under x-kubernetes-preserve-unknown-fields,
    // and the client's status dropped on create (the status subresource is enabled).
    assert_eq!(
        stored,
        json!({"apiVersion": "schema.example.com/v1", "kind": "Widget",
               "spec": {"free": {"any": {"deep": 1}, "known": {"x": "y"}}, "items": [{"name": "a", "weight": 1}],
                        "mode": "fast", "nested": {"inner": "deep", "keep": 1}, "size": 3}})
    );
    let mut ignored = widget.clone();
    ignored["metadata"]["name"] = json!("w4");
    let quiet = send(
        &cluster,
        "POST",
        &format!("{COLLECTION}?fieldValidation=Ignore"),
        "application/json",
        &ignored,
    )
    .await;
    assert_eq!((quiet.code, quiet.warnings.len()), (201, 0));
}

#[tokio::test]
async fn updates_patches_and_status_writes_are_defaulted_and_validated() {
    let cluster = cluster_with_widgets().await;
    assert_eq!(create(&cluster, json!({"size": 3})).await.code, 201);
    let path = format!("{COLLECTION}/w");
    let patch = send(
        &cluster,
        "PATCH",
        &path,
        "application/merge-patch+json",
        &json!({"spec": {"color": "blue"}}),
    )
    .await;
    assert_eq!(patch.code, 422);
    assert_eq!(
        patch.message(),
        "Widget.schema.example.com \"w\" is invalid: spec.color: Unsupported value: \"blue\": supported values: \"red\", \"green\""
    );
    let error = cluster
        .fails(&[
            "patch",
            "widget",
            "w",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":"x"}}"#,
        ])
        .await;
    assert_eq!(
        error.trim(),
        "The Widget \"w\" is invalid: spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
    );
    // Defaults apply to updates too.
    let patched = send(
        &cluster,
        "PATCH",
        &path,
        "application/merge-patch+json",
        &json!({"spec": {"mode": null, "items": [{"name": "x"}]}}),
    )
    .await;
    assert_eq!(patched.code, 200, "{}", patched.body);
    assert_eq!(patched.body["spec"]["mode"], "fast");
    assert_eq!(
        patched.body["spec"]["items"],
        json!([{"name": "x", "weight": 1}])
    );
    // The status subresource validates status alone, under `status`.
    let status = send(
        &cluster,
        "PATCH",
        &format!("{path}/status"),
        "application/merge-patch+json",
        &json!({"status": {"phase": "Lost"}}),
    )
    .await;
    assert_eq!(
        status.message(),
        "Widget.schema.example.com \"w\" is invalid: status.phase: Unsupported value: \"Lost\": supported values: \"Ready\", \"Failed\""
    );
}

const CAP_RULES_EXPLAINED: &str = "GROUP:      containersecurity.tigera.io
KIND:       ContainerAdmissionPolicy
VERSION:    v1beta1

FIELD: rules <[]Object>


DESCRIPTION:
    Ordered list of rules: the first rule whose criteria all match an image
    decides it.
    One rule: an action and the criteria (ANDed) an image must meet for the
    action to apply.
    A rule without criteria matches every image.
    
FIELDS:
  action\t<string> -required-
  enum: Allow, Reject
    <no description>

  imageLastScan\t<Object>
    When the image was last scanned.

  imagePath\t<Object>
    Regular expressions matched (unanchored) against the normalised image
    reference.

  imageScanStatus\t<Object>
    The image's vulnerability scan status.


";

#[tokio::test]
async fn the_projects_policies_are_checked_and_explained_from_their_crd() {
    let cluster = Cluster::start().await;
    let crd = fixture("webhook/deploy/crd.yaml");
    cluster.ok(&["apply", "-f", &crd]).await;
    let policy = cluster.write(
        "deny.yaml",
        "apiVersion: containersecurity.tigera.io/v1beta1\nkind: ContainerAdmissionPolicy\nmetadata: {name: deny}\nspec:\n  rules:\n  - action: Deny\n",
    );
    let error = cluster.fails(&["create", "-f", &policy]).await;
    assert_eq!(
        error.trim(),
        "The ContainerAdmissionPolicy \"deny\" is invalid: spec.rules[0].action: Unsupported value: \"Deny\": supported values: \"Allow\", \"Reject\""
    );
    let explained = cluster
        .ok(&["explain", "containeradmissionpolicies.spec.rules"])
        .await;
    assert_eq!(explained, CAP_RULES_EXPLAINED);
}
