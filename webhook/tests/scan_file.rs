//! Scan-results files on disk: both formats, YAML and JSON, several documents, and every class
//! of bad input reported with its file, document and field.

use std::io::Write;
use std::path::{Path, PathBuf};

use image_assurance::image::ImageRef;
use image_assurance::scan::{
    ScanDataError, ScanIndex, ScanResult, ScanSource, ScanStatus, Severity, SeverityThresholds,
    load_scan_file,
};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct ScanFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write(name: &str, text: &str) -> ScanFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    ScanFile { _dir: dir, path }
}

fn load(file: &ScanFile) -> Result<ScanIndex, ScanDataError> {
    load_scan_file(&file.path, &SeverityThresholds::default())
}

fn load_error(file: &ScanFile) -> String {
    match load(file) {
        Ok(index) => panic!("loaded {} records", index.len()),
        Err(error) => error.to_string(),
    }
}

fn lookup(index: &ScanIndex, reference: &str) -> Option<ScanResult> {
    index.lookup(&ImageRef::parse(reference).unwrap()).unwrap()
}

fn status(index: &ScanIndex, reference: &str) -> Option<ScanStatus> {
    lookup(index, reference).map(|result| result.status)
}

fn at(text: &str) -> Option<jiff::Timestamp> {
    Some(text.parse().unwrap())
}

fn located(path: &Path, rest: &str) -> String {
    format!("{} {rest}", path.display())
}

const VULNERABILITY_REPORT: &str = r#"apiVersion: aquasecurity.github.io/v1alpha1
kind: VulnerabilityReport
metadata:
  name: replicaset-web-7c9d8f6b5-nginx
  namespace: shop
report:
  artifact:
    repository: library/nginx
    tag: "1.25"
  registry:
    server: index.docker.io
  scanner: {name: Trivy, vendor: Aqua Security, version: 0.50.1}
  summary: {criticalCount: 0, highCount: 2, mediumCount: 5, lowCount: 10, unknownCount: 0, noneCount: 0}
  updateTimestamp: "2026-11-24T08:00:00Z"
  vulnerabilities: []
"#;

#[test]
fn yaml_in_our_format_is_loaded() {
    let file = write(
        "scans.yaml",
        r#"images:
  - image: gcr.io/company/production-repository/api:1.2
    status: Pass
    lastScan: "2026-11-25T10:00:00Z"
  - image: nginx
    status: Warn
  - image: quay.io/org/tool@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    status: Unknown
    lastScan: "2022-01-02T0:00:00Z"
"#,
    );
    let index = load(&file).unwrap();
    assert_eq!(index.len(), 3);
    assert_eq!(
        lookup(&index, "gcr.io/company/production-repository/api:1.2"),
        Some(ScanResult {
            status: ScanStatus::Pass,
            last_scan: at("2026-11-25T10:00:00Z")
        })
    );
    assert_eq!(
        status(&index, "docker.io/library/nginx:latest"),
        Some(ScanStatus::Warn)
    );
    assert_eq!(
        lookup(&index, &format!("quay.io/org/tool:any@{DIGEST}")),
        Some(ScanResult {
            status: ScanStatus::Unknown,
            last_scan: at("2022-01-02T00:00:00Z")
        })
    );
    assert_eq!(
        lookup(&index, "gcr.io/company/production-repository/api:1.3"),
        None
    );
}

#[test]
fn json_in_our_format_is_loaded() {
    let file = write(
        "scans.json",
        r#"{"images": [
            {"image": "nginx:1.25", "status": "Fail", "lastScan": "2026-11-25T10:00:00.5+01:00"},
            {"image": "localhost:5000/app", "status": "Pass"}
        ]}"#,
    );
    let index = load(&file).unwrap();
    assert_eq!(
        lookup(&index, "nginx:1.25"),
        Some(ScanResult {
            status: ScanStatus::Fail,
            last_scan: at("2026-11-25T09:00:00.5Z")
        })
    );
    assert_eq!(
        status(&index, "localhost:5000/app:latest"),
        Some(ScanStatus::Pass)
    );
}

#[test]
fn vulnerability_reports_are_loaded_and_match_docker_hub_short_names() {
    let file = write("reports.yaml", VULNERABILITY_REPORT);
    let index = load(&file).unwrap();
    assert_eq!(
        lookup(&index, "nginx:1.25"),
        Some(ScanResult {
            status: ScanStatus::Fail,
            last_scan: at("2026-11-24T08:00:00Z")
        })
    );
}

#[test]
fn thresholds_decide_the_status_of_reports() {
    let file = write("reports.yaml", VULNERABILITY_REPORT);
    let lenient = SeverityThresholds::new(Severity::Critical, Severity::High).unwrap();
    let index = load_scan_file(&file.path, &lenient).unwrap();
    assert_eq!(status(&index, "nginx:1.25"), Some(ScanStatus::Warn));
}

