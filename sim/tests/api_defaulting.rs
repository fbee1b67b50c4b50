//! Objects as clients read them back after create and update: the defaults kube-apiserver
//! v1.32.9 fills in (checked against a real one: the expected specs below are what it returned
//! for the same requests). Pods and the admission plugins that change them:
//! `api_defaulting_pods.rs`.

mod common;

use common::api::{create_and_get, patch, raw};
use common::objects::pod;
use common::start;
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/default";
const APPS: &str = "/apis/apps/v1/namespaces/default";
const BATCH: &str = "/apis/batch/v1/namespaces/default";

fn busybox_template(labels: Value) -> Value {
    json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

/// The pod template spec kube-apiserver stores for `busybox_template`.
fn defaulted_busybox_template(labels: Value) -> Value {
    json!({
        "metadata": {"creationTimestamp": null, "labels": labels},
        "spec": {
            "containers": [{
                "image": "busybox", "imagePullPolicy": "Always", "name": "c", "resources": {},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            }],
            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
            "schedulerName": "default-scheduler", "securityContext": {},
            "terminationGracePeriodSeconds": 30,
        },
    })
}

#[tokio::test]
async fn a_deployment_gets_kube_apiservers_defaults_down_to_its_containers() {
    let (_sim, client) = start::api().await;
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                    "readinessProbe": {"httpGet": {"port": 80}},
                    "env": [{"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
                "volumes": [{"name": "s", "secret": {"secretName": "x"}}, {"name": "e"}]}}}});
    let stored = create_and_get(&client, &format!("{APPS}/deployments"), deployment).await;
    assert_eq!(
        stored["spec"],
        json!({
            "progressDeadlineSeconds": 600, "replicas": 1, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "env": [{"name": "NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                        "image": "nginx", "imagePullPolicy": "Always", "name": "c",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
                            "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
                        "resources": {}, "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                    }],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                    "schedulerName": "default-scheduler", "securityContext": {},
                    "terminationGracePeriodSeconds": 30,
                    "volumes": [{"name": "s", "secret": {"defaultMode": 420, "secretName": "x"}},
                                {"emptyDir": {}, "name": "e"}],
                },
            },
        })
    );
    assert_eq!(stored["status"], json!({}));
}

#[tokio::test]
async fn replica_sets_stateful_sets_daemon_sets_and_replication_controllers_are_defaulted() {
    let (_sim, client) = start::api().await;
    let labels = |app: &str| json!({"app": app});
    let rs = create_and_get(&client, &format!("{APPS}/replicasets"), json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "rs"}, "spec": {"replicas": 0, "selector": {"matchLabels": labels("rs")},
        "template": busybox_template(labels("rs"))}})).await;
    assert_eq!(rs["spec"]["replicas"], 0, "a given value is kept");
    assert_eq!(
        rs["spec"]["template"],
        defaulted_busybox_template(labels("rs"))
    );
    assert_eq!(rs["status"], json!({"replicas": 0}));

    let sts = create_and_get(&client, &format!("{APPS}/statefulsets"), json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "sts"}, "spec": {"serviceName": "sts", "selector": {"matchLabels": labels("sts")},
        "template": busybox_template(labels("sts")),
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})).await;
    let spec = &sts["spec"];
    assert_eq!(
        spec["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    assert_eq!(spec["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        (
            spec["replicas"].as_i64(),
            spec["revisionHistoryLimit"].as_i64()
        ),
        (Some(1), Some(10))
    );
    assert_eq!(
        spec["updateStrategy"],
        json!({"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"})
    );
    assert_eq!(spec["template"], defaulted_busybox_template(labels("sts")));
    assert_eq!(
        spec["volumeClaimTemplates"][0],
        json!({"metadata": {"creationTimestamp": null, "name": "data"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Filesystem"},
               "status": {"phase": "Pending"}})
    );
    assert_eq!(
        sts["status"],
        json!({"availableReplicas": 0, "replicas": 0})
    );

    let ds = create_and_get(
        &client,
        &format!("{APPS}/daemonsets"),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "ds"}, "spec": {"selector": {"matchLabels": labels("ds")},
        "template": busybox_template(labels("ds"))}}),
    )
    .await;
    assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    let template_generation = |ds: &Value| {
        ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"].clone()
    };
    assert_eq!(template_generation(&ds), "1");
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"})
    );
    assert_eq!(
        ds["status"],
        json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0})
    );
    let mut changed = ds.clone();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:1.37");
    let updated = raw(
        &client,
        "PUT",
        &format!("{APPS}/daemonsets/ds"),
        Some(changed),
    )
    .await;
    assert_eq!(updated.code, 200, "{:#}", updated.body);
    assert_eq!(
        template_generation(&updated.body),
        "2",
        "a template change is a new template generation"
    );
    assert_eq!(
        updated.body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always",
        "kept as stored"
    );

    let rc = create_and_get(&client, &format!("{NS}/replicationcontrollers"), json!({"apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": "rc"}, "spec": {"replicas": 0, "template": busybox_template(labels("rc"))}})).await;
    assert_eq!(
        rc["metadata"]["labels"],
        labels("rc"),
        "labels come from the template"
    );
    assert_eq!(rc["spec"]["selector"], labels("rc"), "so does the selector");
    assert_eq!(
        rc["spec"]["template"],
        defaulted_busybox_template(labels("rc"))
    );
}

