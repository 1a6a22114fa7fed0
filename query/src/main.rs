//! The tach-query binary.

fn main() -> anyhow::Result<()> {
    tach_query::process::run_process()
}
