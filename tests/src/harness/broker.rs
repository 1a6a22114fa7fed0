//! Broker names of a test's own: exchanges `t<id>-nova` …, queues
//! `t<id>-tach.*`, deployment `t<id>`; deleted at the end, so parallel tests
//! never receive each other's messages.

use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use tach_ingest::topology;
use tach_ingest::DeploymentConfig;

/// A test's broker namespace.
pub struct TestBroker {
    /// Prefix of every name.
    pub prefix: String,
    /// The broker URL.
    pub amqp_url: String,
}

impl TestBroker {
    /// A new namespace on the test broker.
    pub fn new() -> TestBroker {
        TestBroker {
            prefix: format!("t{}-", super::unique_suffix()),
            amqp_url: super::amqp_url(),
        }
    }

    /// The deployment tach-ingest consumes for this test, via `amqp_url`
    /// (the broker, or a proxy in front of it).
    pub fn deployment(&self, amqp_url: &str) -> DeploymentConfig {
        let mut deployment = DeploymentConfig::single(self.prefix.trim_end_matches('-'), amqp_url);
        deployment.exchange_prefix = self.prefix.clone();
        deployment.queue_prefix = format!("{}tach", self.prefix);
        deployment
    }

    /// A TACH_CONFIG file with this namespace's deployment on `amqp_url`,
    /// for tach-ingest run as a process (which names its queues and
    /// exchanges only from a config file).
    pub fn config_file(&self, amqp_url: &str) -> std::path::PathBuf {
        let deployment = self.deployment(amqp_url);
        let path = std::env::temp_dir().join(format!("{}config.toml", self.prefix));
        let text = format!(
            "[[deployment]]\nname = {:?}\namqp_url = {:?}\nexchange_prefix = {:?}\nqueue_prefix = {:?}\n",
            deployment.name, deployment.amqp_url, deployment.exchange_prefix, deployment.queue_prefix
        );
        std::fs::write(&path, text).expect("writing the config file");
        path
    }

    /// Messages ready in queue `name`, or None when it does not exist.
    pub async fn queue_depth_at(amqp_url: &str, name: &str) -> Option<u32> {
        Self::probe(amqp_url, name)
            .await
            .map(|queue| queue.message_count())
    }

    /// Waits until tach-ingest consumes `<prefix><queue>`. It consumes only
    /// once every queue of the deployment is declared and bound, so from
    /// then on nothing published to the deployment's exchanges is dropped
    /// for want of a binding (a queue that merely exists may not be bound yet).
    pub async fn wait_for_consumer(&self, queue: &str) {
        let name = format!("{}{queue}", self.prefix);
        super::wait_until(
            &format!("tach-ingest to consume {name}"),
            std::time::Duration::from_secs(20),
            || async {
                Self::probe(&self.amqp_url, &name)
                    .await
                    .is_some_and(|queue| queue.consumer_count() > 0)
            },
        )
        .await;
    }

    /// The passive declare of queue `name`: its counts, or None when it does not exist.
    async fn probe(amqp_url: &str, name: &str) -> Option<lapin::Queue> {
        let connection = Connection::connect(amqp_url, ConnectionProperties::default())
            .await
            .ok()?;
        let channel = connection.create_channel().await.ok()?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = channel
            .queue_declare(name.into(), passive, FieldTable::default())
            .await
            .ok();
        let _ = connection.close(200, "probe done".into()).await;
        queue
    }

    /// Deletes queues outside tach's topology that a test made (a
    /// publisher's own), ignoring errors.
    pub async fn delete_queues(&self, names: &[String]) {
        let Ok(connection) =
            Connection::connect(&self.amqp_url, ConnectionProperties::default()).await
        else {
            return;
        };
        for name in names {
            if let Ok(channel) = connection.create_channel().await {
                let _ = channel
                    .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
        }
        let _ = connection.close(200, "test done".into()).await;
    }

    /// Deletes the test's queues and exchanges.
    pub async fn delete_all(&self) {
        let Ok(connection) =
            Connection::connect(&self.amqp_url, ConnectionProperties::default()).await
        else {
            return;
        };
        let deployment = self.deployment(&self.amqp_url);
        for queue in topology::queues(&deployment) {
            if let Ok(channel) = connection.create_channel().await {
                let _ = channel
                    .queue_delete(queue.name.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
        }
        for binding in deployment.effective_bindings() {
            if let Ok(channel) = connection.create_channel().await {
                let _ = channel
                    .exchange_delete(
                        binding.exchange.as_str().into(),
                        ExchangeDeleteOptions::default(),
                    )
                    .await;
            }
        }
        let _ = connection.close(200, "test done".into()).await;
    }
}

impl Default for TestBroker {
    fn default() -> Self {
        TestBroker::new()
    }
}