#[test]
fn multi_document_files_mix_both_formats_and_the_newest_scan_wins() {
    let text = format!(
        "images:\n- {{image: 'nginx:1.25', status: Pass, lastScan: '2026-11-20T00:00:00Z'}}\n---\n{VULNERABILITY_REPORT}---\nimages:\n- {{image: 'gcr.io/a/b:1', status: Warn}}\n"
    );
    let file = write("mixed.yaml", &text);
    let index = load(&file).unwrap();
    assert_eq!(index.len(), 3);
    // The report (24 November) is newer than the Pass entry (20 November).
    assert_eq!(status(&index, "nginx:1.25"), Some(ScanStatus::Fail));
    assert_eq!(status(&index, "gcr.io/a/b:1"), Some(ScanStatus::Warn));
}

#[test]
fn a_kubectl_list_of_reports_is_expanded() {
    let report = VULNERABILITY_REPORT.replace('\n', "\n    ");
    let digest_report = format!(
        "apiVersion: aquasecurity.github.io/v1alpha1\n    kind: VulnerabilityReport\n    report:\n      artifact: {{repository: org/app, digest: '{DIGEST}'}}\n      registry: {{server: ghcr.io}}\n      vulnerabilities: [{{severity: MEDIUM}}]\n"
    );
    let text = format!("apiVersion: v1\nkind: List\nitems:\n  - {report}\n  - {digest_report}");
    let file = write("list.yaml", &text);
    let index = load(&file).unwrap();
    assert_eq!(index.len(), 2);
    assert_eq!(status(&index, "nginx:1.25"), Some(ScanStatus::Fail));
    assert_eq!(
        status(&index, &format!("ghcr.io/org/app:v2@{DIGEST}")),
        Some(ScanStatus::Warn)
    );
}

#[test]
fn a_directory_of_scan_files_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "images:\n- {image: a, status: Pass}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.json"),
        r#"{"images":[{"image":"b","status":"Fail"}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not scan data").unwrap();
    let index = load_scan_file(dir.path(), &SeverityThresholds::default()).unwrap();
    assert_eq!(index.len(), 2);
    assert_eq!(status(&index, "b"), Some(ScanStatus::Fail));
}

/// A file truncated or not yet written must not read as "nothing was ever scanned", which
/// makes every image `Unknown` and so admits a failed image under a policy that rejects only
/// `Fail`.
#[test]
fn an_empty_file_is_an_error_and_images_empty_is_the_empty_set() {
    for text in ["", "\n", "# results follow\n"] {
        let file = write("empty.yaml", text);
        assert_eq!(
            load_error(&file),
            format!(
                "{}: no scan results: the file holds no document (it is empty, or only blank lines and comments); write `images: []` for an empty set",
                file.path.display()
            ),
            "{text:?}"
        );
    }
    for text in ["images: []\n", r#"{"images": []}"#] {
        assert!(
            load(&write("none.yaml", text)).unwrap().is_empty(),
            "{text}"
        );
    }
}

#[test]
fn a_directory_without_scan_files_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not scan data").unwrap();
    let error = load_scan_file(dir.path(), &SeverityThresholds::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: no scan results: the directory holds no .yaml, .yml or .json file; write `images: []` for an empty set",
            dir.path().display()
        )
    );
}

#[test]
fn a_stream_without_line_breaks_is_cut_off_at_the_line_limit() {
    let error = load_scan_file(Path::new("/dev/zero"), &SeverityThresholds::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "/dev/zero: cannot read: line 1: longer than 16 MiB, the most one line may hold"
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let file = write("huge.yaml", "");
    std::fs::File::options()
        .write(true)
        .open(&file.path)
        .unwrap()
        .set_len(image_assurance::scan::MAX_SCAN_FILE_BYTES + 1)
        .unwrap();
    assert_eq!(
        load_error(&file),
        format!(
            "{}: larger than 256 MiB, the most a scan-results file may hold; not read",
            file.path.display()
        )
    );
}

#[test]
fn a_missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.yaml");
    let error = load_scan_file(&path, &SeverityThresholds::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: cannot read", path.display())),
        "{error}"
    );
}

#[test]
fn malformed_yaml_names_the_file_and_document() {
    let file = write("bad.yaml", "images: []\n---\nimages: [\n");
    let error = load_error(&file);
    assert!(
        error.starts_with(&located(&file.path, "document 1: not valid YAML")),
        "{error}"
    );
}

