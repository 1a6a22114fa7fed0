//! tach-query: the read side over tach's tables.
//!
//! Imports run one way: the families use the shared modules below them,
//! and only [`app`] knows the families.
//!
//! - [`app`]: assembles the families' route tables, tach's own endpoints,
//!   the OpenAPI document and the layers around them.
//! - [`stacky`], [`socorro`], [`releases`]: the three API families, each a
//!   route table of handlers with their OpenAPI operations.
//! - [`ui`]: the operator's console at `/ui/`, over those families' JSON.
//! - Shared below them: [`state`] (what handlers reach), [`error`] (the one
//!   error type and each family's shape), [`auth`] (who may write), [`edge`]
//!   (route tables, path spellings, a path's family), [`params`] (shared
//!   parameter documentation), [`hours`] (hour and window arithmetic),
//!   [`sql`] (SQL pieces), [`openapi`] (the document), [`metrics`],
//!   [`access`] (request ids and the access log), [`replica`] (the read
//!   pool's replication lag), [`config`].
//! - [`process`]: what the binary runs.

pub mod access;
pub mod app;
pub mod auth;
pub mod config;
pub mod edge;
pub mod error;
pub mod hours;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod process;
pub mod releases;
pub mod replica;
pub mod socorro;
pub mod sql;
pub mod stacky;
pub mod state;
pub mod ui;

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use app::{router, AppState};

/// Serves the API over `state` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    request_timeout: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    metrics::install();
    let state = AppState {
        shutdown: shutdown.clone(),
        ..state
    };
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
