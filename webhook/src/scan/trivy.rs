//! Trivy Operator `VulnerabilityReport` (`aquasecurity.github.io/v1alpha1`, namespaced). It is a
//! third-party CRD, so only the fields we read are modelled; everything else is ignored.

use std::borrow::Cow;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer};

use super::thresholds::{Severity, SeverityCounts, SeverityThresholds};
use super::{ScanDataError, ScanRecord, ScanResult};
use crate::image::ImageRef;
use crate::timestamp;

pub const GROUP: &str = "aquasecurity.github.io";
pub const VERSION: &str = "v1alpha1";
pub const API_VERSION: &str = "aquasecurity.github.io/v1alpha1";
pub const KIND: &str = "VulnerabilityReport";
pub const PLURAL: &str = "vulnerabilityreports";

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct VulnerabilityReport {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub report: Report,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    #[serde(default, deserialize_with = "null_as_default")]
    pub registry: Registry,
    pub artifact: Artifact,
    #[serde(default, deserialize_with = "timestamp::deserialize_option")]
    pub update_timestamp: Option<Timestamp>,
    #[serde(default)]
    pub summary: Option<Summary>,
    /// Go marshals an empty list as `null`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub vulnerabilities: Vec<Vulnerability>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Registry {
    /// `index.docker.io` for Docker Hub; may be empty.
    #[serde(default, deserialize_with = "null_as_default")]
    pub server: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Artifact {
    /// `library/nginx`.
    pub repository: String,
    /// Trivy writes `""` for "none", so empty is treated as absent.
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

impl Artifact {
    fn non_empty_tag(&self) -> Option<&str> {
        self.tag.as_deref().filter(|tag| !tag.is_empty())
    }

    fn non_empty_digest(&self) -> Option<&str> {
        self.digest.as_deref().filter(|digest| !digest.is_empty())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    #[serde(default)]
    pub critical_count: u64,
    #[serde(default)]
    pub high_count: u64,
    #[serde(default)]
    pub medium_count: u64,
    #[serde(default)]
    pub low_count: u64,
    #[serde(default)]
    pub unknown_count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Vulnerability {
    pub severity: Severity,
}

impl Report {
    /// The summary when Trivy wrote one, else a count of the listed vulnerabilities.
    pub fn severity_counts(&self) -> SeverityCounts {
        match &self.summary {
            Some(summary) => SeverityCounts {
                critical: summary.critical_count,
                high: summary.high_count,
                medium: summary.medium_count,
                low: summary.low_count,
                unknown: summary.unknown_count,
            },
            None => {
                let mut counts = SeverityCounts::default();
                for vulnerability in &self.vulnerabilities {
                    counts.add(vulnerability.severity);
                }
                counts
            }
        }
    }

    /// `server/repository[:tag][@digest]`, normalised; on error, the field to blame.
    fn image(&self) -> Result<ImageRef, (&'static str, String)> {
        let server = self.registry.server.as_str();
        let base = if server.is_empty() {
            self.artifact.repository.clone()
        } else {
            format!("{server}/{}", self.artifact.repository)
        };
        let mut reference = base.clone();
        if let Some(tag) = self.artifact.non_empty_tag() {
            reference.push(':');
            reference.push_str(tag);
        }
        if let Some(digest) = self.artifact.non_empty_digest() {
            reference.push('@');
            reference.push_str(digest);
        }
        ImageRef::parse(&reference).map_err(|error| (self.blame(&base), error.to_string()))
    }

    /// Which field made the reference invalid, found by parsing it piece by piece.
    fn blame(&self, base: &str) -> &'static str {
        let server = self.registry.server.as_str();
        let parses = |reference: String| ImageRef::parse(&reference).is_ok();
        if !server.is_empty() && !parses(format!("{server}/x")) {
            "report.registry.server"
        } else if !parses(base.to_string()) {
            "report.artifact.repository"
        } else if let Some(tag) = self.artifact.non_empty_tag()
            && !parses(format!("{base}:{tag}"))
        {
            "report.artifact.tag"
        } else {
            "report.artifact.digest"
        }
    }
}

/// The scan record a report stands for: its image, the status its findings earn under
/// `thresholds`, and `report.updateTimestamp` as the scan time.
pub fn record_from_report(
    report: &VulnerabilityReport,
    thresholds: &SeverityThresholds,
) -> Result<ScanRecord, ScanDataError> {
    let image = report
        .report
        .image()
        .map_err(|(field, message)| ScanDataError::InvalidReport {
            report: report_name(&report.metadata),
            field: field.to_string(),
            message,
        })?;
    Ok(ScanRecord {
        image,
        result: ScanResult {
            status: thresholds.status(&report.report.severity_counts()),
            last_scan: report.report.update_timestamp,
        },
    })
}

fn report_name(metadata: &ObjectMeta) -> String {
    let name = metadata.name.as_deref().unwrap_or("(unnamed)");
    match metadata.namespace.as_deref() {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_string(),
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Lets the in-cluster watcher use `kube::Api<VulnerabilityReport>`.
impl kube::Resource for VulnerabilityReport {
    type DynamicType = ();
    type Scope = kube::core::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        KIND.into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        GROUP.into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        VERSION.into()
    }

    fn api_version(_: &()) -> Cow<'_, str> {
        API_VERSION.into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        PLURAL.into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageRef;
    use crate::scan::{ScanIndex, ScanSource, ScanStatus};

    /// Shaped like what Trivy Operator 0.2x writes for a Deployment's nginx container.
    const NGINX_REPORT: &str = r#"
apiVersion: aquasecurity.github.io/v1alpha1
kind: VulnerabilityReport
metadata:
  name: replicaset-nginx-6d4cf56db6-nginx
  namespace: default
  labels:
    trivy-operator.container.name: nginx
    trivy-operator.resource.kind: ReplicaSet
    trivy-operator.resource.name: nginx-6d4cf56db6
    trivy-operator.resource.namespace: default
  ownerReferences:
  - apiVersion: apps/v1
    blockOwnerDeletion: false
    controller: true
    kind: ReplicaSet
    name: nginx-6d4cf56db6
    uid: 8b3a1c5e-6f0e-4a5e-9d8c-0c9e6e0e8f11
report:
  artifact:
    repository: library/nginx
    tag: "1.25"
  os:
    family: debian
    name: "12.4"
  registry:
    server: index.docker.io
  scanner:
    name: Trivy
    vendor: Aqua Security
    version: 0.50.1
  summary:
    criticalCount: 0
    highCount: 0
    lowCount: 85
    mediumCount: 12
    noneCount: 0
    unknownCount: 2
  updateTimestamp: "2026-11-25T10:00:00Z"
  vulnerabilities:
  - fixedVersion: ""
    installedVersion: 2.36-9+deb12u4
    lastModifiedDate: "2024-01-31T14:15:08Z"
    links: []
    primaryLink: https://avd.aquasec.com/nvd/cve-2010-4756
    publishedDate: "2011-03-02T20:00:00Z"
    resource: libc-bin
    score: 4
    severity: LOW
    target: ""
    title: "glibc: glob implementation can cause excessive CPU and memory consumption"
    vulnerabilityID: CVE-2010-4756
"#;

    fn report(text: &str) -> VulnerabilityReport {
        let documents = crate::manifest::parse_documents("report.yaml", text).unwrap();
        documents[0].decode().unwrap()
    }

    fn record(text: &str) -> ScanRecord {
        record_from_report(&report(text), &SeverityThresholds::default()).unwrap()
    }

    #[test]
    fn a_report_with_a_summary_uses_the_summary() {
        let record = record(NGINX_REPORT);
        // The single listed vulnerability is LOW, but the summary counts 12 MEDIUM.
        assert_eq!(record.result.status, ScanStatus::Warn);
        assert_eq!(
            record.result.last_scan,
            Some("2026-11-25T10:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn a_docker_hub_report_matches_the_short_reference() {
        let record = record(NGINX_REPORT);
        assert_eq!(record.image.normalised(), "docker.io/library/nginx:1.25");
        let index = ScanIndex::from_records([record]);
        let image = ImageRef::parse("nginx:1.25").unwrap();
        assert_eq!(
            index.lookup(&image).unwrap().map(|result| result.status),
            Some(ScanStatus::Warn)
        );
    }

    #[test]
    fn a_report_without_a_summary_counts_the_vulnerabilities() {
        let text = r#"
report:
  registry: {server: gcr.io}
  artifact: {repository: company/api, tag: "1.2"}
  updateTimestamp: "2026-11-25T9:00:00+01:00"
  vulnerabilities:
  - {severity: LOW}
  - {severity: HIGH}
"#;
        let record = record(text);
        assert_eq!(record.result.status, ScanStatus::Fail);
        assert_eq!(
            record.result.last_scan,
            Some("2026-11-25T08:00:00Z".parse().unwrap())
        );
        assert_eq!(record.image.normalised(), "gcr.io/company/api:1.2");
    }

    #[test]
    fn a_clean_report_passes() {
        let text = "report:\n  artifact: {repository: app, tag: v1}\n  vulnerabilities: null\n";
        let record = record(text);
        assert_eq!(record.result.status, ScanStatus::Pass);
        assert_eq!(record.result.last_scan, None);
        assert_eq!(record.image.normalised(), "docker.io/library/app:v1");
    }

    #[test]
    fn thresholds_are_applied_to_the_counts() {
        let strict = SeverityThresholds::new(Severity::Low, Severity::Unknown).unwrap();
        let record = record_from_report(&report(NGINX_REPORT), &strict).unwrap();
        assert_eq!(record.result.status, ScanStatus::Fail);
    }

    #[test]
    fn tag_and_digest_are_both_kept_and_empty_ones_ignored() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let text = format!(
            "report:\n  registry: {{server: quay.io}}\n  artifact: {{repository: org/app, tag: '', digest: '{digest}'}}\n"
        );
        let digest_only = record(&text);
        assert_eq!(
            digest_only.image.normalised(),
            format!("quay.io/org/app@{digest}")
        );
        let text = format!(
            "report:\n  registry: {{server: quay.io}}\n  artifact: {{repository: org/app, tag: '2', digest: '{digest}'}}\n"
        );
        assert_eq!(record(&text).image.tagged(), Some("quay.io/org/app:2"));
    }

    #[test]
    fn an_invalid_image_names_the_report_and_field() {
        let cases = [
            (
                "{server: 'bad host'}",
                "{repository: app, tag: '1'}",
                "report.registry.server",
            ),
            (
                "{server: gcr.io}",
                "{repository: Company/App, tag: '1'}",
                "report.artifact.repository",
            ),
            (
                "{server: gcr.io}",
                "{repository: app, tag: '-1'}",
                "report.artifact.tag",
            ),
            (
                "{server: gcr.io}",
                "{repository: app, digest: 'sha256:12'}",
                "report.artifact.digest",
            ),
        ];
        for (registry, artifact, expected) in cases {
            let text = format!(
                "metadata: {{name: r, namespace: ns}}\nreport:\n  registry: {registry}\n  artifact: {artifact}\n"
            );
            let error =
                record_from_report(&report(&text), &SeverityThresholds::default()).unwrap_err();
            let ScanDataError::InvalidReport {
                report,
                field,
                message,
            } = &error
            else {
                panic!("{error}");
            };
            assert_eq!((report.as_str(), field.as_str()), ("ns/r", expected));
            assert!(message.starts_with("invalid image reference"), "{message}");
            assert!(error.to_string().starts_with(&format!(
                "VulnerabilityReport ns/r: field `{expected}`: invalid image reference"
            )));
        }
    }

    #[test]
    fn an_unknown_severity_is_a_field_error() {
        let text = "report:\n  artifact: {repository: app}\n  vulnerabilities:\n  - {severity: LOW}\n  - {severity: SEVERE}\n";
        let documents = crate::manifest::parse_documents("r.yaml", text).unwrap();
        let error = documents[0].decode::<VulnerabilityReport>().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("r.yaml document 0: field `report.vulnerabilities[1].severity`: unknown severity \"SEVERE\""),
            "{error}"
        );
    }

    #[test]
    fn the_kube_resource_identity_is_trivys() {
        use kube::Resource;
        assert_eq!(VulnerabilityReport::api_version(&()), API_VERSION);
        assert_eq!(VulnerabilityReport::kind(&()), KIND);
        assert_eq!(
            VulnerabilityReport::url_path(&(), Some("default")),
            "/apis/aquasecurity.github.io/v1alpha1/namespaces/default/vulnerabilityreports"
        );
    }
}