#[tokio::test]
async fn a_job_gets_a_generated_selector_and_the_batch_defaults() {
    let (_sim, client) = start::api().await;
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "job"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}});
    let stored = create_and_get(&client, &format!("{BATCH}/jobs"), job).await;
    let uid = stored["metadata"]["uid"].as_str().unwrap();
    let labels = json!({
        "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "job",
        "controller-uid": uid, "job-name": "job",
    });
    assert_eq!(
        stored["metadata"]["labels"], labels,
        "a Job without labels carries its template's"
    );
    assert_eq!(
        stored["spec"],
        json!({
            "backoffLimit": 6, "completionMode": "NonIndexed", "completions": 1,
            "manualSelector": false, "parallelism": 1, "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "suspend": false,
            "template": {
                "metadata": {"creationTimestamp": null, "labels": labels},
                "spec": {
                    "containers": [{"image": "busybox:1.36", "imagePullPolicy": "IfNotPresent", "name": "c",
                        "resources": {}, "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"}],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Never",
                    "schedulerName": "default-scheduler", "securityContext": {},
                    "terminationGracePeriodSeconds": 30,
                },
            },
        })
    );

    let manual = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "manual", "labels": {"own": "x"}},
        "spec": {"manualSelector": true, "parallelism": 2, "selector": {"matchLabels": {"app": "m"}},
                 "template": {"metadata": {"labels": {"app": "m"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}});
    let stored = create_and_get(&client, &format!("{BATCH}/jobs"), manual).await;
    assert_eq!(
        stored["spec"]["selector"],
        json!({"matchLabels": {"app": "m"}}),
        "a manual selector is the client's"
    );
    assert_eq!(
        stored["spec"]["template"]["metadata"]["labels"],
        json!({"app": "m"})
    );
    assert_eq!(
        stored["metadata"]["labels"],
        json!({"own": "x"}),
        "the Job's own labels are kept"
    );
    assert!(
        stored["spec"].get("completions").is_none(),
        "parallelism alone leaves completions unset"
    );
}

#[tokio::test]
async fn a_cron_job_gets_its_defaults_but_not_the_jobs() {
    let (_sim, client) = start::api().await;
    let cron_job = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}});
    let stored = create_and_get(&client, &format!("{BATCH}/cronjobs"), cron_job).await;
    let mut template = defaulted_busybox_template(Value::Null);
    template["metadata"] = json!({"creationTimestamp": null});
    template["spec"]["restartPolicy"] = json!("OnFailure");
    assert_eq!(
        stored["spec"],
        json!({
            "concurrencyPolicy": "Allow", "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"creationTimestamp": null}, "spec": {"template": template}},
            "schedule": "*/5 * * * *", "successfulJobsHistoryLimit": 3, "suspend": false,
        })
    );
}

