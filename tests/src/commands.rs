//! External commands as data: the kind and k3s backends build their command lines as values,
//! so tests can check exactly what would run without a container engine.

use std::fmt;
use std::path::Path;
use std::process::Command;

/// One command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
}

impl CommandLine {
    pub fn new(program: &str, args: &[&str]) -> CommandLine {
        CommandLine {
            program: program.to_string(),
            args: args.iter().map(|arg| arg.to_string()).collect(),
        }
    }

    /// The program and its arguments as one list (for `exec` in a container).
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// Runs it with inherited output; an error names the command and how it failed.
    pub fn run(&self, dir: &Path) -> Result<(), String> {
        println!("$ {self}");
        let status = Command::new(&self.program)
            .args(&self.args)
            .current_dir(dir)
            .status()
            .map_err(|error| format!("cannot run `{self}`: {error}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{self}` failed: {status}"))
        }
    }

    /// Runs it and returns its stdout; stderr is part of the error.
    pub fn output(&self, dir: &Path) -> Result<String, String> {
        println!("$ {self}");
        let output = Command::new(&self.program)
            .args(&self.args)
            .current_dir(dir)
            .output()
            .map_err(|error| format!("cannot run `{self}`: {error}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "`{self}` failed: {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// Whether it runs and exits 0, quietly (for probing tools).
    pub fn succeeds(&self) -> bool {
        Command::new(&self.program)
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program)?;
        for arg in &self.args {
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                write!(f, " {arg:?}")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

/// The error of a start that failed part-way, with how the clean-up after it went: a failed
/// clean-up leaves a cluster or container behind, so it belongs in the error, not only in the log.
pub fn with_cleanup(error: String, cleanup: Result<(), String>) -> String {
    match cleanup {
        Ok(()) => error,
        Err(cleanup) => format!("{error}; the clean-up after it failed too: {cleanup}"),
    }
}

/// What a container-engine backend needs before it starts: `docker info` (the daemon answers)
/// and, for kind, `kind version`. Returns the missing tools, each with why.
pub fn missing_tools(need_kind: bool) -> Vec<String> {
    let mut missing = Vec::new();
    if !CommandLine::new("docker", &["info"]).succeeds() {
        missing
            .push("docker (`docker info` fails: no Docker CLI or no running daemon)".to_string());
    }
    if need_kind && !CommandLine::new("kind", &["version"]).succeeds() {
        missing.push("kind (`kind version` fails: kind is not installed)".to_string());
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_arguments_with_spaces() {
        let line = CommandLine::new("kind", &["create", "cluster", "--name", "a b"]);
        assert_eq!(line.to_string(), "kind create cluster --name \"a b\"");
    }

    #[test]
    fn a_missing_program_is_an_error_naming_the_command() {
        let line = CommandLine::new("/nonexistent/tool", &["x"]);
        let error = line.run(Path::new(".")).unwrap_err();
        assert!(
            error.starts_with("cannot run `/nonexistent/tool x`"),
            "{error}"
        );
        assert!(!line.succeeds());
    }

    #[test]
    fn argv_is_the_program_then_its_arguments() {
        let line = CommandLine::new("ctr", &["images", "import", "/tmp/a.tar"]);
        assert_eq!(line.argv(), ["ctr", "images", "import", "/tmp/a.tar"]);
    }

    #[test]
    fn a_failed_clean_up_is_part_of_the_start_error() {
        assert_eq!(with_cleanup("load failed".into(), Ok(())), "load failed");
        assert_eq!(
            with_cleanup("load failed".into(), Err("delete failed".into())),
            "load failed; the clean-up after it failed too: delete failed"
        );
    }
}
