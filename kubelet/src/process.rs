//! Local processes for containers: each runs in its own process group (so a signal reaches
//! whatever it started too), is recorded in the cluster's process table while it runs, and is
//! killed when its handle drops or the cluster stops — no process outlives the simulator.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The process groups currently running.
#[derive(Debug, Default)]
pub struct ProcessTable {
    groups: Mutex<Groups>,
}

#[derive(Debug, Default)]
struct Groups {
    running: HashSet<i32>,
    /// Set when the cluster stops: no process may start after that.
    closed: bool,
}

fn signal_group(group: i32, signal: i32) {
    if group > 0 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            libc::kill(-group, signal);
        }
    }
}

impl ProcessTable {
    /// SIGKILL to every running process group, and no process starts from now on.
    pub fn close(&self) {
        if let Ok(mut groups) = self.groups.lock() {
            groups.closed = true;
            for group in groups.running.iter() {
                signal_group(*group, libc::SIGKILL);
            }
        }
    }

    pub fn running(&self) -> usize {
        self.groups.lock().map_or(0, |groups| groups.running.len())
    }

    /// Records a started group; `false` (and the group killed) once the table is closed.
    fn insert(&self, group: i32) -> bool {
        match self.groups.lock() {
            Ok(mut groups) if !groups.closed => {
                groups.running.insert(group);
                true
            }
            _ => {
                signal_group(group, libc::SIGKILL);
                false
            }
        }
    }

    fn remove(&self, group: i32) {
        if let Ok(mut groups) = self.groups.lock() {
            groups.running.remove(&group);
        }
    }
}

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
    /// stdout and stderr are appended here, as written (the container's plain log).
    pub log: PathBuf,
    /// This run's CRI log (`logs::capture`), created afresh.
    pub run_log: PathBuf,
}

/// A started process.
pub struct Process {
    child: tokio::process::Child,
    group: i32,
    table: Arc<ProcessTable>,
    exited: bool,
    /// How much of its CRI log is written; closed once its output has ended.
    pub written: tokio::sync::watch::Receiver<u64>,
}

impl Process {
    pub fn spawn(launch: &Launch, table: &Arc<ProcessTable>) -> Result<Process, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&launch.log)
            .map_err(|error| {
                format!("cannot open the log file {}: {error}", launch.log.display())
            })?;
        if let Some(dir) = launch.run_log.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        }
        let run_log = std::fs::File::create(&launch.run_log).map_err(|error| {
            format!(
                "cannot create the log file {}: {error}",
                launch.run_log.display()
            )
        })?;
        let mut command = tokio::process::Command::new(&launch.program);
        // SAFETY: only an async-signal-safe call between fork and exec. The container dies with
        // the kubelet's process (its own process group keeps it from a terminal's Ctrl-C).
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .args(&launch.args)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&launch.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", launch.program.display()))?;
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or(0);
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            // Not reached: both were asked for as pipes. The child dies with its handle.
            return Err(format!("{}: no output pipes", launch.program.display()));
        };
        if !table.insert(group) {
            return Err("the cluster is stopping".into());
        }
        let written = crate::logs::capture::start(stdout, stderr, log, run_log);
        Ok(Process {
            child,
            group,
            table: table.clone(),
            exited: false,
            written,
        })
    }

    /// Waits for the process to exit (cancel-safe).
    pub async fn wait(&mut self) -> Result<ExitStatus, String> {
        let status = self
            .child
            .wait()
            .await
            .map_err(|error| format!("cannot wait for process {}: {error}", self.group))?;
        self.reaped();
        Ok(status)
    }

    fn reaped(&mut self) {
        if !self.exited {
            self.exited = true;
            // Kill what the process left behind in its group, then forget the group: its id
            // may be reused from now on.
            signal_group(self.group, libc::SIGKILL);
            self.table.remove(self.group);
        }
    }

    /// SIGTERM, then SIGKILL after `grace`: what the kubelet does to stop a container.
    pub async fn stop(&mut self, grace: Duration) -> Result<ExitStatus, String> {
        if !self.exited {
            signal_group(self.group, libc::SIGTERM);
        }
        match tokio::time::timeout(grace, self.wait()).await {
            Ok(status) => status,
            Err(_) => {
                signal_group(self.group, libc::SIGKILL);
                self.wait().await
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !self.exited {
            signal_group(self.group, libc::SIGKILL);
            self.table.remove(self.group);
        }
    }
}

/// The container's exit code and reason as the kubelet reports them (128 + signal when
/// killed by a signal).
pub fn exit_code(status: &ExitStatus) -> (i32, &'static str) {
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1);
    (code, if code == 0 { "Completed" } else { "Error" })
}
