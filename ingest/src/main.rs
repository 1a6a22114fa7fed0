//! The tach-ingest binary.

fn main() -> anyhow::Result<()> {
    tach_ingest::run_process()
}
