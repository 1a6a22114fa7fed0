//! `tach-ingest` (or `tach-ingest run`): consume until SIGTERM.

use std::time::Duration;

use anyhow::Context;
use tach_schema::{PoolSettings, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Cli};
use crate::{metrics, Settings};

/// Starts the metrics endpoint, the partition upkeep, the scheduled prune
/// and the consumers.
pub async fn run(cli: &Cli) -> anyhow::Result<()> {
    let args = &cli.run;
    let deployments = config::deployments(args.config.as_ref(), args)?;
    let settings = Settings::from_args(args);
    for deployment in &deployments {
        tracing::info!(deployment = %deployment.name, url = %deployment.redacted_url(), "deployment configured");
    }
    metrics::install();
    let listener = TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding TACH_INGEST_METRICS_ADDR {}", args.metrics_addr))?;
    tracing::info!(address = %args.metrics_addr, "serving /metrics");
    let shutdown = CancellationToken::new();
    tokio::spawn(super::cancel_on_signal(shutdown.clone()));
    let metrics_server = tokio::spawn(metrics::serve(listener, shutdown.clone()));
    let pool_settings = PoolSettings {
        max_connections: (settings.writers * deployments.len() + 2) as u32,
        ..PoolSettings::default()
    };
    let Some(pool) = super::connect_with_retry(&cli.database_url, pool_settings, &shutdown).await?
    else {
        return Ok(());
    };
    let store = Store::new(pool.clone());
    if args.prune_interval_hours > 0 {
        let interval = Duration::from_secs(args.prune_interval_hours * 3600);
        tokio::spawn(super::prune::schedule(
            store.clone(),
            args.retention_days,
            interval,
            shutdown.clone(),
        ));
    }
    tokio::spawn(super::partitions::schedule(store.clone(), shutdown.clone()));
    tokio::spawn(super::report::schedule(pool.clone(), shutdown.clone()));
    crate::consume(store, deployments, settings, shutdown.clone()).await;
    shutdown.cancel();
    let _ = metrics_server.await;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}
