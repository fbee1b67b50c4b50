//! A simulator with a kubeconfig, and the real `kubectl` run against it as a subprocess, with
//! its output to assert on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sim::{ClusterOptions, Config, Simulator};
use tokio::process::Command;

/// No single kubectl invocation of these tests takes more than a fraction of this.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// What one kubectl run printed.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A simulator, a kubeconfig for it and a private directory for files and kubectl's cache.
pub struct Cluster {
    pub sim: Simulator,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// An API server alone.
    pub async fn start() -> Cluster {
        Cluster::start_with(|_| Config::default()).await
    }

    /// A whole cluster with the default nodes (scheduler, process kubelet, endpoints and
    /// workload controllers), the kubelet running `images` (image → executable) as processes;
    /// its pods' volumes and logs are in the private directory.
    pub async fn with_nodes(images: &[(&str, &str)]) -> Cluster {
        let images: BTreeMap<String, PathBuf> = images
            .iter()
            .map(|(image, path)| (image.to_string(), PathBuf::from(path)))
            .collect();
        Cluster::start_with(|dir| Config {
            cluster: Some(ClusterOptions {
                images,
                work_dir: Some(dir.join("work")),
                ..ClusterOptions::default()
            }),
            ..Config::default()
        })
        .await
    }

    /// A simulator with the configuration `config` makes of the private directory.
    async fn start_with(config: impl FnOnce(&Path) -> Config) -> Cluster {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut sim = Simulator::start(config(dir.path()))
            .await
            .expect("the simulator starts");
        let kubeconfig = sim
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("the kubeconfig is written");
        Cluster {
            sim,
            kubeconfig,
            dir,
        }
    }

    pub fn client(&self) -> kube::Client {
        self.sim.client().expect("a kube client")
    }

    /// The private directory (files written for kubectl live here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` in the private directory and returns its path as a string.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a directory for the file");
        }
        std::fs::write(&path, text).expect("the file is written");
        path.to_string_lossy().into_owned()
    }

    /// Runs kubectl with this cluster's kubeconfig. Its discovery cache lives in the private
    /// directory (`KUBECACHEDIR`), so tests do not share cached discovery through `~/.kube`.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_cache(args, &self.dir.path().join("cache"))
            .await
    }

    /// Runs kubectl with the discovery cache at `cache` (a new directory: a kubectl that has
    /// never talked to this server).
    pub async fn run_with_cache(&self, args: &[&str], cache: &Path) -> Run {
        let mut command = Command::new("kubectl");
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", cache)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = match tokio::time::timeout(KUBECTL_TIMEOUT, command.output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "`kubectl` is not on PATH: these tests run the real kubectl (v1.32) against the simulator; install it (e.g. /usr/bin/kubectl)"
            ),
            Ok(Err(error)) => panic!("cannot run kubectl {args:?}: {error}"),
            Err(_) => panic!("kubectl {args:?} did not finish within {KUBECTL_TIMEOUT:?}"),
        };
        Run {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs kubectl, which must succeed without printing to stderr; returns its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args).await;
        assert!(
            run.success,
            "kubectl {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        assert_eq!(run.stderr, "", "kubectl {args:?} wrote to stderr");
        run.stdout
    }

    /// Runs kubectl, which must succeed (unlike [`Cluster::ok`], whatever it prints to
    /// stderr); returns its stdout.
    pub async fn succeeds(&self, args: &[&str]) -> String {
        let run = self.run(args).await;
        assert!(run.success, "kubectl {args:?} failed: {}", run.stderr);
        run.stdout
    }

    /// Runs kubectl, which must fail; returns its stderr.
    pub async fn fails(&self, args: &[&str]) -> String {
        let run = self.run(args).await;
        assert!(
            !run.success,
            "kubectl {args:?} succeeded\nstdout:\n{}",
            run.stdout
        );
        run.stderr
    }
}

/// The lines of kubectl's output.
pub fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// A table as kubectl prints it: blocks separated by blank lines (one per resource kind), each
/// a header and rows. Columns are aligned, so a cell spans from its header's start to the next
/// header's (which keeps empty cells, such as a resource without short names).
#[derive(Debug)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The cell of `column` in the row whose `NAME` cell (or first cell) is `key`.
    pub fn cell(&self, key: &str, column: &str) -> &str {
        let index = self.column(column);
        let name = self
            .header
            .iter()
            .position(|name| name == "NAME")
            .unwrap_or(0);
        let row = self
            .rows
            .iter()
            .find(|row| row[name] == key)
            .unwrap_or_else(|| panic!("no row {key:?} in {self:?}"));
        &row[index]
    }

    fn column(&self, column: &str) -> usize {
        self.header
            .iter()
            .position(|name| name == column)
            .unwrap_or_else(|| panic!("no column {column:?} in {:?}", self.header))
    }

    /// The rows without the columns named in `skip` (e.g. `AGE`, whose value depends on timing).
    pub fn rows_without(&self, skip: &[&str]) -> Vec<Vec<&str>> {
        let keep: Vec<usize> = (0..self.header.len())
            .filter(|i| !skip.contains(&self.header[*i].as_str()))
            .collect();
        self.rows
            .iter()
            .map(|row| keep.iter().map(|i| row[*i].as_str()).collect())
            .collect()
    }
}

pub fn tables(text: &str) -> Vec<Table> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(table)
        .collect()
}

fn table(block: &str) -> Table {
    let mut lines = block.lines().filter(|line| !line.trim().is_empty());
    let header: Vec<char> = lines.next().unwrap_or("").chars().collect();
    // Header names are separated by at least two spaces (a name may hold one: `LAST SEEN`).
    let mut starts = Vec::new();
    for (index, c) in header.iter().enumerate() {
        let after_gap =
            index == 0 || (index >= 2 && header[index - 1] == ' ' && header[index - 2] == ' ');
        if *c != ' ' && after_gap {
            starts.push(index);
        }
    }
    let cells = |line: &[char]| -> Vec<String> {
        starts
            .iter()
            .enumerate()
            .map(|(i, start)| {
                let end = starts
                    .get(i + 1)
                    .copied()
                    .unwrap_or(line.len())
                    .min(line.len());
                line.get(*start..end)
                    .map(|cell| cell.iter().collect::<String>().trim().to_string())
                    .unwrap_or_default()
            })
            .collect()
    };
    let rows = lines
        .map(|line| cells(&line.chars().collect::<Vec<char>>()))
        .collect();
    Table {
        header: cells(&header),
        rows,
    }
}

/// Ages as kubectl prints them for objects made during a test (`0s`, `12s`).
pub fn is_recent_age(age: &str) -> bool {
    age.strip_suffix('s')
        .is_some_and(|seconds| seconds.parse::<u32>().is_ok_and(|s| s < 120))
}
