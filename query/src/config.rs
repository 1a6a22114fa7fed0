//! tach-query's configuration: flags and environment.

use std::net::SocketAddr;

use clap::Parser;

/// The Socorro middleware's default product, as the seed gives it.
pub const DEFAULT_PRODUCT: &str = "Firefox";

/// Answers the StackTach `stacky/*` API, the Socorro middleware API and the
/// release API from tach's tables.
#[derive(Debug, Clone, Parser)]
#[command(name = "tach-query", version, about, long_about = None)]
pub struct Config {
    /// PostgreSQL URL. With a read-only role tach-query waits for tach-ingest
    /// to migrate the schema instead of migrating it itself.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/tach"
    )]
    pub database_url: String,

    /// Address to listen on.
    #[arg(long, env = "TACH_QUERY_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Most database connections.
    #[arg(long, env = "TACH_QUERY_MAX_CONNECTIONS", default_value_t = 16)]
    pub max_connections: u32,

    /// Longest a request may take, in seconds, before it gets a 503.
    #[arg(long, env = "TACH_QUERY_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Bearer token the release write API requires (`Authorization: Bearer
    /// <token>`); without it writes are open. Reads are always open.
    #[arg(long, env = "TACH_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// Product the Socorro middleware searches when a request names none.
    #[arg(long, env = "TACH_DEFAULT_PRODUCT", default_value = DEFAULT_PRODUCT)]
    pub default_product: String,
}
