//! The state of one scenario. Scenarios run concurrently against one cluster, so everything a
//! scenario creates is its own: one namespace, policies whose names carry the scenario's token
//! and whose namespaceSelector is narrowed to that namespace, and image tags carrying the token
//! (scan results are looked up cluster-wide by image). Messages are compared after mapping
//! those names back to the ones the feature wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use image_assurance::image::ImageRef;

use crate::context::{self, Context};

/// What the cluster answered to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Admitted,
    Rejected { code: u16, message: String },
}

/// The last request a step made, with what the feature called its images.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub what: String,
    /// (container, image as the feature wrote it)
    pub containers: Vec<(String, String)>,
    pub outcome: Outcome,
    /// The API server's warnings to the user, where the request kept them.
    pub warnings: Vec<String>,
}

pub struct World {
    pub ctx: Arc<Context>,
    pub token: String,
    pub namespace: Option<String>,
    pub namespace_labels: BTreeMap<String, String>,
    /// Cluster-scoped policies this scenario created (actual names).
    pub policies: Vec<String>,
    /// (actual, as written), longest actual first when applied.
    renames: Vec<(String, String)>,
    /// image as written → image used
    images: BTreeMap<String, String>,
    /// image as written → its VulnerabilityReport's name
    pub reports: BTreeMap<String, String>,
    /// Policies, scan results or namespace labels changed since the webhook was last seen to
    /// have caught up (see `barrier`).
    pub dirty: bool,
    pub barrier: u32,
    pub last: Option<Attempt>,
    /// The scenario changed the installation: the after-hook restores the standard one.
    pub install_changed: bool,
    /// Pods created outside the scenario's namespace: (namespace, name).
    pub outside: Vec<(String, String)>,
    /// The installer's answer to the last request for manifests.
    pub installer: Option<Result<(), String>>,
    /// Labels this scenario put on namespaces it does not own, (namespace, key): the
    /// after-hook removes them, so that nothing leaks into later scenarios.
    pub labelled_elsewhere: Vec<(String, String)>,
    /// Uids of webhook pods this scenario deleted or scaled away: pods that "come back" must
    /// be others.
    pub gone_webhook_pods: BTreeSet<String>,
    /// Count the webhook's admission requests around each request (process-wide counters:
    /// only meaningful in a @serial scenario).
    pub counting_requests: bool,
    /// The webhook's admission request counters (by pod) just before the last request.
    pub requests_before: Option<BTreeMap<String, u64>>,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("token", &self.token)
            .field("namespace", &self.namespace)
            .field("namespace_labels", &self.namespace_labels)
            .field("policies", &self.policies)
            .field("images", &self.images)
            .field("last", &self.last)
            .field("install_changed", &self.install_changed)
            .finish()
    }
}

impl cucumber::World for World {
    type Error = String;

    async fn new() -> Result<World, String> {
        let ctx = context::current()?;
        Ok(World::with_context(ctx))
    }
}

impl World {
    pub fn with_context(ctx: Arc<Context>) -> World {
        let token = ctx.next_token();
        World {
            ctx,
            token,
            namespace: None,
            namespace_labels: BTreeMap::new(),
            policies: Vec::new(),
            renames: Vec::new(),
            images: BTreeMap::new(),
            reports: BTreeMap::new(),
            dirty: false,
            barrier: 0,
            last: None,
            install_changed: false,
            outside: Vec::new(),
            installer: None,
            labelled_elsewhere: Vec::new(),
            gone_webhook_pods: BTreeSet::new(),
            counting_requests: false,
            requests_before: None,
        }
    }

    pub fn client(&self) -> kube::Client {
        self.ctx.client.clone()
    }

    /// Prints what a step did, tagged with the scenario's token (scenarios interleave).
    pub fn log(&self, what: impl fmt::Display) {
        println!("  [{}] {what}", self.token);
    }

    pub fn namespace(&self) -> Result<&str, String> {
        self.namespace.as_deref().ok_or_else(|| {
            "the scenario has no namespace yet (add `Given a namespace ...`)".to_string()
        })
    }

    /// The name a scenario's namespace gets.
    pub fn namespace_name(&self) -> String {
        format!("ia-{}", self.token)
    }

    /// The cluster name of a policy the feature calls `written`.
    pub fn policy_name(&mut self, written: &str) -> String {
        let actual = format!("{written}-{}", self.token);
        self.rename(&actual, written);
        actual
    }

    /// The image the cluster sees for the image the feature wrote: its tag gets the scenario's
    /// token, so scan results of concurrent scenarios never meet. Digests are left alone.
    pub fn image(&mut self, written: &str) -> String {
        if let Some(actual) = self.images.get(written) {
            return actual.clone();
        }
        let actual = scenario_image(written, &self.token);
        self.images.insert(written.to_string(), actual.clone());
        self.rename(&format!("\"{actual}\""), &format!("\"{written}\""));
        // The normalised reference too, as the why of a decision names it.
        if let (Ok(actual), Ok(written)) = (ImageRef::parse(&actual), ImageRef::parse(written)) {
            self.rename(actual.normalised(), written.normalised());
        }
        actual
    }

    fn rename(&mut self, actual: &str, written: &str) {
        if !self.renames.iter().any(|(known, _)| known == actual) {
            self.renames.push((actual.to_string(), written.to_string()));
            self.renames
                .sort_by_key(|(known, _)| std::cmp::Reverse(known.len()));
        }
    }

    /// A message from the cluster, with the scenario's names mapped back to the feature's.
    pub fn as_written(&self, message: &str) -> String {
        let mut message = message.to_string();
        for (actual, written) in &self.renames {
            message = message.replace(actual, written);
        }
        message
    }

    /// Whether the webhook is called for the scenario's namespace under the standard install.
    pub fn namespace_in_scope(&self) -> bool {
        let plan = &self.ctx.standard;
        self.namespace.is_some()
            && !self.install_changed
            && self
                .namespace_labels
                .get(&plan.selector_key)
                .is_some_and(|value| plan.selector_values.split_whitespace().any(|v| v == value))
    }

    pub fn record(&mut self, attempt: Attempt) {
        match &attempt.outcome {
            Outcome::Admitted => self.log(format!("{}: admitted", attempt.what)),
            Outcome::Rejected { code, message } => {
                self.log(format!("{}: refused ({code}): {message}", attempt.what))
            }
        }
        self.last = Some(attempt);
    }

    pub fn last(&self) -> Result<&Attempt, String> {
        self.last
            .as_ref()
            .ok_or_else(|| "no request was made yet in this scenario".to_string())
    }
}

/// `repo:tag` → `repo:tag-<token>`; `repo` → `repo:latest-<token>`; digests unchanged.
pub fn scenario_image(written: &str, token: &str) -> String {
    if written.contains('@') {
        return written.to_string();
    }
    let last_segment = written.rsplit('/').next().unwrap_or(written);
    if last_segment.contains(':') {
        format!("{written}-{token}")
    } else {
        format!("{written}:latest-{token}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_get_the_token_in_their_tag() {
        assert_eq!(scenario_image("nginx", "e2e1"), "nginx:latest-e2e1");
        assert_eq!(scenario_image("nginx:1.27", "e2e1"), "nginx:1.27-e2e1");
        assert_eq!(
            scenario_image("localhost:5000/app", "e2e1"),
            "localhost:5000/app:latest-e2e1"
        );
        assert_eq!(
            scenario_image("gcr.io/a/b@sha256:abc", "e2e1"),
            "gcr.io/a/b@sha256:abc"
        );
    }
}
