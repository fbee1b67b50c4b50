//! kind: `kind create cluster --config kind-config.yaml`, the image built from the root
//! `Dockerfile` and loaded with `kind load docker-image`; `kind delete cluster` at the end unless
//! `--keep`. A cluster kept by an earlier `--keep` run is reused rather than created again. The
//! command lines and that decision are data (`plan`, `ClusterSource`), checked by tests without
//! Docker.

use std::path::Path;

use futures::future::BoxFuture;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{Backend, BackendOptions};
use crate::commands::{CommandLine, with_cleanup};

pub const KIND_CONFIG: &str = "kind-config.yaml";

/// Every command of a kind run, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindPlan {
    /// The cluster's name.
    pub name: String,
    /// `kind get clusters`: whether the cluster already exists.
    pub clusters: CommandLine,
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
        name: name.to_string(),
        clusters: CommandLine::new("kind", &["get", "clusters"]),
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

/// Where the run's cluster comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterSource {
    /// No cluster has the name: `kind create` it.
    Create,
    /// A cluster has the name (kept by an earlier `--keep` run): use it, since `kind create`
    /// would fail on the taken name.
    Reuse,
}

impl ClusterSource {
    /// Decides from the stdout of `kind get clusters` (one name a line; nothing when there are
    /// none, as kind says so on stderr).
    pub fn from_listing(name: &str, listing: &str) -> ClusterSource {
        if listing.lines().any(|line| line.trim() == name) {
            ClusterSource::Reuse
        } else {
            ClusterSource::Create
        }
    }
}

impl KindPlan {
    /// The commands that bring the cluster up, in order. A reused cluster still gets the image
    /// built and loaded again, since the webhook may have changed since it was kept.
    pub fn start_commands(&self, source: ClusterSource) -> Vec<&CommandLine> {
        match source {
            ClusterSource::Create => vec![&self.build, &self.create, &self.load],
            ClusterSource::Reuse => vec![&self.build, &self.load],
        }
    }

    /// What the run says when it reuses a cluster.
    pub fn reuse_notice(&self) -> String {
        format!(
            "kind: reusing the existing cluster {:?} (kept by an earlier --keep run): skipping \
             `kind create`, building and loading the image again",
            self.name
        )
    }

