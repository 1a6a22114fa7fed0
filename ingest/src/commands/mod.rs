//! The subcommands of tach-ingest, one file each.

pub mod migrate;
pub mod partitions;
pub mod prune;
pub mod replay;
pub mod report;
pub mod run;

use anyhow::Context;
use sqlx::PgPool;
use tach_schema::PoolSettings;
use tokio_util::sync::CancellationToken;

use crate::retry::{self, Backoff, Stopped};

/// Connects and migrates, retrying with backoff while PostgreSQL is
/// unreachable (it may start after us), until `shutdown` is cancelled; a
/// refusal no retry can mend (see `DatabaseError::is_permanent`) is
/// returned at once, naming DATABASE_URL.
pub async fn connect_with_retry(
    database_url: &str,
    settings: PoolSettings,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<PgPool>> {
    let connected = retry::retry(
        "connecting to the database",
        Backoff::CONNECT,
        shutdown,
        retry::never_persistent(),
        || async {
            connect_and_migrate(database_url, settings)
                .await
                .map_err(DatabaseStart)
        },
    )
    .await;
    match connected {
        Ok(pool) => Ok(Some(pool)),
        Err(Stopped::Cancelled) => Ok(None),
        Err(Stopped::GaveUp(DatabaseStart(error))) => Err(error.context("DATABASE_URL")),
    }
}

/// A failed start on the database, permanent when its cause is.
struct DatabaseStart(anyhow::Error);

impl std::fmt::Display for DatabaseStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&tach_schema::logging::one_line(&*self.0))
    }
}

impl retry::Classify for DatabaseStart {
    fn class(&self) -> retry::Class {
        let permanent = self
            .0
            .chain()
            .find_map(|cause| cause.downcast_ref::<tach_schema::DatabaseError>())
            .is_some_and(tach_schema::DatabaseError::is_permanent);
        if permanent {
            retry::Class::Permanent
        } else {
            retry::Class::Transient
        }
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
