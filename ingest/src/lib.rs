//! tach-ingest: AMQP consumers feeding tach's batched, idempotent write path.
//!
//! - [`config`]: flags, environment and the `TACH_CONFIG` file.
//! - [`broker`]: the AMQP URL, its TLS client, the connection.
//! - [`topology`]: exchanges, queues and bindings of a deployment.
//! - [`consumer`]: one deployment's consume → batch → commit → ack loop.
//! - [`health`]: what `/readyz` answers: consumers attached, database answering.
//! - [`batch`]: parsing a batch and committing it (retries, isolation).
//! - [`retry`]: the one retry loop: bounded backoff, shutdown, error classes.
//! - [`acks`]: which deliveries may be acknowledged.
//! - [`metrics`]: Prometheus metrics and their endpoint.
//! - [`commands`]: the subcommands.

pub mod acks;
pub mod batch;
pub mod broker;
pub mod commands;
pub mod config;
pub mod consumer;
pub mod health;
pub mod metrics;
pub mod retry;
pub mod topology;

use std::time::Duration;

use tach_schema::Store;
use tokio_util::sync::CancellationToken;

pub use config::{Cli, DeploymentConfig};
pub use consumer::{Deployment, StartRefused};
pub use health::Health;

/// The tach-ingest process: one malloc arena (tach_schema::allocator), a
/// multi-threaded runtime, and [`main`] on the command line. Its own binary
/// and the fault-injection tests' copy of it are this call.
pub fn run_process() -> anyhow::Result<()> {
    tach_schema::allocator::use_one_malloc_arena();
    tach_schema::secrets::load_file_variants(&config::SECRET_SETTINGS)
        .map_err(anyhow::Error::msg)?;
    let cli = <Cli as clap::Parser>::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(main(cli))
}

/// The whole tach-ingest program for a parsed command line: starts tracing
/// (`RUST_LOG`, default info; `TACH_LOG_FORMAT`) and runs the subcommand.
pub async fn main(cli: Cli) -> anyhow::Result<()> {
    // lapin logs a failed passive declare at error level from its I/O
    // loop; tach expects that miss (topology.rs) and logs real failures
    // itself, so those lines stay off even under RUST_LOG=info.
    tach_schema::logging::init(cli.log_format, "info", &["lapin::channel=off"]);
    match &cli.command {
        None | Some(config::Command::Run) => commands::run::run(&cli).await,
        Some(config::Command::Migrate) => commands::migrate::migrate(&cli.database_url).await,
        Some(config::Command::Replay(args)) => {
            commands::replay::replay(&cli.database_url, args).await
        }
        Some(config::Command::Report(args)) => {
            commands::report::report(&cli.database_url, args).await
        }
        Some(config::Command::Prune(args)) => {
            commands::prune::prune(&cli.database_url, args.retention_days).await
        }
    }
}

/// How the consumers batch and commit.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Unacknowledged deliveries per channel.
    pub prefetch: u16,
    /// Most messages per transaction.
    pub batch_size: usize,
    /// Longest a partial batch waits.
    pub batch_linger: Duration,
    /// Concurrent batch writers per deployment.
    pub writers: usize,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// Longest wait for batches in flight at shutdown.
    pub shutdown_timeout: Duration,
}

impl Settings {
    /// Settings from the command line.
    pub fn from_args(args: &config::RunArgs) -> Settings {
        Settings {
            prefetch: args.prefetch,
            batch_size: args.batch_size.max(1),
            batch_linger: args.batch_linger,
            writers: args.writers.max(1),
            max_body_bytes: args.max_body_bytes,
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout_secs),
        }
    }
}

/// Consumes every deployment until `shutdown` is cancelled, then finishes the
/// batches in flight and returns. A deployment refused before it ever
/// consumed cancels `shutdown`, so the others stop too, and is returned.
pub async fn consume(
    store: Store,
    deployments: Vec<Deployment>,
    settings: Settings,
    health: Health,
    shutdown: CancellationToken,
) -> Result<(), StartRefused> {
    let mut tasks = tokio::task::JoinSet::new();
    for deployment in deployments {
        let consumer_health = health.register(&deployment.config.name);
        let shutdown = shutdown.clone();
        let consumer = consumer::run(
            deployment,
            store.clone(),
            settings.clone(),
            consumer_health,
            shutdown.clone(),
        );
        tasks.spawn(async move {
            let result = consumer.await;
            if result.is_err() {
                shutdown.cancel();
            }
            result
        });
    }
    let mut refused = Ok(());
    while let Some(finished) = tasks.join_next().await {
        match finished {
            Ok(Err(refusal)) if refused.is_ok() => refused = Err(refusal),
            Ok(_) => {}
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => {}
        }
    }
    refused
}
