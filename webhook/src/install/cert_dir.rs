//! The certificate directory `certs` writes and `manifests` reads: PEM files read with a bound,
//! and a set of files written so that it is never left half-replaced.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::ca::ExistingCa;
use super::certs::{CertError, GeneratedCerts, ServingCert};
use super::{CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE};

/// Certificate and key files are a few kilobytes; a bound keeps a wrong path (a disk image,
/// `/dev/zero`) from being read whole.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads a PEM file of at most [`MAX_PEM_BYTES`]. Only regular files: opening a FIFO would wait
/// for a writer forever.
pub fn read_bounded(path: &Path) -> Result<String, CertError> {
    let read_error = |reason: String| CertError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = fs::metadata(path).map_err(|error| read_error(error.to_string()))?;
    if !metadata.is_file() {
        return Err(read_error("not a regular file".to_string()));
    }
    let file = fs::File::open(path).map_err(|error| read_error(error.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| read_error(error.to_string()))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(read_error(format!(
            "larger than {MAX_PEM_BYTES} bytes, too large for a PEM certificate or key"
        )));
    }
    String::from_utf8(bytes).map_err(|_| read_error("not text (PEM is ASCII)".to_string()))
}

/// One file of a certificate directory, to be written.
#[derive(Clone, Debug)]
pub struct OutputFile {
    pub name: &'static str,
    pub what: &'static str,
    pub contents: String,
    /// Private key: mode 0600.
    pub secret: bool,
    /// Replaced without `--force`: the serving pair, on renewal.
    pub replace: bool,
    /// What to do when it exists with other contents (and may not be replaced).
    pub exists_hint: &'static str,
}

/// The four files of a new CA and serving certificate; none replaces an existing file unless
/// forced.
pub fn new_files(certs: &GeneratedCerts) -> Vec<OutputFile> {
    let file = |name, what, contents: &String, secret| OutputFile {
        name,
        what,
        contents: contents.clone(),
        secret,
        replace: false,
        exists_hint: NEW_EXISTS_HINT,
    };
    vec![
        file(
            CA_FILE,
            "CA certificate, the webhook's caBundle",
            &certs.ca_cert_pem,
            false,
        ),
        file(
            CA_KEY_FILE,
            "CA private key, mode 0600: keep it, out of the cluster; `certs --renew` signs \
             the next serving certificate with it",
            &certs.ca_key_pem,
            true,
        ),
        file(CERT_FILE, "serving certificate", &certs.cert_pem, false),
        file(
            KEY_FILE,
            "serving private key, mode 0600",
            &certs.key_pem,
            true,
        ),
    ]
}

/// The files a renewal writes: the serving pair (replacing the old one) and, when the CA came
/// from elsewhere, its certificate as `ca.pem`, the `caBundle` `manifests` reads. The CA key is
/// never copied.
pub fn renewal_files(serving: &ServingCert, ca: &ExistingCa, dir: &Path) -> Vec<OutputFile> {
    let mut files = Vec::new();
    if ca.cert_path != dir.join(CA_FILE) {
        files.push(OutputFile {
            name: CA_FILE,
            what: "CA certificate, the webhook's caBundle",
            contents: ca.bundle_pem.clone(),
            secret: false,
            replace: false,
            exists_hint: "it holds another CA; pass --force to replace it, then re-apply the \
                          manifests, whose caBundle changes with it",
        });
    }
    files.push(OutputFile {
        name: CERT_FILE,
        what: "serving certificate (renewed)",
        contents: serving.cert_pem.clone(),
        secret: false,
        replace: true,
        exists_hint: "",
    });
    files.push(OutputFile {
        name: KEY_FILE,
        what: "serving private key (renewed), mode 0600",
        contents: serving.key_pem.clone(),
        secret: true,
        replace: true,
        exists_hint: "",
    });
    files
}

/// One file `write` handled, for the report `certs` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub what: &'static str,
    /// Already there with the same contents, so left alone.
    pub unchanged: bool,
}

const NEW_EXISTS_HINT: &str = "pass --renew to issue a new serving certificate under the CA in \
                           this directory, or --force to replace the CA and everything else";