    /// Deletes the cluster; the error names the cluster and carries kind's own message.
    pub fn delete_cluster(&self, root: &Path) -> Result<(), String> {
        self.delete
            .output(root)
            .map(|_| ())
            .map_err(|error| format!("cannot delete the kind cluster {:?}: {error}", self.name))
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
        let listing = plan.clusters.output(root)?;
        let source = ClusterSource::from_listing(&plan.name, &listing);
        if source == ClusterSource::Reuse {
            println!("{}", plan.reuse_notice());
        }
        // Clean-up is due once the cluster exists: after `kind create` succeeded (a failed one
        // removes its own nodes), or from the start for a reused cluster.
        let mut cluster_exists = source == ClusterSource::Reuse;
        let started = async {
            for command in plan.start_commands(source) {
                command.run(root)?;
                if *command == plan.create {
                    cluster_exists = true;
                }
            }
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
            Err(error) if !cluster_exists => Err(error),
            Err(error) if options.keep => Err(format!(
                "{error} (the cluster is kept: --keep; delete it with `{}`)",
                plan.delete
            )),
            Err(error) => Err(with_cleanup(error, plan.delete_cluster(root))),
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
            self.plan.delete_cluster(&self.root)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> BackendOptions {
        BackendOptions {
            root: "/repo".into(),
            image: "image-assurance:0.1.0".into(),
            binary: "/repo/target/debug/image-assurance".into(),
            cluster_name: "ia-e2e".into(),
            keep: false,
        }
    }

    fn lines(commands: &[&CommandLine]) -> Vec<String> {
        commands.iter().map(|line| line.to_string()).collect()
    }

    #[test]
    fn the_plan_builds_creates_loads_and_deletes_the_named_cluster() {
        let plan = plan(&options());
        assert_eq!(
            lines(&[
                &plan.clusters,
                &plan.build,
                &plan.create,
                &plan.load,
                &plan.kubeconfig,
                &plan.delete,
            ]),
            [
                "kind get clusters",
                "docker build -t image-assurance:0.1.0 /repo",
                "kind create cluster --name ia-e2e --config /repo/kind-config.yaml --wait 120s",
                "kind load docker-image image-assurance:0.1.0 --name ia-e2e",
                "kind get kubeconfig --name ia-e2e",
                "kind delete cluster --name ia-e2e",
            ]
        );
    }

    #[test]
    fn an_unlisted_cluster_is_created() {
        let plan = plan(&options());
        for listing in ["", "kind\n", "ia-e2e-old\nold-ia-e2e\n"] {
            let source = ClusterSource::from_listing("ia-e2e", listing);
            assert_eq!(source, ClusterSource::Create, "{listing:?}");
            assert_eq!(
                lines(&plan.start_commands(source)),
                [
                    "docker build -t image-assurance:0.1.0 /repo",
                    "kind create cluster --name ia-e2e --config /repo/kind-config.yaml --wait 120s",
                    "kind load docker-image image-assurance:0.1.0 --name ia-e2e",
                ]
            );
        }
    }

    #[test]
    fn a_kept_cluster_is_reused_without_kind_create_but_the_image_is_loaded_again() {
        let plan = plan(&options());
        let source = ClusterSource::from_listing("ia-e2e", "kind\nia-e2e\n");
        assert_eq!(source, ClusterSource::Reuse);
        assert_eq!(
            lines(&plan.start_commands(source)),
            [
                "docker build -t image-assurance:0.1.0 /repo",
                "kind load docker-image image-assurance:0.1.0 --name ia-e2e",
            ]
        );
        let notice = plan.reuse_notice();
        assert!(
            notice.contains("reusing the existing cluster \"ia-e2e\"")
                && notice.contains("skipping `kind create`"),
            "{notice}"
        );
    }

    #[test]
    fn a_failed_delete_is_an_error_naming_the_cluster() {
        let mut plan = plan(&options());
        plan.delete = CommandLine::new("/nonexistent/kind", &["delete", "cluster"]);
        let error = plan.delete_cluster(Path::new(".")).unwrap_err();
        assert!(
            error.starts_with("cannot delete the kind cluster \"ia-e2e\": cannot run `/nonexistent/kind delete cluster`"),
            "{error}"
        );
    }

    /// kube-apiserver must call webhooks at the Service's endpoints, as on the simulator and
    /// k3s, so that a webhook with no ready pods fails with the message the features assert.
    #[test]
    fn the_kind_config_enables_aggregator_routing_on_the_control_plane() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(KIND_CONFIG);
        let text = std::fs::read_to_string(&path).unwrap();
        let config: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(config["kind"], "Cluster");
        assert_eq!(config["apiVersion"], "kind.x-k8s.io/v1alpha4");
        let nodes = config["nodes"].as_array().unwrap();
        let roles: Vec<&str> = nodes
            .iter()
            .map(|node| node["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["control-plane", "worker", "worker"]);
        let patches = nodes[0]["kubeadmConfigPatches"].as_array().unwrap();
        let routing: Vec<serde_json::Value> = patches
            .iter()
            .map(|patch| {
                serde_saphyr::from_str::<serde_json::Value>(patch.as_str().unwrap()).unwrap()
            })
            .filter(|patch| patch["kind"] == "ClusterConfiguration")
            .map(|patch| patch["apiServer"]["extraArgs"]["enable-aggregator-routing"].clone())
            .collect();
        // A string: kubeadm v1beta3's extraArgs is a map of strings.
        assert_eq!(routing, [serde_json::json!("true")]);
    }
}
