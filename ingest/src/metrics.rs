//! tach-ingest's Prometheus metrics: every name and its help text in one
//! place (SPEC §6), the recording helpers, and the /metrics endpoint.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use tach_schema::{BatchOutcome, Family, ParseError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::batch::Prepared;
use crate::health::Health;

async fn readyz(health: Health) -> (StatusCode, String) {
    match health.check().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{}\n", reasons.join("\n")),
        ),
    }
}

/// Messages taken off the bus (or out of a replay), by deployment and family.
pub const MESSAGES_CONSUMED: &str = "tach_ingest_messages_consumed_total";
/// Messages stored for the first time.
pub const MESSAGES_STORED: &str = "tach_ingest_messages_stored_total";
/// Messages already stored (redeliveries, replays, republished copies).
pub const MESSAGES_DUPLICATE: &str = "tach_ingest_messages_duplicate_total";
/// Messages rejected, by reason.
pub const MESSAGES_REJECTED: &str = "tach_ingest_messages_rejected_total";
/// Messages per committed batch.
pub const BATCH_SIZE: &str = "tach_ingest_batch_size";
/// Time to commit a batch, retries included.
pub const COMMIT_DURATION: &str = "tach_ingest_commit_duration_seconds";
/// Commit time minus event time, per stored event.
pub const LAG: &str = "tach_ingest_lag_seconds";
/// `.start`/`.end` pairs completed.
pub const PAIRS_COMPLETED: &str = "tach_ingest_pairs_completed_total";
/// Unix time of the last commit.
pub const LAST_COMMIT: &str = "tach_ingest_last_commit_timestamp_seconds";
/// 1 while a deployment's consumers are attached to all its queues, else 0.
pub const CONSUMER_UP: &str = "tach_ingest_consumer_up";
/// Sessions started again after a failure, by deployment.
pub const RECONNECTS: &str = "tach_ingest_reconnects_total";
/// Messages ready in each of tach's queues, sampled while consuming.
pub const QUEUE_MESSAGES: &str = "tach_ingest_queue_messages";

/// Installs the process's Prometheus recorder and describes every metric;
/// call at startup, before anything is recorded (earlier records are lost).
pub fn install() {
    tach_schema::prometheus::install();
    describe();
}

fn describe() {
    describe_counter!(
        MESSAGES_CONSUMED,
        Unit::Count,
        "Messages taken off the bus, by deployment and family."
    );
    describe_counter!(
        MESSAGES_STORED,
        Unit::Count,
        "Messages stored for the first time."
    );
    describe_counter!(
        MESSAGES_DUPLICATE,
        Unit::Count,
        "Messages already stored before (redeliveries, replays)."
    );
    describe_counter!(
        MESSAGES_REJECTED,
        Unit::Count,
        "Messages kept in rejected_messages, by reason code."
    );
    describe_histogram!(BATCH_SIZE, Unit::Count, "Messages per committed batch.");
    describe_histogram!(
        COMMIT_DURATION,
        Unit::Seconds,
        "Time to commit a batch, retries included."
    );
    describe_histogram!(
        LAG,
        Unit::Seconds,
        "Commit time minus event time, per stored event."
    );
    describe_counter!(
        PAIRS_COMPLETED,
        Unit::Count,
        "Start/end pairs completed into timings."
    );
    describe_gauge!(
        LAST_COMMIT,
        Unit::Seconds,
        "Unix time of the last committed batch."
    );
    describe_gauge!(
        CONSUMER_UP,
        "1 while the deployment's consumers are attached to all its queues, else 0."
    );
    describe_counter!(
        RECONNECTS,
        Unit::Count,
        "Broker sessions started again after a failure, by deployment."
    );
    describe_gauge!(
        QUEUE_MESSAGES,
        Unit::Count,
        "Messages ready (not yet delivered) in each of tach's queues, sampled every 15 s while consuming."
    );
}

/// Records whether a deployment's consumers are attached.
pub fn consumer_up(deployment: &str, up: bool) {
    gauge!(CONSUMER_UP, "deployment" => deployment.to_owned()).set(if up { 1.0 } else { 0.0 });
}

/// Counts a session started again after a failure.
pub fn reconnected(deployment: &str) {
    counter!(RECONNECTS, "deployment" => deployment.to_owned()).increment(1);
}

/// Records how many messages wait in one queue.
pub fn queue_messages(deployment: &str, queue: &str, ready: u32) {
    gauge!(QUEUE_MESSAGES, "deployment" => deployment.to_owned(), "queue" => queue.to_owned())
        .set(f64::from(ready));
}

