//! The tach-ingest binary: parse the command line, run it.

use clap::Parser;
use tach_ingest::config::Cli;

fn main() -> anyhow::Result<()> {
    tach_schema::allocator::use_one_malloc_arena();
    let cli = Cli::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(tach_ingest::main(cli))
}
