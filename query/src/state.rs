//! What every handler can reach.

use sqlx::PgPool;

/// The state shared by every route.
#[derive(Clone)]
pub struct AppState {
    /// The read pool.
    pub pool: PgPool,
    /// When set, release writes need `Authorization: Bearer <token>`
    /// (`TACH_API_TOKEN`); reads stay open.
    pub api_token: Option<String>,
    /// Product the Socorro middleware searches when a request names none.
    pub default_product: String,
}

impl AppState {
    /// Reads from `pool`, release writes open, the seed's default product.
    pub fn new(pool: PgPool) -> AppState {
        AppState {
            pool,
            api_token: None,
            default_product: crate::config::DEFAULT_PRODUCT.to_owned(),
        }
    }
}