#[tokio::test]
async fn services_get_ports_families_and_traffic_policies() {
    let (_sim, client) = start::api().await;
    let services = format!("{NS}/services");
    let stored = create_and_get(&client, &services, json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "name": "http"}, {"port": 8443, "targetPort": "https", "name": "https"}]}})).await;
    let spec = &stored["spec"];
    let ip = spec["clusterIP"].as_str().unwrap();
    assert_eq!(
        *spec,
        json!({
            "clusterIP": ip, "clusterIPs": [ip], "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80},
                      {"name": "https", "port": 8443, "protocol": "TCP", "targetPort": "https"}],
            "selector": {"app": "web"}, "sessionAffinity": "None", "type": "ClusterIP",
        })
    );

    let headless = create_and_get(
        &client,
        &services,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "headless"},
        "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}),
    )
    .await;
    assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(
        headless["spec"]["ipFamilyPolicy"], "RequireDualStack",
        "no selector: dual-stack"
    );
    assert_eq!(headless["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));

    let external = create_and_get(
        &client,
        &services,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
        "spec": {"type": "ExternalName", "externalName": "example.com"}}),
    )
    .await;
    assert_eq!(
        external["spec"],
        json!({"externalName": "example.com", "sessionAffinity": "None", "type": "ExternalName"})
    );

    let balanced = create_and_get(
        &client,
        &services,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
    )
    .await;
    assert_eq!(balanced["spec"]["allocateLoadBalancerNodePorts"], true);
    assert_eq!(balanced["spec"]["externalTrafficPolicy"], "Cluster");
}

#[tokio::test]
async fn updates_are_defaulted_too_and_keep_what_was_allocated() {
    let (_sim, client) = start::api().await;
    let deployments = format!("{APPS}/deployments");
    let body = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"strategy": {"type": "Recreate"}, "selector": {"matchLabels": {"app": "web"}}, "template": busybox_template(json!({"app": "web"}))}});
    let created = create_and_get(&client, &deployments, body.clone()).await;
    assert_eq!(
        created["spec"]["strategy"],
        json!({"type": "Recreate"}),
        "no rollingUpdate for Recreate"
    );
    assert_eq!(created["metadata"]["generation"], 1);
    // A PUT of the manifest as first written: defaulted again, so nothing changed.
    let mut replaced = body.clone();
    replaced["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"].clone();
    let updated = raw(
        &client,
        "PUT",
        &format!("{deployments}/web"),
        Some(replaced),
    )
    .await;
    assert_eq!(updated.code, 200, "{:#}", updated.body);
    assert_eq!(updated.body["spec"], created["spec"]);
    assert_eq!(
        updated.body["metadata"]["generation"], 1,
        "defaults are no spec change"
    );
    // A merge patch removing the strategy gets the default one back.
    let patched = patch(
        &client,
        &format!("{deployments}/web"),
        "application/merge-patch+json",
        json!({"spec": {"strategy": null}}),
    )
    .await;
    assert_eq!(patched.code, 200, "{:#}", patched.body);
    assert_eq!(
        patched.body["spec"]["strategy"],
        json!({"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"})
    );

    let services = format!("{NS}/services");
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let created = create_and_get(&client, &services, service.clone()).await;
    let mut replaced = service;
    replaced["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"].clone();
    let updated = raw(&client, "PUT", &format!("{services}/svc"), Some(replaced)).await;
    assert_eq!(updated.code, 200, "{:#}", updated.body);
    assert_eq!(
        updated.body["spec"], created["spec"],
        "the ClusterIP and families are kept"
    );

    let pods = format!("{NS}/pods");
    let created = create_and_get(
        &client,
        &pods,
        pod(
            "p",
            json!({"containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    let mut replaced = created.clone();
    let spec = replaced["spec"].as_object_mut().unwrap();
    spec.remove("priority");
    spec.remove("tolerations");
    let updated = raw(&client, "PUT", &format!("{pods}/p"), Some(replaced)).await;
    assert_eq!(updated.code, 200, "{:#}", updated.body);
    assert_eq!(
        updated.body["spec"], created["spec"],
        "priority and default tolerations come back"
    );
}
