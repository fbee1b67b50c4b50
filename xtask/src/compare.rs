//! `cargo xtask compare [CASE]...`: the simulator side by side with Kubernetes' own control
//! plane. Each case in `xtask/compare/*.kubectl` is a list of kubectl command lines (`#`
//! comments; `$NS` is a namespace name of the case's own; single and double quotes group
//! words, as in a shell, but nothing else of a shell applies; `quiet kubectl ...` keeps only
//! the exit status, for output that depends on timing). A case runs once against each
//! cluster, and what each command printed (stdout, stderr, exit status) must be the same on
//! both once the values that differ between any two clusters (uids, timestamps,
//! resourceVersions) are masked. Differences are printed line by line; the exit status says
//! whether there were any.

use std::path::{Path, PathBuf};
use std::process::Command;

use conformance::backend::upstream::UpstreamBackend;
use conformance::backend::{Backend, BackendOptions};
use image_assurance::install::DEFAULT_IMAGE;
use regex::Regex;

const CASES: &str = "xtask/compare";

struct Case {
    name: String,
    script: PathBuf,
}

fn cases(root: &Path, wanted: &[String]) -> Result<Vec<Case>, String> {
    let dir = root.join(CASES);
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|error| format!("{}: {error}", dir.display()))? {
        let path = entry
            .map_err(|error| format!("{}: {error}", dir.display()))?
            .path();
        let Some(name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".kubectl"))
        else {
            continue;
        };
        if wanted.is_empty() || wanted.iter().any(|wanted| wanted == name) {
            cases.push(Case {
                name: name.to_string(),
                script: path.clone(),
            });
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(unknown) = wanted
        .iter()
        .find(|wanted| !cases.iter().any(|case| &case.name == *wanted))
    {
        return Err(format!("compare: no case {unknown:?} in {}", dir.display()));
    }
    Ok(cases)
}

pub fn run(args: &[String], root: &Path) -> Result<(), String> {
    if let Some(flag) = args.iter().find(|arg| arg.starts_with('-')) {
        return Err(format!(
            "compare: unknown argument {flag:?} (usage: compare [CASE]...)"
        ));
    }
    let cases = cases(root, args)?;
    let binary = crate::e2e::build_webhook(root)?;
    crate::e2e::prepare_upstream(root)?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start a runtime: {error}"))?;
    runtime.block_on(compare(&cases, binary, root))
}

async fn compare(cases: &[Case], binary: PathBuf, root: &Path) -> Result<(), String> {
    let upstream = UpstreamBackend::start(&BackendOptions {
        root: root.to_path_buf(),
        image: DEFAULT_IMAGE.to_string(),
        binary,
        cluster_name: "compare".into(),
        keep: false,
    })
    .await?;
    let upstream_kubeconfig = upstream.admin_kubeconfig().to_path_buf();
    // Started after the upstream backend, so inside the same network namespace.
    let result = match sim::Simulator::start(sim::Config::cluster()).await {
        Ok(mut simulator) => {
            let dir = root.join("target/compare");
            match simulator.write_kubeconfig(&dir.join("sim.kubeconfig")) {
                Ok(kubeconfig) => {
                    println!("transcripts: {}/<case>.{{upstream,sim}}.txt", dir.display());
                    run_cases(cases, &upstream_kubeconfig, &kubeconfig, &dir).await
                }
                Err(error) => Err(format!("the simulator's kubeconfig: {error}")),
            }
        }
        Err(error) => Err(format!("the simulator did not start: {error}")),
    };
    let stopped = Box::new(upstream).teardown().await;
    result.and(stopped)
}

