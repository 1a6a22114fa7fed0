//! What tests compare: the state a stream of events leaves in the database
//! (stored events, rejections and everything derived from them), where two
//! states first differ, and how ingest progressed over time (its longest
//! stall), and the stream the fault tests publish. Shared by the
//! consistency, fault-injection and cluster tests.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::TestDatabase;
use crate::gen::{generate, Message, Rng, Scenario};

/// The fault tests' stream: over 20,000 generated events of three days,
/// 5 % of them again (redeliveries a publisher retried), and how many
/// events of each type it holds.
pub struct FaultStream {
    /// The events, in time order.
    pub events: Vec<Message>,
    /// Copies of some of them.
    pub duplicates: Vec<Message>,
    /// Events per event type.
    pub per_type: std::collections::BTreeMap<String, i64>,
}

/// [`FaultStream`] of `seed`.
pub fn fault_stream(seed: u64) -> FaultStream {
    let events = generate(&Scenario {
        seed,
        start: Utc::now() - chrono::TimeDelta::days(3),
        instances: 600,
        images: 40,
        crashes: 400,
        releases: 20,
        products: 5,
        ..Scenario::default()
    });
    assert!(events.len() >= 20_000, "{} events", events.len());
    let mut per_type = std::collections::BTreeMap::new();
    for message in &events {
        let inner = message.inner().expect("generated messages are JSON");
        let event_type = inner["event_type"].as_str().expect("an event type");
        *per_type.entry(event_type.to_owned()).or_default() += 1;
    }
    let mut rng = Rng::new(seed);
    let duplicates = events
        .iter()
        .filter(|_| rng.below(100) < 5)
        .cloned()
        .collect();
    FaultStream {
        events,
        duplicates,
        per_type,
    }
}

/// Every derived table, without tach's event ids (which depend on arrival order).
pub async fn derived_state(db: &TestDatabase) -> Value {
    let queries = [
        "SELECT instance, operation, request_id, seq, start_when, end_when, duration_us FROM timings ORDER BY 1, 2, 3, 4",
        "SELECT operation, hour, bucket, n, total_us FROM timing_buckets ORDER BY 1, 2, 3",
        "SELECT request_id, instance, start_when, end_when, operation, tenant, duration_us FROM kpi_trackers ORDER BY 1, 3, 2",
        "SELECT * FROM usage_launches ORDER BY instance, request_id",
        "SELECT * FROM usage_deletes ORDER BY instance, launched_at",
        "SELECT * FROM usage_exists ORDER BY instance, message_id",
        "SELECT message_id, uuid, created_at, owner, size FROM image_usage ORDER BY message_id",
        "SELECT message_id, uuid, deleted_at FROM image_deletes ORDER BY message_id",
        "SELECT message_id, position, uuid, created_at, deleted_at, audit_period_beginning,
                audit_period_ending, owner, size, status
         FROM image_exists ORDER BY message_id, position",
        "SELECT * FROM event_names ORDER BY 1, 2",
        "SELECT * FROM event_hosts ORDER BY 1, 2",
        "SELECT * FROM event_tenants ORDER BY 1",
        "SELECT operation, day, bucket, n, total_us FROM timing_buckets_daily ORDER BY 1, 2, 3",
        "SELECT operation, bucket, n, total_us FROM timing_buckets_total ORDER BY 1, 2",
    ];
    let mut state = Vec::new();
    for query in queries {
        let rows = db.json_rows(query).await;
        assert!(
            rows.as_array().is_some_and(|rows| !rows.is_empty()),
            "derived rows exist for {query}"
        );
        state.push(rows);
    }
    // The rollups are the hourly aggregates summed per day and overall.
    let regrouped = [
        "SELECT operation, date_trunc('day', hour) AS day, bucket, sum(n)::bigint AS n,
                sum(total_us)::bigint AS total_us
         FROM timing_buckets GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        "SELECT operation, bucket, sum(n)::bigint AS n, sum(total_us)::bigint AS total_us
         FROM timing_buckets GROUP BY 1, 2 ORDER BY 1, 2",
    ];
    let rollups = &state[state.len() - 2..];
    for (query, rollup) in regrouped.iter().zip(rollups) {
        assert_eq!(&db.json_rows(query).await, rollup, "{query}");
    }
    state.push(release_counts(db).await);
    state.push(report_of_whole_stream(db).await);
    Value::Array(state)
}

