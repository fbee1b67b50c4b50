//! Kubernetes' own control plane, built from its published Go modules (`upstream/go.mod`) into
//! a cache outside the work tree, keyed by version, so clean clones and CI on one machine build
//! it once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The Kubernetes release the upstream backend runs. `upstream/go.mod` pins the same one
/// (`k8s.io/kubernetes` and every staging module's `replace`); a test checks they agree. It is
/// the newest v1.32 patch whose staging modules the Go module proxy serves in full.
pub const KUBERNETES_VERSION: &str = "v1.32.9";

/// The Go module that pins the control plane, relative to the workspace root.
pub const MODULE_DIR: &str = "upstream";

/// The four programs, as (binary name, Go package).
pub const PROGRAMS: [(&str, &str); 4] = [
    ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
    (
        "kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
    ),
    ("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"),
    ("etcd", "go.etcd.io/etcd/server/v3"),
];

/// Written last, so an interrupted build is not taken for a complete one.
const COMPLETE: &str = "complete";

/// Where the binaries of `version` live: `$XDG_CACHE_HOME/image-assurance/kubernetes-<version>/`
/// (`~/.cache` without XDG_CACHE_HOME).
pub fn cache_dir(version: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(
        base.join("image-assurance")
            .join(format!("kubernetes-{version}")),
    )
}

/// The built binaries.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    pub fn path(&self, program: &str) -> PathBuf {
        self.dir.join(program)
    }

    /// The cached binaries of this version, if a build completed.
    pub fn cached() -> Option<Binaries> {
        let dir = cache_dir(KUBERNETES_VERSION)?;
        dir.join(COMPLETE).is_file().then_some(Binaries { dir })
    }

    /// The cached binaries, building them first when there are none (minutes on 2 cores).
    pub fn ensure(root: &Path) -> Result<Binaries, String> {
        if let Some(binaries) = Binaries::cached() {
            println!(
                "upstream: Kubernetes {KUBERNETES_VERSION} binaries cached in {}",
                binaries.dir.display()
            );
            return Ok(binaries);
        }
        let dir = cache_dir(KUBERNETES_VERSION)
            .ok_or("upstream: neither XDG_CACHE_HOME nor HOME is set: nowhere to cache binaries")?;
        build(&root.join(MODULE_DIR), &dir)?;
        Ok(Binaries { dir })
    }
}

/// The `-ldflags` that give the binaries their version (`kubectl version`, `/version`), as
/// Kubernetes' own build (`hack/lib/version.sh`) sets it; `-s -w` keep them small.
pub fn ldflags(version: &str) -> String {
    let minor = version
        .trim_start_matches('v')
        .split('.')
        .nth(1)
        .unwrap_or_default();
    let mut flags = vec!["-s".to_string(), "-w".to_string()];
    for package in [
        "k8s.io/component-base/version",
        "k8s.io/client-go/pkg/version",
    ] {
        for (name, value) in [
            ("gitMajor", "1"),
            ("gitMinor", minor),
            ("gitVersion", version),
            ("gitTreeState", "clean"),
        ] {
            flags.push(format!("-X {package}.{name}={value}"));
        }
    }
    flags.join(" ")
}

/// `go build -trimpath` of each program into `dir`, with progress.
fn build(module: &Path, dir: &Path) -> Result<(), String> {
    if !module.join("go.mod").is_file() {
        return Err(format!(
            "upstream: {} has no go.mod: cannot build the control plane",
            module.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    println!(
        "upstream: building Kubernetes {KUBERNETES_VERSION} (kube-apiserver, kube-controller-manager, kube-scheduler, etcd) from {} into {}; this takes several minutes the first time",
        module.display(),
        dir.display()
    );
    let started = Instant::now();
    let ldflags = ldflags(KUBERNETES_VERSION);
    for (index, (name, package)) in PROGRAMS.iter().enumerate() {
        let step = Instant::now();
        println!(
            "upstream: [{}/{}] go build {package}",
            index + 1,
            PROGRAMS.len()
        );
        let output = dir.join(name);
        let status = Command::new("go")
            .current_dir(module)
            // The module's go.sum is the lock: never rewrite it during a build.
            .env("GOFLAGS", "-mod=readonly")
            .args(["build", "-trimpath", "-ldflags", &ldflags, "-o"])
            .arg(&output)
            .arg(package)
            .status()
            .map_err(|error| {
                format!("upstream: cannot run `go build` (is Go installed?): {error}")
            })?;
        if !status.success() {
            return Err(format!("upstream: `go build {package}` failed: {status}"));
        }
        println!(
            "upstream: [{}/{}] {name} built in {:.0}s",
            index + 1,
            PROGRAMS.len(),
            step.elapsed().as_secs_f64()
        );
    }
    std::fs::write(dir.join(COMPLETE), KUBERNETES_VERSION)
        .map_err(|error| format!("{}: {error}", dir.display()))?;
    println!("upstream: built in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Whether `go` runs here.
pub fn go_available() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go_mod() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(MODULE_DIR)
            .join("go.mod");
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn go_mod_pins_the_same_version_for_kubernetes_and_every_staging_module() {
        let text = go_mod();
        let staging = KUBERNETES_VERSION.replacen("v1.", "v0.", 1);
        assert!(
            // `// indirect`: only the tools use it, no Go code of ours.
            text.lines().any(|line| {
                line.split("//").next().map(str::trim)
                    == Some(&format!("k8s.io/kubernetes {KUBERNETES_VERSION}"))
            }),
            "go.mod does not require k8s.io/kubernetes {KUBERNETES_VERSION}"
        );
        let replaces: Vec<&str> = text.lines().filter(|line| line.contains(" => ")).collect();
        assert!(replaces.len() >= 25, "{replaces:?}");
        for line in replaces {
            assert!(
                line.trim_end().ends_with(&staging),
                "{line:?} does not replace with {staging}"
            );
        }
        for (_, package) in PROGRAMS {
            assert!(
                text.contains(&format!("\t{package}\n")),
                "no tool {package}"
            );
        }
    }

    #[test]
    fn the_version_is_stamped_into_both_version_packages() {
        let flags = ldflags("v1.32.9");
        for expected in [
            "-X k8s.io/component-base/version.gitVersion=v1.32.9",
            "-X k8s.io/component-base/version.gitMinor=32",
            "-X k8s.io/client-go/pkg/version.gitVersion=v1.32.9",
            "-X k8s.io/client-go/pkg/version.gitMajor=1",
        ] {
            assert!(flags.contains(expected), "{flags}");
        }
    }

    #[test]
    fn the_cache_is_keyed_by_version() {
        let dir = cache_dir("v1.32.9").unwrap();
        assert!(
            dir.ends_with("image-assurance/kubernetes-v1.32.9"),
            "{dir:?}"
        );
        assert_ne!(dir, cache_dir("v1.32.10").unwrap());
    }
}
