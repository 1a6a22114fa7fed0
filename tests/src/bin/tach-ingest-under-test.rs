//! tach-ingest, built inside the test crate so that the fault-injection
//! tests can run it as a process of its own (to SIGKILL it) through
//! `CARGO_BIN_EXE_tach-ingest-under-test`. The same program as the release
//! binary: both call `tach_ingest::main`.

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
