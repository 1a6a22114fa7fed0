//! The tach-query binary.

fn main() -> std::process::ExitCode {
    tach_schema::logging::exit_code("tach-query", tach_query::process::run_process())
}
