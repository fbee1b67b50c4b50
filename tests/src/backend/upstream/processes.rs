//! The control plane's processes: each a child with its output in a log file of its own, killed
//! when the supervisor is stopped or dropped, and by the kernel if this process dies first
//! (`PR_SET_PDEATHSIG`), so that none outlives the run after a failure, a panic or Ctrl-C.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One running program.
struct Running {
    name: String,
    child: Child,
    log: PathBuf,
}

/// The processes of one cluster, stopped in reverse order of start.
#[derive(Default)]
pub struct Supervisor {
    running: Vec<Running>,
}

impl Supervisor {
    /// Starts `program args`, its stdout and stderr appended to `<logs>/<name>.log`.
    pub fn spawn(
        &mut self,
        name: &str,
        program: &Path,
        args: &[String],
        logs: &Path,
    ) -> Result<(), String> {
        let log = logs.join(format!("{name}.log"));
        let out = File::create(&log).map_err(|error| format!("{}: {error}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|error| format!("{}: {error}", log.display()))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
        self.running.push(Running {
            name: name.to_string(),
            child,
            log,
        });
        Ok(())
    }

    /// The first process that has exited, with its status and log, if any.
    pub fn exited(&mut self) -> Option<String> {
        self.running.iter_mut().find_map(|running| {
            let status = running.child.try_wait().ok().flatten()?;
            Some(format!(
                "{} exited ({status}); its log: {}\n{}",
                running.name,
                running.log.display(),
                tail(&running.log, 20)
            ))
        })
    }

    /// SIGTERM to each process (last started first), SIGKILL to those still running after
    /// `grace`. Errors name every process that could not be stopped.
    pub fn stop(&mut self, grace: Duration) -> Result<(), String> {
        let mut errors = Vec::new();
        for running in self.running.iter().rev() {
            if let Ok(pid) = i32::try_from(running.child.id()) {
                // SAFETY: a plain signal to our own child.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        let deadline = Instant::now() + grace;
        for mut running in self.running.drain(..).rev() {
            loop {
                match running.child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    Ok(None) => {
                        if let Err(error) = running
                            .child
                            .kill()
                            .and_then(|()| running.child.wait().map(drop))
                        {
                            errors.push(format!("{}: {error}", running.name));
                        }
                        break;
                    }
                    Err(error) => {
                        errors.push(format!("{}: {error}", running.name));
                        break;
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "cannot stop the control plane: {}",
                errors.join("; ")
            ))
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Best effort on an error path; `stop` reports failures where the run can say so.
        let _ = self.stop(Duration::from_secs(2));
    }
}

/// The last `lines` lines of a log.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: u32) -> bool {
        // Signal 0 only checks; a zombie would still count, so reaped children are gone.
        i32::try_from(pid).is_ok_and(|pid| unsafe { libc::kill(pid, 0) } == 0)
    }

    #[test]
    fn stopping_or_dropping_the_supervisor_ends_every_process() {
        let logs = tempfile::tempdir().unwrap();
        let mut supervisor = Supervisor::default();
        supervisor
            .spawn("first", Path::new("sleep"), &["600".into()], logs.path())
            .unwrap();
        supervisor
            .spawn("second", Path::new("sleep"), &["600".into()], logs.path())
            .unwrap();
        let pids: Vec<u32> = supervisor.running.iter().map(|r| r.child.id()).collect();
        assert!(pids.iter().all(|pid| alive(*pid)));
        assert!(supervisor.exited().is_none());
        supervisor.stop(Duration::from_secs(5)).unwrap();
        assert!(pids.iter().all(|pid| !alive(*pid)), "{pids:?}");

        let mut dropped = Supervisor::default();
        dropped
            .spawn("third", Path::new("sleep"), &["600".into()], logs.path())
            .unwrap();
        let pid = dropped.running[0].child.id();
        drop(dropped);
        assert!(!alive(pid));
    }

    #[test]
    fn an_exited_process_is_reported_with_its_log() {
        let logs = tempfile::tempdir().unwrap();
        let mut supervisor = Supervisor::default();
        supervisor
            .spawn(
                "failing",
                Path::new("sh"),
                &["-c".into(), "echo bad flag >&2; exit 3".into()],
                logs.path(),
            )
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let report = loop {
            if let Some(report) = supervisor.exited() {
                break report;
            }
            assert!(Instant::now() < deadline, "the process never exited");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(report.starts_with("failing exited"), "{report}");
        assert!(report.contains("bad flag"), "{report}");
    }
}
