//! Both services' `/metrics` after real work: the series SPEC §6 names are
//! there, and `promtool check metrics` accepts the exposition (CLIENTS.md §4).

use std::io::Write;
use std::process::{Command, Stdio};

use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::{self, TestApi, TestBroker, TestDatabase, TestIngest};
use tach_tests::publish::Publisher;

use crate::ingest::{wait_for_count, wait_for_queues};

/// promtool from `TACH_PROMTOOL` (deploy/test.sh sets it) or the PATH.
fn promtool() -> String {
    std::env::var("TACH_PROMTOOL").unwrap_or_else(|_| "promtool".into())
}

#[tokio::test]
async fn metrics_name_every_series_and_pass_promtool() {
    tach_ingest::metrics::install();
    tach_query::metrics::install();
    let db = TestDatabase::create().await;
    let broker = TestBroker::new();
    let ingest = TestIngest::start(
        &db.url,
        vec![broker.deployment(&broker.amqp_url)],
        harness::test_settings(),
    )
    .await;
    let publisher = Publisher::connect(&broker.amqp_url, &broker.prefix)
        .await
        .unwrap();
    publisher.declare_exchanges().await.unwrap();
    wait_for_queues(&broker).await;
    let messages = generate(&Scenario {
        seed: 3,
        instances: 5,
        images: 1,
        crashes: 3,
        releases: 1,
        products: 1,
        ..Scenario::default()
    });
    publisher.publish(&messages, None).await.unwrap();
    publisher
        .publish_raw("nova", "notifications.info", b"not json")
        .await
        .unwrap();
    wait_for_count(&db, "raw_events", messages.len() as i64).await;
    wait_for_count(&db, "rejected_messages", 1).await;
    ingest.stop().await;

    let api = TestApi::new(db.pool.clone());
    let _ = api.get("/stacky/deployments/").await;
    let exposition = api.text("/metrics").await;
    for name in [
        "tach_ingest_messages_consumed_total",
        "tach_ingest_messages_stored_total",
        "tach_ingest_messages_duplicate_total",
        "tach_ingest_messages_rejected_total",
        "tach_ingest_batch_size_bucket",
        "tach_ingest_commit_duration_seconds_bucket",
        "tach_ingest_lag_seconds_bucket",
        "tach_ingest_pairs_completed_total",
        "tach_ingest_last_commit_timestamp_seconds",
        "tach_http_requests_total",
        "tach_http_request_duration_seconds_bucket",
    ] {
        assert!(
            exposition.contains(name),
            "{name} missing from:\n{exposition}"
        );
    }
    assert!(
        exposition.contains("reason=\"invalid_json\"} 1"),
        "{exposition}"
    );
    assert!(
        exposition.contains("route=\"/stacky/deployments\""),
        "{exposition}"
    );

    let mut check = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (deploy/test.sh provides it as TACH_PROMTOOL)");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = check.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    broker.delete_all().await;
    db.drop_database().await;
}
