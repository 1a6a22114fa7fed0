//! The HTTP edge every family shares: the OpenAPI document and the routes
//! come from one table (every documented operation answers), the other
//! spellings of a path are rewritten, and the errors axum and tower-http
//! make on their own (malformed path segments, unknown methods, oversized
//! bodies, the request timeout) take the family's shape.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{json, Value};
use tach_tests::harness::{TestApi, TestDatabase};

/// A value for each path parameter the document names.
fn example(parameter: &str) -> &'static str {
    match parameter {
        "event_id" | "deployment_id" | "report_id" => "1",
        "release" | "package" | "package_id" => "0b6f7a3c-43c1-4b4e-9d42-1d2b1b0f9a11",
        "field" => "user",
        "subject" => "release",
        _ => "example",
    }
}

fn fill(template: &str) -> String {
    template
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => example(name).to_owned(),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether `body` is the fallback's "route … not found" in any shape.
fn is_unrouted(body: &Value) -> bool {
    body.to_string().contains("\"route /")
}

#[tokio::test]
async fn every_documented_operation_answers_and_nothing_else_is_documented() {
    let database = TestDatabase::create().await;
    let api = TestApi::new(database.pool.clone());
    let document = api.ok("/openapi.json").await;
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 55, "{} paths", paths.len());
    for (template, item) in paths {
        for method in ["get", "post"] {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let path = fill(template);
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&path)
                .header("content-type", "application/json")
                .body(Body::from(if method == "post" { "{}" } else { "" }))
                .unwrap();
            // A stream's answer never ends: only its status and type are read.
            let streams = operation["responses"]["200"]["content"]
                .get("text/event-stream")
                .is_some();
            let (status, body) = if streams {
                let (status, headers) = api.head(request).await;
                assert_eq!(headers["content-type"], "text/event-stream", "{path}");
                (status, Value::Null)
            } else {
                api.request(request).await
            };
            assert!(
                status.as_u16() != 405 && !status.is_server_error() && !is_unrouted(&body),
                "{method} {path}: {status} {body}"
            );
            let documented = operation["responses"]
                .as_object()
                .expect("responses")
                .contains_key(status.as_str());
            assert!(documented, "{method} {path}: {status} is not documented");
        }
    }
    database.drop_database().await;
}

#[tokio::test]
async fn old_spellings_of_a_path_are_rewritten_not_redirected() {
    let database = TestDatabase::create().await;
    let api = TestApi::new(database.pool.clone());
    let deployments = api.ok("/stacky/deployments").await;
    assert_eq!(api.ok("/stacky/deployments/").await, deployments);
    let usage = api.ok("/stacky/usage/launches").await;
    assert_eq!(api.ok("/stacky/usages/launches/").await, usage);
    let versions = api.ok("/products/versions").await;
    assert_eq!(api.ok("/bpapi/products/versions/").await, versions);
    assert_eq!(
        api.ok("/bpapi/crashes/signatures/product/Firefox/version/42.0/")
            .await["crashes"],
        json!([])
    );
    assert_eq!(api.ok("/release/").await, json!({"releases": []}));
    assert_eq!(api.ok("/search/").await, api.ok("/search/signatures").await);
    database.drop_database().await;
}

fn request(method: Method, path: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn errors_axum_makes_take_the_familys_shape() {
    let database = TestDatabase::create().await;
    let api = TestApi::new(database.pool.clone());
    let cases: Vec<(Request<Body>, u16, Value)> = vec![
        (
            request(Method::DELETE, "/stacky/summary/", vec![]),
            405,
            json!([
                ["Error", "Message"],
                ["Method Not Allowed", "method not allowed on this route"]
            ]),
        ),
        (
            request(Method::POST, "/crashes/signatures", vec![]),
            405,
            json!({"error": {"message": "method not allowed on this route"}}),
        ),
        (
            request(Method::PUT, "/releases", vec![]),
            405,
            json!({"message": "method not allowed on this route"}),
        ),
        (
            request(Method::GET, "/crashes/nothing-here", vec![]),
            404,
            json!({"error": {"message": "route /crashes/nothing-here not found"}}),
        ),
        (
            request(Method::POST, "/releases", vec![b' '; 3 * 1024 * 1024]),
            413,
            json!({"message": "Failed to buffer the request body: length limit exceeded"}),
        ),
    ];
    for (request, status, expected) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let (got, body) = api.request(request).await;
        assert_eq!((got.as_u16(), body), (status, expected), "{what}");
    }
    // A path segment that is not UTF-8 once percent-decoded: axum's own 400.
    let (status, body) = api
        .request(request(Method::GET, "/environment/%FF", vec![]))
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    let message = body["message"].as_str().expect("Orlo's shape");
    assert!(message.contains("UTF-8"), "{message}");
    database.drop_database().await;
}

#[tokio::test]
async fn a_request_over_the_timeout_is_a_503_in_the_familys_shape() {
    let database = TestDatabase::create().await;
    // One connection, held here: the request waits for it past its timeout.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&database.url)
        .await
        .expect("a one-connection pool");
    let held = pool.acquire().await.expect("the only connection");
    let state = tach_query::AppState::new(pool.clone());
    let api = TestApi::with_timeout(state, Duration::from_millis(200));
    let cases = [
        (
            "/stacky/deployments/",
            json!([
                ["Error", "Message"],
                ["Service Unavailable", "the request took too long"]
            ]),
        ),
        (
            "/products/versions/",
            json!({"error": {"message": "the request took too long"}}),
        ),
        ("/releases", json!({"message": "the request took too long"})),
    ];
    for (path, expected) in cases {
        let (status, body) = api.get(path).await;
        assert_eq!((status.as_u16(), body), (503, expected), "{path}");
    }
    // The answer of a timed-out request still carries its id.
    let request = axum::http::Request::get("/stacky/deployments")
        .header("x-request-id", "slow-1")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, headers) = api.head(request).await;
    assert_eq!(status.as_u16(), 503);
    assert_eq!(headers["x-request-id"], "slow-1");
    drop(held);
    pool.close().await;
    database.drop_database().await;
}
