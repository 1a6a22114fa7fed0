//! The log output of both binaries: one `tracing` subscriber writing to
//! stderr, filtered by `RUST_LOG`, as text for a terminal or as one JSON
//! object a line for a log shipper (`TACH_LOG_FORMAT`).

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// tracing's human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, the event's
    /// fields (`message` among them) at the top level, and `span` with the
    /// fields of the span it happened in (tach-query's request).
    Json,
}

/// A `TACH_LOG_FORMAT` that is neither `text` nor `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format {0:?}: expected text or json")]
pub struct UnknownLogFormat(pub String);

impl FromStr for LogFormat {
    type Err = UnknownLogFormat;

    fn from_str(name: &str) -> Result<LogFormat, UnknownLogFormat> {
        match name {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(UnknownLogFormat(other.to_owned())),
        }
    }
}

/// The filter of a process: `RUST_LOG` (else `default_filter`), plus each
/// of `quiet` (`target=level` directives for lines that are expected, not
/// news) unless `RUST_LOG` names that target itself, so `RUST_LOG=info`
/// does not bring them back while `RUST_LOG=lapin=debug` still can.
pub fn filter_directives(rust_log: Option<&str>, default_filter: &str, quiet: &[&str]) -> String {
    let asked = rust_log.filter(|value| !value.trim().is_empty());
    let mut directives = asked.unwrap_or(default_filter).to_owned();
    for directive in quiet {
        let target = directive.split('=').next().unwrap_or(directive);
        let named = directives
            .split(',')
            .filter_map(directive_target)
            .any(|given| target == given || target.starts_with(&format!("{given}::")));
        if !named {
            directives.push(',');
            directives.push_str(directive);
        }
    }
    directives
}

/// The target a `RUST_LOG` directive names: `lapin` in `lapin=debug` or
/// `lapin`, none in a bare level such as `info`.
fn directive_target(directive: &str) -> Option<&str> {
    let directive = directive.trim();
    let target = match directive.split_once('=') {
        Some((target, _)) => target,
        None if matches!(
            directive.to_ascii_lowercase().as_str(),
            "trace" | "debug" | "info" | "warn" | "error" | "off"
        ) =>
        {
            return None
        }
        None => directive,
    };
    // `target[span{field}]`: the target is what comes before the span.
    let target = target.split('[').next().unwrap_or(target).trim();
    (!target.is_empty()).then_some(target)
}

/// Installs the process's subscriber: [`filter_directives`] of `RUST_LOG`,
/// `default_filter` and `quiet`; lines to stderr in `format`. Call once, at
/// startup.
///
/// # Panics
///
/// When a global subscriber is already installed: a second call at startup
/// is a bug.
pub fn init(format: LogFormat, default_filter: &str, quiet: &[&str]) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let directives = filter_directives(rust_log.as_deref(), default_filter, quiet);
    let filter = EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| EnvFilter::new(filter_directives(None, default_filter, quiet)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colours only for a person at a terminal; a file or a pipe gets plain text.
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// An error and its causes on one line, `what: cause: cause`, leaving out a
/// cause whose text its parent already ends with (sqlx and others put their
/// source into their own message, so `{:#}` would repeat it).
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let text = current.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = current.source();
    }
    line
}

/// How a program ends: on an error, one line `<program>: error: <what>: <cause>: …`
/// on stderr ([`one_line`]) and exit status 1. Plain text whatever
/// `TACH_LOG_FORMAT` says: the error may come before logging is set up.
pub fn exit_code<E>(program: &str, result: Result<(), E>) -> std::process::ExitCode
where
    E: std::ops::Deref<Target = dyn std::error::Error + Send + Sync + 'static>,
{
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: error: {}", one_line(&*error));
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_is_text_or_json_and_nothing_else() {
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!(
            "JSON".parse::<LogFormat>(),
            Err(UnknownLogFormat("JSON".to_owned()))
        );
        assert_eq!(
            "xml".parse::<LogFormat>().unwrap_err().to_string(),
            "unknown log format \"xml\": expected text or json"
        );
        assert_eq!(LogFormat::default(), LogFormat::Text);
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|inner| inner as _)
        }
    }

    #[test]
    fn one_line_joins_causes_and_skips_the_ones_already_said() {
        let error = Layer(
            "connecting to postgres://db/tach",
            Some(Box::new(Layer(
                "error communicating with database: invalid peer certificate: UnknownIssuer",
                Some(Box::new(Layer(
                    "invalid peer certificate: UnknownIssuer",
                    None,
                ))),
            ))),
        );
        assert_eq!(
            one_line(&error),
            "connecting to postgres://db/tach: error communicating with database: invalid peer certificate: UnknownIssuer"
        );
    }

    #[test]
    fn expected_lines_stay_quiet_unless_their_target_is_asked_for() {
        let quiet = ["lapin::channel=off"];
        assert_eq!(
            filter_directives(None, "info", &quiet),
            "info,lapin::channel=off"
        );
        assert_eq!(
            filter_directives(Some("info"), "warn", &quiet),
            "info,lapin::channel=off"
        );
        assert_eq!(
            filter_directives(Some("debug,sqlx=warn"), "info", &quiet),
            "debug,sqlx=warn,lapin::channel=off"
        );
        assert_eq!(
            filter_directives(Some("lapin=debug"), "info", &quiet),
            "lapin=debug"
        );
        assert_eq!(
            filter_directives(Some("lapin::channel=trace"), "info", &quiet),
            "lapin::channel=trace"
        );
        assert_eq!(
            filter_directives(Some("lapinx=debug"), "info", &quiet),
            "lapinx=debug,lapin::channel=off"
        );
        assert_eq!(
            filter_directives(Some(" "), "info", &quiet),
            "info,lapin::channel=off"
        );
    }
}
