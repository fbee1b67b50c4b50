//! An in-memory set of scan results with the lookup rules of policy-semantics §6: digest first,
//! then the normalised tagged reference; the newest scan wins a key.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::{ScanRecord, ScanResult, ScanSource, ScanStatus, ScanUnavailable};
use crate::image::ImageRef;

/// Scan results keyed for allocation-free lookup. Keys are boxed (exactly sized, no capacity
/// word): with 10^5 results or more the index is most of what a scan-results file costs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanIndex {
    /// `sha256:…` → result. A digest names content, so the registry and tag do not matter.
    by_digest: HashMap<Box<str>, Stored>,
    /// `registry/path:tag` (`ImageRef::tagged`) → result.
    by_tag: HashMap<Box<str>, Stored>,
    records: usize,
}

/// A [`ScanResult`] in 16 bytes instead of 32 (`Option<Timestamp>` takes 24): a third less per
/// index entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stored {
    second: i64,
    nanosecond: i32,
    status: ScanStatus,
    timed: bool,
}

impl From<ScanResult> for Stored {
    fn from(result: ScanResult) -> Self {
        let (second, nanosecond) = result
            .last_scan
            .map_or((0, 0), |time| (time.as_second(), time.subsec_nanosecond()));
        Stored {
            second,
            nanosecond,
            status: result.status,
            timed: result.last_scan.is_some(),
        }
    }
}

impl From<Stored> for ScanResult {
    fn from(stored: Stored) -> Self {
        ScanResult {
            status: stored.status,
            // The parts came from a valid timestamp, so `new` cannot fail.
            last_scan: stored
                .timed
                .then(|| jiff::Timestamp::new(stored.second, stored.nanosecond).ok())
                .flatten(),
        }
    }
}

impl ScanIndex {
    pub fn new() -> ScanIndex {
        ScanIndex::default()
    }

    pub fn from_records(records: impl IntoIterator<Item = ScanRecord>) -> ScanIndex {
        let mut index = ScanIndex::default();
        index.extend(records);
        index
    }

    /// Indexes a record under its digest and under its tagged reference (each when present).
    pub fn insert(&mut self, record: ScanRecord) {
        if let Some(digest) = record.image.digest() {
            keep_newest(&mut self.by_digest, digest, record.result.into());
        }
        if let Some(tagged) = record.image.tagged() {
            keep_newest(&mut self.by_tag, tagged, record.result.into());
        }
        self.records += 1;
    }

    /// Adds every record of `other`, as if each had been inserted here.
    pub fn merge(&mut self, other: ScanIndex) {
        if self.is_empty() {
            *self = other;
            return;
        }
        for (digest, result) in other.by_digest {
            keep_newest_owned(&mut self.by_digest, digest, result);
        }
        for (tagged, result) in other.by_tag {
            keep_newest_owned(&mut self.by_tag, tagged, result);
        }
        self.records += other.records;
    }

    /// The result for `image`: by digest first, then by `registry/path:tag`.
    pub fn get(&self, image: &ImageRef) -> Option<ScanResult> {
        let by_digest = image.digest().and_then(|digest| self.by_digest.get(digest));
        let by_tag = || image.tagged().and_then(|tagged| self.by_tag.get(tagged));
        by_digest.or_else(by_tag).map(|&stored| stored.into())
    }

    /// The newest scan time of any result (for the data-age metric), if any has one. The
    /// newest result of a key is kept, so the newest overall is too.
    pub fn newest_scan(&self) -> Option<jiff::Timestamp> {
        self.by_digest
            .values()
            .chain(self.by_tag.values())
            .filter_map(|&stored| ScanResult::from(stored).last_scan)
            .max()
    }

