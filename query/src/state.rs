//! What every handler can reach.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::auth::TokenAuth;

/// The state shared by every route.
#[derive(Clone)]
pub struct AppState {
    /// Reads (TACH_QUERY_DATABASE_URL: a read-only role or a replica).
    pub pool: PgPool,
    /// Release writes, and the release reads and existence checks that must
    /// see them (DATABASE_URL, the writing role).
    pub write_pool: PgPool,
    /// When set, release writes need it presented as `Authorization: Bearer
    /// <token>` or `X-Auth-Token` (`TACH_API_TOKEN`); reads stay open.
    pub api_token: Option<String>,
    /// Orlo's `GET /token` and the signed tokens it issues, which grant
    /// writes too; with a secret, writes need a token.
    pub tokens: TokenAuth,
    /// When set, Socorro's protected crash fields (`email`, `url`,
    /// `user_comments`) are only in answers to requests bearing it
    /// (`TACH_READ_TOKEN`).
    pub read_token: Option<String>,
    /// Product the Socorro middleware searches when a request names none.
    pub default_product: String,
    /// Cancelled when the server stops: endless answers (the live stream)
    /// end then, so the graceful shutdown does not wait for them.
    pub shutdown: CancellationToken,
    /// `/readyz` answers 503 while the read pool is a standby further
    /// behind its primary than this (`TACH_QUERY_MAX_REPLICA_LAG_SECS`).
    pub max_replica_lag: Duration,
}

impl AppState {
    /// Reads and writes through `pool`, release writes open, no tokens
    /// issued, the seed's default product, the default replica lag bound.
    pub fn new(pool: PgPool) -> AppState {
        AppState {
            write_pool: pool.clone(),
            pool,
            api_token: None,
            tokens: TokenAuth::default(),
            read_token: None,
            default_product: crate::config::DEFAULT_PRODUCT.to_owned(),
            shutdown: CancellationToken::new(),
            max_replica_lag: Duration::from_secs(crate::config::DEFAULT_MAX_REPLICA_LAG_SECS),
        }
    }
}
