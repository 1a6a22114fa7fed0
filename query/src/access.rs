//! The access log and request ids. Every request gets an id — the client's
//! `X-Request-Id` when it is sane, else a new UUID — echoed in the answer's
//! `X-Request-Id`, errors and timeouts included. The request runs in a
//! `request` span carrying the id, so whatever it logs can be found by it,
//! and ends with one info line under the target [`ACCESS_TARGET`]: method,
//! route template, status, duration and id.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::edge::AskedPath;

/// The target of the access log's lines, to filter them (`RUST_LOG`).
pub const ACCESS_TARGET: &str = "tach_query::access";

/// The header a request id comes in and goes back in.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client; a longer one is replaced.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// The id of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id when [`is_sane_request_id`], else a new UUID v4.
    pub fn of(headers: &HeaderMap) -> RequestId {
        headers
            .get(REQUEST_ID)
            .filter(|value| is_sane_request_id(value.as_bytes()))
            .map_or_else(RequestId::generate, |value| RequestId(value.clone()))
    }

    fn generate() -> RequestId {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        RequestId(HeaderValue::from_str(&id).expect("a UUID is a valid header value"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII gets in (is_sane_request_id, or a UUID).
        self.0.to_str().unwrap_or_default()
    }
}

/// Whether a client's request id may be logged and echoed as it is: 1 to
/// [`MAX_REQUEST_ID_BYTES`] bytes of visible ASCII (no spaces, no control
/// characters), so it cannot forge log lines or grow them without bound.
pub fn is_sane_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_BYTES && id.iter().all(u8::is_ascii_graphic)
}

/// The route template of a request, or its path as the client wrote it
/// when no route matched.
fn route_of(request: &Request) -> String {
    if let Some(matched) = request.extensions().get::<MatchedPath>() {
        return matched.as_str().to_owned();
    }
    match request.extensions().get::<AskedPath>() {
        Some(asked) => asked.0.clone(),
        None => request.uri().path().to_owned(),
    }
}

/// Middleware: the request's id, its span, its answer's `X-Request-Id` and
/// its access log line.
pub async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = RequestId::of(request.headers());
    let route = route_of(&request);
    let method = request.method().clone();
    request.extensions_mut().insert(request_id.clone());
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        request_id = %request_id.as_str(),
    );
    let mut response = next.run(request).instrument(span).await;
    response
        .headers_mut()
        .insert(REQUEST_ID, request_id.0.clone());
    let duration_ms = started.elapsed().as_micros() as f64 / 1000.0;
    tracing::info!(
        target: ACCESS_TARGET,
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        duration_ms,
        request_id = %request_id.as_str(),
        "request answered"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_short_visible_ascii() {
        assert!(is_sane_request_id(b"abc-123"));
        assert!(is_sane_request_id(b"req_01J8Z:2024/x=y"));
        assert!(is_sane_request_id(&[b'a'; MAX_REQUEST_ID_BYTES]));
        assert!(!is_sane_request_id(&[b'a'; MAX_REQUEST_ID_BYTES + 1]));
        assert!(!is_sane_request_id(b""));
        assert!(!is_sane_request_id(b"two words"));
        assert!(!is_sane_request_id(b"line\nbreak"));
        assert!(!is_sane_request_id(b"tab\there"));
        assert!(!is_sane_request_id("caf\u{e9}".as_bytes()));
        assert!(!is_sane_request_id(b"nul\0"));
    }

    #[test]
    fn a_sane_id_is_kept_and_any_other_replaced_by_a_uuid() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(RequestId::of(&headers).as_str(), "abc-123");
        for insane in [
            HeaderValue::from_static("a b"),
            HeaderValue::from_static(""),
        ] {
            headers.insert(REQUEST_ID, insane);
            let generated = RequestId::of(&headers);
            let parsed = uuid::Uuid::try_parse(generated.as_str()).unwrap();
            assert_eq!(parsed.get_version_num(), 4);
        }
        let first = RequestId::of(&HeaderMap::new());
        let second = RequestId::of(&HeaderMap::new());
        assert_ne!(first, second);
        assert_eq!(first.as_str().len(), 36);
    }
}
