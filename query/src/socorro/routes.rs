//! The Socorro middleware routes.

use axum::Router;

use crate::app::AppState;

/// Every Socorro middleware route.
pub fn router() -> Router<AppState> {
    Router::new()
}
