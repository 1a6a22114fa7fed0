//! tach-query's Prometheus metrics (SPEC §6): requests and latency per
//! matched route, method and status; unmatched paths share one label so the
//! series stay bounded; and the read pool's replication and both pools'
//! connections, sampled by [`crate::replica::sample_periodically`].

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use sqlx::PgPool;

use crate::replica::Replication;

/// HTTP requests answered.
pub const HTTP_REQUESTS: &str = "tach_http_requests_total";
/// Time to answer a request.
pub const HTTP_REQUEST_DURATION: &str = "tach_http_request_duration_seconds";
/// 1 while the read pool's server is a standby (in recovery), 0 on a primary.
pub const READ_POOL_REPLICA: &str = "tach_query_read_pool_replica";
/// How far the read pool's standby trails its primary (0 on a primary).
pub const REPLICA_LAG: &str = "tach_query_replica_lag_seconds";
/// WAL the read pool's standby received but has not replayed yet.
pub const REPLICA_LAG_BYTES: &str = "tach_query_replica_lag_bytes";
/// Connections of each pool, by pool (`read`, `write`) and state (`idle`, `busy`).
pub const POOL_CONNECTIONS: &str = "tach_query_pool_connections";

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
    describe_gauge!(
        READ_POOL_REPLICA,
        "1 while the read pool (TACH_QUERY_DATABASE_URL) is a standby, 0 on a primary."
    );
    describe_gauge!(
        REPLICA_LAG,
        Unit::Seconds,
        "How far the read pool's standby trails its primary: 0 while it streams and has replayed all it received, else the age of its last replayed commit; NaN when unknown; 0 on a primary."
    );
    describe_gauge!(
        REPLICA_LAG_BYTES,
        Unit::Bytes,
        "WAL the read pool's standby received but has not replayed yet (0 on a primary)."
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        Unit::Count,
        "Open database connections, by pool (read, write) and state (idle, busy); with TACH_QUERY_DATABASE_URL unset there is only the read pool."
    );
}

/// Records a measurement of the read pool's replication.
pub fn replication(replication: &Replication) {
    let (replica, lag_seconds, lag_bytes) = match *replication {
        Replication::Primary => (0.0, 0.0, 0.0),
        Replication::Standby {
            lag_seconds,
            unreplayed_bytes,
        } => (1.0, lag_seconds.unwrap_or(f64::NAN), unreplayed_bytes),
    };
    gauge!(READ_POOL_REPLICA).set(replica);
    gauge!(REPLICA_LAG).set(lag_seconds);
    gauge!(REPLICA_LAG_BYTES).set(lag_bytes);
}

/// Records how many of `pool`'s connections are idle and busy.
pub fn pool_connections(name: &'static str, pool: &PgPool) {
    let idle = pool.num_idle();
    let busy = (pool.size() as usize).saturating_sub(idle);
    gauge!(POOL_CONNECTIONS, "pool" => name, "state" => "idle").set(idle as f64);
    gauge!(POOL_CONNECTIONS, "pool" => name, "state" => "busy").set(busy as f64);
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
