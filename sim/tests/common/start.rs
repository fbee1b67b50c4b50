//! A simulator and a kube client of it.

use sim::{Config, Simulator};

/// An API server alone: objects are stored, nothing acts on them.
pub async fn api() -> (Simulator, kube::Client) {
    with(Config::default()).await
}

/// A whole cluster with the default options: nodes, scheduler, kubelet, and the controllers.
pub async fn cluster() -> (Simulator, kube::Client) {
    with(Config::cluster()).await
}

async fn with(config: Config) -> (Simulator, kube::Client) {
    let sim = Simulator::start(config)
        .await
        .expect("the simulator starts");
    let client = sim.client().expect("a kube client");
    (sim, client)
}
