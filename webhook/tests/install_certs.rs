//! `image-assurance certs`: the files upstream's procedure expects, a serving certificate that
//! the API server will accept for the webhook's Service, and refusals that name the flag.

mod install_support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use install_support::{certs, exit_code, read, run, stderr, stdout};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, ServerName, UnixTime};

const SERVICE: &str = "tigera-image-assurance-admission-controller-service";
const NAMESPACE: &str = "tigera-image-assurance";

fn certificate(pem: &[u8]) -> CertificateDer<'static> {
    let mut certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM certificates");
    assert_eq!(certificates.len(), 1, "one certificate per file");
    certificates.remove(0)
}

fn unix_time(offset_days: i64) -> UnixTime {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let seconds = now
        .checked_add_signed(offset_days * 86_400)
        .expect("in range");
    UnixTime::since_unix_epoch(Duration::from_secs(seconds))
}

/// Verifies `leaf` against `ca` as the API server does: chain, serverAuth, validity at `time`.
fn verify(
    leaf: &CertificateDer<'_>,
    ca: &CertificateDer<'_>,
    time: UnixTime,
) -> Result<(), webpki::Error> {
    let anchor = webpki::anchor_from_trusted_cert(ca)?;
    let end_entity = webpki::EndEntityCert::try_from(leaf)?;
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            time,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_| ())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn writes_the_upstream_file_names_and_reports_them() {
    let (_tmp, dir) = certs(&[]);
    for file in [
        "admission_controller_cert.pem",
        "admission_controller_key.pem",
        "ca.pem",
        "ca_key.pem",
    ] {
        assert!(Path::new(&dir).join(file).is_file(), "{file} written");
    }
    let output = run(&["certs", "--out", &format!("{dir}-again")]);
    assert_eq!(exit_code(&output), 0);
    let printed = stdout(&output);
    assert!(
        printed.contains("admission_controller_cert.pem"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("{SERVICE}.{NAMESPACE}.svc")),
        "{printed}"
    );
}

#[cfg(unix)]
#[test]
fn keys_are_private_and_certificates_readable() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, dir) = certs(&[]);
    let mode = |file: &str| {
        std::fs::metadata(Path::new(&dir).join(file))
            .expect("written")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("admission_controller_key.pem"), 0o600);
    assert_eq!(mode("ca_key.pem"), 0o600);
    assert_eq!(mode("admission_controller_cert.pem"), 0o644);
    assert_eq!(mode("ca.pem"), 0o644);
}

#[test]
fn files_are_well_formed_pem() {
    let (_tmp, dir) = certs(&[]);
    certificate(&read(&dir, "admission_controller_cert.pem"));
    certificate(&read(&dir, "ca.pem"));
    for key in ["admission_controller_key.pem", "ca_key.pem"] {
        let pem = read(&dir, key);
        assert!(
            pem.starts_with(b"-----BEGIN PRIVATE KEY-----"),
            "{key} is PKCS#8"
        );
        PrivateKeyDer::from_pem_slice(&pem).expect("a private key");
    }
}

#[test]
fn the_serving_certificate_chains_to_the_ca_and_names_the_service() {
    let (_tmp, dir) = certs(&[]);
    let leaf = certificate(&read(&dir, "admission_controller_cert.pem"));
    let ca = certificate(&read(&dir, "ca.pem"));
    verify(&leaf, &ca, unix_time(0)).expect("chains to ca.pem for serverAuth");

    let end_entity = webpki::EndEntityCert::try_from(&leaf).expect("a certificate");
    let names: Vec<&str> = end_entity.valid_dns_names().collect();
    assert_eq!(
        names,
        [
            format!("{SERVICE}.{NAMESPACE}.svc"),
            format!("{SERVICE}.{NAMESPACE}.svc.cluster.local"),
            SERVICE.to_string(),
            format!("{SERVICE}.{NAMESPACE}"),
        ]
    );
    let svc = DnsName::try_from(format!("{SERVICE}.{NAMESPACE}.svc")).expect("a DNS name");
    end_entity
        .verify_is_valid_for_subject_name(&ServerName::DnsName(svc))
        .expect("valid for the name the API server dials");
}

