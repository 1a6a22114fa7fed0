//! tach-ingest and tach-query started in-process through their library
//! entry points, and stopped the way SIGTERM stops them.

use std::net::SocketAddr;
use std::time::Duration;

use tach_ingest::{Deployment, DeploymentConfig, Health, Settings, StartRefused};
use tach_schema::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Settings for tests: small batches and a short linger, so a test sees
/// several batches and concurrent writers.
pub fn test_settings() -> Settings {
    Settings {
        prefetch: 500,
        batch_size: 100,
        batch_linger: Duration::from_millis(20),
        writers: 2,
        max_body_bytes: tach_schema::envelope::DEFAULT_MAX_BODY_BYTES,
        shutdown_timeout: Duration::from_secs(10),
    }
}

/// A running tach-ingest.
pub struct TestIngest {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), StartRefused>>,
}

impl TestIngest {
    /// Starts consuming `deployments` into the database at `database_url`.
    pub async fn start(
        database_url: &str,
        deployments: Vec<DeploymentConfig>,
        settings: Settings,
    ) -> TestIngest {
        let pool = tach_schema::connect(database_url, tach_schema::PoolSettings::default())
            .await
            .expect("ingest pool");
        let deployments = deployments
            .into_iter()
            .map(|config| Deployment::new(config).expect("a usable broker URL"))
            .collect();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(tach_ingest::consume(
            Store::new(pool),
            deployments,
            settings,
            Health::default(),
            shutdown.clone(),
        ));
        TestIngest { shutdown, task }
    }

    /// Stops as SIGTERM does and waits until it has.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("tach-ingest stops within 30 s")
            .expect("tach-ingest task did not panic")
            .expect("every deployment started");
    }
}

/// A running tach-query on a local port.
pub struct TestQuery {
    /// Its address.
    pub address: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestQuery {
    /// Serves the database at `pool`.
    pub async fn start(pool: sqlx::PgPool) -> TestQuery {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding tach-query");
        let address = listener.local_addr().expect("tach-query address");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(tach_query::serve(
            listener,
            tach_query::AppState::new(pool),
            Duration::from_secs(30),
            shutdown.clone(),
        ));
        TestQuery {
            address,
            shutdown,
            task,
        }
    }

    /// Stops it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}
