//! The release API: Observatory reads and Orlo/Sponge writes
//! (seeds/observatory-api.md, seeds/sponge-readme.md, API.md §3). Errors are
//! Orlo's `{"message": …}`; writes need a bearer token when one is set.

mod params;
mod queries;
mod render;
mod routes;
mod writes;

pub use routes::router;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::{ApiError, ErrorShape};

/// An error of a release route: any [`ApiError`], or a write without the
/// right bearer token (a 401 the shared error type has no case for).
#[derive(Debug)]
pub enum ReleaseError {
    /// Rendered as `{"message": …}` with the error's status.
    Api(ApiError),
    /// `TACH_API_TOKEN` is set and the request did not carry it.
    Unauthorized,
}

impl From<ApiError> for ReleaseError {
    fn from(error: ApiError) -> ReleaseError {
        ReleaseError::Api(error)
    }
}

impl From<sqlx::Error> for ReleaseError {
    fn from(error: sqlx::Error) -> ReleaseError {
        ReleaseError::Api(error.into())
    }
}

impl IntoResponse for ReleaseError {
    fn into_response(self) -> Response {
        match self {
            ReleaseError::Api(error) => error.render(ErrorShape::Plain),
            ReleaseError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Bearer")],
                Json(serde_json::json!({"message": "a valid bearer token is required"})),
            )
                .into_response(),
        }
    }
}

/// A 400 with `message`.
fn bad_request(message: impl Into<String>) -> ReleaseError {
    ReleaseError::Api(ApiError::BadRequest(message.into()))
}

/// A 404 naming what was not found.
fn not_found(what: impl Into<String>) -> ReleaseError {
    ReleaseError::Api(ApiError::NotFound { what: what.into() })
}
