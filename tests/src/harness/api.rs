//! Requests to tach-query's router in-process (no socket), for asserting
//! whole response bodies.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
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
        TestApi {
            router: tach_query::router(tach_query::AppState { pool }, Duration::from_secs(30)),
        }
    }

    /// GETs `path` (with its query string); returns the status and the JSON body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let request = Request::get(path)
            .body(Body::empty())
            .expect("a valid request");
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
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{path}: body is not JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, body)
    }

    /// GETs `path` and returns its text body, asserting a 200.
    pub async fn text(&self, path: &str) -> String {
        let request = Request::get(path)
            .body(Body::empty())
            .expect("a valid request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
            .await
            .expect("reading the body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8 body")
    }

    /// GETs `path` and asserts a 200.
    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }
}
