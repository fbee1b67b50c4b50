//! What the webhook knows of the cluster, kept current by watches (kube-rs reflectors):
//! ContainerAdmissionPolicies (recompiled on every change), namespace labels, and Trivy
//! VulnerabilityReports once their CRD exists; plus an optional scan-results file, reloaded
//! when it changes. Owners are not cached: see `owner`.
//!
//! Readiness means "this replica can answer": the policies have synced. A scan source that is
//! not synced or unreadable keeps the replica ready, so that users get the reason (decisions
//! that need scan data are denied saying the data is unavailable, policy-semantics §6) instead
//! of the API server's generic "no endpoints", and rules that need no scan data still decide.
//! Each source's state is in the metrics and logged when it changes.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use super::metrics::{Metrics, Source};
use crate::admission::handler::{ClusterView, LookupError};
use crate::policy::{ContainerAdmissionPolicy, Enforcement, PolicyError, PolicySet};
use crate::scan::trivy::{VulnerabilityReport, record_from_report};
use crate::scan::{
    ScanIndex, ScanRecord, ScanResult, ScanSource, ScanUnavailable, SeverityThresholds,
    load_scan_file,
};
use crate::workload::{Workload, WorkloadKind};

/// How long a decision may wait on a lookup the caches cannot answer.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
const VULNERABILITY_REPORTS_CRD: &str = "vulnerabilityreports.aquasecurity.github.io";

fn lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // Writers only swap whole values, so a poisoned lock still holds a consistent one.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn set<T>(lock: &RwLock<T>, value: T) {
    *lock
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = value;
}

/// Scan results from every configured source.
pub struct Scans {
    reports: RwLock<Arc<ScanIndex>>,
    reports_synced: AtomicBool,
    file: Option<RwLock<Result<Arc<ScanIndex>, String>>>,
    /// Bumped whenever either source's data is replaced: what the audit watches to re-run
    /// soon after scan data moves.
    generation: AtomicU64,
}

impl Scans {
    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }
}

impl ScanSource for Scans {
    fn lookup(
        &self,
        image: &crate::image::ImageRef,
    ) -> Result<Option<ScanResult>, ScanUnavailable> {
        if !self.reports_synced.load(Ordering::Acquire) {
            return Err(ScanUnavailable {
                reason: "VulnerabilityReports have not synced yet".into(),
            });
        }
        let from_reports = lock(&self.reports).lookup(image)?;
        let from_file = match &self.file {
            None => None,
            Some(file) => match &*lock(file) {
                Ok(index) => index.lookup(image)?,
                Err(error) => {
                    return Err(ScanUnavailable {
                        reason: error.clone(),
                    });
                }
            },
        };
        // The newest scan wins across sources as within one.
        Ok(match (from_reports, from_file) {
            (Some(a), Some(b)) => Some(if b.last_scan > a.last_scan { b } else { a }),
            (a, b) => a.or(b),
        })
    }
}

/// Everything the webhook watches, and its readiness.
pub struct ClusterCaches {
    client: Client,
    policies: RwLock<Arc<PolicySet>>,
    policies_synced: AtomicBool,
    /// Why the policies have not synced, when their watch failed (e.g. the CRD is missing).
    policies_error: RwLock<Option<String>>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    namespaces_synced: Arc<AtomicBool>,
    scans: Scans,
    metrics: Arc<Metrics>,
    /// Every policy's enforcement, when `serve --enforcement` overrides them (a dry run).
    every_enforcement: Option<Enforcement>,
    events: super::events::EventRecorder,
}