#[test]
fn a_lowercase_status_names_document_index_and_field() {
    let file = write(
        "scans.yaml",
        "images: []\n---\nimages:\n  - {image: a, status: Pass}\n  - {image: b, status: Warn}\n  - {image: c, status: pass}\n",
    );
    assert_eq!(
        load_error(&file),
        located(
            &file.path,
            "document 1: field `images[2].status`: unknown variant `pass`, expected one of `Pass`, `Warn`, `Fail`, `Unknown`"
        )
    );
}

#[test]
fn an_invalid_image_names_the_field() {
    let file = write(
        "scans.yaml",
        "images:\n  - {image: a, status: Pass}\n  - {image: Foo, status: Pass}\n",
    );
    assert_eq!(
        load_error(&file),
        located(
            &file.path,
            "document 0: field `images[1].image`: invalid image reference \"Foo\": repository path \"Foo\" must be lowercase"
        )
    );
}

#[test]
fn an_invalid_last_scan_names_the_field() {
    let file = write(
        "scans.yaml",
        "images:\n  - {image: a, status: Pass, lastScan: '2026-02-30T10:00:00Z'}\n",
    );
    assert_eq!(
        load_error(&file),
        located(
            &file.path,
            "document 0: field `images[0].lastScan`: invalid RFC 3339 timestamp \"2026-02-30T10:00:00Z\": day 30 is out of range for 2026-02"
        )
    );
}

#[test]
fn json_errors_name_the_field_too() {
    let file = write(
        "scans.json",
        r#"{"images":[{"image":"a","status":"FAIL"}]}"#,
    );
    assert!(
        load_error(&file).starts_with(&located(
            &file.path,
            "document 0: field `images[0].status`: unknown variant `FAIL`"
        )),
        "{}",
        load_error(&file)
    );
}

#[test]
fn a_missing_status_names_the_entry() {
    let file = write("scans.yaml", "images:\n  - image: a\n");
    assert_eq!(
        load_error(&file),
        located(
            &file.path,
            "document 0: field `images[0]`: missing field `status`"
        )
    );
}

#[test]
fn images_of_the_wrong_type_names_the_field() {
    let file = write("scans.yaml", "images: nginx\n");
    assert!(
        load_error(&file).starts_with(&located(
            &file.path,
            "document 0: field `images`: invalid type"
        )),
        "{}",
        load_error(&file)
    );
}

#[test]
fn a_document_of_neither_format_says_what_was_expected() {
    let file = write(
        "scans.yaml",
        "images: []\n---\napiVersion: v1\nkind: ConfigMap\n",
    );
    assert_eq!(
        load_error(&file),
        located(
            &file.path,
            "document 1: expected a scan-results document (a mapping with `images`) or a VulnerabilityReport (apiVersion aquasecurity.github.io/v1alpha1), found ConfigMap (v1)"
        )
    );
    let file = write("scans.yaml", "image: nginx\nstatus: Pass\n");
    assert!(
        load_error(&file).ends_with("found a mapping without `images`"),
        "{}",
        load_error(&file)
    );
}

#[test]
fn a_report_of_the_wrong_version_is_refused() {
    let file = write(
        "reports.yaml",
        &VULNERABILITY_REPORT.replace("v1alpha1", "v1beta1"),
    );
    assert!(
        load_error(&file).ends_with("found VulnerabilityReport (aquasecurity.github.io/v1beta1)"),
        "{}",
        load_error(&file)
    );
}

#[test]
fn a_report_field_of_the_wrong_type_names_the_field() {
    let file = write(
        "reports.yaml",
        &VULNERABILITY_REPORT.replace("highCount: 2", "highCount: -2"),
    );
    assert!(
        load_error(&file).starts_with(&located(
            &file.path,
            "document 0: field `report.summary.highCount`: invalid value"
        )),
        "{}",
        load_error(&file)
    );
}

#[test]
fn a_report_with_a_bad_timestamp_names_the_field() {
    let file = write(
        "reports.yaml",
        &VULNERABILITY_REPORT.replace("2026-11-24T08:00:00Z", "2026-11-24 08:00:00Z"),
    );
    assert!(
        load_error(&file).starts_with(&located(
            &file.path,
            "document 0: field `report.updateTimestamp`: invalid RFC 3339 timestamp"
        )),
        "{}",
        load_error(&file)
    );
}

#[test]
fn a_report_in_a_list_with_a_bad_image_names_the_item_and_field() {
    let bad = VULNERABILITY_REPORT
        .replace("tag: \"1.25\"", "tag: \"-1.25\"")
        .replace('\n', "\n    ");
    let good = VULNERABILITY_REPORT.replace('\n', "\n    ");
    let text = format!("apiVersion: v1\nkind: List\nitems:\n  - {good}\n  - {bad}");
    let file = write("list.yaml", &text);
    assert!(
        load_error(&file).starts_with(&located(
            &file.path,
            "document 0 item 1: field `report.artifact.tag`: invalid image reference \"index.docker.io/library/nginx:-1.25\""
        )),
        "{}",
        load_error(&file)
    );
}

