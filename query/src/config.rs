//! tach-query's configuration: flags and environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use tach_schema::logging::LogFormat;

/// The Socorro middleware's default product, as the seed gives it.
pub const DEFAULT_PRODUCT: &str = "Firefox";

/// The default of TACH_QUERY_MAX_REPLICA_LAG_SECS.
pub const DEFAULT_MAX_REPLICA_LAG_SECS: u64 = 30;

/// Settings that may carry a password or a token, each also read from the
/// file its `<NAME>_FILE` names (a mounted secret); `--help` never shows
/// their values.
pub const SECRET_SETTINGS: [&str; 5] = [
    "DATABASE_URL",
    "TACH_QUERY_DATABASE_URL",
    "TACH_API_TOKEN",
    "TACH_READ_TOKEN",
    "TACH_TOKEN_SECRET",
];

/// Answers the StackTach `stacky/*` API, the Socorro middleware API and the
/// release API from tach's tables.
#[derive(Debug, Clone, Parser)]
#[command(name = "tach-query", version, about, long_about = None)]
pub struct Config {
    /// PostgreSQL URL of the writing role (or DATABASE_URL_FILE): Orlo's
    /// release writes, the release reads (so a read follows its write) and
    /// migrations. With a role that may not migrate, tach-query waits for
    /// tach-ingest to migrate the schema.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/tach"
    )]
    pub database_url: String,

    /// PostgreSQL URL every other read goes through (or
    /// TACH_QUERY_DATABASE_URL_FILE): a read-only role, or a replica.
    /// DATABASE_URL when unset.
    #[arg(long, env = "TACH_QUERY_DATABASE_URL", hide_env_values = true)]
    pub query_database_url: Option<String>,

    /// Longest replication lag, in seconds, of a read pool that is a
    /// streaming standby before `/readyz` answers 503. The lag is 0 while
    /// the standby streams and has replayed all it received (an idle
    /// primary sends nothing), else the age of its last replayed commit.
    /// Ignored when the read pool is a primary.
    #[arg(long, env = "TACH_QUERY_MAX_REPLICA_LAG_SECS",
          default_value_t = DEFAULT_MAX_REPLICA_LAG_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_replica_lag_secs: u64,

    /// Address to listen on.
    #[arg(long, env = "TACH_QUERY_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Most database connections.
    #[arg(long, env = "TACH_QUERY_MAX_CONNECTIONS", default_value_t = 16)]
    pub max_connections: u32,

    /// Longest a request may take, in seconds, before it gets a 503. Its
    /// statements get the same `statement_timeout`, so the database stops
    /// the query of an abandoned request too.
    #[arg(long, env = "TACH_QUERY_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,

    /// Token the release write API requires (or TACH_API_TOKEN_FILE), sent
    /// as `Authorization: Bearer <token>` or `X-Auth-Token: <token>`; writes
    /// are open without it and without TACH_TOKEN_SECRET. Reads are always open.
    #[arg(long, env = "TACH_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// htpasswd file of the users `GET /token` issues tokens to, for their
    /// HTTP Basic user name and password (Orlo's passwd_file). Entries are
    /// bcrypt (`htpasswd -B`: $2y$, $2b$, $2a$) or SHA-1 (`htpasswd -s`:
    /// {SHA}); any other stops the start. Read once at start; needs
    /// TACH_TOKEN_SECRET. Without it `/token` answers 404.
    #[arg(long, env = "TACH_HTPASSWD_FILE")]
    pub htpasswd_file: Option<PathBuf>,

    /// Secret the tokens of `GET /token` are signed with (or
    /// TACH_TOKEN_SECRET_FILE), at least 16 bytes. Give every replica the
    /// same one: each accepts the tokens of all. When set, writes need a
    /// token: a signed one not yet expired, or TACH_API_TOKEN.
    #[arg(long, env = "TACH_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,

    /// How long a token from `GET /token` is valid, in seconds (Orlo's token_ttl).
    #[arg(long, env = "TACH_TOKEN_TTL_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub token_ttl_secs: u64,

    /// Token that shows Socorro's protected crash fields (`email`, `url`,
    /// `user_comments`; or TACH_READ_TOKEN_FILE), sent as a bearer token or
    /// `X-Auth-Token`: without it in a request they are left out of its
    /// answer. Unset, every answer has them.
    #[arg(long, env = "TACH_READ_TOKEN", hide_env_values = true)]
    pub read_token: Option<String>,

    /// Product the Socorro middleware searches when a request names none.
    #[arg(long, env = "TACH_DEFAULT_PRODUCT", default_value = DEFAULT_PRODUCT)]
    pub default_product: String,

    /// Log lines on stderr: `text` (the default), or `json`, one object a
    /// line for a log shipper. `RUST_LOG` filters them (default info); every
    /// request gets one line under the target `tach_query::access`.
    #[arg(long, env = "TACH_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}
