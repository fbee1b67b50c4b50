//! k3s in a container (testcontainers-modules' K3s). The webhook image is built with Docker,
//! saved with `docker save` and imported into the node's containerd with `ctr images import`.

use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use testcontainers::core::ExecCommand;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ImageExt};
use testcontainers_modules::k3s::{K3s, KUBE_SECURE_PORT};

use super::{Backend, BackendOptions};
use crate::commands::CommandLine;

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
        println!("$ (in the k3s node) {}", plan.import);
        let mut import = std::iter::once(plan.import.program.clone())
            .chain(plan.import.args.iter().cloned())
            .collect::<Vec<_>>();
        import.retain(|part| !part.is_empty());
        let mut result = container
            .exec(ExecCommand::new(import))
            .await
            .map_err(|error| format!("`{}` in the k3s node: {error}", plan.import))?;
        let code = result
            .exit_code()
            .await
            .map_err(|error| format!("`{}` in the k3s node: {error}", plan.import))?;
        if code.is_some_and(|code| code != 0) {
            let stderr = result.stderr_to_vec().await.unwrap_or_default();
            return Err(format!(
                "`{}` in the k3s node failed ({code:?}): {}",
                plan.import,
                String::from_utf8_lossy(&stderr)
            ));
        }
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
        let client = super::kind::client_from(kubeconfig).await?;
        Ok(K3sBackend {
            container,
            client,
            image: options.image.clone(),
            _work: work,
        })
    }
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
        Box::pin(async move {
            self.container
                .rm()
                .await
                .map_err(|error| format!("cannot remove the k3s container: {error}"))
        })
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
}
