//! What `image-assurance evaluate` reads is bounded (issue 12 §2 and §3), checked against the
//! built binary: a stream without end, a huge file and a FIFO without a writer are refused
//! with exit 2 and a message saying why, instead of an allocation failure, a gigabyte of memory
//! or a hang; input that holds nothing (an empty scan file, a policy path with no policy) is an
//! error, not an empty set that allows everything.

#![cfg(unix)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(path: &str) -> String {
    root().join("fixtures").join(path).display().to_string()
}

/// Runs the binary, killing it if it has not finished within a generous bound (a hang is a
/// failure, not a stuck test run).
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-assurance"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "image-assurance {args:?} hung; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Exit 2, nothing on stdout, and stderr containing every one of `parts`.
fn assert_refused(output: &Output, parts: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    for part in parts {
        assert!(stderr.contains(part), "{part:?} not in {stderr}");
    }
}

fn evaluate(policy: &str, resource: &str, scans: Option<&str>) -> Output {
    let mut args = vec!["evaluate", "--policy", policy, "--resource", resource];
    if let Some(scans) = scans {
        args.extend(["--scans", scans]);
    }
    run(&args)
}

const POLICY: &str = "policies/reject-failed-and-non-gcr.yaml";
const POD: &str = "workloads/pod.yaml";

fn mkfifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success());
    path
}

#[test]
fn scans_from_dev_zero_are_cut_off_with_exit_2() {
    let output = evaluate(&fixture(POLICY), &fixture(POD), Some("/dev/zero"));
    assert_refused(
        &output,
        &["/dev/zero: cannot read: line 1: longer than 16 MiB, the most one line may hold"],
    );
}

#[test]
fn a_gigabyte_policy_file_is_refused_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    // Sparse: a gigabyte by its size, nothing on disk.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let output = evaluate(path.to_str().unwrap(), &fixture(POD), None);
    assert_refused(
        &output,
        &[&format!(
            "{}: larger than 16 MiB, the most a manifest file may hold; not read",
            path.display()
        )],
    );
}

#[test]
fn streams_past_the_limit_are_refused_for_every_input() {
    let output = evaluate("/dev/zero", &fixture(POD), None);
    assert_refused(
        &output,
        &["/dev/zero: larger than 16 MiB, the most a manifest file may hold"],
    );
    let output = evaluate(&fixture(POLICY), "/dev/zero", None);
    assert_refused(&output, &["/dev/zero: larger than 16 MiB"]);
}

#[test]
fn a_scan_file_larger_than_its_limit_is_refused_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scans.yaml");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(257 << 20)
        .unwrap();
    let output = evaluate(
        &fixture(POLICY),
        &fixture(POD),
        Some(path.to_str().unwrap()),
    );
    assert_refused(
        &output,
        &["larger than 256 MiB, the most a scan-results file may hold; not read"],
    );
}

#[test]
fn fifos_without_a_writer_do_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(dir.path(), "input");
    let fifo = fifo.to_str().unwrap();
    assert_refused(
        &evaluate(fifo, &fixture(POD), None),
        &["no ContainerAdmissionPolicy found"],
    );
    assert_refused(
        &evaluate(&fixture(POLICY), fifo, None),
        &["no documents to evaluate"],
    );
    assert_refused(
        &evaluate(&fixture(POLICY), &fixture(POD), Some(fifo)),
        &["no scan results"],
    );
}

#[test]
fn a_pipe_with_a_writer_is_read_whole() {
    // `--policy /dev/stdin` (or `<(…)`): a pipe that has a writer, or had one and holds data.
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-assurance"))
        .args([
            "evaluate",
            "--policy",
            "/dev/stdin",
            "--resource",
            &fixture(POD),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let policy = std::fs::read(fixture(POLICY)).unwrap();
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&policy).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("reject-failed-and-non-gcr rule index 0"),
        "{stdout}"
    );
}

#[test]
fn a_policy_path_without_any_policy_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().display().to_string();
    for path in ["/dev/null", empty.as_str()] {
        assert_refused(
            &evaluate(path, &fixture(POD), None),
            &[&format!(
                "--policy {path}: no ContainerAdmissionPolicy found"
            )],
        );
    }
}

#[test]
fn an_empty_scan_file_exits_2_and_images_empty_is_the_empty_set() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    assert_refused(
        &evaluate(
            &fixture(POLICY),
            &fixture(POD),
            Some(empty.to_str().unwrap()),
        ),
        &[&format!(
            "{}: no scan results: the file holds no document",
            empty.display()
        )],
    );
    assert_refused(
        &evaluate(&fixture(POLICY), &fixture(POD), Some("/dev/null")),
        &["/dev/null: no scan results"],
    );
    let none = dir.path().join("none.yaml");
    std::fs::write(&none, "images: []\n").unwrap();
    let output = evaluate(
        &fixture(POLICY),
        &fixture(POD),
        Some(none.to_str().unwrap()),
    );
    // Unscanned: rejected by the policy, not refused as input.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