/// The running release totals, checked against counting the releases.
async fn release_counts(db: &TestDatabase) -> Value {
    let totals = db
        .json_rows(
            "SELECT kind, key, releases, normal_successful, normal_failed,
                    rollback_successful, rollback_failed
             FROM release_counts WHERE releases > 0 ORDER BY 1, 2",
        )
        .await;
    let recount = db
        .json_rows(
            "SELECT g.kind, g.key, count(*) AS releases,
                    count(*) FILTER (WHERE r.status = 'SUCCESSFUL' AND NOT r.rollback) AS normal_successful,
                    count(*) FILTER (WHERE r.status = 'FAILED' AND NOT r.rollback) AS normal_failed,
                    count(*) FILTER (WHERE r.status = 'SUCCESSFUL' AND r.rollback) AS rollback_successful,
                    count(*) FILTER (WHERE r.status = 'FAILED' AND r.rollback) AS rollback_failed
             FROM releases r CROSS JOIN LATERAL (
                      SELECT 'global', 'global'
                      UNION ALL SELECT 'user', r.\"user\"
                      UNION ALL SELECT 'team', r.team
                      UNION ALL SELECT 'platform', jsonb_array_elements_text(r.platforms)
                      UNION ALL SELECT DISTINCT 'package', p.name FROM release_packages p
                                WHERE p.release_id = r.id
                  ) AS g (kind, key)
             WHERE g.key IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .await;
    assert!(
        totals.as_array().is_some_and(|rows| !rows.is_empty()),
        "the stream's releases are counted"
    );
    assert_eq!(
        totals, recount,
        "release_counts equals counting the releases"
    );
    totals
}

/// The summary report of the stream's whole period, without the deployment
/// names (each run has its own).
async fn report_of_whole_stream(db: &TestDatabase) -> Value {
    let (first, last): (DateTime<Utc>, DateTime<Utc>) =
        sqlx::query_as("SELECT min(\"when\"), max(\"when\") FROM raw_events")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let id = tach_schema::store::generate_summary(&db.pool, first, last, 97, 1800, None)
        .await
        .unwrap()
        .expect("a report for every deployment");
    let mut body: Value = sqlx::query_scalar("SELECT body::jsonb FROM reports WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    body[0]
        .as_object_mut()
        .expect("element 0 is the metadata")
        .remove("cells");
    assert!(body.as_array().unwrap().len() > 3, "the report has rows");
    body
}

/// Every stored event, rejection, crash report and release, and the
/// derived state ([`derived_state`]): what a faulty run must end with to
/// equal a fault-free reference run of the same stream.
pub async fn stored_state(db: &TestDatabase) -> Value {
    let derived = derived_state(db).await;
    let queries = [
        "SELECT message_id, family, exchange, routing_key, is_error, event, \"when\", publisher, service,
                host, instance, request_id, tenant, state, old_state, old_task, task, image_uuid, body::text
         FROM raw_events ORDER BY message_id",
        "SELECT DISTINCT reason, exchange, routing_key, md5(body) FROM rejected_messages ORDER BY 1, 2, 3, 4",
        "SELECT uuid, signature, product, version, os_name, process FROM crash_reports ORDER BY uuid",
        "SELECT product, version, hour, signature, os_name, process, total FROM crash_signature_hours ORDER BY 1, 2, 3, 4, 5, 6",
        "SELECT id, tag, status, stime, ftime, duration, notes FROM releases ORDER BY id",
        "SELECT * FROM release_packages ORDER BY 1, 2",
    ];
    let mut rows = Vec::new();
    for query in queries {
        rows.push(db.json_rows(query).await);
    }
    json!({"derived": derived, "rows": rows})
}

/// Where two states first differ: the path and both values, cut short.
pub fn first_difference(expected: &Value, got: &Value) -> Option<String> {
    match (expected, got) {
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y).map(|d| format!("[{i}]{d}"))),
        (Value::Object(a), Value::Object(b)) if a.len() == b.len() => {
            a.iter().find_map(|(k, x)| match b.get(k) {
                Some(y) => first_difference(x, y).map(|d| format!(".{k}{d}")),
                None => Some(format!(".{k}: missing")),
            })
        }
        _ if expected == got => None,
        _ => {
            let cut = |v: &Value| v.to_string().chars().take(600).collect::<String>();
            Some(format!(": expected {} got {}", cut(expected), cut(got)))
        }
    }
}

/// Stored events plus rejected rows, or None while the database is away.
pub async fn progress(pool: &sqlx::PgPool) -> Option<i64> {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM raw_events) + (SELECT count(*) FROM rejected_messages)",
    )
    .fetch_one(pool)
    .await
    .ok()
}

/// Samples [`progress`] every 100 ms from `started` until `stop`.
pub fn sample_progress(
    pool: sqlx::PgPool,
    started: Instant,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<Vec<(Duration, i64)>> {
    tokio::spawn(async move {
        let mut samples = Vec::new();
        while !stop.is_cancelled() {
            if let Some(count) = progress(&pool).await {
                samples.push((started.elapsed(), count));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        samples
    })
}

/// The longest time between two samples at which the count went up.
pub fn longest_stall(samples: &[(Duration, i64)]) -> Duration {
    let mut longest = Duration::ZERO;
    let mut last_progress = Duration::ZERO;
    let mut last_count = 0;
    for &(at, count) in samples {
        if count > last_count {
            longest = longest.max(at - last_progress);
            last_progress = at;
            last_count = count;
        }
    }
    longest
}
