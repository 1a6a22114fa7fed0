//! tach-query's Prometheus metrics (SPEC §6): requests and latency per
//! matched route, method and status; unmatched paths share one label so the
//! series stay bounded.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};

/// HTTP requests answered.
pub const HTTP_REQUESTS: &str = "tach_http_requests_total";
/// Time to answer a request.
pub const HTTP_REQUEST_DURATION: &str = "tach_http_request_duration_seconds";

/// Installs the process's Prometheus recorder and describes every metric;
/// call at startup, before anything is recorded (earlier records are lost).
pub fn install() {
    tach_schema::prometheus::install();
    describe();
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        Unit::Count,
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by route template, method and status."
    );
}

/// Middleware recording every request.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let labels = [
        ("route", route),
        ("method", method),
        ("status", response.status().as_u16().to_string()),
    ];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_REQUEST_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}