impl ClusterCaches {
    /// Starts every watch; `ready()` turns true once all have synced.
    pub fn start(
        client: Client,
        scan_file: Option<PathBuf>,
        thresholds: SeverityThresholds,
        metrics: Arc<Metrics>,
        every_enforcement: Option<Enforcement>,
    ) -> Arc<ClusterCaches> {
        let (namespaces, namespace_writer) = reflector::store();
        let caches = Arc::new(ClusterCaches {
            client: client.clone(),
            policies: RwLock::new(Arc::new(PolicySet::default())),
            policies_synced: AtomicBool::new(false),
            policies_error: RwLock::new(None),
            namespaces,
            namespaces_synced: Arc::new(AtomicBool::new(false)),
            scans: Scans {
                reports: RwLock::new(Arc::new(ScanIndex::default())),
                reports_synced: AtomicBool::new(false),
                file: scan_file.as_ref().map(|_| {
                    RwLock::new(Err("the scan-results file has not been read yet".into()))
                }),
                generation: AtomicU64::new(0),
            },
            metrics,
            every_enforcement,
            events: super::events::EventRecorder::new(
                client.clone(),
                // The manifests set it from the downward API.
                std::env::var("POD_NAME").unwrap_or_else(|_| super::events::COMPONENT.to_string()),
            ),
        });
        caches
            .metrics
            .set_scan_data(Source::VulnerabilityReports, 0, None);
        if caches.scans.file.is_some() {
            caches.metrics.set_synced(Source::ScanResultsFile, false);
            caches
                .metrics
                .set_scan_data(Source::ScanResultsFile, 0, None);
        }
        tokio::spawn(watch_policies(caches.clone()));
        tokio::spawn(watch_namespaces(caches.clone(), namespace_writer));
        tokio::spawn(watch_reports(caches.clone(), thresholds));
        if let Some(path) = scan_file {
            tokio::spawn(poll_scan_file(caches.clone(), path, thresholds));
        }
        caches
    }

    /// Whether this replica can answer (what `/readyz` reports): the policies have synced.
    /// Scan sources do not count: while one is unavailable, the decisions that need it are
    /// denied with the reason, which users can only read from a ready replica.
    /// How many times the scan data has changed: the audit re-runs soon after it moves.
    pub fn scan_generation(&self) -> u64 {
        self.scans.generation.load(Ordering::Acquire)
    }

    pub fn ready(&self) -> Result<(), String> {
        match self.policies_not_loaded() {
            None => Ok(()),
            Some(reason) => Err(reason),
        }
    }

    /// Why requests cannot be decided yet: the policies have not synced. Until they have, an
    /// empty policy set would allow everything, so requests are denied with this reason.
    pub fn policies_not_loaded(&self) -> Option<String> {
        if self.policies_synced.load(Ordering::Acquire) {
            return None;
        }
        Some(match &*lock(&self.policies_error) {
            Some(error) => format!("the ContainerAdmissionPolicies are not loaded yet: {error}"),
            None => "the ContainerAdmissionPolicies are not loaded yet".to_string(),
        })
    }

    fn mark(&self, source: Source, synced: bool) {
        self.metrics.set_synced(source, synced);
    }

    /// Notes the object of a watch event, for the newest resourceVersion seen per source.
    fn seen(&self, source: Source, object: &DynamicObject) {
        if let Some(version) = object.metadata.resource_version.as_deref() {
            self.metrics.saw_resource_version(source, version);
        }
    }
}

/// The longest watch error quoted in a message: enough for the API server's reason.
const MAX_ERROR_CHARS: usize = 300;

/// Why the policy watch fails, in words an operator can act on.
fn policy_watch_error(error: &watcher::Error) -> String {
    let not_found = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.code == 404,
        watcher::Error::WatchError(status) => status.code == 404,
        _ => false,
    };
    if not_found {
        return format!(
            "the ContainerAdmissionPolicy CRD ({}.{}) is not installed",
            "containeradmissionpolicies",
            crate::policy::API_GROUP
        );
    }
    let text = error.to_string();
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn policy_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(crate::policy::API_GROUP, "v1beta1", crate::policy::KIND),
        "containeradmissionpolicies",
    )
}

