//! Requests to tach-query's router in-process (no socket), for asserting
//! whole response bodies.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

/// tach-query's router over a test database.
pub struct TestApi {
    router: Router,
}

impl TestApi {
    /// The router serving `pool`.
    pub fn new(pool: sqlx::PgPool) -> TestApi {
        TestApi::with_token(pool, None)
    }

    /// The router over a given state (token, default product).
    pub fn with_state(state: tach_query::AppState) -> TestApi {
        TestApi {
            router: tach_query::router(state, Duration::from_secs(30)),
        }
    }

    /// The router over a given state, with requests timing out after `timeout`.
    pub fn with_timeout(state: tach_query::AppState, timeout: Duration) -> TestApi {
        TestApi {
            router: tach_query::router(state, timeout),
        }
    }

    /// The router serving `pool`, with release writes requiring `api_token`
    /// as a bearer token when it is set (`TACH_API_TOKEN`).
    pub fn with_token(pool: sqlx::PgPool, api_token: Option<&str>) -> TestApi {
        let state = tach_query::AppState {
            api_token: api_token.map(str::to_owned),
            ..tach_query::AppState::new(pool)
        };
        TestApi {
            router: tach_query::router(state, Duration::from_secs(30)),
        }
    }

    /// POSTs `body` (raw bytes, sent as JSON when given) to `path` with an
    /// optional bearer token; returns the status and the JSON body (`null`
    /// when the body is empty, as for a 204).
    pub async fn post_raw(
        &self,
        path: &str,
        body: Option<&[u8]>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::post(path);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Body::from(body.map(<[u8]>::to_vec).unwrap_or_default()))
            .expect("a valid request");
        let (status, bytes) = self.send(request).await;
        if bytes.is_empty() {
            return (status, Value::Null);
        }
        (status, json_of(path, &bytes))
    }

    /// POSTs a JSON value (or no body) to `path` without a token.
    pub async fn post(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let bytes = body.map(|body| body.to_string().into_bytes());
        self.post_raw(path, bytes.as_deref(), None).await
    }

    /// GETs `path` (with its query string); returns the status and the JSON body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (status, bytes) = self.send(get_request(path)).await;
        (status, json_of(path, &bytes))
    }

    /// GETs `path` and returns its text body, asserting a 200.
    pub async fn text(&self, path: &str) -> String {
        let (status, bytes) = self.send(get_request(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        String::from_utf8(bytes.to_vec()).expect("UTF-8 body")
    }

    /// GETs `path` and asserts a 200.
    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// Sends any request through the router; returns the status and the
    /// body: its JSON, `null` when empty, else its text as a JSON string.
    pub async fn request(&self, request: Request<Body>) -> (StatusCode, Value) {
        let (status, bytes) = self.send(request).await;
        if bytes.is_empty() {
            return (status, Value::Null);
        }
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    /// Sends any request through the router; returns the status and the
    /// headers of its answer.
    pub async fn head(&self, request: Request<Body>) -> (StatusCode, HeaderMap) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        (response.status(), response.headers().clone())
    }

    /// Sends a request through the router; returns the status and the body's bytes.
    async fn send(&self, request: Request<Body>) -> (StatusCode, axum::body::Bytes) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
            .await
            .expect("reading the body");
        (status, bytes)
    }
}

fn get_request(path: &str) -> Request<Body> {
    Request::get(path)
        .body(Body::empty())
        .expect("a valid request")
}

fn json_of(path: &str, bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|_| {
        panic!(
            "{path}: body is not JSON: {}",
            String::from_utf8_lossy(bytes)
        )
    })
}
