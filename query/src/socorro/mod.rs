//! The Socorro middleware API (seeds/socorro-middleware-api.txt, API.md §2):
//! crash reports, top crashers, product versions and builds, answered from
//! the tables tach-ingest materializes (schema migration 0004). Errors are
//! `{"error": {"message": …, "parameter": …}}`.

mod params;
mod queries;
mod render;
mod routes;

pub use routes::router;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::{ApiError, ErrorShape};

/// An error in the middleware's shape: the error, and the parameter at fault
/// when there is one.
#[derive(Debug)]
pub struct SocorroError {
    error: ApiError,
    parameter: Option<String>,
}

impl SocorroError {
    /// A 400 naming the parameter at fault.
    pub fn bad(parameter: &str, message: impl Into<String>) -> SocorroError {
        SocorroError {
            error: ApiError::BadRequest(message.into()),
            parameter: Some(parameter.to_owned()).filter(|name| !name.is_empty()),
        }
    }
}

impl From<ApiError> for SocorroError {
    fn from(error: ApiError) -> SocorroError {
        SocorroError {
            error,
            parameter: None,
        }
    }
}

impl From<sqlx::Error> for SocorroError {
    fn from(error: sqlx::Error) -> SocorroError {
        ApiError::from(error).into()
    }
}

impl IntoResponse for SocorroError {
    fn into_response(self) -> Response {
        if self.error.status() != StatusCode::BAD_REQUEST {
            return self.error.render(ErrorShape::Socorro);
        }
        let body = serde_json::json!({
            "error": {"message": self.error.to_string(), "parameter": self.parameter}
        });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}
