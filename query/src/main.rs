//! The tach-query binary: parse the configuration, start tracing, serve.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tach_query::config::Config;
use tach_schema::PoolSettings;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    tach_schema::allocator::use_one_malloc_arena();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let settings = PoolSettings {
        max_connections: config.max_connections,
        ..PoolSettings::default()
    };
    let pool = tach_schema::connect(&config.database_url, settings)
        .await
        .context("connecting to PostgreSQL (DATABASE_URL)")?;
    tach_query::prepare_schema(&pool, &shutdown).await?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding TACH_QUERY_ADDR {}", config.addr))?;
    tracing::info!(address = %config.addr, "serving");
    let state = tach_query::AppState {
        pool,
        api_token: config.api_token,
        default_product: config.default_product,
    };
    tach_query::serve(
        listener,
        state,
        Duration::from_secs(config.request_timeout_secs),
        shutdown,
    )
    .await
}

async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler at startup");
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutdown requested");
    token.cancel();
}
