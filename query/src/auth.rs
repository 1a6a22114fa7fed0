//! Who may write and who may see protected data. Release writes need
//! `Authorization: Bearer <token>` when `TACH_API_TOKEN` is set: a handler
//! that writes takes [`WriteAccess`], so the route cannot run without it,
//! and its OpenAPI operation declares the bearer scheme. Socorro's protected
//! crash fields need `TACH_READ_TOKEN` when it is set: a handler that shows
//! them takes [`ReadAccess`], which says whether this request may.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use crate::error::ApiError;
use crate::state::AppState;

/// Proof that the request may write.
#[derive(Debug, Clone, Copy)]
pub struct WriteAccess;

impl FromRequestParts<AppState> for WriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<WriteAccess, ApiError> {
        if bears(state.api_token.as_deref(), &parts.headers) {
            Ok(WriteAccess)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// Whether a request may see protected fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadAccess {
    /// True without `TACH_READ_TOKEN`, or with it as the bearer token.
    pub protected_fields: bool,
}

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ReadAccess, std::convert::Infallible> {
        Ok(ReadAccess {
            protected_fields: bears(state.read_token.as_deref(), &parts.headers),
        })
    }
}

/// True without a token to expect, or when `headers` carry it as a bearer token.
pub fn bears(expected: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| same_token(token.trim(), expected))
}

/// Compares in time independent of where the first difference is, so the
/// answer's timing does not reveal a prefix of the token.
fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn writes_are_open_without_a_token_and_need_it_with_one() {
        assert!(bears(None, &HeaderMap::new()));
        assert!(!bears(Some("s3cret"), &HeaderMap::new()));
        assert!(bears(Some("s3cret"), &bearer("Bearer s3cret")));
        assert!(!bears(Some("s3cret"), &bearer("Bearer s3cre")));
        assert!(!bears(Some("s3cret"), &bearer("Basic s3cret")));
    }
}
