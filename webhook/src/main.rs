//! `image-assurance`: the command line. Each subcommand lives in `cli/`; the decisions are the
//! library's.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use image_assurance::install::webhook_configuration::FailurePolicy;
use image_assurance::install::{DEFAULT_IMAGE, DEFAULT_NAMESPACE, SERVICE_NAME};

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
        /// A workload manifest (multi-document allowed) or an AdmissionReview.
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
    /// Generate the webhook's TLS files: a CA and a serving certificate it signs.
    ///
    /// Writes admission_controller_cert.pem, admission_controller_key.pem, ca.pem and
    /// ca_key.pem (keys mode 0600). Exit status: 0 written, 2 bad input or existing files.
    Certs {
        /// Directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The webhook's Service; the certificate names <service>.<namespace>.svc.
        #[arg(long, value_name = "NAME", default_value = SERVICE_NAME)]
        service: String,
        /// The webhook's namespace.
        #[arg(long, value_name = "NS", default_value = DEFAULT_NAMESPACE)]
        namespace: String,
        /// Validity of both certificates, in days.
        #[arg(long, value_name = "N", default_value_t = 365)]
        days: u32,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Print every object of an installation as YAML, for `kubectl apply -f -`.
    ///
    /// Namespace, CRD, RBAC, TLS Secret, Deployment, PodDisruptionBudget, Service and the
    /// ValidatingWebhookConfiguration. Exit status: 0 printed, 2 bad input.
    Manifests {
        /// The namespace label that opts a namespace in [default: $IN_NAMESPACE_SELECTOR_KEY].
        // Hyphen values allowed so that `-name` gets the label-syntax error, not "unknown flag".
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        namespace_selector_key: Option<String>,
        /// Its values, space-separated [default: $IN_NAMESPACE_SELECTOR_VALUES].
        #[arg(long, value_name = "\"V1 V2\"", allow_hyphen_values = true)]
        namespace_selector_values: Option<String>,
        /// Directory holding the files written by `image-assurance certs`.
        #[arg(long, value_name = "DIR", default_value = ".")]
        cert_dir: PathBuf,
        /// The webhook image (build it from the repository's Dockerfile).
        #[arg(long, value_name = "IMAGE", default_value = DEFAULT_IMAGE)]
        image: String,
        /// The webhook's own namespace.
        #[arg(long, value_name = "NS", default_value = DEFAULT_NAMESPACE)]
        namespace: String,
        /// What the API server does when the webhook cannot answer: reject, or admit.
        #[arg(long, value_enum, default_value_t = FailurePolicyArg::Fail)]
        failure_policy: FailurePolicyArg,
        /// How long the API server waits for the webhook (1-30).
        #[arg(long, value_name = "N", default_value_t = 5)]
        timeout_seconds: i32,
        /// Webhook pods.
        #[arg(long, value_name = "N", default_value_t = 2)]
        replicas: i32,
        #[arg(
            long,
            value_name = "P",
            default_value = "IfNotPresent",
            value_parser = ["Always", "IfNotPresent", "Never"]
        )]
        image_pull_policy: String,
        /// DANGEROUS, for demonstrating the deadlock only: accept kube-system, kube-public,
        /// kube-node-lease and the webhook's own namespace as selector values, and exclude no
        /// namespace by name. If the webhook then goes down, pods in those namespaces, its own
        /// included, cannot be created, so it cannot come back.
        #[arg(long)]
        allow_critical_namespaces: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FailurePolicyArg {
    #[value(name = "Fail")]
    Fail,
    #[value(name = "Ignore")]
    Ignore,
}

impl From<FailurePolicyArg> for FailurePolicy {
    fn from(arg: FailurePolicyArg) -> Self {
        match arg {
            FailurePolicyArg::Fail => FailurePolicy::Fail,
            FailurePolicyArg::Ignore => FailurePolicy::Ignore,
        }
    }
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
        Command::Certs {
            out,
            service,
            namespace,
            days,
            force,
        } => cli::certs::run(&cli::certs::Options {
            out,
            service,
            namespace,
            days,
            force,
        }),
        Command::Manifests {
            namespace_selector_key,
            namespace_selector_values,
            cert_dir,
            image,
            namespace,
            failure_policy,
            timeout_seconds,
            replicas,
            image_pull_policy,
            allow_critical_namespaces,
        } => cli::manifests::run(&cli::manifests::Options {
            namespace_selector_key,
            namespace_selector_values,
            cert_dir,
            image,
            namespace,
            failure_policy: failure_policy.into(),
            timeout_seconds,
            replicas,
            image_pull_policy,
            allow_critical_namespaces,
        }),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(cli::EXIT_BAD_INPUT)
        }
    }
}