    /// How many records were inserted, including those superseded by newer scans.
    pub fn len(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}

impl ScanSource for ScanIndex {
    fn lookup(&self, image: &ImageRef) -> Result<Option<ScanResult>, ScanUnavailable> {
        Ok(self.get(image))
    }
}

impl Extend<ScanRecord> for ScanIndex {
    fn extend<T: IntoIterator<Item = ScanRecord>>(&mut self, records: T) {
        for record in records {
            self.insert(record);
        }
    }
}

impl FromIterator<ScanRecord> for ScanIndex {
    fn from_iter<T: IntoIterator<Item = ScanRecord>>(records: T) -> Self {
        ScanIndex::from_records(records)
    }
}

fn keep_newest(map: &mut HashMap<Box<str>, Stored>, key: &str, result: Stored) {
    match map.get_mut(key) {
        Some(existing) => {
            if supersedes(&result, existing) {
                *existing = result;
            }
        }
        None => {
            map.insert(key.into(), result);
        }
    }
}

fn keep_newest_owned(map: &mut HashMap<Box<str>, Stored>, key: Box<str>, result: Stored) {
    match map.entry(key) {
        Entry::Occupied(mut existing) => {
            if supersedes(&result, existing.get()) {
                existing.insert(result);
            }
        }
        Entry::Vacant(vacant) => {
            vacant.insert(result);
        }
    }
}

/// Newer scans win; no scan time is older than any. Equal times go to the more severe status so
/// that the outcome does not depend on the order in which reports arrive.
fn supersedes(new: &Stored, old: &Stored) -> bool {
    let key = |stored: &Stored| {
        (
            stored.timed,
            stored.second,
            stored.nanosecond,
            severity_rank(stored.status),
        )
    };
    key(new) > key(old)
}

fn severity_rank(status: ScanStatus) -> u8 {
    match status {
        ScanStatus::Pass => 0,
        ScanStatus::Unknown => 1,
        ScanStatus::Warn => 2,
        ScanStatus::Fail => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const OTHER_DIGEST: &str =
        "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    fn image(reference: &str) -> ImageRef {
        ImageRef::parse(reference).unwrap()
    }

    fn at(text: &str) -> Option<jiff::Timestamp> {
        Some(text.parse().unwrap())
    }

    fn record(
        reference: &str,
        status: ScanStatus,
        last_scan: Option<jiff::Timestamp>,
    ) -> ScanRecord {
        ScanRecord {
            image: image(reference),
            result: ScanResult { status, last_scan },
        }
    }

    fn status_of(index: &ScanIndex, reference: &str) -> Option<ScanStatus> {
        index
            .lookup(&image(reference))
            .unwrap()
            .map(|result| result.status)
    }

    #[test]
    fn a_never_scanned_image_has_no_result() {
        let index = ScanIndex::from_records([record("nginx:1.25", ScanStatus::Pass, None)]);
        assert_eq!(index.lookup(&image("nginx:1.26")), Ok(None));
        assert_eq!(ScanIndex::new().lookup(&image("nginx")), Ok(None));
    }

    #[test]
    fn lookup_uses_the_normalised_reference() {
        let index = ScanIndex::from_records([record(
            "index.docker.io/library/nginx:1.25",
            ScanStatus::Warn,
            None,
        )]);
        assert_eq!(status_of(&index, "nginx:1.25"), Some(ScanStatus::Warn));
        assert_eq!(
            status_of(&index, "docker.io/nginx:1.25"),
            Some(ScanStatus::Warn)
        );
        assert_eq!(status_of(&index, "nginx"), None);
    }

    #[test]
    fn the_newest_scan_is_that_of_any_result_with_a_time() {
        assert_eq!(ScanIndex::default().newest_scan(), None);
        let untimed = ScanIndex::from_records([record("a", ScanStatus::Pass, None)]);
        assert_eq!(untimed.newest_scan(), None);
        let index = ScanIndex::from_records([
            record("a", ScanStatus::Pass, at("2026-01-01T00:00:00Z")),
            record(
                &format!("b@{DIGEST}"),
                ScanStatus::Fail,
                at("2026-03-01T00:00:00Z"),
            ),
            record("c", ScanStatus::Warn, None),
        ]);
        assert_eq!(index.newest_scan(), at("2026-03-01T00:00:00Z"));
    }

    #[test]
    fn a_bare_name_matches_a_latest_record() {
        let index = ScanIndex::from_records([record("nginx:latest", ScanStatus::Pass, None)]);
        assert_eq!(status_of(&index, "nginx"), Some(ScanStatus::Pass));
    }

    #[test]
    fn a_digest_result_matches_whatever_tag_the_reference_carries() {
        let index = ScanIndex::from_records([record(
            &format!("gcr.io/a/api@{DIGEST}"),
            ScanStatus::Fail,
            None,
        )]);
        assert_eq!(
            status_of(&index, &format!("gcr.io/a/api:9.9@{DIGEST}")),
            Some(ScanStatus::Fail)
        );
        assert_eq!(
            status_of(&index, &format!("gcr.io/a/api@{DIGEST}")),
            Some(ScanStatus::Fail)
        );
        assert_eq!(status_of(&index, "gcr.io/a/api:9.9"), None);
    }

    #[test]
    fn digest_wins_over_tag() {
        let index = ScanIndex::from_records([
            record(
                "gcr.io/a/api:1.2",
                ScanStatus::Pass,
                at("2026-01-02T00:00:00Z"),
            ),
            record(
                &format!("gcr.io/a/api@{DIGEST}"),
                ScanStatus::Fail,
                at("2026-01-01T00:00:00Z"),
            ),
        ]);
        // The digest record is older, but a digest match is exact.
        assert_eq!(
            status_of(&index, &format!("gcr.io/a/api:1.2@{DIGEST}")),
            Some(ScanStatus::Fail)
        );
    }

    #[test]
    fn an_unknown_digest_falls_back_to_the_tag() {
        let index = ScanIndex::from_records([record("gcr.io/a/api:1.2", ScanStatus::Pass, None)]);
        assert_eq!(
            status_of(&index, &format!("gcr.io/a/api:1.2@{OTHER_DIGEST}")),
            Some(ScanStatus::Pass)
        );
    }

    #[test]
    fn a_digest_only_reference_does_not_fall_back_to_latest() {
        let index =
            ScanIndex::from_records([record("gcr.io/a/api:latest", ScanStatus::Pass, None)]);
        assert_eq!(status_of(&index, &format!("gcr.io/a/api@{DIGEST}")), None);
    }

    #[test]
    fn a_record_with_tag_and_digest_is_found_by_either() {
        let index = ScanIndex::from_records([record(
            &format!("gcr.io/a/api:1.2@{DIGEST}"),
            ScanStatus::Warn,
            None,
        )]);
        assert_eq!(
            status_of(&index, "gcr.io/a/api:1.2"),
            Some(ScanStatus::Warn)
        );
        assert_eq!(
            status_of(&index, &format!("other.io/b@{DIGEST}")),
            Some(ScanStatus::Warn)
        );
    }

    #[test]
    fn the_newest_scan_wins_regardless_of_order() {
        let older = record("app:1", ScanStatus::Fail, at("2026-01-01T00:00:00Z"));
        let newer = record("app:1", ScanStatus::Pass, at("2026-01-02T00:00:00Z"));
        for records in [[older.clone(), newer.clone()], [newer, older]] {
            let index = ScanIndex::from_records(records);
            assert_eq!(status_of(&index, "app:1"), Some(ScanStatus::Pass));
            assert_eq!(index.len(), 2);
        }
    }

    #[test]
    fn a_record_without_scan_time_is_older_than_any_with_one() {
        let timed = record("app:1", ScanStatus::Pass, at("1970-01-01T00:00:00Z"));
        let untimed = record("app:1", ScanStatus::Fail, None);
        for records in [[timed.clone(), untimed.clone()], [untimed, timed]] {
            let index = ScanIndex::from_records(records);
            assert_eq!(status_of(&index, "app:1"), Some(ScanStatus::Pass));
        }
    }

    #[test]
    fn equal_scan_times_go_to_the_more_severe_status() {
        let time = at("2026-01-01T00:00:00Z");
        let pass = record("app:1", ScanStatus::Pass, time);
        let warn = record("app:1", ScanStatus::Warn, time);
        for records in [[pass.clone(), warn.clone()], [warn, pass]] {
            let index = ScanIndex::from_records(records);
            assert_eq!(status_of(&index, "app:1"), Some(ScanStatus::Warn));
        }
    }

    #[test]
    fn newest_wins_per_digest_key_too() {
        let index: ScanIndex = [
            record(
                &format!("a@{DIGEST}"),
                ScanStatus::Pass,
                at("2026-01-02T00:00:00Z"),
            ),
            record(
                &format!("b:1@{DIGEST}"),
                ScanStatus::Fail,
                at("2026-01-01T00:00:00Z"),
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            status_of(&index, &format!("c@{DIGEST}")),
            Some(ScanStatus::Pass)
        );
        // The older record still owns its tag key.
        assert_eq!(status_of(&index, "b:1"), Some(ScanStatus::Fail));
    }

    #[test]
    fn the_result_carries_the_scan_time() {
        let time = at("2026-11-25T10:00:00Z");
        let index = ScanIndex::from_records([record("app:1", ScanStatus::Pass, time)]);
        assert_eq!(
            index.lookup(&image("app:1")),
            Ok(Some(ScanResult {
                status: ScanStatus::Pass,
                last_scan: time
            }))
        );
    }

    #[test]
    fn merging_keeps_the_newest_scan_and_counts_every_record() {
        let older = record("app:1", ScanStatus::Fail, at("2026-01-01T00:00:00Z"));
        let newer = record("app:1", ScanStatus::Pass, at("2026-01-02T00:00:00Z"));
        let digest = record(&format!("b@{DIGEST}"), ScanStatus::Warn, None);
        for (first, second) in [(older.clone(), newer.clone()), (newer, older)] {
            let mut index = ScanIndex::from_records([first]);
            index.merge(ScanIndex::from_records([second, digest.clone()]));
            assert_eq!(index.len(), 3);
            assert_eq!(status_of(&index, "app:1"), Some(ScanStatus::Pass));
            assert_eq!(
                status_of(&index, &format!("c@{DIGEST}")),
                Some(ScanStatus::Warn)
            );
        }
        let mut empty = ScanIndex::new();
        empty.merge(ScanIndex::from_records([digest]));
        assert_eq!(empty.len(), 1);
    }

    #[test]
    fn results_are_stored_compactly_and_read_back_exactly() {
        assert_eq!(std::mem::size_of::<Stored>(), 16);
        for last_scan in [
            None,
            at("1969-12-31T23:59:59.999999999Z"),
            at("2026-11-25T10:00:00.5Z"),
        ] {
            for status in ScanStatus::ALL {
                let result = ScanResult { status, last_scan };
                assert_eq!(ScanResult::from(Stored::from(result)), result);
            }
        }
    }

    #[test]
    fn a_scan_a_nanosecond_newer_wins() {
        let older = record(
            "app:1",
            ScanStatus::Fail,
            at("1969-12-31T23:59:59.999999999Z"),
        );
        let newer = record("app:1", ScanStatus::Pass, at("1970-01-01T00:00:00Z"));
        for records in [[older.clone(), newer.clone()], [newer, older]] {
            let index = ScanIndex::from_records(records);
            assert_eq!(status_of(&index, "app:1"), Some(ScanStatus::Pass));
        }
    }

    #[test]
    fn len_counts_inserted_records() {
        let mut index = ScanIndex::default();
        assert!(index.is_empty());
        index.insert(record("app:1", ScanStatus::Pass, None));
        index.insert(record("app:2", ScanStatus::Pass, None));
        assert_eq!(index.len(), 2);
        assert!(!index.is_empty());
    }
}
