//! etcd, kube-apiserver, kube-controller-manager and kube-scheduler as local processes, flagged
//! as a kubeadm cluster has them where it matters to us (the flags are data, see `flags`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use kube::config::Kubeconfig;

use super::binaries::Binaries;
use super::netns::CONTROL_PLANE_IP;
use super::pki::{self, Identity, Pki};
use super::processes::Supervisor;

/// The API server's port (inside the run's network namespace, so always free).
pub const APISERVER_PORT: u16 = 6443;
/// The first address of the Service range: the `kubernetes` Service.
const SERVICE_RANGE: &str = "10.96.0.0/12";
const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";
const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// How long the control plane may take to serve (first start on 2 busy cores included).
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// The files every process reads, under `<dir>/pki`.
pub struct Files {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub apiserver_cert: PathBuf,
    pub apiserver_key: PathBuf,
    pub service_account_key: PathBuf,
    pub service_account_public: PathBuf,
    pub controller_manager_kubeconfig: PathBuf,
    pub scheduler_kubeconfig: PathBuf,
    pub etcd_data: PathBuf,
}

/// How a kubeconfig's user authenticates.
pub enum Credentials<'a> {
    Certificate(&'a Identity),
    Token(&'a str),
}

/// A kubeconfig for `server`, trusting `ca_pem`.
pub fn kubeconfig(
    server: &str,
    ca_pem: &str,
    credentials: Credentials<'_>,
    namespace: &str,
) -> String {
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let user = match credentials {
        Credentials::Certificate(identity) => format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            encode(&identity.cert_pem),
            encode(&identity.key_pem)
        ),
        Credentials::Token(token) => format!("    token: {token}\n"),
    };
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: upstream
  cluster:
    server: {server}
    certificate-authority-data: {ca}
contexts:
- name: upstream
  context:
    cluster: upstream
    user: user
    namespace: {namespace}
current-context: upstream
users:
- name: user
  user:
{user}",
        ca = encode(ca_pem),
    )
}

/// The URL pods and controllers use for the API server.
pub fn server_url() -> String {
    format!("https://{CONTROL_PLANE_IP}:{APISERVER_PORT}")
}

/// Each program's command line.
pub mod flags {
    use super::*;

    fn path(path: &Path) -> String {
        path.to_string_lossy().into_owned()
    }

    pub fn etcd(files: &Files) -> Vec<String> {
        vec![
            "--name=upstream".into(),
            format!("--data-dir={}", path(&files.etcd_data)),
            "--listen-client-urls=http://127.0.0.1:2379".into(),
            "--advertise-client-urls=http://127.0.0.1:2379".into(),
            "--listen-peer-urls=http://127.0.0.1:2380".into(),
            "--initial-advertise-peer-urls=http://127.0.0.1:2380".into(),
            "--initial-cluster=upstream=http://127.0.0.1:2380".into(),
            "--listen-metrics-urls=http://127.0.0.1:2381".into(),
            // A throwaway cluster: durability costs seconds per run on a busy disk.
            "--unsafe-no-fsync=true".into(),
            "--log-level=warn".into(),
        ]
    }

    pub fn kube_apiserver(files: &Files) -> Vec<String> {
        vec![
            format!("--advertise-address={CONTROL_PLANE_IP}"),
            "--bind-address=0.0.0.0".into(),
            format!("--secure-port={APISERVER_PORT}"),
            "--etcd-servers=http://127.0.0.1:2379".into(),
            format!("--client-ca-file={}", path(&files.ca_cert)),
            format!("--tls-cert-file={}", path(&files.apiserver_cert)),
            format!("--tls-private-key-file={}", path(&files.apiserver_key)),
            format!("--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"),
            format!(
                "--service-account-key-file={}",
                path(&files.service_account_public)
            ),
            format!(
                "--service-account-signing-key-file={}",
                path(&files.service_account_key)
            ),
            format!("--service-cluster-ip-range={SERVICE_RANGE}"),
            // As kubeadm: nodes are authorized by the Node authorizer, everyone else by RBAC,
            // and NodeRestriction on top of the default admission plugins.
            "--authorization-mode=Node,RBAC".into(),
            "--enable-admission-plugins=NodeRestriction".into(),
            "--allow-privileged=true".into(),
            // There is no kube-proxy: webhooks (and aggregated APIs) are called at their
            // Service's endpoints, as the kind configuration also has it.
            "--enable-aggregator-routing=true".into(),
            // Node names do not resolve in the run's namespace: reach kubelets (pods/log) by
            // their InternalIP first.
            "--kubelet-preferred-address-types=InternalIP,Hostname".into(),
            "--v=1".into(),
        ]
    }