/// Writes `files` into `dir` (created if missing). Keys are written mode 0600. An existing file
/// with other contents is refused unless `force` or the file is one a renewal replaces; then
/// nothing at all is written: a half-replaced set (a new key beside an old certificate) would
/// be worse than none.
pub fn write(dir: &Path, files: &[OutputFile], force: bool) -> Result<Vec<WrittenFile>, CertError> {
    let mut unchanged = Vec::new();
    for file in files {
        let path = dir.join(file.name);
        if !path.exists() {
            unchanged.push(false);
            continue;
        }
        let same = read_bounded(&path).is_ok_and(|existing| existing == file.contents);
        if !same && !force && !file.replace {
            return Err(CertError::Exists {
                path,
                hint: file.exists_hint,
            });
        }
        unchanged.push(same);
    }
    fs::create_dir_all(dir).map_err(|source| CertError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (file, unchanged) in files.iter().zip(unchanged) {
        let path = dir.join(file.name);
        if !unchanged {
            write_file(&path, file, force || file.replace)?;
        }
        written.push(WrittenFile {
            path,
            what: file.what,
            unchanged,
        });
    }
    Ok(written)
}

/// Writes through a temporary file and a rename, so an overwritten key never exists, even for
/// an instant, with the old file's (possibly wider) permissions or half-written.
fn write_file(path: &Path, output: &OutputFile, replace: bool) -> Result<(), CertError> {
    let (contents, secret) = (output.contents.as_bytes(), output.secret);
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CertError::Io { path, source }
    };
    let temporary = path.with_extension("pem.tmp");
    let _ = fs::remove_file(&temporary);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&temporary).map_err(io_error(&temporary))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temporary))?;
    drop(file);
    if !replace && path.exists() {
        let _ = fs::remove_file(&temporary);
        return Err(CertError::Exists {
            path: path.to_path_buf(),
            hint: output.exists_hint,
        });
    }
    fs::rename(&temporary, path).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::certs::{CertRequest, DEFAULT_CA_DAYS, generate, renew};

    fn request() -> CertRequest {
        CertRequest {
            service: "svc".to_string(),
            namespace: "ns".to_string(),
            days: 30,
            now: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
        }
    }

    /// A new CA written into a temporary directory, and loaded back.
    fn written_ca(ca_days: u32, days_later: i64) -> (tempfile::TempDir, ExistingCa) {
        let dir = tempfile::tempdir().unwrap();
        let certs = generate(&request(), ca_days).unwrap();
        write(dir.path(), &new_files(&certs), false).unwrap();
        let later =
            jiff::Timestamp::from_second(request().now.as_second() + days_later * 86_400).unwrap();
        let ca = ExistingCa::load(
            &dir.path().join(CA_FILE),
            &dir.path().join(CA_KEY_FILE),
            later,
        )
        .unwrap();
        (dir, ca)
    }

    #[test]
    fn a_renewal_replaces_the_serving_pair_only() {
        let (dir, ca) = written_ca(DEFAULT_CA_DAYS, 0);
        let before = |file| fs::read(dir.path().join(file)).unwrap();
        let (ca_before, ca_key_before, cert_before) =
            (before(CA_FILE), before(CA_KEY_FILE), before(CERT_FILE));
        let serving = renew(&request(), &ca).unwrap();
        let written = write(dir.path(), &renewal_files(&serving, &ca, dir.path()), false).unwrap();
        let names: Vec<_> = written.iter().map(|file| file.path.clone()).collect();
        assert_eq!(
            names,
            [dir.path().join(CERT_FILE), dir.path().join(KEY_FILE)]
        );
        assert_eq!(before(CA_FILE), ca_before);
        assert_eq!(before(CA_KEY_FILE), ca_key_before);
        assert_ne!(before(CERT_FILE), cert_before);
    }

    #[test]
    fn a_ca_from_elsewhere_is_copied_as_ca_pem_unless_another_is_there() {
        let (_ca_dir, ca) = written_ca(DEFAULT_CA_DAYS, 0);
        let out = tempfile::tempdir().unwrap();
        let serving = renew(&request(), &ca).unwrap();
        let files = renewal_files(&serving, &ca, out.path());
        let written = write(out.path(), &files, false).unwrap();
        assert_eq!(written.len(), 3);
        assert_eq!(
            fs::read_to_string(out.path().join(CA_FILE)).unwrap(),
            ca.bundle_pem
        );
        assert!(
            !out.path().join(CA_KEY_FILE).exists(),
            "the CA key is never copied"
        );
        // Again: ca.pem is the same, so left alone.
        let written = write(out.path(), &files, false).unwrap();
        assert!(written[0].unchanged);

        let (_other_dir, other) = written_ca(DEFAULT_CA_DAYS, 0);
        let serving = renew(&request(), &other).unwrap();
        let error = write(
            out.path(),
            &renewal_files(&serving, &other, out.path()),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("ca.pem: already exists (it holds another CA"),
            "{error}"
        );
    }

    #[test]
    fn oversized_and_special_files_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.pem");
        fs::write(&big, vec![b'a'; MAX_PEM_BYTES as usize + 1]).unwrap();
        let error = read_bounded(&big).unwrap_err().to_string();
        assert!(error.contains("larger than 1048576 bytes"), "{error}");
        let error = read_bounded(dir.path()).unwrap_err().to_string();
        assert!(error.ends_with("not a regular file"), "{error}");
    }
}
