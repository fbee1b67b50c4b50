//! The scan-results file reader: formats, errors naming file, document and field, and the
//! bounds on what is read.

use super::*;
use crate::image::ImageRef;
use crate::scan::{ScanResult, ScanSource, ScanStatus};

fn parse(text: &str) -> Result<ScanIndex, ScanDataError> {
    parse_scan_documents("scans.yaml", text, &SeverityThresholds::default())
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(index) => panic!("parsed {} records", index.len()),
        Err(error) => error.to_string(),
    }
}

#[test]
fn our_format_is_read_with_any_reference_form() {
    let index = parse(
        "images:\n- image: nginx:1.25\n  status: Fail\n- image: gcr.io/a/api:1.2\n  status: Pass\n  lastScan: \"2022-01-02T0:00:00Z\"\n",
    )
    .unwrap();
    assert_eq!(index.len(), 2);
    let nginx = ImageRef::parse("docker.io/library/nginx:1.25").unwrap();
    assert_eq!(
        index.lookup(&nginx).unwrap(),
        Some(ScanResult {
            status: ScanStatus::Fail,
            last_scan: None
        })
    );
    let api = ImageRef::parse("gcr.io/a/api:1.2").unwrap();
    let last_scan = index
        .lookup(&api)
        .unwrap()
        .and_then(|result| result.last_scan);
    assert_eq!(last_scan, Some("2022-01-02T00:00:00Z".parse().unwrap()));
}