    pub fn kube_controller_manager(files: &Files) -> Vec<String> {
        let kubeconfig = path(&files.controller_manager_kubeconfig);
        vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--authentication-kubeconfig={kubeconfig}"),
            format!("--authorization-kubeconfig={kubeconfig}"),
            "--bind-address=127.0.0.1".into(),
            format!("--root-ca-file={}", path(&files.ca_cert)),
            format!(
                "--service-account-private-key-file={}",
                path(&files.service_account_key)
            ),
            format!("--cluster-signing-cert-file={}", path(&files.ca_cert)),
            format!("--cluster-signing-key-file={}", path(&files.ca_key)),
            // Each controller acts as system:serviceaccount:kube-system:<name>-controller,
            // the identities the webhook's child check trusts.
            "--use-service-account-credentials=true".into(),
            "--controllers=*,bootstrapsigner,tokencleaner".into(),
            "--cluster-name=kubernetes".into(),
            // One instance: no need to wait for a lease.
            "--leader-elect=false".into(),
            "--v=1".into(),
        ]
    }

    pub fn kube_scheduler(files: &Files) -> Vec<String> {
        let kubeconfig = path(&files.scheduler_kubeconfig);
        vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--authentication-kubeconfig={kubeconfig}"),
            format!("--authorization-kubeconfig={kubeconfig}"),
            "--bind-address=127.0.0.1".into(),
            "--leader-elect=false".into(),
            "--v=1".into(),
        ]
    }
}

/// The running control plane.
pub struct ControlPlane {
    pub supervisor: Supervisor,
    pub pki: Pki,
    /// The admin kubeconfig (`system:masters`).
    pub admin_kubeconfig: PathBuf,
    pub admin: kube::Client,
    /// `kubectl version`'s server version, e.g. `v1.32.9`.
    pub version: String,
    pub logs: PathBuf,
}

/// A client from kubeconfig text.
pub async fn client(yaml: &str) -> Result<kube::Client, String> {
    let kubeconfig =
        Kubeconfig::from_yaml(yaml).map_err(|error| format!("a kubeconfig we wrote: {error}"))?;
    crate::backend::kind::client_from(kubeconfig).await
}

impl ControlPlane {
    /// Starts the four programs with their logs and state under `dir`, and waits until the
    /// API server is ready and the controllers have set up the `default` namespace.
    pub async fn start(binaries: &Binaries, dir: &Path) -> Result<ControlPlane, String> {
        super::netns::check()?;
        let logs = dir.to_path_buf();
        let pki_dir = dir.join("pki");
        std::fs::create_dir_all(&pki_dir)
            .map_err(|error| format!("{}: {error}", pki_dir.display()))?;
        let ip = CONTROL_PLANE_IP.to_string();
        let pki = Pki::new(&[
            "127.0.0.1",
            &ip,
            KUBERNETES_SERVICE_IP,
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ])?;
        let local = format!("https://127.0.0.1:{APISERVER_PORT}");
        let component = |user: &str| -> Result<String, String> {
            let identity = pki.client(user, &[])?;
            Ok(kubeconfig(
                &local,
                &pki.ca.cert_pem,
                Credentials::Certificate(&identity),
                "default",
            ))
        };
        let admin = pki.client("kubernetes-admin", &["system:masters"])?;
        let admin_yaml = kubeconfig(
            &local,
            &pki.ca.cert_pem,
            Credentials::Certificate(&admin),
            "default",
        );
        let files = Files {
            ca_cert: pki::write(&pki_dir, "ca.crt", &pki.ca.cert_pem)?,
            ca_key: pki::write(&pki_dir, "ca.key", &pki.ca.key_pem)?,
            apiserver_cert: pki::write(&pki_dir, "apiserver.crt", &pki.apiserver.cert_pem)?,
            apiserver_key: pki::write(&pki_dir, "apiserver.key", &pki.apiserver.key_pem)?,
            service_account_key: pki::write(&pki_dir, "sa.key", &pki.service_account_key_pem)?,
            service_account_public: pki::write(
                &pki_dir,
                "sa.pub",
                &pki.service_account_public_pem,
            )?,
            controller_manager_kubeconfig: pki::write(
                &pki_dir,
                "controller-manager.conf",
                &component("system:kube-controller-manager")?,
            )?,
            scheduler_kubeconfig: pki::write(
                &pki_dir,
                "scheduler.conf",
                &component("system:kube-scheduler")?,
            )?,
            etcd_data: dir.join("etcd"),
            dir: pki_dir.clone(),
        };
        let admin_kubeconfig = pki::write(dir, "kubeconfig", &admin_yaml)?;
        let mut supervisor = Supervisor::default();
        let started = Instant::now();
        supervisor.spawn("etcd", &binaries.path("etcd"), &flags::etcd(&files), &logs)?;
        supervisor.spawn(
            "kube-apiserver",
            &binaries.path("kube-apiserver"),
            &flags::kube_apiserver(&files),
            &logs,
        )?;
        let admin_client = client(&admin_yaml).await?;
        wait_until(&mut supervisor, "kube-apiserver to be ready", || {
            let client = admin_client.clone();
            async move {
                let request = http::Request::get("/readyz")
                    .body(Vec::new())
                    .map_err(|error| error.to_string())?;
                client
                    .request_text(request)
                    .await
                    .map(|body| body.trim() == "ok")
                    .map_err(|error| error.to_string())
            }
        })
        .await?;
        supervisor.spawn(
            "kube-controller-manager",
            &binaries.path("kube-controller-manager"),
            &flags::kube_controller_manager(&files),
            &logs,
        )?;
        supervisor.spawn(
            "kube-scheduler",
            &binaries.path("kube-scheduler"),
            &flags::kube_scheduler(&files),
            &logs,
        )?;
        // The ServiceAccount and root-CA publisher controllers have run: pods can be created
        // (the ServiceAccount admission plugin needs `default`) and get their CA.
        wait_until(
            &mut supervisor,
            "the controllers to create the default ServiceAccount and kube-root-ca.crt",
            || {
                let client = admin_client.clone();
                async move {
                    let account = Api::<ServiceAccount>::namespaced(client.clone(), "default")
                        .get_opt("default")
                        .await
                        .map_err(|error| error.to_string())?;
                    let ca = Api::<ConfigMap>::namespaced(client, "default")
                        .get_opt("kube-root-ca.crt")
                        .await
                        .map_err(|error| error.to_string())?;
                    Ok(account.is_some() && ca.is_some())
                }
            },
        )
        .await?;
        let version = admin_client
            .apiserver_version()
            .await
            .map_err(|error| format!("GET /version: {error}"))?
            .git_version;
        println!(
            "upstream: control plane {version} ready in {:.1}s; logs in {}",
            started.elapsed().as_secs_f64(),
            logs.display()
        );
        Ok(ControlPlane {
            supervisor,
            pki,
            admin_kubeconfig,
            admin: admin_client,
            version,
            logs,
        })
    }
}

