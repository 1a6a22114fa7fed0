//! The one error type of tach-query and every family's wire shape for it.
//!
//! Handlers, extractors and the authorization check return [`ApiError`]; its
//! response carries the error as an extension and no body. Each family's
//! router is wrapped in [`in_family_shape`], which writes that error — and
//! every error axum or tower-http answers on their own (a malformed path
//! segment or query, a bad JSON body, a body over the limit, a method the
//! route has not, the request timeout) — in the family's shape:
//!
//! - stacky: `[["Error", "Message"], [<status title>, <why>]]`
//! - Socorro: `{"error": {"message": <why>, "parameter": <name or null>}}`
//! - Orlo and tach's own endpoints: `{"message": <why>}`
//!
//! Infrastructure failures are logged once here and never leak their text.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; the text says why, `parameter` names the
    /// parameter at fault when there is one (Socorro shows it).
    #[error("{message}")]
    BadRequest {
        /// Why.
        message: String,
        /// The parameter at fault.
        parameter: Option<String>,
    },
    /// A write without a token it needs (`TACH_API_TOKEN`, or one
    /// `GET /token` signed with `TACH_TOKEN_SECRET`).
    #[error("a valid token is required (Authorization: Bearer or X-Auth-Token)")]
    Unauthorized,
    /// `GET /token` without a user name and password of `TACH_HTPASSWD_FILE`.
    #[error("a valid user name and password are required (HTTP Basic)")]
    BadCredentials,
    /// A feature this process was started without; the text says which.
    #[error("{0}")]
    NotConfigured(&'static str),
    /// The thing asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was not found.
        what: String,
    },
    /// A statement ran into the statement timeout.
    #[error("the request took too long")]
    TimedOut,
    /// The database is unreachable or saturated.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else: a bug.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A 400 saying why.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            message: message.into(),
            parameter: None,
        }
    }

    /// A 400 naming the parameter at fault (none when `parameter` is empty).
    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            message: message.into(),
            parameter: Some(parameter.to_owned()).filter(|name| !name.is_empty()),
        }
    }

    /// A 404 naming what was not found.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::NotFound { what: what.into() }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::NotFound { .. } | ApiError::NotConfigured(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) | ApiError::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                ApiError::Unavailable(error)
            }
            // 57014, query_canceled: the session's statement_timeout stopped
            // a statement that took as long as the request may.
            sqlx::Error::Database(database_error)
                if database_error.code().as_deref() == Some("57014") =>
            {
                ApiError::TimedOut
            }
            // 40001 serialization_failure (also what a standby raises when
            // replay cancels a read that conflicts with it), 40P01
            // deadlock_detected, 57P01–57P03 (the server shutting down or
            // starting): the same request can succeed when tried again.
            sqlx::Error::Database(database_error)
                if matches!(
                    database_error.code().as_deref(),
                    Some("40001" | "40P01" | "57P01" | "57P02" | "57P03")
                ) =>
            {
                ApiError::Unavailable(sqlx::Error::Database(database_error))
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
                ApiError::bad(format!(
                    "a parameter holds a value the database cannot take: {}",
                    database_error.message()
                ))
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

/// What an error response says, whatever the family's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// Why.
    pub message: String,
    /// The parameter at fault, when one is.
    pub parameter: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable")
            }
            ApiError::Internal(source) => {
                tracing::error!(error = %format!("{source:#}"), "request failed")
            }
            _ => {}
        }
        let reply = ErrorReply {
            message: self.to_string(),
            parameter: match &self {
                ApiError::BadRequest { parameter, .. } => parameter.clone(),
                _ => None,
            },
        };
        let mut response = (self.status(), reply).into_response();
        let challenge = match self {
            ApiError::Unauthorized => Some("Bearer"),
            ApiError::BadCredentials => Some("Basic realm=\"tach\""),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl IntoResponse for ErrorReply {
    /// No body yet: [`in_family_shape`] writes it. Outside a family router
    /// the reply is written in the plain shape.
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        response.extensions_mut().insert(self);
        response
    }
}

/// The API family whose error shape a response takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// StackTach's `stacky/*` tables.
    Stacky,
    /// The Socorro middleware.
    Socorro,
    /// Orlo/Observatory releases and tach's own endpoints.
    Orlo,
}

/// The body of an error in a family's shape.
pub fn error_body(family: Family, status: StatusCode, reply: &ErrorReply) -> serde_json::Value {
    match family {
        Family::Stacky => {
            let title = status.canonical_reason().unwrap_or("Error");
            serde_json::json!([["Error", "Message"], [title, reply.message]])
        }
        Family::Socorro if status == StatusCode::BAD_REQUEST => serde_json::json!({
            "error": {"message": reply.message, "parameter": reply.parameter}
        }),
        Family::Socorro => serde_json::json!({"error": {"message": reply.message}}),
        Family::Orlo => serde_json::json!({"message": reply.message}),
    }
}

