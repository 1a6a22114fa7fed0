//! The tach-query process: what its binary runs.

use std::time::Duration;

use crate::auth::{Htpasswd, TokenAuth};
use crate::config::Config;
use anyhow::Context;
use clap::Parser;
use tach_schema::PoolSettings;
use tokio_util::sync::CancellationToken;

/// The whole tach-query program: secrets from their files, the flags,
/// tracing, the pools, then serving until SIGTERM or Ctrl-C.
pub fn run_process() -> anyhow::Result<()> {
    tach_schema::allocator::use_one_malloc_arena();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tach_schema::secrets::load_file_variants(&crate::config::SECRET_SETTINGS)
        .map_err(anyhow::Error::msg)?;
    let config = Config::parse();
    tach_schema::logging::init(config.log_format, "info", &[]);
    let tokens = token_auth(&config)?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let request_timeout = Duration::from_secs(config.request_timeout_secs);
    let settings = PoolSettings {
        max_connections: config.max_connections,
        statement_timeout: Some(request_timeout),
        ..PoolSettings::default()
    };
    let write_pool = tach_schema::connect(&config.database_url, settings)
        .await
        .context("connecting to PostgreSQL (DATABASE_URL)")?;
    crate::prepare_schema(&write_pool, &shutdown).await?;
    let pool = match &config.query_database_url {
        None => write_pool.clone(),
        Some(url) => tach_schema::connect(
            url,
            PoolSettings {
                create_if_missing: false,
                ..settings
            },
        )
        .await
        .context("connecting to PostgreSQL (TACH_QUERY_DATABASE_URL)")?,
    };
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding TACH_QUERY_ADDR {}", config.addr))?;
    // The bound address: with port 0 in TACH_QUERY_ADDR, the one the system chose.
    let address = listener
        .local_addr()
        .context("reading the listener's address")?;
    tracing::info!(address = %address, "serving");
    // The sampler stops with the server; a write pool that is the read pool
    // is sampled once, as "read". Its first sample is recorded at once, so
    // the recorder goes in first (serve installs it again, which is a no-op).
    crate::metrics::install();
    let distinct_write_pool = config
        .query_database_url
        .is_some()
        .then(|| write_pool.clone());
    tokio::spawn(crate::replica::sample_periodically(
        pool.clone(),
        distinct_write_pool,
        shutdown.clone(),
    ));
    let state = crate::AppState {
        pool,
        write_pool,
        api_token: config.api_token,
        tokens,
        read_token: config.read_token,
        default_product: config.default_product,
        shutdown: shutdown.clone(),
        max_replica_lag: Duration::from_secs(config.max_replica_lag_secs),
    };
    crate::serve(listener, state, request_timeout, shutdown).await
}

/// Orlo's token authentication from its settings, the htpasswd file read
/// and checked: a setting that cannot work stops the start.
fn token_auth(config: &Config) -> anyhow::Result<TokenAuth> {
    let users = match &config.htpasswd_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("TACH_HTPASSWD_FILE: cannot read {}", path.display()))?;
            let users = Htpasswd::parse(&text)
                .with_context(|| format!("TACH_HTPASSWD_FILE {}", path.display()))?;
            Some(users)
        }
    };
    let ttl = Duration::from_secs(config.token_ttl_secs);
    Ok(TokenAuth::new(users, config.token_secret.as_deref(), ttl)?)
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