/// Polls `check` until it says yes; fails at once when a process has exited, and after
/// `READY_TIMEOUT` with the last error.
async fn wait_until<F, Fut>(supervisor: &mut Supervisor, what: &str, check: F) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last;
    loop {
        if let Some(exited) = supervisor.exited() {
            return Err(format!("upstream: waiting for {what}: {exited}"));
        }
        match check().await {
            Ok(true) => return Ok(()),
            Ok(false) => last = "not yet".into(),
            Err(error) => last = error,
        }
        if Instant::now() > deadline {
            return Err(format!(
                "upstream: {what} did not happen within {}s: {last}",
                READY_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files {
        let dir = PathBuf::from("/run/x");
        Files {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            apiserver_cert: dir.join("apiserver.crt"),
            apiserver_key: dir.join("apiserver.key"),
            service_account_key: dir.join("sa.key"),
            service_account_public: dir.join("sa.pub"),
            controller_manager_kubeconfig: dir.join("cm.conf"),
            scheduler_kubeconfig: dir.join("s.conf"),
            etcd_data: dir.join("etcd"),
            dir,
        }
    }

    #[test]
    fn the_api_server_is_flagged_as_kubeadm_flags_it_plus_aggregator_routing() {
        let args = flags::kube_apiserver(&files());
        for expected in [
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--enable-aggregator-routing=true",
            "--service-account-signing-key-file=/run/x/sa.key",
            "--service-account-key-file=/run/x/sa.pub",
            "--client-ca-file=/run/x/ca.crt",
            "--advertise-address=10.244.0.1",
        ] {
            assert!(
                args.iter().any(|arg| arg == expected),
                "{expected} in {args:?}"
            );
        }
    }

    #[test]
    fn controllers_act_under_their_own_service_accounts() {
        let args = flags::kube_controller_manager(&files());
        assert!(args.contains(&"--use-service-account-credentials=true".to_string()));
        assert!(args.contains(&"--root-ca-file=/run/x/ca.crt".to_string()));
    }

    #[test]
    fn a_kubeconfig_carries_the_ca_and_the_credentials() {
        let yaml = kubeconfig(
            "https://10.244.0.1:6443",
            "CA",
            Credentials::Token("t0k"),
            "ns",
        );
        let parsed = Kubeconfig::from_yaml(&yaml).unwrap();
        let cluster = parsed.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://10.244.0.1:6443"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Q0E="));
        let user = parsed.auth_infos[0].auth_info.as_ref().unwrap();
        assert!(user.token.is_some());
        assert_eq!(
            parsed.contexts[0]
                .context
                .as_ref()
                .unwrap()
                .namespace
                .as_deref(),
            Some("ns")
        );
    }
}
