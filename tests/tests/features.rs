//! The features against the simulator, under `cargo test` (so CI gates on them). Tags can be
//! narrowed with CUCUMBER_FILTER_TAGS, e.g. `CUCUMBER_FILTER_TAGS=@controllers`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().unwrap_or(root);
    // `cargo test --workspace` builds the webhook's binary for its own tests; alone, this test
    // uses the build that is there, or builds one when there is none or it is older than the
    // webhook's sources.
    let binary = match conformance::runner::find_binary() {
        Some(binary) if !conformance::runner::is_stale(&binary, &root) => binary,
        _ => match conformance::runner::build_binary(&root) {
            Ok(binary) => binary,
            Err(error) => {
                eprintln!("features: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut options = conformance::runner::RunOptions::new(&root, &binary);
    options.tags = std::env::var("CUCUMBER_FILTER_TAGS")
        .ok()
        .filter(|tags| !tags.is_empty());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("features: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(conformance::runner::run(&options)) {
        Ok(summary) => {
            println!("{}", summary.line());
            for name in &summary.not_passed {
                println!("  not passed: {name}");
            }
            if summary.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("features: {error}");
            ExitCode::FAILURE
        }
    }
}
