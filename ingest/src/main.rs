//! The tach-ingest binary: parse the command line, run it.

use clap::Parser;
use tach_ingest::config::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tach_ingest::main(Cli::parse()).await
}