/// Recompiles the policy set from the reflector's state after every change. Objects are
/// watched untyped so that one that does not decode becomes an invalid policy (rejecting what
/// it could apply to) instead of breaking the watch.
async fn watch_policies(caches: Arc<ClusterCaches>) {
    let api: Api<DynamicObject> = Api::all_with(caches.client.clone(), &policy_resource());
    let writer = reflector::store::Writer::new(policy_resource());
    let store = writer.as_reader();
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    let mut stream = std::pin::pin!(stream);
    loop {
        match stream.try_next().await {
            Ok(Some(event)) => {
                if let watcher::Event::Apply(object)
                | watcher::Event::Delete(object)
                | watcher::Event::InitApply(object) = &event
                {
                    caches.seen(Source::Policies, object);
                }
                let first_sync = matches!(event, watcher::Event::InitDone)
                    && !caches.policies_synced.load(Ordering::Acquire);
                let listing = matches!(event, watcher::Event::Init | watcher::Event::InitApply(_));
                if !listing && (first_sync || caches.policies_synced.load(Ordering::Acquire)) {
                    rebuild_policies(&caches, &store.state());
                }
                if first_sync {
                    // Published after the first policy set, so that no request is decided by
                    // the empty set the webhook starts with.
                    caches.policies_synced.store(true, Ordering::Release);
                    set(&caches.policies_error, None);
                    caches.mark(Source::Policies, true);
                    caches.metrics.ready.set(1);
                    tracing::info!("ContainerAdmissionPolicies loaded: ready");
                }
            }
            Ok(None) => return,
            Err(error) => {
                if !caches.policies_synced.load(Ordering::Acquire) {
                    set(&caches.policies_error, Some(policy_watch_error(&error)));
                }
                tracing::warn!(%error, "ContainerAdmissionPolicy watch failed; retrying")
            }
        }
    }
}

fn rebuild_policies(caches: &ClusterCaches, objects: &[Arc<DynamicObject>]) {
    let mut policies = Vec::new();
    let mut undecodable = Vec::new();
    for object in objects {
        let decoded = serde_json::to_value(object.as_ref())
            .map_err(|error| error.to_string())
            .and_then(|value| {
                serde_path_to_error::deserialize::<_, ContainerAdmissionPolicy>(&value)
                    .map_err(|error| format!("field `{}`: {}", error.path(), error.inner()))
            });
        match decoded {
            Ok(policy) => policies.push(policy),
            Err(message) => undecodable.push(PolicyError {
                policy: object.name_any(),
                field: "(object)".into(),
                message,
            }),
        }
    }
    let set = PolicySet::compile_enforcing(&policies, undecodable, caches.every_enforcement);
    caches
        .metrics
        .policies_loaded
        .set(set.policies().len() as i64);
    caches
        .metrics
        .policies_invalid
        .set(set.invalid().len() as i64);
    for invalid in set.invalid() {
        tracing::warn!(policy = %invalid.name, error = %invalid.error, "invalid ContainerAdmissionPolicy: rejecting the requests it could apply to");
    }
    set_policies(caches, set);
}

fn set_policies(caches: &ClusterCaches, policies: PolicySet) {
    set(&caches.policies, Arc::new(policies));
}

async fn watch_namespaces(
    caches: Arc<ClusterCaches>,
    writer: reflector::store::Writer<PartialObjectMeta<Namespace>>,
) {
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(caches.client.clone());
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    let mut stream = std::pin::pin!(stream);
    loop {
        match stream.try_next().await {
            Ok(Some(watcher::Event::InitDone)) => {
                if !caches.namespaces_synced.swap(true, Ordering::AcqRel) {
                    tracing::info!("Namespaces synced");
                }
                caches.mark(Source::Namespaces, true);
            }
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(error) => tracing::warn!(%error, "Namespace watch failed; retrying"),
        }
    }
}

fn report_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("aquasecurity.github.io", "v1alpha1", "VulnerabilityReport"),
        "vulnerabilityreports",
    )
}

