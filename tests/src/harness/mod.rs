//! The test harness: a database and broker names of its own for each test,
//! tach-ingest and tach-query started in-process (or tach-query as a
//! process of its own), a proxy that can sever connections, and polling
//! with a deadline instead of sleeps.

mod api;
mod broker;
pub mod cluster;
mod database;
pub mod private;
pub mod process;
mod proxy;
pub mod python;
pub mod replica;
pub mod samples;
mod services;
pub mod sse;
pub mod state;

use std::future::Future;
use std::time::Duration;

pub use api::TestApi;
pub use broker::TestBroker;
pub use cluster::PrivateCluster;
pub use database::TestDatabase;
pub use private::PrivateServices;
pub use process::{free_address, http, try_http, HttpAnswer, QueryProcess, ServiceProcess};
pub use proxy::ChaosProxy;
pub use replica::PrivateReplica;
pub use services::{test_settings, TestIngest, TestQuery};

/// The PostgreSQL server tests create their databases on.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The RabbitMQ tests use.
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A short random id for names.
pub fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// Polls `condition` until it returns true; panics with `what` after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sets up tracing once; silent unless `TEST_LOG` is set.
pub fn init_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber_init();
        }
    });
}

fn tracing_subscriber_init() -> Result<(), ()> {
    // The fmt subscriber of tach-ingest's dependency tree, filtered by RUST_LOG.
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .finish(),
    )
    .map_err(|_| ())
}
