//! The control plane's PKI, made with rcgen as kubeadm would lay it out: one cluster CA, the
//! API server's serving certificate, the service-account signing key, and a client certificate
//! per identity (Kubernetes takes the user from the CN and the groups from the O entries).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

/// A certificate and its key, PEM.
#[derive(Clone, Debug)]
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Everything the control plane's processes and clients need.
pub struct Pki {
    pub ca: Identity,
    /// The API server's serving certificate.
    pub apiserver: Identity,
    /// The service-account token signing key (private, PKCS#8) and its public half.
    pub service_account_key_pem: String,
    pub service_account_public_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

fn error(what: &str) -> impl Fn(rcgen::Error) -> String + '_ {
    move |error| format!("upstream PKI: cannot make {what}: {error}")
}

fn distinguished_name(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    for organization in organizations {
        name.push(DnType::OrganizationName, *organization);
    }
    name.push(DnType::CommonName, common_name);
    name
}

impl Pki {
    /// A new CA, and the API server's certificate for `hosts` (names and addresses).
    pub fn new(apiserver_hosts: &[&str]) -> Result<Pki, String> {
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = distinguished_name("kubernetes", &[]);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().map_err(error("the CA key"))?;
        let ca_key_pem = ca_key.serialize_pem();
        let issuer =
            CertifiedIssuer::self_signed(ca_params, ca_key).map_err(error("the CA certificate"))?;
        let ca = Identity {
            cert_pem: issuer.pem(),
            key_pem: ca_key_pem,
        };
        let service_account = KeyPair::generate().map_err(error("the service-account key"))?;
        let mut pki = Pki {
            ca,
            apiserver: Identity {
                cert_pem: String::new(),
                key_pem: String::new(),
            },
            service_account_key_pem: service_account.serialize_pem(),
            service_account_public_pem: service_account.public_key_pem(),
            issuer,
        };
        pki.apiserver = pki.serving("kube-apiserver", apiserver_hosts)?;
        Ok(pki)
    }

    /// A serving certificate for `hosts`: IP addresses become IP SANs, the rest DNS SANs.
    pub fn serving(&self, common_name: &str, hosts: &[&str]) -> Result<Identity, String> {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(common_name, &[]);
        for host in hosts {
            params.subject_alt_names.push(match host.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(
                    (*host)
                        .try_into()
                        .map_err(error("a serving certificate's DNS name"))?,
                ),
            });
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, common_name)
    }

    /// A client certificate for user `user` in `groups`.
    pub fn client(&self, user: &str, groups: &[&str]) -> Result<Identity, String> {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(user, groups);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, user)
    }

    fn sign(&self, mut params: CertificateParams, what: &str) -> Result<Identity, String> {
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().map_err(error(what))?;
        let cert = params.signed_by(&key, &self.issuer).map_err(error(what))?;
        Ok(Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Writes `contents` to `dir/name` (keys readable by the owner only) and returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    file.write_all(contents.as_bytes())
        .map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificates_carry_user_and_groups() {
        let pki = Pki::new(&["127.0.0.1", "kubernetes.default.svc"]).unwrap();
        let node = pki.client("system:node:n1", &["system:nodes"]).unwrap();
        // The subject's CN and O are plain strings inside the DER.
        let subject = String::from_utf8_lossy(&der(&node.cert_pem)).into_owned();
        assert!(subject.contains("system:node:n1"), "{subject}");
        assert!(subject.contains("system:nodes"), "{subject}");
        let serving = String::from_utf8_lossy(&der(&pki.apiserver.cert_pem)).into_owned();
        assert!(serving.contains("kubernetes.default.svc"), "{serving}");
        assert!(pki.service_account_public_pem.contains("BEGIN PUBLIC KEY"));
        assert!(pki.service_account_key_pem.contains("BEGIN PRIVATE KEY"));
    }

    /// The DER of a one-block PEM.
    fn der(pem: &str) -> Vec<u8> {
        use base64::Engine;
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }
}
