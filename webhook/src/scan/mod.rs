//! Image scan results (policy-semantics §6): what a scan says about an image, and the one
//! lookup interface every source (scan-results file, Trivy `VulnerabilityReport`s) answers.

mod documents;
mod file;
mod index;
mod stream;
mod thresholds;
pub mod trivy;

use std::fmt;

use crate::image::ImageRef;
use crate::manifest::{ManifestError, Origin};

pub use documents::MAX_LINE_BYTES as MAX_SCAN_LINE_BYTES;
pub use file::{MAX_SCAN_FILE_BYTES, load_scan_file, parse_scan_documents};
pub use index::ScanIndex;
pub use thresholds::{Severity, SeverityCounts, SeverityThresholds, ThresholdError};
pub use trivy::{VulnerabilityReport, record_from_report};

/// The assessment of an image, compared exactly (case-sensitive) by `imageScanStatus`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum ScanStatus {
    Pass,
    Warn,
    Fail,
    Unknown,
}

impl ScanStatus {
    pub const ALL: [ScanStatus; 4] = [
        ScanStatus::Pass,
        ScanStatus::Warn,
        ScanStatus::Fail,
        ScanStatus::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Pass => "Pass",
            ScanStatus::Warn => "Warn",
            ScanStatus::Fail => "Fail",
            ScanStatus::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for ScanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one scan of an image found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanResult {
    pub status: ScanStatus,
    /// `None` when the source did not say when the scan ran; such an image matches no
    /// `imageLastScan` criterion.
    pub last_scan: Option<jiff::Timestamp>,
}

/// A scan result and the image it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRecord {
    pub image: ImageRef,
    pub result: ScanResult,
}

/// A configured source that cannot answer right now (not synced, unreadable); evaluations that
/// need scan data fail closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("scan data is unavailable: {reason}")]
pub struct ScanUnavailable {
    pub reason: String,
}

/// Where evaluations get scan results from.
pub trait ScanSource: Send + Sync {
    /// Ok(None): the image was never scanned. Err: the source is configured but unavailable.
    fn lookup(&self, image: &ImageRef) -> Result<Option<ScanResult>, ScanUnavailable>;
}

/// No scan data at all (offline `evaluate` without `--scans`): every image is unscanned, and
/// nothing is unavailable, so nothing fails closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoScanData;

impl ScanSource for NoScanData {
    fn lookup(&self, _image: &ImageRef) -> Result<Option<ScanResult>, ScanUnavailable> {
        Ok(None)
    }
}

/// Scan data that could not be read. File errors name the file, the document and the field.
#[derive(Debug, thiserror::Error)]
pub enum ScanDataError {
    /// The file could not be read or parsed, or a field has the wrong type or value.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A document that is neither a scan-results document nor a `VulnerabilityReport`.
    #[error("{origin}: {message}")]
    UnexpectedDocument { origin: Origin, message: String },
    /// Nothing to read: a file without any document, or a directory without any scan file.
    /// Refused, so that a file truncated or not yet written is not read as "no image was ever
    /// scanned" (which would make every image `Unknown`); `images: []` is the empty set.
    #[error("{source_name}: no scan results: {what}; write `images: []` for an empty set")]
    Empty {
        source_name: String,
        what: &'static str,
    },
    /// A `VulnerabilityReport` (for instance one watched in-cluster) whose fields do not form a
    /// valid image reference. `report` is `namespace/name`.
    #[error("VulnerabilityReport {report}: field `{field}`: {message}")]
    InvalidReport {
        report: String,
        field: String,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialise_exactly_as_written_in_policies() {
        for status in ScanStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
            assert_eq!(serde_json::from_str::<ScanStatus>(&json).unwrap(), status);
        }
    }

    #[test]
    fn statuses_are_case_sensitive() {
        let error = serde_json::from_str::<ScanStatus>("\"pass\"").unwrap_err();
        assert!(
            error.to_string().starts_with(
                "unknown variant `pass`, expected one of `Pass`, `Warn`, `Fail`, `Unknown`"
            ),
            "{error}"
        );
    }

    #[test]
    fn no_scan_data_never_has_a_result() {
        let image = ImageRef::parse("nginx").unwrap();
        assert_eq!(NoScanData.lookup(&image), Ok(None));
    }

    #[test]
    fn unavailable_names_the_reason() {
        let error = ScanUnavailable {
            reason: "VulnerabilityReports not synced".into(),
        };
        assert_eq!(
            error.to_string(),
            "scan data is unavailable: VulnerabilityReports not synced"
        );
    }

    #[test]
    fn the_schema_lists_the_four_statuses() {
        let schema = serde_json::to_value(schemars::schema_for!(ScanStatus)).unwrap();
        assert_eq!(
            schema["enum"],
            serde_json::json!(["Pass", "Warn", "Fail", "Unknown"])
        );
    }
}
