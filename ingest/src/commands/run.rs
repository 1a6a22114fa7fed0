//! `tach-ingest` (or `tach-ingest run`): consume until SIGTERM.

use std::time::Duration;

use anyhow::Context;
use tach_schema::{PoolSettings, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Cli};
use crate::{metrics, Deployment, Health, Settings};

/// Starts the metrics endpoint, the partition upkeep, the scheduled prune
/// and the consumers.
pub async fn run(cli: &Cli) -> anyhow::Result<()> {
    let args = &cli.run;
    let settings = Settings::from_args(args);
    // Every deployment's URL and certificate files are read before anything
    // connects, so a mistake in any of them stops the start at once.
    let deployments = config::deployments(args.config.as_ref(), args)?
        .into_iter()
        .map(Deployment::new)
        .collect::<Result<Vec<_>, _>>()?;
    for deployment in &deployments {
        let config = &deployment.config;
        tracing::info!(deployment = %config.name, url = %config.redacted_url(), "deployment configured");
    }
    metrics::install();
    let listener = TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding TACH_INGEST_METRICS_ADDR {}", args.metrics_addr))?;
    tracing::info!(address = %args.metrics_addr, "serving /metrics");
    let shutdown = CancellationToken::new();
    tokio::spawn(super::cancel_on_signal(shutdown.clone()));
    let health = Health::default();
    for deployment in &deployments {
        health.register(&deployment.config.name);
    }
    let metrics_server = tokio::spawn(metrics::serve(listener, health.clone(), shutdown.clone()));
    let pool_settings = PoolSettings {
        max_connections: (settings.writers * deployments.len() + 2) as u32,
        ..PoolSettings::default()
    };
    let Some(pool) = super::connect_with_retry(&cli.database_url, pool_settings, &shutdown).await?
    else {
        return Ok(());
    };
    health.set_pool(pool.clone());
    let store = Store::new(pool.clone());
    // The background upkeep stops with the consumers: each watches
    // `shutdown`, and is awaited before the pool closes under it.
    let mut upkeep = tokio::task::JoinSet::new();
    if args.prune_interval_hours > 0 {
        let interval = Duration::from_secs(args.prune_interval_hours * 3600);
        upkeep.spawn(super::prune::schedule(
            store.clone(),
            args.retention_days,
            interval,
            shutdown.clone(),
        ));
    }
    upkeep.spawn(super::partitions::schedule(store.clone(), shutdown.clone()));
    upkeep.spawn(super::prune::schedule_live_feed(
        store.clone(),
        shutdown.clone(),
    ));
    upkeep.spawn(super::report::schedule(pool.clone(), shutdown.clone()));
    let consumed = crate::consume(store, deployments, settings, health, shutdown.clone()).await;
    shutdown.cancel();
    upkeep.join_all().await;
    let _ = metrics_server.await;
    pool.close().await;
    tracing::info!("stopped");
    Ok(consumed?)
}
