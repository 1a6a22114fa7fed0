//! tach-ingest, built inside the test crate so that the fault-injection
//! tests can run it as a process of its own (to SIGKILL it) through
//! `CARGO_BIN_EXE_tach-ingest-under-test`. The same program as the release
//! binary: both are `tach_ingest::run_process`.

fn main() -> std::process::ExitCode {
    tach_schema::logging::exit_code("tach-ingest", tach_ingest::run_process())
}
