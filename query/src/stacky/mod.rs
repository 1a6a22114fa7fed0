//! StackTach's `stacky/*` API (seeds/stacktach-api-*.rst, API.md §1): tables
//! as JSON lists whose row 0 is the header, errors as
//! `[["Error", "Message"], [<title>, <why>]]`.

mod params;
mod queries;
mod render;
mod routes;
mod summary;

pub use routes::router;

use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorShape};

/// An error rendered in StackTach's shape.
#[derive(Debug)]
pub struct StackyError(ApiError);

impl From<ApiError> for StackyError {
    fn from(error: ApiError) -> StackyError {
        StackyError(error)
    }
}

impl From<sqlx::Error> for StackyError {
    fn from(error: sqlx::Error) -> StackyError {
        StackyError(error.into())
    }
}

impl IntoResponse for StackyError {
    fn into_response(self) -> Response {
        self.0.render(ErrorShape::Stacky)
    }
}