#[test]
fn a_file_without_a_document_is_refused_and_images_empty_is_the_empty_set() {
    for text in ["", "\n  \n", "# nothing yet\n", "---\n", "~\n", "null"] {
        assert_eq!(
            error(text),
            "scans.yaml: no scan results: the file holds no document (it is empty, or only blank lines and comments); write `images: []` for an empty set",
            "{text:?}"
        );
    }
    assert!(parse("images: []\n").unwrap().is_empty());
    assert!(parse(r#"{"images": []}"#).unwrap().is_empty());
    assert!(parse("kind: List\nitems: []\n").unwrap().is_empty());
    assert_eq!(parse("# first\n---\nimages: []\n").unwrap().len(), 0);
}

#[test]
fn json_cut_off_at_the_limit_is_refused_not_read_again_as_yaml() {
    let opened = std::cell::Cell::new(0);
    // A small limit stands for the real one (which the message names).
    let open = || {
        opened.set(opened.get() + 1);
        let endless = b"{\"images\": [".chain(io::repeat(b' '));
        Ok(BufReader::new(manifest::LimitedReader::new(endless, 4096)))
    };
    let error = read_scan_stream("scans.json", open, &SeverityThresholds::default())
        .map(|index| index.len())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "scans.json: larger than 256 MiB, the most a scan-results file may hold; not read"
    );
    assert_eq!(opened.get(), 1);
}

#[test]
fn a_line_longer_than_the_limit_is_refused_without_holding_it() {
    let long = format!(
        "images: [{}]\n",
        " ".repeat(crate::scan::MAX_SCAN_LINE_BYTES)
    );
    assert_eq!(
        error(&long),
        "scans.yaml: cannot read: line 1: longer than 16 MiB, the most one line may hold"
    );
}

#[test]
fn a_lowercase_status_names_the_field() {
    let text = "images:\n- {image: a, status: Pass}\n- {image: b, status: Pass}\n- {image: c, status: pass}\n";
    assert_eq!(
        error(text),
        "scans.yaml document 0: field `images[2].status`: unknown variant `pass`, expected one of `Pass`, `Warn`, `Fail`, `Unknown`"
    );
}

#[test]
fn a_bad_image_names_the_field() {
    let text = "images:\n- {image: a, status: Pass}\n- {image: Foo, status: Pass}\n";
    assert!(
        error(text).starts_with(
            "scans.yaml document 0: field `images[1].image`: invalid image reference \"Foo\": "
        ),
        "{}",
        error(text)
    );
}

#[test]
fn a_bad_last_scan_names_the_field() {
    let text = "images:\n- {image: a, status: Pass, lastScan: '2022-01-02 00:00:00Z'}\n";
    assert!(
        error(text).starts_with(
            "scans.yaml document 0: field `images[0].lastScan`: invalid RFC 3339 timestamp"
        ),
        "{}",
        error(text)
    );
}

#[test]
fn a_misspelt_key_is_refused() {
    let text = "images:\n- {image: a, status: Pass, lastscan: '2022-01-02T00:00:00Z'}\n";
    assert!(
        error(text).starts_with("scans.yaml document 0: field `images[0].lastscan`: unknown field `lastscan`, expected one of `image`, `status`, `lastScan`"),
        "{}",
        error(text)
    );
}

#[test]
fn a_document_of_another_kind_is_refused() {
    assert_eq!(
        error("apiVersion: v1\nkind: Pod\n"),
        format!("scans.yaml document 0: {EXPECTED}, found Pod (v1)")
    );
}

#[test]
fn a_mapping_without_images_is_refused() {
    assert_eq!(
        error("results: []\n"),
        format!("scans.yaml document 0: {EXPECTED}, found a mapping without `images`")
    );
    assert_eq!(
        error("- a\n"),
        format!("scans.yaml document 0: {EXPECTED}, found a sequence")
    );
}

#[test]
fn vulnerability_reports_are_read() {
    let text = "apiVersion: aquasecurity.github.io/v1alpha1\nkind: VulnerabilityReport\nreport:\n  registry: {server: index.docker.io}\n  artifact: {repository: library/nginx, tag: '1.25'}\n  summary: {highCount: 1}\n";
    let index = parse(text).unwrap();
    let image = ImageRef::parse("nginx:1.25").unwrap();
    assert_eq!(
        index.lookup(&image).unwrap().map(|result| result.status),
        Some(ScanStatus::Fail)
    );
}

#[test]
fn a_bad_report_image_names_document_and_field() {
    let text = "images: []\n---\napiVersion: aquasecurity.github.io/v1alpha1\nkind: VulnerabilityReport\nreport:\n  artifact: {repository: app, tag: '.x'}\n";
    assert!(
        error(text).starts_with(
            "scans.yaml document 1: field `report.artifact.tag`: invalid image reference"
        ),
        "{}",
        error(text)
    );
}

#[test]
fn flow_yaml_that_looks_like_json_is_read_as_yaml() {
    let index = parse("{images: [{image: a, status: Pass}]}\n").unwrap();
    assert_eq!(index.len(), 1);
    // Valid JSON up to a trailing comma, which YAML's flow syntax accepts: the records read
    // as JSON are dropped, not counted twice.
    let index = parse(r#"{"images": [{"image": "a", "status": "Pass"},]}"#).unwrap();
    assert_eq!(index.len(), 1);
}

#[test]
fn json_documents_report_like_yaml_ones() {
    assert_eq!(
        error(r#"[{"image": "a"}]"#),
        format!("scans.yaml document 0: {EXPECTED}, found a sequence")
    );
    assert_eq!(
        error(r#"{"images": null}"#),
        "scans.yaml document 0: field `images`: invalid type: null, expected a sequence"
    );
}

#[test]
fn another_key_beside_images_is_refused() {
    assert_eq!(
        error("images: []\nimagez: []\n"),
        "scans.yaml document 0: field `imagez`: unknown field `imagez`, expected `images`"
    );
}

#[test]
fn images_of_the_wrong_type_say_what_was_found() {
    assert_eq!(
        error("images: {a: 1}\n"),
        "scans.yaml document 0: field `images`: invalid type: map, expected a sequence"
    );
    assert_eq!(
        error("images:\n"),
        "scans.yaml document 0: field `images`: invalid type: null, expected a sequence"
    );
}

#[test]
fn an_entry_that_is_not_a_mapping_names_its_index() {
    assert_eq!(
        error("images:\n- {image: a, status: Pass}\n- nginx\n"),
        "scans.yaml document 0: field `images[1]`: invalid type: string \"nginx\", expected struct ImageEntry"
    );
}

#[test]
fn images_before_kind_is_refused_as_ambiguous() {
    assert_eq!(
        error("images: []\nkind: VulnerabilityReport\n"),
        format!(
            "scans.yaml document 0: {EXPECTED}, found a mapping with both `images` and `kind` (`images` first)"
        )
    );
    // After `kind`, `images` is just a key of that object.
    assert_eq!(
        error("kind: Pod\napiVersion: v1\nimages: [1]\n"),
        format!("scans.yaml document 0: {EXPECTED}, found Pod (v1)")
    );
}

#[test]
fn comment_only_and_null_documents_are_skipped_but_counted() {
    let text = "# nothing yet\n---\n~\n---\nimages: [{image: a, status: Pass}]\n---\nimages: 1\n";
    assert_eq!(
        error(text),
        "scans.yaml document 3: field `images`: invalid type: integer `1`, expected a sequence"
    );
}

#[test]
fn a_list_item_in_our_format_is_read() {
    let text = "kind: List\nitems:\n- images: [{image: a, status: Pass}]\n- images: [{image: b, status: bad}]\n";
    assert!(
        error(text).starts_with(
            "scans.yaml document 0 item 1: field `images[0].status`: unknown variant `bad`"
        ),
        "{}",
        error(text)
    );
}
