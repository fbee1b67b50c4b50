//! One run of the features: start a backend, install the webhook once, run every feature
//! (scenarios concurrently, `@serial` ones alone), write the JUnit report, summarise.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cucumber::event::ScenarioFinished;
use cucumber::writer::{self, Coloring, Verbosity};
use cucumber::{WriterExt, cli};
use image_assurance::install::DEFAULT_IMAGE;

use crate::backend::{self, BackendKind, BackendOptions};
use crate::context::{self, Context};
use crate::install::{self, InstallBase};
use crate::world::World;

/// What to run and where.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub cluster: BackendKind,
    /// The workspace root: `features/`, `fixtures/`, `Dockerfile`, `kind-config.yaml`.
    pub root: PathBuf,
    /// A cucumber tag expression (`@controllers and not @serial`).
    pub tags: Option<String>,
    pub junit: Option<PathBuf>,
    pub keep: bool,
    /// The built `image-assurance` binary (the simulator runs it for the webhook's image).
    pub binary: PathBuf,
    pub concurrency: usize,
    /// Why this backend (when the caller resolved `auto` itself).
    pub reason: Option<String>,
}

impl RunOptions {
    pub fn new(root: &Path, binary: &Path) -> RunOptions {
        RunOptions {
            cluster: BackendKind::Sim,
            root: root.to_path_buf(),
            tags: None,
            junit: None,
            keep: false,
            binary: binary.to_path_buf(),
            concurrency: 6,
            reason: None,
        }
    }
}

/// How the run went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub backend: String,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// "feature: scenario" of every scenario that did not pass.
    pub not_passed: Vec<String>,
    /// Parsing or hook errors cucumber reported.
    pub errors: bool,
    pub wall: Duration,
}

impl Summary {
    pub fn scenarios(&self) -> usize {
        self.passed + self.failed + self.skipped
    }

    pub fn success(&self) -> bool {
        self.failed == 0 && self.skipped == 0 && !self.errors && self.scenarios() > 0
    }

    /// `N scenarios (N passed)` with the others only when there are some, and the wall time.
    pub fn line(&self) -> String {
        let mut parts = vec![format!("{} passed", self.passed)];
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.skipped > 0 {
            parts.push(format!("{} skipped", self.skipped));
        }
        format!(
            "{} scenarios ({}) in {:.1}s on {}",
            self.scenarios(),
            parts.join(", "),
            self.wall.as_secs_f64(),
            self.backend
        )
    }
}

/// Starts the backend, runs the features, tears the backend down.
pub async fn run(options: &RunOptions) -> Result<Summary, String> {
    let started = Instant::now();
    let (kind, why) = match &options.reason {
        Some(reason) => (options.cluster, reason.clone()),
        None => backend::choose(options.cluster, &backend::available(options.cluster)),
    };
    println!("backend: {kind} ({why})");
    let backend_options = BackendOptions {
        root: options.root.clone(),
        image: DEFAULT_IMAGE.to_string(),
        binary: options.binary.clone(),
        cluster_name: "image-assurance-e2e".to_string(),
        keep: options.keep,
    };
    let cluster = backend::start(kind, &backend_options).await?;
    let result = async {
        let context = prepare(cluster.as_ref(), &options.root).await?;
        println!("cluster ready in {:.1}s", started.elapsed().as_secs_f64());
        run_features(context, options).await
    }
    .await;
    let description = cluster.description();
    let teardown = cluster.teardown().await;
    let mut summary = result?;
    teardown?;
    summary.backend = description;
    summary.wall = started.elapsed();
    Ok(summary)
}

/// The VulnerabilityReport CRD and the standard install (once per run).
async fn prepare(cluster: &dyn backend::Backend, root: &Path) -> Result<Arc<Context>, String> {
    let client = cluster.client();
    println!(
        "installing the VulnerabilityReport CRD and the webhook ({})",
        cluster.webhook_image()
    );
    install::install_vulnerability_reports(&client, root).await?;
    let base = InstallBase::new(cluster.webhook_image())?;
    let context = Context::new(client.clone(), cluster.name(), root.to_path_buf(), base);
    let manifests = context.base.manifests(&context.standard)?;
    install::apply(&client, &manifests).await?;
    Ok(Arc::new(context))
}

#[derive(Default)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
    not_passed: Vec<String>,
}

