//! The one error type of tach-query's handlers. Each API family renders it in
//! its seed's shape; infrastructure failures are mapped on purpose and never
//! leak their text to clients.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; the text says why.
    #[error("{0}")]
    BadRequest(String),
    /// The thing asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was not found.
        what: String,
    },
    /// The database is unreachable or saturated.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else: a bug.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                ApiError::Unavailable(error)
            }
            // SQLSTATE class 22, data exception: a value from the request
            // that PostgreSQL cannot take (a NUL byte in text, a number or
            // date out of its range). The request's fault, and the message
            // speaks of the value only.
            sqlx::Error::Database(database_error)
                if database_error
                    .code()
                    .is_some_and(|code| code.starts_with("22")) =>
            {
                ApiError::BadRequest(format!(
                    "a parameter holds a value the database cannot take: {}",
                    database_error.message()
                ))
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

/// The family whose error shape a response takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `[["Error", "Message"], ["Bad Request", "<why>"]]` (StackTach).
    Stacky,
    /// `{"error": {"message": …}}` (Socorro middleware).
    Socorro,
    /// `{"message": …}` (Orlo and tach's own endpoints).
    Plain,
}

impl ApiError {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Renders the error in a family's shape, logging infrastructure failures once.
    pub fn render(&self, shape: ErrorShape) -> Response {
        match self {
            ApiError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable")
            }
            ApiError::Internal(source) => {
                tracing::error!(error = %format!("{source:#}"), "request failed")
            }
            _ => {}
        }
        let status = self.status();
        let message = self.to_string();
        let body = match shape {
            ErrorShape::Stacky => {
                let title = match status {
                    StatusCode::BAD_REQUEST => "Bad Request",
                    StatusCode::NOT_FOUND => "Not Found",
                    StatusCode::SERVICE_UNAVAILABLE => "Service Unavailable",
                    _ => "Internal Server Error",
                };
                serde_json::json!([["Error", "Message"], [title, message]])
            }
            ErrorShape::Socorro => serde_json::json!({"error": {"message": message}}),
            ErrorShape::Plain => serde_json::json!({"message": message}),
        };
        (status, Json(body)).into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(ErrorShape::Plain)
    }
}