#[test]
fn a_report_without_an_artifact_names_the_missing_field() {
    let file = write(
        "reports.yaml",
        "apiVersion: aquasecurity.github.io/v1alpha1\nkind: VulnerabilityReport\nreport:\n  registry: {server: gcr.io}\n",
    );
    assert_eq!(
        load_error(&file),
        located(
            &file.path,
            "document 0: field `report`: missing field `artifact`"
        )
    );
}

/// `count` entries in our format, as YAML; entry `bad` (if any) has a lowercase status.
fn many_results_yaml(count: usize, bad: Option<usize>) -> String {
    let mut text = String::with_capacity(count * 100);
    text.push_str("# generated\nimages:\n");
    for index in 0..count {
        let status = if Some(index) == bad { "pass" } else { "Pass" };
        text.push_str(&format!(
            "  - image: registry.example.com/team-{}/service-{index}:1.{}\n    status: {status}\n    lastScan: \"2026-11-25T10:00:00Z\"\n",
            index % 97,
            index % 13
        ));
    }
    text
}

#[test]
fn a_yaml_file_of_a_hundred_thousand_results_is_loaded() {
    // Seven YAML nodes per entry: far beyond the parser's default budget of 250,000 nodes.
    let count = 100_000;
    let file = write("scans.yaml", &many_results_yaml(count, None));
    let index = load(&file).unwrap();
    assert_eq!(index.len(), count);
    assert_eq!(
        lookup(&index, "registry.example.com/team-89/service-99999:1.3"),
        Some(ScanResult {
            status: ScanStatus::Pass,
            last_scan: at("2026-11-25T10:00:00Z")
        })
    );
}

#[test]
fn an_error_deep_in_a_large_yaml_file_names_its_entry() {
    let file = write(
        "scans.yaml",
        &format!(
            "images: []\n---\n{}",
            many_results_yaml(20_000, Some(12_345))
        ),
    );
    assert_eq!(
        load_error(&file),
        located(
            &file.path,
            "document 1: field `images[12345].status`: unknown variant `pass`, expected one of `Pass`, `Warn`, `Fail`, `Unknown`"
        )
    );
}

#[test]
fn an_error_deep_in_a_large_json_file_names_its_entry() {
    let entries: Vec<String> = (0..50_000)
        .map(|index| {
            let image = if index == 43_210 {
                "Bad/Image".to_string()
            } else {
                format!("gcr.io/a/app-{index}:1")
            };
            format!(r#"{{"image": "{image}", "status": "Warn"}}"#)
        })
        .collect();
    let file = write(
        "scans.json",
        &format!("{{\"images\": [\n{}\n]}}\n", entries.join(",\n")),
    );
    assert!(
        load_error(&file).starts_with(&located(
            &file.path,
            "document 0: field `images[43210].image`: invalid image reference \"Bad/Image\""
        )),
        "{}",
        load_error(&file)
    );
}

#[test]
fn a_syntax_error_after_many_entries_names_the_document() {
    let text = format!(
        "images: []\n---\n{}  - image: a\n    status: [\n",
        many_results_yaml(1_000, None)
    );
    let file = write("scans.yaml", &text);
    let error = load_error(&file);
    assert!(
        error.starts_with(&located(&file.path, "document 1: not valid YAML")),
        "{error}"
    );
}

#[test]
fn json_and_yaml_files_in_a_directory_are_merged_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.json"),
        r#"{"images":[{"image":"app:1","status":"Fail","lastScan":"2026-01-02T00:00:00Z"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "images:\n- {image: 'app:1', status: Pass, lastScan: '2026-01-01T00:00:00Z'}\n- {image: other, status: Warn}\n",
    )
    .unwrap();
    let index = load_scan_file(dir.path(), &SeverityThresholds::default()).unwrap();
    assert_eq!(index.len(), 3);
    assert_eq!(status(&index, "app:1"), Some(ScanStatus::Fail));
    assert_eq!(status(&index, "other"), Some(ScanStatus::Warn));
}

#[test]
fn a_file_that_is_not_utf8_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("bad.yaml", &b"images:\n- {image: \xff, status: Pass}\n"[..]),
        (
            "bad.json",
            &b"{\"images\": [{\"image\": \"\xff\", \"status\": \"Pass\"}]}"[..],
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let error = load_scan_file(&path, &SeverityThresholds::default())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        assert!(error.contains("UTF-8"), "{error}");
    }
}
