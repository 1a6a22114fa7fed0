//! `tach-ingest prune` and the scheduled prune: drop raw-event partitions
//! older than the retention period, leaving aggregates alone (SPEC §4.7);
//! and the live feed's hourly window.

use std::time::Duration;

use tach_schema::store::DroppedPartition;
use tach_schema::{PoolSettings, Store};
use tokio_util::sync::CancellationToken;

/// Drops partitions whose every event is older than `retention_days`.
pub async fn prune_once(
    store: &Store,
    retention_days: u32,
) -> Result<Vec<DroppedPartition>, sqlx::Error> {
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
    store.prune_older_than(cutoff).await
}

/// The subcommand: prune once and print what was dropped.
pub async fn prune(database_url: &str, retention_days: u32) -> anyhow::Result<()> {
    let pool = super::connect_and_migrate(database_url, PoolSettings::default()).await?;
    let dropped = prune_once(&Store::new(pool), retention_days).await?;
    if dropped.is_empty() {
        println!("nothing older than {retention_days} days");
    }
    for partition in &dropped {
        println!("dropped {} ({} events)", partition.table, partition.rows);
    }
    Ok(())
}

/// Prunes every `interval`, the first time one interval after start (never at startup).
pub async fn schedule(
    store: Store,
    retention_days: u32,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        match prune_once(&store, retention_days).await {
            Ok(dropped) => {
                for partition in dropped {
                    tracing::info!(table = %partition.table, rows = partition.rows, "dropped raw partition past retention");
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "scheduled prune failed, will retry next interval")
            }
        }
    }
}

/// Every minute, deletes the live feed's batches past their hour (the
/// stream's reconnects need no more; the tables keep the history).
pub async fn schedule_live_feed(store: Store, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        if let Err(error) = store.prune_live_feed().await {
            tracing::warn!(%error, "pruning the live feed failed, will retry in a minute");
        }
    }
}