async fn run_cases(
    cases: &[Case],
    upstream: &Path,
    simulator: &Path,
    transcripts: &Path,
) -> Result<(), String> {
    let mask = Mask::new()?;
    let mut differing = Vec::new();
    for case in cases {
        let namespace = format!("compare-{}", case.name.replace('_', "-"));
        let on_upstream = mask.apply(&run_case(case, upstream, &namespace).await?);
        let on_simulator = mask.apply(&run_case(case, simulator, &namespace).await?);
        // Kept for reading: what both answered, not only where they differ.
        for (cluster, transcript) in [("upstream", &on_upstream), ("sim", &on_simulator)] {
            let path = transcripts.join(format!("{}.{cluster}.txt", case.name));
            std::fs::write(&path, transcript)
                .map_err(|error| format!("{}: {error}", path.display()))?;
        }
        let differences = line_differences(&on_upstream, &on_simulator);
        if differences.is_empty() {
            println!(
                "{}: same ({} lines)",
                case.name,
                on_upstream.lines().count()
            );
        } else {
            println!("{}: DIFFERENT", case.name);
            for (line, upstream, simulator) in &differences {
                println!("  line {line}:\n    upstream:  {upstream}\n    simulator: {simulator}");
            }
            differing.push(case.name.clone());
        }
    }
    if differing.is_empty() {
        println!(
            "{} cases, the simulator answered as kube-apiserver in each",
            cases.len()
        );
        Ok(())
    } else {
        Err(format!(
            "the simulator differs from upstream in: {}",
            differing.join(", ")
        ))
    }
}

/// Splits a command line into words: whitespace separates, quotes group (`\"` inside double
/// quotes is a quote).
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '\'' | '"' => {
                let quote = c;
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated {quote} in {line:?}")),
                        Some(c) if c == quote => break,
                        Some('\\') if quote == '"' => match chars.next() {
                            Some(escaped) => current.push(escaped),
                            None => return Err(format!("a trailing \\ in {line:?}")),
                        },
                        Some(c) => current.push(c),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// One command of a case.
struct Line {
    words: Vec<String>,
    /// Only the exit status is compared.
    quiet: bool,
}

/// The command lines of a case, `$NS` replaced.
fn commands(case: &Case, namespace: &str) -> Result<Vec<Line>, String> {
    let text = std::fs::read_to_string(&case.script)
        .map_err(|error| format!("{}: {error}", case.script.display()))?;
    let mut commands = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = words(&line.replace("$NS", namespace))
            .map_err(|error| format!("{}:{}: {error}", case.script.display(), number + 1))?;
        let quiet = words.first().map(String::as_str) == Some("quiet");
        if quiet {
            words.remove(0);
        }
        if words.first().map(String::as_str) != Some("kubectl") {
            return Err(format!(
                "{}:{}: a case runs kubectl only: {line:?}",
                case.script.display(),
                number + 1
            ));
        }
        commands.push(Line { words, quiet });
    }
    Ok(commands)
}

/// Each command with what it printed and its exit status.
async fn run_case(case: &Case, kubeconfig: &Path, namespace: &str) -> Result<String, String> {
    let mut transcript = String::new();
    for Line { words, quiet } in commands(case, namespace)? {
        let mut command = Command::new(&words[0]);
        command.args(&words[1..]).env("KUBECONFIG", kubeconfig);
        // Manifests a case names are beside it.
        if let Some(dir) = case.script.parent() {
            command.current_dir(dir);
        }
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .map_err(|error| format!("{}: {error}", case.name))?
            .map_err(|error| format!("{}: cannot run kubectl: {error}", case.name))?;
        transcript.push_str(&format!("$ {}\n", words.join(" ")));
        if !quiet {
            let stdout = String::from_utf8_lossy(&output.stdout);
            transcript.push_str(&stdout);
            if !stdout.is_empty() && !stdout.ends_with('\n') {
                transcript.push('\n');
            }
            for line in String::from_utf8_lossy(&output.stderr).lines() {
                transcript.push_str(&format!("stderr: {line}\n"));
            }
        }
        if !output.status.success() {
            transcript.push_str(&format!("exit: {}\n", output.status.code().unwrap_or(-1)));
        }
    }
    Ok(transcript)
}

