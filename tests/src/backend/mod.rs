//! Cluster backends: where the features run. A backend starts a cluster with the webhook's
//! image available to it, gives a `kube::Client`, and tears the cluster down; the steps only
//! ever use the client, so one set of steps serves every backend.

pub mod k3s;
pub mod kind;
pub mod sim;
pub mod upstream;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use futures::future::BoxFuture;

/// A running cluster.
pub trait Backend: Send + Sync {
    /// `sim`, `upstream`, `kind` or `k3s`.
    fn name(&self) -> &'static str;
    /// What the report says the features ran on (the name, and a version where known).
    fn description(&self) -> String {
        self.name().to_string()
    }
    fn client(&self) -> kube::Client;
    /// The image the webhook's Deployment runs (already available to the cluster).
    fn webhook_image(&self) -> &str;
    /// Stops the cluster (kind: unless asked to keep it).
    fn teardown(self: Box<Self>) -> BoxFuture<'static, Result<(), String>>;
}

/// Which backend to use; `Auto` is resolved by `choose`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Auto,
    Sim,
    Upstream,
    Kind,
    K3s,
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(value: &str) -> Result<BackendKind, String> {
        match value {
            "auto" => Ok(BackendKind::Auto),
            "sim" => Ok(BackendKind::Sim),
            "upstream" => Ok(BackendKind::Upstream),
            "kind" => Ok(BackendKind::Kind),
            "k3s" => Ok(BackendKind::K3s),
            other => Err(format!(
                "--cluster {other:?}: expected one of auto, sim, upstream, kind, k3s"
            )),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Auto => "auto",
            BackendKind::Sim => "sim",
            BackendKind::Upstream => "upstream",
            BackendKind::Kind => "kind",
            BackendKind::K3s => "k3s",
        })
    }
}

/// What every backend may need.
#[derive(Clone, Debug)]
pub struct BackendOptions {
    /// The workspace root (Dockerfile, kind-config.yaml).
    pub root: PathBuf,
    /// The webhook image name the manifests will use.
    pub image: String,
    /// The built `image-assurance` binary (what the simulator's kubelet runs for `image`).
    pub binary: PathBuf,
    /// The kind cluster's name.
    pub cluster_name: String,
    /// Leave the cluster running after the run.
    pub keep: bool,
}

/// What `auto` can choose from.
#[derive(Clone, Debug, Default)]
pub struct Available {
    /// What kind lacks here (docker, kind); empty when both work.
    pub kind_missing: Vec<String>,
    /// The upstream binaries are cached.
    pub upstream_cached: bool,
    /// `go` runs here (the upstream binaries can be built).
    pub go: bool,
}

/// What `auto` (or the requested backend) could use here; probes only what the choice needs.
pub fn available(requested: BackendKind) -> Available {
    match requested {
        BackendKind::Auto => {
            let kind_missing = crate::commands::missing_tools(true);
            let probe_upstream = !kind_missing.is_empty();
            Available {
                kind_missing,
                upstream_cached: probe_upstream && upstream::binaries::Binaries::cached().is_some(),
                go: probe_upstream && upstream::binaries::go_available(),
            }
        }
        _ => Available::default(),
    }
}

/// Resolves `auto`: kind when `docker` and `kind` both work, else upstream when its binaries
/// are cached or Go can build them, else the simulator; says why.
pub fn choose(requested: BackendKind, available: &Available) -> (BackendKind, String) {
    match requested {
        BackendKind::Auto if available.kind_missing.is_empty() => (
            BackendKind::Kind,
            "auto: docker and kind both work, so kind".to_string(),
        ),
        BackendKind::Auto if available.upstream_cached || available.go => (
            BackendKind::Upstream,
            format!(
                "auto: Kubernetes' own control plane, because no container engine is usable here (missing {}) and {}",
                available.kind_missing.join("; "),
                if available.upstream_cached {
                    "its binaries are cached"
                } else {
                    "Go can build its binaries"
                }
            ),
        ),
        BackendKind::Auto => (
            BackendKind::Sim,
            format!(
                "auto: the simulator, because no container engine is usable here (missing {}) and Go is not installed to build the upstream control plane",
                available.kind_missing.join("; ")
            ),
        ),
        other => (other, format!("{other}: as asked")),
    }
}

/// Starts the backend, or says at once what is missing for it.
pub async fn start(
    kind: BackendKind,
    options: &BackendOptions,
) -> Result<Box<dyn Backend>, String> {
    match kind {
        BackendKind::Sim | BackendKind::Auto => {
            Ok(Box::new(sim::SimBackend::start(options).await?))
        }
        BackendKind::Upstream => Ok(Box::new(upstream::UpstreamBackend::start(options).await?)),
        BackendKind::Kind => {
            preflight(kind, &crate::commands::missing_tools(true))?;
            Ok(Box::new(kind::KindBackend::start(options).await?))
        }
        BackendKind::K3s => {
            preflight(kind, &crate::commands::missing_tools(false))?;
            Ok(Box::new(k3s::K3sBackend::start(options).await?))
        }
    }
}

/// Fails at once, naming every missing tool.
pub fn preflight(kind: BackendKind, missing: &[String]) -> Result<(), String> {
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the {kind} backend needs a container engine; missing: {}",
            missing.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_kind_then_upstream_then_the_simulator() {
        let everything = Available {
            upstream_cached: true,
            go: true,
            ..Available::default()
        };
        assert_eq!(choose(BackendKind::Auto, &everything).0, BackendKind::Kind);
        let no_engine = Available {
            kind_missing: vec!["kind (not installed)".to_string()],
            go: true,
            ..Available::default()
        };
        let (kind, why) = choose(BackendKind::Auto, &no_engine);
        assert_eq!(kind, BackendKind::Upstream);
        assert!(why.contains("kind (not installed)"), "{why}");
        assert!(why.contains("Go can build"), "{why}");
        let cached = Available {
            go: false,
            upstream_cached: true,
            ..no_engine.clone()
        };
        assert_eq!(choose(BackendKind::Auto, &cached).0, BackendKind::Upstream);
        let nothing = Available {
            go: false,
            ..no_engine
        };
        let (kind, why) = choose(BackendKind::Auto, &nothing);
        assert_eq!(kind, BackendKind::Sim);
        assert!(why.contains("Go is not installed"), "{why}");
        assert_eq!(choose(BackendKind::K3s, &everything).0, BackendKind::K3s);
    }

    #[test]
    fn preflight_names_what_is_missing() {
        let error =
            preflight(BackendKind::Kind, &["docker (x)".into(), "kind (y)".into()]).unwrap_err();
        assert_eq!(
            error,
            "the kind backend needs a container engine; missing: docker (x); kind (y)"
        );
        assert!(preflight(BackendKind::K3s, &[]).is_ok());
    }

    #[test]
    fn cluster_names_parse() {
        assert_eq!("k3s".parse::<BackendKind>(), Ok(BackendKind::K3s));
        assert_eq!("upstream".parse::<BackendKind>(), Ok(BackendKind::Upstream));
        assert!(
            "minikube"
                .parse::<BackendKind>()
                .unwrap_err()
                .contains("minikube")
        );
    }
}
