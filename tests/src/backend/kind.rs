//! kind: `kind create cluster --config kind-config.yaml`, the image built from the root
//! `Dockerfile` and loaded with `kind load docker-image`; `kind delete cluster` at the end unless
//! `--keep`. The command lines are data (`plan`), checked by tests without Docker.

use std::path::Path;

use futures::future::BoxFuture;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{Backend, BackendOptions};
use crate::commands::CommandLine;

pub const KIND_CONFIG: &str = "kind-config.yaml";

/// Every command of a kind run, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindPlan {
    pub build: CommandLine,
    pub create: CommandLine,
    pub load: CommandLine,
    pub kubeconfig: CommandLine,
    pub delete: CommandLine,
}

pub fn plan(options: &BackendOptions) -> KindPlan {
    let name = options.cluster_name.as_str();
    let config = options.root.join(KIND_CONFIG);
    let config = config.to_string_lossy();
    let root = options.root.to_string_lossy();
    KindPlan {
        build: CommandLine::new("docker", &["build", "-t", &options.image, &root]),
        create: CommandLine::new(
            "kind",
            &[
                "create", "cluster", "--name", name, "--config", &config, "--wait", "120s",
            ],
        ),
        load: CommandLine::new(
            "kind",
            &["load", "docker-image", &options.image, "--name", name],
        ),
        kubeconfig: CommandLine::new("kind", &["get", "kubeconfig", "--name", name]),
        delete: CommandLine::new("kind", &["delete", "cluster", "--name", name]),
    }
}

pub struct KindBackend {
    client: kube::Client,
    image: String,
    plan: KindPlan,
    root: std::path::PathBuf,
    keep: bool,
}

impl KindBackend {
    pub async fn start(options: &BackendOptions) -> Result<KindBackend, String> {
        let plan = plan(options);
        let root = options.root.as_path();
        plan.build.run(root)?;
        plan.create.run(root)?;
        let started = async {
            plan.load.run(root)?;
            let yaml = plan.kubeconfig.output(root)?;
            client_from_kubeconfig(&yaml).await
        }
        .await;
        match started {
            Ok(client) => Ok(KindBackend {
                client,
                image: options.image.clone(),
                plan,
                root: options.root.clone(),
                keep: options.keep,
            }),
            Err(error) => {
                if !options.keep {
                    let _ = plan.delete.run(root);
                }
                Err(error)
            }
        }
    }
}

/// A client for a kubeconfig given as text (kind's and k3s's).
pub async fn client_from_kubeconfig(yaml: &str) -> Result<kube::Client, String> {
    let kubeconfig = Kubeconfig::from_yaml(yaml)
        .map_err(|error| format!("the cluster's kubeconfig: {error}"))?;
    client_from(kubeconfig).await
}

pub async fn client_from(kubeconfig: Kubeconfig) -> Result<kube::Client, String> {
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|error| format!("the cluster's kubeconfig: {error}"))?;
    kube::Client::try_from(config).map_err(|error| format!("no client for the cluster: {error}"))
}

impl Backend for KindBackend {
    fn name(&self) -> &'static str {
        "kind"
    }

    fn client(&self) -> kube::Client {
        self.client.clone()
    }

    fn webhook_image(&self) -> &str {
        &self.image
    }

    fn teardown(self: Box<Self>) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            if self.keep {
                println!(
                    "kind: keeping the cluster (--keep); delete it with `{}`",
                    self.plan.delete
                );
                return Ok(());
            }
            self.plan.delete.run(Path::new(&self.root))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_builds_creates_loads_and_deletes_the_named_cluster() {
        let options = BackendOptions {
            root: "/repo".into(),
            image: "image-assurance:0.1.0".into(),
            binary: "/repo/target/debug/image-assurance".into(),
            cluster_name: "ia-e2e".into(),
            keep: false,
        };
        let plan = plan(&options);
        let lines: Vec<String> = [
            &plan.build,
            &plan.create,
            &plan.load,
            &plan.kubeconfig,
            &plan.delete,
        ]
        .iter()
        .map(|line| line.to_string())
        .collect();
        assert_eq!(
            lines,
            [
                "docker build -t image-assurance:0.1.0 /repo",
                "kind create cluster --name ia-e2e --config /repo/kind-config.yaml --wait 120s",
                "kind load docker-image image-assurance:0.1.0 --name ia-e2e",
                "kind get kubeconfig --name ia-e2e",
                "kind delete cluster --name ia-e2e",
            ]
        );
    }
}