/// What differs between any two clusters, masked.
struct Mask {
    patterns: Vec<(Regex, &'static str)>,
}

impl Mask {
    fn new() -> Result<Mask, String> {
        let patterns = [
            (
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "<uid>",
            ),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
            // `kubectl describe`'s timestamps (RFC 1123 with a numeric zone).
            (
                r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}",
                "<time>",
            ),
            (
                r#""resourceVersion": ?"\d+""#,
                r#""resourceVersion":"<rv>""#,
            ),
            // Random name suffixes (generateName), and pod-template hashes: kube hashes Go's
            // spew dump of the template, the simulator its JSON (sim/README.md).
            (r"-[bcdfghjklmnpqrstvwxz2456789]{5,10}\b", "-<generated>"),
            (
                r"pod-template-hash=[bcdfghjklmnpqrstvwxz2456789]{6,10}\b",
                "pod-template-hash=<hash>",
            ),
            // Ages in tables (`0s`, `3m4s`, `2d`), which depend on timing.
            (r"\b\d+[smhd](\d+[smh])?\b", "<age>"),
        ];
        let patterns = patterns
            .into_iter()
            .map(|(pattern, replacement)| {
                Regex::new(pattern)
                    .map(|regex| (regex, replacement))
                    .map_err(|error| format!("mask {pattern:?}: {error}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Mask { patterns })
    }

    fn apply(&self, text: &str) -> String {
        self.patterns
            .iter()
            .fold(text.to_string(), |text, (regex, replacement)| {
                regex.replace_all(&text, *replacement).into_owned()
            })
    }
}

/// (line number, upstream's line, the simulator's line) for each line that differs; a
/// missing line is shown as `<none>`.
fn line_differences(upstream: &str, simulator: &str) -> Vec<(usize, String, String)> {
    let upstream: Vec<&str> = upstream.lines().collect();
    let simulator: Vec<&str> = simulator.lines().collect();
    (0..upstream.len().max(simulator.len()))
        .filter_map(|index| {
            let a = upstream.get(index).copied();
            let b = simulator.get(index).copied();
            (a != b).then(|| {
                (
                    index + 1,
                    a.unwrap_or("<none>").to_string(),
                    b.unwrap_or("<none>").to_string(),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_differs_between_any_two_clusters_is_masked() {
        let mask = Mask::new().unwrap();
        assert_eq!(
            mask.apply(r#"{"uid":"0b6f7c1e-8a0e-4c1b-9a55-1d2f3e4a5b6c","resourceVersion": "4711","t":"2026-12-03T15:04:07Z"}"#),
            r#"{"uid":"<uid>","resourceVersion":"<rv>","t":"<time>"}"#
        );
        assert_eq!(
            mask.apply("pod/once-6q2pv replicaset.apps/web-796cf5c97c namespace/compare-deletion"),
            "pod/once-<generated> replicaset.apps/web-<generated> namespace/compare-deletion"
        );
        assert_eq!(
            mask.apply("CreationTimestamp:      Thu, 03 Dec 2026 15:34:38 +0000"),
            "CreationTimestamp:      <time>"
        );
        assert_eq!(
            mask.apply("web   2   12s   app=web,pod-template-hash=796cf5c97c   3m4s"),
            "web   2   <age>   app=web,pod-template-hash=<hash>   <age>"
        );
    }

    #[test]
    fn command_lines_split_as_a_shell_would_without_its_other_powers() {
        assert_eq!(
            words(r#"kubectl patch cm a -p '{"metadata":{}}' --type="merge" "a \"b\"""#).unwrap(),
            [
                "kubectl",
                "patch",
                "cm",
                "a",
                "-p",
                r#"{"metadata":{}}"#,
                "--type=merge",
                r#"a "b""#
            ]
        );
        assert!(words("kubectl 'open").is_err());
    }

    #[test]
    fn differences_name_the_line_and_a_missing_one() {
        assert!(line_differences("a\nb\n", "a\nb\n").is_empty());
        assert_eq!(
            line_differences("a\nb\n", "a\nc\nd\n"),
            [
                (2, "b".to_string(), "c".to_string()),
                (3, "<none>".to_string(), "d".to_string())
            ]
        );
    }

    #[test]
    fn every_case_is_found_and_an_unknown_one_refused() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let all = cases(root, &[]).unwrap();
        assert!(
            all.iter().any(|case| case.name == "deletion"),
            "{:?}",
            all.iter().map(|case| &case.name).collect::<Vec<_>>()
        );
        for case in &all {
            commands(case, "compare-x").unwrap();
        }
        let error = cases(root, &["nonesuch".to_string()]).err().unwrap();
        assert!(error.contains("no case \"nonesuch\""), "{error}");
    }
}
