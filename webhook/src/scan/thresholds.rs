//! Turning vulnerability counts into a scan status. The defaults follow Calico's CVSS
//! thresholds (§1.7 of the reference): High/Critical → Fail, Medium → Warn, Low/None → Pass.

use std::fmt;
use std::str::FromStr;

use super::ScanStatus;

/// Trivy's severities, least severe first. `Unknown` is a finding whose severity nobody rated;
/// Trivy orders it below `Low`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Unknown,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// Trivy's spelling: `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Case-insensitive, so that a CLI flag may say `high` and Trivy `HIGH`.
impl FromStr for Severity {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| ThresholdError::UnknownSeverity(text.to_string()))
    }
}

impl<'de> serde::Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error(
        "unknown severity {0:?}, expected one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN (any case)"
    )]
    UnknownSeverity(String),
    #[error("the warn threshold ({warn_at}) must not be above the fail threshold ({fail_at})")]
    WarnAboveFail {
        warn_at: Severity,
        fail_at: Severity,
    },
}

/// How many findings of each severity a scan reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub unknown: u64,
}

impl SeverityCounts {
    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Unknown => self.unknown,
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }

    /// Counts one more finding of `severity`.
    pub fn add(&mut self, severity: Severity) {
        let count = match severity {
            Severity::Unknown => &mut self.unknown,
            Severity::Low => &mut self.low,
            Severity::Medium => &mut self.medium,
            Severity::High => &mut self.high,
            Severity::Critical => &mut self.critical,
        };
        *count = count.saturating_add(1);
    }

    /// The most severe finding, if there is any.
    pub fn highest(&self) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .rev()
            .find(|&severity| self.get(severity) > 0)
    }
}

/// Any finding at or above `fail_at` → `Fail`; else any at or above `warn_at` → `Warn`; else
/// `Pass`. Build with [`SeverityThresholds::new`] to have `warn_at <= fail_at` checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeverityThresholds {
    pub fail_at: Severity,
    pub warn_at: Severity,
}

impl Default for SeverityThresholds {
    fn default() -> Self {
        SeverityThresholds {
            fail_at: Severity::High,
            warn_at: Severity::Medium,
        }
    }
}

impl SeverityThresholds {
    /// `warn_at == fail_at` is allowed and means "never warn".
    pub fn new(fail_at: Severity, warn_at: Severity) -> Result<Self, ThresholdError> {
        if warn_at > fail_at {
            return Err(ThresholdError::WarnAboveFail { warn_at, fail_at });
        }
        Ok(SeverityThresholds { fail_at, warn_at })
    }

    /// From strings such as `high` and `MEDIUM` (for command-line flags).
    pub fn parse(fail_at: &str, warn_at: &str) -> Result<Self, ThresholdError> {
        SeverityThresholds::new(fail_at.parse()?, warn_at.parse()?)
    }

    pub fn status(&self, counts: &SeverityCounts) -> ScanStatus {
        match counts.highest() {
            Some(highest) if highest >= self.fail_at => ScanStatus::Fail,
            Some(highest) if highest >= self.warn_at => ScanStatus::Warn,
            _ => ScanStatus::Pass,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(severities: &[Severity]) -> SeverityCounts {
        let mut counts = SeverityCounts::default();
        for &severity in severities {
            counts.add(severity);
        }
        counts
    }

    #[test]
    fn default_fails_on_critical_or_high() {
        let thresholds = SeverityThresholds::default();
        assert_eq!(
            thresholds.status(&counts(&[Severity::Critical])),
            ScanStatus::Fail
        );
        assert_eq!(
            thresholds.status(&counts(&[Severity::Low, Severity::High])),
            ScanStatus::Fail
        );
    }

    #[test]
    fn default_warns_on_medium() {
        let thresholds = SeverityThresholds::default();
        assert_eq!(
            thresholds.status(&counts(&[Severity::Medium, Severity::Low])),
            ScanStatus::Warn
        );
    }

    #[test]
    fn default_passes_low_unknown_and_clean_scans() {
        let thresholds = SeverityThresholds::default();
        assert_eq!(thresholds.status(&counts(&[])), ScanStatus::Pass);
        assert_eq!(
            thresholds.status(&counts(&[Severity::Low, Severity::Unknown])),
            ScanStatus::Pass
        );
    }

    #[test]
    fn custom_thresholds_move_the_boundaries() {
        let strict = SeverityThresholds::new(Severity::Medium, Severity::Low).unwrap();
        assert_eq!(
            strict.status(&counts(&[Severity::Medium])),
            ScanStatus::Fail
        );
        assert_eq!(strict.status(&counts(&[Severity::Low])), ScanStatus::Warn);
        assert_eq!(
            strict.status(&counts(&[Severity::Unknown])),
            ScanStatus::Pass
        );

        let lenient = SeverityThresholds::new(Severity::Critical, Severity::High).unwrap();
        assert_eq!(lenient.status(&counts(&[Severity::High])), ScanStatus::Warn);
        assert_eq!(
            lenient.status(&counts(&[Severity::Medium])),
            ScanStatus::Pass
        );
    }

    #[test]
    fn equal_thresholds_never_warn() {
        let thresholds = SeverityThresholds::new(Severity::High, Severity::High).unwrap();
        assert_eq!(
            thresholds.status(&counts(&[Severity::Medium])),
            ScanStatus::Pass
        );
        assert_eq!(
            thresholds.status(&counts(&[Severity::High])),
            ScanStatus::Fail
        );
    }

    #[test]
    fn warn_above_fail_is_refused() {
        assert_eq!(
            SeverityThresholds::new(Severity::Medium, Severity::High),
            Err(ThresholdError::WarnAboveFail {
                warn_at: Severity::High,
                fail_at: Severity::Medium
            })
        );
        assert_eq!(
            SeverityThresholds::parse("medium", "high")
                .unwrap_err()
                .to_string(),
            "the warn threshold (HIGH) must not be above the fail threshold (MEDIUM)"
        );
    }

    #[test]
    fn severities_parse_in_any_case() {
        assert_eq!("high".parse::<Severity>(), Ok(Severity::High));
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert_eq!("Critical".parse::<Severity>(), Ok(Severity::Critical));
        assert_eq!(
            SeverityThresholds::parse("CRITICAL", "low"),
            Ok(SeverityThresholds {
                fail_at: Severity::Critical,
                warn_at: Severity::Low
            })
        );
    }

    #[test]
    fn unknown_severity_names_are_refused() {
        let error = "severe".parse::<Severity>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown severity \"severe\", expected one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN (any case)"
        );
    }

    #[test]
    fn severities_are_ordered_as_trivy_orders_them() {
        assert!(Severity::Unknown < Severity::Low);
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::High < Severity::Critical);
    }

    #[test]
    fn counts_report_the_highest_severity() {
        assert_eq!(counts(&[]).highest(), None);
        assert_eq!(
            counts(&[Severity::Unknown, Severity::Medium, Severity::Low]).highest(),
            Some(Severity::Medium)
        );
        assert_eq!(
            counts(&[Severity::High, Severity::High]).get(Severity::High),
            2
        );
    }
}
