//! `image-assurance`: the command line. Each subcommand lives in `cli/`; the decisions are the
//! library's.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "image-assurance",
    version,
    about = "Image-assurance admission control for Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Decide offline whether workloads would be admitted.
    ///
    /// Exit status: 0 every document admitted, 1 at least one rejected, 2 bad input.
    Evaluate {
        /// Policy files or directories (multi-document YAML allowed). Repeatable.
        #[arg(long = "policy", required = true, value_name = "PATH")]
        policies: Vec<PathBuf>,
        /// A workload manifest (multi-document allowed) or an AdmissionReview; `-` reads
        /// standard input.
        #[arg(long, value_name = "PATH")]
        resource: PathBuf,
        /// The namespace [default: the document's metadata.namespace, else `default`].
        #[arg(long, value_name = "NAME")]
        namespace: Option<String>,
        /// The namespace's labels, `k=v,...` (`kubernetes.io/metadata.name` is always added).
        #[arg(long, value_name = "K=V,...")]
        namespace_labels: Option<String>,
        /// Scan results: our scan-results format or Trivy VulnerabilityReports.
        #[arg(long, value_name = "PATH")]
        scans: Option<PathBuf>,
        /// Owner objects for the check of controller-created children. Repeatable.
        #[arg(long = "owner", value_name = "PATH")]
        owners: Vec<PathBuf>,
        /// The requesting user [default: a non-controller user, or the AdmissionReview's].
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// The evaluation time, RFC 3339 [default: now].
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
        /// Show how each image was decided: subject, scan data, policies in order.
        #[arg(long)]
        explain: bool,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Parse a Calico selector and test it against labels.
    ///
    /// Exit status: 0 match, 1 no match, 2 invalid selector.
    Selector {
        selector: String,
        /// Labels to test, `k=v,...` [default: none].
        #[arg(long, value_name = "K=V,...")]
        labels: Option<String>,
    },
    /// Print the ContainerAdmissionPolicy CustomResourceDefinition as YAML.
    Crd,
    /// Run the validating admission webhook (HTTPS), watching the cluster through the
    /// in-cluster configuration or KUBECONFIG.
    Serve(cli::serve::ServeArgs),
    Certs(cli::certs::CertsArgs),
    Manifests(cli::manifests::ManifestsArgs),
    Audit(cli::audit::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Evaluate {
            policies,
            resource,
            namespace,
            namespace_labels,
            scans,
            owners,
            user,
            now,
            explain,
            output,
        } => cli::evaluate::run(&cli::evaluate::Options {
            policies,
            resource,
            namespace,
            namespace_labels,
            scans,
            owners,
            user,
            now,
            explain,
            output,
        }),
        Command::Selector { selector, labels } => cli::selector::run(&selector, labels.as_deref()),
        Command::Crd => cli::crd::run(),
        Command::Serve(args) => cli::serve::run(args),
        Command::Certs(args) => cli::certs::run(&args),
        Command::Manifests(args) => cli::manifests::run(&args),
        Command::Audit(args) => cli::audit::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(cli::EXIT_BAD_INPUT)
        }
    }
}