/// Exports zero for the series of a deployment, so rates start at 0 instead
/// of appearing with the first message.
pub fn register_deployment(deployment: &str) {
    for family in Family::ALL {
        let labels = [
            ("deployment", deployment.to_owned()),
            ("family", family.as_str().to_owned()),
        ];
        counter!(MESSAGES_CONSUMED, &labels).increment(0);
        counter!(MESSAGES_STORED, &labels).increment(0);
        counter!(MESSAGES_DUPLICATE, &labels).increment(0);
    }
    counter!(PAIRS_COMPLETED, "deployment" => deployment.to_owned()).increment(0);
    counter!(RECONNECTS, "deployment" => deployment.to_owned()).increment(0);
    for reason in ParseError::CODES {
        let labels = [
            ("deployment", deployment.to_owned()),
            ("family", "unknown".to_owned()),
            ("reason", reason.to_owned()),
        ];
        counter!(MESSAGES_REJECTED, &labels).increment(0);
    }
}

/// What one batch did for one family.
#[derive(Default)]
struct FamilyTally {
    consumed: u64,
    stored: u64,
    duplicates: u64,
    lags: Vec<f64>,
}

/// Records a committed batch.
pub fn record_commit(
    deployment: &str,
    prepared: &Prepared,
    outcome: &BatchOutcome,
    commit_duration: Duration,
) {
    let now = chrono::Utc::now();
    // Tallied per family first: one registry lookup per series and batch,
    // not one per message, on the hot path.
    let mut tallies: BTreeMap<&str, FamilyTally> = BTreeMap::new();
    for event in &prepared.events {
        tallies.entry(event.family.as_str()).or_default().consumed += 1;
    }
    for &index in &outcome.stored {
        let event = &prepared.events[index];
        let lag = (now - event.when).num_milliseconds().max(0) as f64 / 1000.0;
        let tally = tallies.entry(event.family.as_str()).or_default();
        tally.stored += 1;
        tally.lags.push(lag);
    }
    for &index in &outcome.duplicates {
        tallies
            .entry(prepared.events[index].family.as_str())
            .or_default()
            .duplicates += 1;
    }
    let mut rejections: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for (rejected, family) in prepared.rejected.iter().zip(&prepared.rejected_families) {
        tallies.entry(family).or_default().consumed += 1;
        *rejections.entry((family, rejected.reason)).or_default() += 1;
    }
    for (family, tally) in tallies {
        let labels = [
            ("deployment", deployment.to_owned()),
            ("family", family.to_owned()),
        ];
        counter!(MESSAGES_CONSUMED, &labels).increment(tally.consumed);
        counter!(MESSAGES_STORED, &labels).increment(tally.stored);
        counter!(MESSAGES_DUPLICATE, &labels).increment(tally.duplicates);
        let lag = histogram!(LAG, &labels);
        for seconds in tally.lags {
            lag.record(seconds);
        }
    }
    for ((family, reason), count) in rejections {
        let labels = [
            ("deployment", deployment.to_owned()),
            ("family", family.to_owned()),
            ("reason", reason.to_owned()),
        ];
        counter!(MESSAGES_REJECTED, &labels).increment(count);
    }
    let deployment_label = [("deployment", deployment.to_owned())];
    // A late `.start` can re-pair and undo a pair; the counter only counts gains.
    counter!(PAIRS_COMPLETED, &deployment_label).increment(outcome.pairs_completed.max(0) as u64);
    let size = prepared.events.len() + prepared.rejected.len();
    histogram!(BATCH_SIZE, &deployment_label).record(size as f64);
    histogram!(COMMIT_DURATION, &deployment_label).record(commit_duration.as_secs_f64());
    gauge!(LAST_COMMIT, &deployment_label).set(now.timestamp_millis() as f64 / 1000.0);
}

/// Serves `/metrics`, `/healthz` (the process answers) and `/readyz`
/// (the database answers and every deployment consumes: 200, else 503
/// with one line per reason) until `token` is cancelled.
pub async fn serve(
    listener: TcpListener,
    health: Health,
    token: CancellationToken,
) -> std::io::Result<()> {
    let handle = tach_schema::prometheus::install();
    let upkeep_handle = handle.cloned();
    let upkeep_token = token.clone();
    tokio::spawn(async move {
        let Some(handle) = upkeep_handle else { return };
        let mut interval = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = upkeep_token.cancelled() => return,
                _ = interval.tick() => handle.run_upkeep(),
            }
        }
    });
    let render = move || {
        let body = handle.map(|handle| handle.render()).unwrap_or_default();
        async move { ([("content-type", "text/plain; version=0.0.4")], body) }
    };
    let app = Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(move || readyz(health.clone())));
    axum::serve(listener, app)
        .with_graceful_shutdown(token.cancelled_owned())
        .await
}