#[test]
fn the_ca_is_a_signing_ca_and_the_leaf_is_not() {
    let (_tmp, dir) = certs(&[]);
    let ca = certificate(&read(&dir, "ca.pem"));
    let leaf = certificate(&read(&dir, "admission_controller_cert.pem"));
    // basicConstraints (2.5.29.19) with cA TRUE, and keyUsage (2.5.29.15) with keyCertSign
    // and cRLSign (bits 5 and 6: one unused bit, value 0x06).
    let basic_constraints = [0x06, 0x03, 0x55, 0x1d, 0x13];
    let ca_true = [0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00];
    let key_cert_sign = [0x03, 0x02, 0x01, 0x06];
    assert!(contains(&ca, &basic_constraints) && contains(&ca, &ca_true));
    assert!(contains(&ca, &key_cert_sign));
    assert!(
        !contains(&leaf, &ca_true),
        "the serving certificate is not a CA"
    );
    // serverAuth EKU, 1.3.6.1.5.5.7.3.1.
    let server_auth = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    assert!(contains(&leaf, &server_auth));
    // The leaf does not verify as its own anchor: it is signed by the CA, not self-signed.
    assert!(verify(&leaf, &leaf, unix_time(0)).is_err());
}

#[test]
fn another_ca_does_not_verify_the_serving_certificate() {
    let (_tmp, first) = certs(&[]);
    let (_tmp2, second) = certs(&[]);
    let leaf = certificate(&read(&first, "admission_controller_cert.pem"));
    let other_ca = certificate(&read(&second, "ca.pem"));
    assert!(verify(&leaf, &other_ca, unix_time(0)).is_err());
}

#[test]
fn days_sets_the_validity() {
    let (_tmp, dir) = certs(&["--days", "2"]);
    let leaf = certificate(&read(&dir, "admission_controller_cert.pem"));
    let ca = certificate(&read(&dir, "ca.pem"));
    verify(&leaf, &ca, unix_time(1)).expect("valid tomorrow");
    assert_eq!(
        verify(&leaf, &ca, unix_time(3)).map_err(|error| format!("{error:?}").contains("Expired")),
        Err(true),
        "expired after 2 days"
    );
    let (_tmp, dir) = certs(&[]);
    let leaf = certificate(&read(&dir, "admission_controller_cert.pem"));
    let ca = certificate(&read(&dir, "ca.pem"));
    verify(&leaf, &ca, unix_time(364)).expect("365 days by default");
    assert!(verify(&leaf, &ca, unix_time(366)).is_err());
}

#[test]
fn service_and_namespace_set_the_names() {
    let (_tmp, dir) = certs(&["--service", "hook", "--namespace", "security"]);
    let leaf = certificate(&read(&dir, "admission_controller_cert.pem"));
    let end_entity = webpki::EndEntityCert::try_from(&leaf).expect("a certificate");
    let names: Vec<&str> = end_entity.valid_dns_names().collect();
    assert_eq!(
        names,
        [
            "hook.security.svc",
            "hook.security.svc.cluster.local",
            "hook",
            "hook.security"
        ]
    );
}

#[test]
fn existing_files_are_kept_unless_forced() {
    let (_tmp, dir) = certs(&[]);
    let before = read(&dir, "ca.pem");
    let output = run(&["certs", "--out", &dir]);
    assert_eq!(exit_code(&output), 2);
    let message = stderr(&output);
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("--force"), "{message}");
    assert_eq!(read(&dir, "ca.pem"), before, "nothing overwritten");

    let output = run(&["certs", "--out", &dir, "--force"]);
    assert_eq!(exit_code(&output), 0, "{}", stderr(&output));
    assert_ne!(read(&dir, "ca.pem"), before, "a new CA");
    let leaf = certificate(&read(&dir, "admission_controller_cert.pem"));
    let ca = certificate(&read(&dir, "ca.pem"));
    verify(&leaf, &ca, unix_time(0)).expect("the new pair matches");
}