/// Runs every feature under `root/features` against the published context.
pub async fn run_features(context: Arc<Context>, options: &RunOptions) -> Result<Summary, String> {
    let started = Instant::now();
    let backend = context.backend.clone();
    context::publish(context);
    let counts = Arc::new(Mutex::new(Counts::default()));
    let junit: Box<dyn Write> = match &options.junit {
        Some(path) => {
            if let Some(parent) = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .map_err(|error| format!("{}: {error}", parent.display()))?;
            }
            Box::new(File::create(path).map_err(|error| format!("{}: {error}", path.display()))?)
        }
        None => Box::new(io::sink()),
    };
    let mut cli = cli::Opts::<_, _, _, cli::Empty>::default();
    if let Some(tags) = &options.tags {
        cli.tags_filter = Some(
            tags.parse()
                .map_err(|error| format!("--tags {tags:?}: {error}"))?,
        );
    }
    let recorded = counts.clone();
    let writer = cucumber::Cucumber::<World, _, _, _, _, _>::new()
        .steps(crate::steps::collection()?)
        .max_concurrent_scenarios(options.concurrency)
        .after(move |feature, _rule, scenario, finished, world| {
            let mut counts = recorded
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let name = format!("{}: {}", feature.name, scenario.name);
            match finished {
                ScenarioFinished::StepPassed => counts.passed += 1,
                ScenarioFinished::StepSkipped => {
                    counts.skipped += 1;
                    counts
                        .not_passed
                        .push(format!("{name} (skipped: a step is undefined)"));
                }
                ScenarioFinished::StepFailed(..) | ScenarioFinished::BeforeHookFailed(..) => {
                    counts.failed += 1;
                    counts.not_passed.push(name);
                }
            }
            crate::steps::after_scenario(world)
        })
        .with_writer(
            writer::Basic::raw(io::stdout(), Coloring::Never, Verbosity::Default)
                .summarized()
                .tee::<World, _>(writer::JUnit::for_tee(junit, 0))
                .normalized(),
        )
        .with_cli(cli)
        .run(options.root.join("features"))
        .await;
    let errors = {
        use cucumber::writer::Stats;
        writer.parsing_errors() > 0 || writer.hook_errors() > 0
    };
    let counts = counts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(Summary {
        backend,
        passed: counts.passed,
        failed: counts.failed,
        skipped: counts.skipped,
        not_passed: counts.not_passed.clone(),
        errors,
        wall: started.elapsed(),
    })
}

/// The `image-assurance` binary next to the running executable (a test binary lives in
/// `target/<profile>/deps`, xtask in `target/<profile>`), or `None`.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("IMAGE_ASSURANCE_BIN") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let name = format!("image-assurance{}", std::env::consts::EXE_SUFFIX);
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|dir| dir.join(&name))
        .find(|path| path.is_file())
}

/// Whether a file under `root/webhook/src` is newer than `binary`: the run would then test an
/// old build of the webhook.
pub fn is_stale(binary: &Path, root: &Path) -> bool {
    fn newest(dir: &Path) -> Option<std::time::SystemTime> {
        let mut latest = None;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let time = if path.is_dir() {
                newest(&path)
            } else {
                entry.metadata().and_then(|meta| meta.modified()).ok()
            };
            latest = latest.max(time);
        }
        latest
    }
    let built = std::fs::metadata(binary)
        .and_then(|meta| meta.modified())
        .ok();
    let sources = newest(&root.join("webhook").join("src"));
    matches!((built, sources), (Some(built), Some(sources)) if sources > built)
}

/// `cargo build -p image-assurance`, then the binary's path.
pub fn build_binary(root: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let line = crate::commands::CommandLine::new(&cargo, &["build", "-p", "image-assurance"]);
    line.run(root)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let path = target
        .join("debug")
        .join(format!("image-assurance{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("`{line}` did not produce {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_older_than_a_webhook_source_is_stale() {
        let root = std::env::temp_dir().join(format!("conformance-stale-{}", std::process::id()));
        let source = root.join("webhook/src/policy/evaluate.rs");
        std::fs::create_dir_all(source.parent().unwrap()).unwrap();
        std::fs::write(&source, "// source").unwrap();
        let binary = root.join("image-assurance");
        std::fs::write(&binary, "binary").unwrap();
        let at = |path: &Path, seconds: u64| {
            let time = std::time::UNIX_EPOCH + Duration::from_secs(seconds);
            File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(time)
                .unwrap();
        };
        at(&source, 1_000);
        at(&binary, 2_000);
        assert!(!is_stale(&binary, &root));
        at(&source, 3_000);
        assert!(is_stale(&binary, &root));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_summary_line_counts_scenarios() {
        let summary = Summary {
            backend: "sim".into(),
            passed: 40,
            failed: 2,
            wall: Duration::from_millis(12_340),
            ..Summary::default()
        };
        assert_eq!(
            summary.line(),
            "42 scenarios (40 passed, 2 failed) in 12.3s on sim"
        );
        assert!(!summary.success());
        let ok = Summary {
            failed: 0,
            ..summary
        };
        assert_eq!(ok.line(), "40 scenarios (40 passed) in 12.3s on sim");
        assert!(ok.success());
        assert!(
            !Summary::default().success(),
            "no scenario at all is not a success"
        );
    }
}
