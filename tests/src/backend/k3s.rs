//! k3s in a container (testcontainers-modules' K3s). The webhook image is built with Docker,
//! saved with `docker save` and imported into the node's containerd with `ctr images import`, which
//! must finish with exit code 0; the container is removed at the end, and a failed removal fails
//! the run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::BoxFuture;
use testcontainers::core::ExecCommand;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ImageExt, TestcontainersError};
use testcontainers_modules::k3s::{K3s, KUBE_SECURE_PORT};

use super::{Backend, BackendOptions};
use crate::commands::{CommandLine, with_cleanup};

/// Where the image tarball goes inside the k3s container.
pub const IMAGE_TARBALL_IN_NODE: &str = "/tmp/image-assurance.tar";

/// The host-side commands and the in-node import, as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct K3sPlan {
    pub build: CommandLine,
    pub save: CommandLine,
    /// Run inside the k3s container.
    pub import: CommandLine,
}

pub fn plan(options: &BackendOptions, tarball: &Path) -> K3sPlan {
    let root = options.root.to_string_lossy();
    let tarball = tarball.to_string_lossy();
    K3sPlan {
        build: CommandLine::new("docker", &["build", "-t", &options.image, &root]),
        save: CommandLine::new("docker", &["save", "-o", &tarball, &options.image]),
        import: CommandLine::new("ctr", &["images", "import", IMAGE_TARBALL_IN_NODE]),
    }
}

pub struct K3sBackend {
    container: ContainerAsync<K3s>,
    client: kube::Client,
    image: String,
    _work: PathBuf,
}

impl K3sBackend {
    pub async fn start(options: &BackendOptions) -> Result<K3sBackend, String> {
        let work = options.root.join("target").join("e2e-k3s");
        std::fs::create_dir_all(&work)
            .map_err(|error| format!("cannot create {}: {error}", work.display()))?;
        let tarball = work.join("image.tar");
        let plan = plan(options, &tarball);
        plan.build.run(&options.root)?;
        plan.save.run(&options.root)?;
        let container = K3s::default()
            .with_conf_mount(&work)
            .with_copy_to(IMAGE_TARBALL_IN_NODE, tarball.clone())
            .with_privileged(true)
            .with_userns_mode("host")
            .start()
            .await
            .map_err(|error| format!("k3s did not start: {error}"))?;
        let started = async {
            exec_in_node(&container, &plan.import).await?;
            client_for(&container).await
        }
        .await;
        match started {
            Ok(client) => Ok(K3sBackend {
                container,
                client,
                image: options.image.clone(),
                _work: work,
            }),
            Err(error) => Err(with_cleanup(error, remove(container).await)),
        }
    }
}

/// Runs a command in the k3s node and waits for it to finish. It succeeds only on a known exit
/// code 0; the error names the command, its exit code and its output.
async fn exec_in_node(
    container: &ContainerAsync<K3s>,
    command: &CommandLine,
) -> Result<(), String> {
    println!("$ (in the k3s node) {command}");
    let failed = |error: TestcontainersError| format!("`{command}` in the k3s node: {error}");
    let mut result = container
        .exec(ExecCommand::new(command.argv()))
        .await
        .map_err(failed)?;
    // Both streams end when the command exits: reading them to the end is the wait, and gives
    // the output for the error. (They are fed through unbounded channels, so reading one after
    // the other cannot stall the command.)
    let stdout = result.stdout_to_vec().await.map_err(failed)?;
    let stderr = result.stderr_to_vec().await.map_err(failed)?;
    // Docker may record the exit code a moment after the streams close: ask a few times.
    let mut code = None;
    for _ in 0..EXIT_CODE_ATTEMPTS {
        code = result.exit_code().await.map_err(failed)?;
        if code.is_some() {
            break;
        }
        tokio::time::sleep(EXIT_CODE_INTERVAL).await;
    }
    exec_outcome(command, code, &stdout, &stderr)
}

/// How often, and how far apart, to ask Docker for the exit code of a finished command.
const EXIT_CODE_ATTEMPTS: u32 = 20;
const EXIT_CODE_INTERVAL: Duration = Duration::from_millis(250);