/// Waits for the VulnerabilityReport CRD (it may be installed after the webhook), then keeps
/// an index of every report. Until the CRD exists there is simply no scan data from reports.
async fn watch_reports(caches: Arc<ClusterCaches>, thresholds: SeverityThresholds) {
    let crds: Api<CustomResourceDefinition> = Api::all(caches.client.clone());
    loop {
        match crds.get_opt(VULNERABILITY_REPORTS_CRD).await {
            Ok(Some(_)) => break,
            Ok(None) => {
                if !caches.scans.reports_synced.swap(true, Ordering::AcqRel) {
                    tracing::info!(
                        "no VulnerabilityReport CRD: no scan data from reports until it is installed"
                    );
                }
                caches.mark(Source::VulnerabilityReports, true);
            }
            Err(error) => {
                tracing::warn!(%error, "cannot check for the VulnerabilityReport CRD; retrying")
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // From here on, reports are the source of truth: not synced until the first list.
    caches.scans.reports_synced.store(false, Ordering::Release);
    caches.mark(Source::VulnerabilityReports, false);
    tracing::info!("the VulnerabilityReport CRD exists: listing reports");
    let api: Api<DynamicObject> = Api::all_with(caches.client.clone(), &report_resource());
    let mut records: HashMap<ObjectRef<DynamicObject>, ScanRecord> = HashMap::new();
    let mut pending: HashMap<ObjectRef<DynamicObject>, ScanRecord> = HashMap::new();
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    loop {
        match stream.try_next().await {
            Ok(Some(watcher::Event::Init)) => pending.clear(),
            Ok(Some(watcher::Event::InitApply(object))) => {
                caches.seen(Source::VulnerabilityReports, &object);
                if let Some(record) = report_record(&object, &thresholds) {
                    pending.insert(ObjectRef::from_obj_with(&object, report_resource()), record);
                }
            }
            Ok(Some(watcher::Event::InitDone)) => {
                records = std::mem::take(&mut pending);
                publish_reports(&caches, &records);
                caches.scans.reports_synced.store(true, Ordering::Release);
                caches.mark(Source::VulnerabilityReports, true);
                tracing::info!(reports = records.len(), "VulnerabilityReports synced");
            }
            Ok(Some(watcher::Event::Apply(object))) => {
                caches.seen(Source::VulnerabilityReports, &object);
                let key = ObjectRef::from_obj_with(&object, report_resource());
                match report_record(&object, &thresholds) {
                    Some(record) => records.insert(key, record),
                    None => records.remove(&key),
                };
                publish_reports(&caches, &records);
            }
            Ok(Some(watcher::Event::Delete(object))) => {
                caches.seen(Source::VulnerabilityReports, &object);
                records.remove(&ObjectRef::from_obj_with(&object, report_resource()));
                publish_reports(&caches, &records);
            }
            Ok(None) => return,
            Err(error) => tracing::warn!(%error, "VulnerabilityReport watch failed; retrying"),
        }
    }
}

fn report_record(object: &DynamicObject, thresholds: &SeverityThresholds) -> Option<ScanRecord> {
    let report: VulnerabilityReport = match serde_json::to_value(object)
        .and_then(serde_json::from_value)
    {
        Ok(report) => report,
        Err(error) => {
            tracing::warn!(report = %object.name_any(), %error, "ignoring a VulnerabilityReport that does not decode");
            return None;
        }
    };
    match record_from_report(&report, thresholds) {
        Ok(record) => Some(record),
        Err(error) => {
            tracing::warn!(report = %object.name_any(), %error, "ignoring a VulnerabilityReport");
            None
        }
    }
}

fn publish_reports(
    caches: &ClusterCaches,
    records: &HashMap<ObjectRef<DynamicObject>, ScanRecord>,
) {
    let index = ScanIndex::from_records(records.values().cloned());
    let newest = records
        .values()
        .filter_map(|record| record.result.last_scan)
        .max();
    caches
        .metrics
        .set_scan_data(Source::VulnerabilityReports, records.len(), newest);
    set(&caches.scans.reports, Arc::new(index));
    caches.scans.changed();
}

/// Re-reads the scan-results file whenever its modification time changes. An unreadable or
/// invalid file makes the source unavailable (decisions that need scan data fail closed).
async fn poll_scan_file(caches: Arc<ClusterCaches>, path: PathBuf, thresholds: SeverityThresholds) {
    let mut seen: Option<Option<SystemTime>> = None;
    let mut interval = tokio::time::interval(Duration::from_millis(500));
    loop {
        interval.tick().await;
        let modified = std::fs::metadata(&path)
            .and_then(|meta| meta.modified())
            .ok();
        if seen == Some(modified) {
            continue;
        }
        seen = Some(modified);
        let Some(file) = &caches.scans.file else {
            return;
        };
        // Parsing 10^5 YAML results takes seconds: off the runtime's worker threads, which
        // serve requests meanwhile.
        let loading = path.clone();
        let loaded = match tokio::task::spawn_blocking(move || {
            load_scan_file(&loading, &thresholds)
        })
        .await
        {
            Ok(result) => result.map_err(|error| error.to_string()),
            Err(stopped) => Err(format!("the loader stopped: {stopped}")),
        };
        match loaded {
            Ok(index) => {
                tracing::info!(path = %path.display(), results = index.len(), "scan results loaded");
                caches.metrics.set_scan_data(
                    Source::ScanResultsFile,
                    index.len(),
                    index.newest_scan(),
                );
                set(file, Ok(Arc::new(index)));
                caches.scans.changed();
                caches.mark(Source::ScanResultsFile, true);
            }
            Err(error) => {
                tracing::error!(%error, "scan-results file unavailable: decisions that need scan data are denied with this reason");
                set(
                    file,
                    Err(format!("the scan-results file is unavailable: {error}")),
                );
                caches.scans.changed();
                caches.mark(Source::ScanResultsFile, false);
                caches
                    .metrics
                    .set_scan_data(Source::ScanResultsFile, 0, None);
            }
        }
    }
}

impl ClusterView for Arc<ClusterCaches> {
    fn policies(&self) -> Arc<PolicySet> {
        lock(&self.policies).clone()
    }

    fn update_rejected(
        &self,
        request: &kube::core::admission::AdmissionRequest<DynamicObject>,
        message: &str,
    ) {
        self.events.update_rejected(request, message);
    }

    fn record_findings(&self, findings: &[crate::admission::Finding]) {
        for finding in findings {
            let labels = super::metrics::AdvisoryLabels {
                enforcement: finding.enforcement.name(),
                policy: finding.policy.clone(),
            };
            self.metrics
                .advisory_rejections
                .get_or_create(&labels)
                .inc();
        }
    }

    fn scans(&self) -> &dyn ScanSource {
        &self.scans
    }

    /// From the watch cache; a namespace created a moment ago may not be there yet, so a miss
    /// falls back to one bounded GET.
    async fn namespace_labels(
        &self,
        namespace: &str,
    ) -> Result<BTreeMap<String, String>, LookupError> {
        if let Some(cached) = self.namespaces.get(&ObjectRef::new(namespace)) {
            return Ok(cached.metadata.labels.clone().unwrap_or_default());
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        match tokio::time::timeout(LOOKUP_TIMEOUT, api.get_opt(namespace)).await {
            Ok(Ok(Some(found))) => Ok(found.metadata.labels.unwrap_or_default()),
            Ok(Ok(None)) => Err(LookupError(format!("namespaces {namespace:?} not found"))),
            Ok(Err(error)) => Err(LookupError(error.to_string())),
            Err(_) => Err(LookupError(format!("no answer within {LOOKUP_TIMEOUT:?}"))),
        }
    }

    /// Owners are looked up, not cached: only requests that claim a controller owner and come
    /// from a controller identity need one, a cache of every pod-creating object in the cluster
    /// would dominate memory, and a cache could lag a ReplicaSet created a moment ago — turning
    /// its first pods into evaluated ones, the very thing the child check exists to avoid.
    async fn owner(
        &self,
        reference: &OwnerReference,
        namespace: &str,
    ) -> Result<Option<Workload>, LookupError> {
        let Some(kind) = WorkloadKind::from_type(&reference.api_version, &reference.kind) else {
            return Ok(None);
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &kind.api_resource());
        let found = match tokio::time::timeout(LOOKUP_TIMEOUT, api.get_opt(&reference.name)).await {
            Ok(Ok(found)) => found,
            Ok(Err(error)) => return Err(LookupError(error.to_string())),
            Err(_) => return Err(LookupError(format!("no answer within {LOOKUP_TIMEOUT:?}"))),
        };
        let Some(object) = found else { return Ok(None) };
        let value =
            serde_json::to_value(&object).map_err(|error| LookupError(error.to_string()))?;
        Workload::from_value(kind, &value)
            .map(Some)
            .map_err(|error| LookupError(error.to_string()))
    }
}
