//! tach-query: the read side over tach's tables.
//!
//! - [`config`]: flags and environment.
//! - [`app`]: the router, health and metrics endpoints, the fallback.
//! - [`error`]: the one error type and its three wire shapes.
//! - [`metrics`]: HTTP metrics.
//! - [`sql`]: SQL pieces the families share.
//! - [`stacky`]: StackTach's `stacky/*` API.
//! - [`socorro`]: the Socorro middleware API.
//! - [`releases`]: the Observatory and Orlo/Sponge release API.

pub mod app;
pub mod config;
pub mod error;
pub mod metrics;
pub mod releases;
pub mod socorro;
pub mod sql;
pub mod stacky;

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use app::{router, AppState};

/// True for paths of the Socorro middleware family (their 404s take its shape).
pub fn is_socorro_path(path: &str) -> bool {
    const ROOTS: [&str; 7] = [
        "/bpapi/",
        "/crashes/",
        "/extensions",
        "/products/",
        "/search/",
        "/report/",
        "/util/",
    ];
    ROOTS.iter().any(|root| path.starts_with(root))
}

/// Serves the API over `state` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    request_timeout: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    metrics::install();
    let app = router(state, request_timeout);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("serving HTTP")
}

/// Migrates the schema, or — when the role may not (a read-only replica) —
/// waits until tach-ingest has migrated it.
pub async fn prepare_schema(pool: &PgPool, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let Err(error) = tach_schema::migrate(pool).await else {
        return Ok(());
    };
    tracing::warn!(error = %error, "cannot migrate, waiting for tach-ingest to do it");
    loop {
        if tach_schema::database::schema_is_current(pool)
            .await
            .unwrap_or(false)
        {
            return Ok(());
        }
        tokio::select! {
            _ = shutdown.cancelled() => anyhow::bail!("stopped while waiting for the schema"),
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