/// The message of an error response axum or tower-http made on its own: its
/// text body when it has one (extractor rejections say what was wrong),
/// else what its status means here.
pub fn message_of_bare_error(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() {
        return text.to_owned();
    }
    match status {
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this route".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_owned(),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => {
            "the request took too long".to_owned()
        }
        other => other
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    }
}

/// Longest bare error body read back to be rewritten (rejection texts are short).
const BARE_ERROR_BODY_LIMIT: usize = 16 * 1024;

/// Writes an error response in `family`'s shape; other responses pass.
pub async fn in_family_shape(family: Family, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    let (mut parts, body) = response.into_parts();
    let reply = match parts.extensions.remove::<ErrorReply>() {
        Some(reply) => reply,
        // Already an answer of its own (tach's health endpoints).
        None if is_json => return Response::from_parts(parts, body),
        None => {
            let bytes = axum::body::to_bytes(body, BARE_ERROR_BODY_LIMIT)
                .await
                .unwrap_or_default();
            ErrorReply {
                message: message_of_bare_error(status, &bytes),
                parameter: None,
            }
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let mut shaped = Json(error_body(family, status, &reply)).into_response();
    *shaped.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        shaped.headers_mut().insert(name.clone(), value.clone());
    }
    shaped
}

/// An error body as documented: the three shapes (OpenAPI schemas).
pub mod shapes {
    use super::*;

    /// `[["Error", "Message"], [<status title>, <why>]]`.
    #[derive(Serialize, utoipa::ToSchema)]
    pub struct StackyError(pub Vec<[String; 2]>);

    /// `{"error": {"message", "parameter"}}`.
    #[derive(Serialize, utoipa::ToSchema)]
    pub struct SocorroError {
        /// What went wrong.
        pub error: SocorroErrorDetail,
    }

    /// The inside of a Socorro error.
    #[derive(Serialize, utoipa::ToSchema)]
    pub struct SocorroErrorDetail {
        /// Why.
        pub message: String,
        /// The parameter at fault (400s only; null when none is).
        #[schema(required = false)]
        pub parameter: Option<String>,
    }

    /// `{"message": <why>}`.
    #[derive(Serialize, utoipa::ToSchema)]
    pub struct OrloError {
        /// Why.
        pub message: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(message: &str, parameter: Option<&str>) -> ErrorReply {
        ErrorReply {
            message: message.into(),
            parameter: parameter.map(str::to_owned),
        }
    }

    #[test]
    fn each_family_writes_its_shape() {
        let why = reply("missing mandatory parameter product", Some("product"));
        assert_eq!(
            error_body(Family::Stacky, StatusCode::BAD_REQUEST, &why),
            serde_json::json!([
                ["Error", "Message"],
                ["Bad Request", "missing mandatory parameter product"]
            ])
        );
        assert_eq!(
            error_body(Family::Socorro, StatusCode::BAD_REQUEST, &why),
            serde_json::json!({"error": {
                "message": "missing mandatory parameter product", "parameter": "product"
            }})
        );
        assert_eq!(
            error_body(
                Family::Socorro,
                StatusCode::NOT_FOUND,
                &reply("x not found", None)
            ),
            serde_json::json!({"error": {"message": "x not found"}})
        );
        assert_eq!(
            error_body(Family::Orlo, StatusCode::UNAUTHORIZED, &why),
            serde_json::json!({"message": "missing mandatory parameter product"})
        );
        assert_eq!(
            error_body(Family::Stacky, StatusCode::PAYLOAD_TOO_LARGE, &why)[1][0],
            "Payload Too Large"
        );
    }

    #[test]
    fn bare_errors_keep_their_text_or_say_what_their_status_means() {
        assert_eq!(
            message_of_bare_error(StatusCode::BAD_REQUEST, b"Invalid URL: bad segment\n"),
            "Invalid URL: bad segment"
        );
        assert_eq!(
            message_of_bare_error(StatusCode::METHOD_NOT_ALLOWED, b""),
            "method not allowed on this route"
        );
        assert_eq!(
            message_of_bare_error(StatusCode::SERVICE_UNAVAILABLE, b""),
            "the request took too long"
        );
        assert_eq!(
            message_of_bare_error(StatusCode::IM_A_TEAPOT, b""),
            "i'm a teapot"
        );
    }
}
