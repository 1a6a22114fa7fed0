//! The tach-ingest binary: parse the command line, start tracing, dispatch.

use clap::Parser;
use tach_ingest::commands;
use tach_ingest::config::{Cli, Command};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        // lapin logs a failed passive declare at error level from its I/O
        // loop; tach expects that miss (topology.rs) and logs real failures itself.
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,lapin::channel=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    match &cli.command {
        None | Some(Command::Run) => commands::run::run(&cli).await,
        Some(Command::Migrate) => commands::migrate::migrate(&cli.database_url).await,
        Some(Command::Replay(args)) => commands::replay::replay(&cli.database_url, args).await,
        Some(Command::Report(args)) => commands::report::report(&cli.database_url, args).await,
        Some(Command::Prune(args)) => {
            commands::prune::prune(&cli.database_url, args.retention_days).await
        }
    }
}
