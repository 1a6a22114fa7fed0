//! The release routes.

use axum::Router;

use crate::app::AppState;

/// Every release route.
pub fn router() -> Router<AppState> {
    Router::new()
}
