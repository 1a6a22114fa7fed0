//! The subcommands of tach-ingest, one file each.

pub mod migrate;
pub mod prune;
pub mod replay;
pub mod report;
pub mod run;

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tach_schema::PoolSettings;
use tokio_util::sync::CancellationToken;

/// Connects and migrates, retrying with backoff while PostgreSQL is
/// unreachable (it may start after us), until `shutdown` is cancelled.
pub async fn connect_with_retry(
    database_url: &str,
    settings: PoolSettings,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<PgPool>> {
    let mut backoff = Duration::from_secs(1);
    loop {
        match connect_and_migrate(database_url, settings).await {
            Ok(pool) => return Ok(Some(pool)),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), retry_in_secs = backoff.as_secs(), "database not ready");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Connects (creating the database if missing) and applies migrations.
pub async fn connect_and_migrate(
    database_url: &str,
    settings: PoolSettings,
) -> anyhow::Result<PgPool> {
    let pool = tach_schema::connect(database_url, settings)
        .await
        .with_context(|| format!("connecting to {}", crate::config::redact_url(database_url)))?;
    tach_schema::migrate(&pool)
        .await
        .context("migrating the schema")?;
    Ok(pool)
}

/// Cancels `token` on SIGTERM or Ctrl-C.
pub async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested, finishing the batches in flight");
    token.cancel();
}
