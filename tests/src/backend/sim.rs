//! The simulated cluster, in-process: `sim::Simulator` with `Config::cluster()`, its kubelet
//! running the built `image-assurance` binary for the webhook's image.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use super::{Backend, BackendOptions};

pub struct SimBackend {
    simulator: sim::Simulator,
    client: kube::Client,
    image: String,
}

impl SimBackend {
    pub async fn start(options: &BackendOptions) -> Result<SimBackend, String> {
        if !options.binary.is_file() {
            return Err(format!(
                "the simulator runs the webhook from {}, which does not exist (cargo build -p image-assurance)",
                options.binary.display()
            ));
        }
        // Pods' volumes and logs (the webhook's own log among them) stay after the run, for
        // whoever needs to see why a scenario failed.
        let work_dir = options.root.join("target").join("e2e-sim");
        if work_dir.exists() {
            std::fs::remove_dir_all(&work_dir)
                .map_err(|error| format!("cannot clear {}: {error}", work_dir.display()))?;
        }
        let mut config = sim::Config::cluster();
        if let Some(cluster) = config.cluster.as_mut() {
            cluster.images = BTreeMap::from([(options.image.clone(), options.binary.clone())]);
            cluster.work_dir = Some(work_dir.clone());
        }
        let simulator = sim::Simulator::start(config)
            .await
            .map_err(|error| format!("the simulator did not start: {error}"))?;
        let client = simulator
            .client()
            .map_err(|error| format!("no client for the simulator: {error}"))?;
        println!(
            "sim: API server at {}, image {} runs {}, pod logs in {}",
            simulator.url(),
            options.image,
            options.binary.display(),
            work_dir.display()
        );
        Ok(SimBackend {
            simulator,
            client,
            image: options.image.clone(),
        })
    }
}

impl Backend for SimBackend {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn client(&self) -> kube::Client {
        self.client.clone()
    }

    fn webhook_image(&self) -> &str {
        &self.image
    }

    fn teardown(self: Box<Self>) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            self.simulator.shutdown().await;
            Ok(())
        })
    }
}
