//! tach-query, built inside the test crate so that tests can run it as a
//! process of its own through `CARGO_BIN_EXE_tach-query-under-test`. The same
//! program as the release binary: both are `tach_query::process::run_process`.

fn main() -> std::process::ExitCode {
    tach_schema::logging::exit_code("tach-query", tach_query::process::run_process())
}
