//! The HTTP application: every family's routes, health, metrics, the
//! fallback, and the layers around them.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use sqlx::PgPool;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, ErrorShape};
use crate::metrics;

/// What every handler can reach.
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

/// Builds the router.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .route("/openapi.json", get(openapi))
        .merge(crate::stacky::router())
        .merge(crate::socorro::router())
        .merge(crate::releases::router())
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the database answers and its schema is current.
async fn readyz(State(state): State<AppState>) -> Response {
    match tach_schema::database::schema_is_current(&state.pool).await {
        Ok(true) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "waiting for migrations"})),
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

/// The OpenAPI document of every route.
async fn openapi() -> Response {
    (
        [("content-type", "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

async fn render_metrics() -> Response {
    let body = tach_schema::prometheus::install()
        .map(|handle| handle.render())
        .unwrap_or_default();
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

/// Unknown routes get a 404 in the shape of the family their path belongs to.
async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    let shape = if path.starts_with("/stacky") {
        ErrorShape::Stacky
    } else if crate::is_socorro_path(path) {
        ErrorShape::Socorro
    } else {
        ErrorShape::Plain
    };
    ApiError::NotFound {
        what: format!("route {path}"),
    }
    .render(shape)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_parses_and_covers_every_family() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).unwrap();
        assert_eq!(document["openapi"], "3.0.3");
        let paths = document["paths"].as_object().unwrap();
        for path in [
            "/stacky/summary/",
            "/stacky/report/{report_id}/",
            "/crashes/signatures/",
            "/releases",
            "/environments",
            "/openapi.json",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
    }
}