/// Whether an in-node command succeeded: only a known exit code 0 does. An unknown one is a
/// failure too, since nothing then says the image was imported.
pub fn exec_outcome(
    command: &CommandLine,
    code: Option<i64>,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<(), String> {
    let output = || {
        let stdout = String::from_utf8_lossy(stdout);
        let stderr = String::from_utf8_lossy(stderr);
        format!("stdout: {:?}, stderr: {:?}", stdout.trim(), stderr.trim())
    };
    match code {
        Some(0) => Ok(()),
        Some(code) => Err(format!(
            "`{command}` in the k3s node failed with exit code {code}; {}",
            output()
        )),
        None => Err(format!(
            "`{command}` in the k3s node reported no exit code, so it is not known to have \
             succeeded; {}",
            output()
        )),
    }
}

/// A client for the k3s API server at its port on this host.
async fn client_for(container: &ContainerAsync<K3s>) -> Result<kube::Client, String> {
    let yaml = container
        .image()
        .read_kube_config()
        .map_err(|error| format!("the k3s kubeconfig: {error}"))?;
    let port = container
        .get_host_port_ipv4(KUBE_SECURE_PORT)
        .await
        .map_err(|error| format!("the k3s API port: {error}"))?;
    let mut kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml)
        .map_err(|error| format!("the k3s kubeconfig: {error}"))?;
    for cluster in &mut kubeconfig.clusters {
        if let Some(cluster) = cluster.cluster.as_mut() {
            cluster.server = Some(format!("https://127.0.0.1:{port}"));
        }
    }
    super::kind::client_from(kubeconfig).await
}

/// Stops and removes the container (Docker's forced remove does both); the error names it.
async fn remove(container: ContainerAsync<K3s>) -> Result<(), String> {
    let id = container.id().to_string();
    container
        .rm()
        .await
        .map_err(|error| format!("cannot stop and remove the k3s container {id}: {error}"))
}

impl Backend for K3sBackend {
    fn name(&self) -> &'static str {
        "k3s"
    }

    fn client(&self) -> kube::Client {
        self.client.clone()
    }

    fn webhook_image(&self) -> &str {
        &self.image
    }

    fn teardown(self: Box<Self>) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move { remove(self.container).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_built_saved_and_imported_into_containerd() {
        let options = BackendOptions {
            root: "/repo".into(),
            image: "image-assurance:0.1.0".into(),
            binary: "/repo/target/debug/image-assurance".into(),
            cluster_name: "unused".into(),
            keep: false,
        };
        let plan = plan(&options, Path::new("/repo/target/e2e-k3s/image.tar"));
        assert_eq!(
            plan.build.to_string(),
            "docker build -t image-assurance:0.1.0 /repo"
        );
        assert_eq!(
            plan.save.to_string(),
            "docker save -o /repo/target/e2e-k3s/image.tar image-assurance:0.1.0"
        );
        assert_eq!(
            plan.import.to_string(),
            "ctr images import /tmp/image-assurance.tar"
        );
    }

    fn import() -> CommandLine {
        CommandLine::new("ctr", &["images", "import", IMAGE_TARBALL_IN_NODE])
    }

    #[test]
    fn an_import_succeeds_only_on_a_known_exit_code_of_zero() {
        assert_eq!(
            exec_outcome(&import(), Some(0), b"unpacking\n", b""),
            Ok(())
        );
    }

    #[test]
    fn a_failed_import_names_the_command_its_exit_code_and_its_output() {
        let error = exec_outcome(
            &import(),
            Some(1),
            b"",
            b"ctr: image might be filtered out\n",
        )
        .unwrap_err();
        assert_eq!(
            error,
            "`ctr images import /tmp/image-assurance.tar` in the k3s node failed with exit code 1; \
             stdout: \"\", stderr: \"ctr: image might be filtered out\""
        );
    }

    #[test]
    fn an_import_with_no_exit_code_is_a_failure() {
        let error = exec_outcome(&import(), None, b"partial", b"").unwrap_err();
        assert!(
            error.starts_with(
                "`ctr images import /tmp/image-assurance.tar` in the k3s node reported no exit code"
            ) && error.contains("stdout: \"partial\""),
            "{error}"
        );
    }
}