#[test]
fn bad_input_exits_2_naming_the_flag_or_path() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out = tmp.path().join("c").display().to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["--service", "Bad_Name"], "--service \"Bad_Name\""),
        (&["--namespace", "a.b"], "--namespace \"a.b\""),
        (&["--days", "0"], "--days 0"),
        (&["--days", "many"], "--days"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["certs", "--out", out.as_str()];
        args.extend_from_slice(extra);
        let output = run(&args);
        assert_eq!(exit_code(&output), 2, "{extra:?}");
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
    }
    assert!(
        !tmp.path().join("c").exists(),
        "nothing written on bad input"
    );

    // A file where the directory should be: the error names the path.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").expect("written");
    let output = run(&["certs", "--out", &file.display().to_string()]);
    assert_eq!(exit_code(&output), 2);
    assert!(
        stderr(&output).contains(&file.display().to_string()),
        "{}",
        stderr(&output)
    );
}

/// `notAfter` of a certificate, in seconds since the epoch.
fn not_after(pem: &[u8]) -> i64 {
    let der = certificate(pem);
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).expect("a certificate");
    parsed.validity().not_after.timestamp()
}

fn seconds_from_now(days: i64) -> i64 {
    unix_time(days).as_secs() as i64
}

#[test]
fn the_ca_outlives_the_serving_certificate_ten_years_to_one() {
    let (_tmp, dir) = certs(&[]);
    let serving = not_after(&read(&dir, "admission_controller_cert.pem"));
    let ca = not_after(&read(&dir, "ca.pem"));
    // Within the minute the command took.
    assert!((serving - seconds_from_now(365)).abs() < 60, "{serving}");
    assert!((ca - seconds_from_now(3650)).abs() < 60, "{ca}");

    let (_tmp, dir) = certs(&["--days", "30", "--ca-days", "90"]);
    let ca = not_after(&read(&dir, "ca.pem"));
    assert!((ca - seconds_from_now(90)).abs() < 60, "{ca}");

    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out = tmp.path().join("c").display().to_string();
    let output = run(&["certs", "--out", &out, "--days", "30", "--ca-days", "29"]);
    assert_eq!(exit_code(&output), 2);
    assert!(
        stderr(&output).contains(
            "--ca-days 29: the CA must live at least as long as the serving certificate (--days 30)"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn renew_issues_a_serving_certificate_under_the_ca_in_the_directory_and_keeps_the_ca() {
    let (_tmp, dir) = certs(&[]);
    let ca_before = read(&dir, "ca.pem");
    let ca_key_before = read(&dir, "ca_key.pem");
    let cert_before = read(&dir, "admission_controller_cert.pem");
    let key_before = read(&dir, "admission_controller_key.pem");

    let output = run(&["certs", "--out", &dir, "--renew", "--days", "30"]);
    assert_eq!(exit_code(&output), 0, "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.contains("serving certificate (renewed)"),
        "{printed}"
    );
    assert!(printed.contains("(unchanged, valid until"), "{printed}");
    assert_eq!(read(&dir, "ca.pem"), ca_before, "the caBundle stays");
    assert_eq!(read(&dir, "ca_key.pem"), ca_key_before);
    assert_ne!(read(&dir, "admission_controller_cert.pem"), cert_before);
    assert_ne!(read(&dir, "admission_controller_key.pem"), key_before);

    let leaf = certificate(&read(&dir, "admission_controller_cert.pem"));
    let ca = certificate(&ca_before);
    verify(&leaf, &ca, unix_time(29)).expect("chains to the unchanged CA");
    assert!(verify(&leaf, &ca, unix_time(31)).is_err(), "--days 30");
    let end_entity = webpki::EndEntityCert::try_from(&leaf).expect("a certificate");
    let svc = DnsName::try_from(format!("{SERVICE}.{NAMESPACE}.svc")).expect("a DNS name");
    end_entity
        .verify_is_valid_for_subject_name(&ServerName::DnsName(svc))
        .expect("still names the Service");

    // `manifests` accepts the renewed pair, with the same caBundle as before.
    let output = install_support::manifests(&dir, &[]);
    let yaml = stdout(&output);
    let documents = install_support::documents(&yaml);
    let configuration: k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration =
        install_support::object(&documents, "ValidatingWebhookConfiguration");
    for webhook in configuration.webhooks.expect("webhooks") {
        assert_eq!(
            webhook.client_config.ca_bundle.expect("caBundle").0,
            ca_before
        );
    }
}

#[test]
fn a_ca_kept_elsewhere_signs_and_only_its_certificate_is_copied() {
    let (_tmp, ca_dir) = certs(&[]);
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out = tmp.path().join("serving").display().to_string();
    let ca_cert = format!("{ca_dir}/ca.pem");
    let ca_key = format!("{ca_dir}/ca_key.pem");
    let output = run(&[
        "certs",
        "--out",
        &out,
        "--ca-cert",
        &ca_cert,
        "--ca-key",
        &ca_key,
    ]);
    assert_eq!(exit_code(&output), 0, "{}", stderr(&output));
    assert_eq!(read(&out, "ca.pem"), read(&ca_dir, "ca.pem"));
    assert!(
        !Path::new(&out).join("ca_key.pem").exists(),
        "the CA key is read, never copied"
    );
    let leaf = certificate(&read(&out, "admission_controller_cert.pem"));
    verify(&leaf, &certificate(&read(&out, "ca.pem")), unix_time(0)).expect("chains");

    // A directory holding another CA is not silently switched to this one.
    let (_tmp2, other) = certs(&[]);
    let before = read(&other, "ca.pem");
    let output = run(&[
        "certs",
        "--out",
        &other,
        "--ca-cert",
        &ca_cert,
        "--ca-key",
        &ca_key,
    ]);
    assert_eq!(exit_code(&output), 2);
    assert!(
        stderr(&output).contains("ca.pem: already exists (it holds another CA"),
        "{}",
        stderr(&output)
    );
    assert_eq!(read(&other, "ca.pem"), before);
}

#[test]
fn renewal_refusals_say_what_to_do() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let empty = tmp.path().join("empty").display().to_string();
    let output = run(&["certs", "--out", &empty, "--renew"]);
    assert_eq!(exit_code(&output), 2);
    let message = stderr(&output);
    assert!(
        message.contains("--renew:") && message.contains("ca.pem does not exist"),
        "{message}"
    );
    assert!(message.contains("--ca-cert"), "{message}");

    // A serving certificate may not outlive its CA.
    let (_tmp, dir) = certs(&["--days", "10", "--ca-days", "20"]);
    let before = read(&dir, "admission_controller_cert.pem");
    let output = run(&["certs", "--out", &dir, "--renew", "--days", "30"]);
    assert_eq!(exit_code(&output), 2);
    let message = stderr(&output);
    assert!(
        message.contains("--days 30: the serving certificate would outlive its CA"),
        "{message}"
    );
    // 20 when the second has not turned since the CA was made.
    assert!(
        message.contains("pass --days 19 or less") || message.contains("pass --days 20 or less"),
        "{message}"
    );
    assert_eq!(
        read(&dir, "admission_controller_cert.pem"),
        before,
        "nothing written"
    );

    // A key that is not the CA's.
    let (_tmp2, other) = certs(&[]);
    let output = run(&[
        "certs",
        "--out",
        &dir,
        "--ca-cert",
        &format!("{dir}/ca.pem"),
        "--ca-key",
        &format!("{other}/ca_key.pem"),
    ]);
    assert_eq!(exit_code(&output), 2);
    assert!(
        stderr(&output).contains("the key does not belong to any certificate in"),
        "{}",
        stderr(&output)
    );

    // Flags that do not go together are usage errors.
    for args in [
        &["--ca-cert", "x.pem"][..],
        &["--renew", "--ca-days", "100"],
        &["--renew", "--ca-cert", "x.pem", "--ca-key", "y.pem"],
    ] {
        let mut full = vec!["certs", "--out", dir.as_str()];
        full.extend_from_slice(args);
        let output = run(&full);
        assert_eq!(exit_code(&output), 2, "{args:?}");
    }

    // Without --renew, existing files are kept and the message offers --renew.
    let output = run(&["certs", "--out", &dir]);
    assert_eq!(exit_code(&output), 2);
    assert!(
        stderr(&output).contains("pass --renew"),
        "{}",
        stderr(&output)
    );
}
