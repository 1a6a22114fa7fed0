//! The tach-ingest binary.

fn main() -> std::process::ExitCode {
    tach_schema::logging::exit_code("tach-ingest", tach_ingest::run_process())
}
