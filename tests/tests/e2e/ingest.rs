//! tach-ingest through the real broker and database: a generated stream is
//! stored exactly, duplicates once, bad messages rejected beside good ones.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use sqlx::Row;
use tach_tests::gen::{generate, Message, Scenario};
use tach_tests::harness::{self, TestBroker, TestDatabase, TestIngest};
use tach_tests::publish::Publisher;

/// A small scenario, fixed so failures reproduce.
pub fn small_scenario() -> Scenario {
    Scenario {
        seed: 42,
        instances: 12,
        images: 4,
        crashes: 20,
        releases: 2,
        products: 3,
        ..Scenario::default()
    }
}

/// The inner message of a generated body (unwrapping an oslo v2 envelope).
pub fn inner(message: &Message) -> Value {
    match message.body.get("oslo.message").and_then(Value::as_str) {
        Some(text) => serde_json::from_str(text).expect("generated envelope holds JSON"),
        None => message.body.clone(),
    }
}

/// The family tach must file a generated message under (SPEC §3.1).
fn expected_family(message: &Message) -> &'static str {
    match message.exchange.as_str() {
        "nova" => "nova",
        "glance" => "glance",
        _ => match message.routing_key.split('.').next() {
            Some("crash") => "crash",
            Some("product") => "product",
            Some("release" | "package" | "environment") => "deploy",
            _ => "generic",
        },
    }
}

async fn stored_by_family(db: &TestDatabase) -> BTreeMap<String, i64> {
    sqlx::query("SELECT family, count(*) AS n FROM raw_events GROUP BY family")
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get("family"), row.get("n")))
        .collect()
}

/// Starts ingest for a fresh database and broker namespace.
pub async fn start() -> (TestDatabase, TestBroker, TestIngest, Publisher) {
    start_on(&harness::database_url()).await
}

/// [`start`], the database on the PostgreSQL server of URL `server`.
pub async fn start_on(server: &str) -> (TestDatabase, TestBroker, TestIngest, Publisher) {
    let db = TestDatabase::create_on(server).await;
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
    (db, broker, ingest, publisher)
}

/// Waits until tach-ingest consumes (its queues are declared and bound), so
/// nothing published after is routed nowhere.
pub async fn wait_for_queues(broker: &TestBroker) {
    broker.wait_for_consumer("tach.events").await;
}

pub async fn wait_for_count(db: &TestDatabase, table: &str, expected: i64) {
    harness::wait_until(
        &format!("{expected} rows in {table}"),
        Duration::from_secs(60),
        || async { db.count(table).await >= expected },
    )
    .await;
    assert_eq!(db.count(table).await, expected, "{table}");
}

#[tokio::test]
async fn a_generated_stream_is_stored_exactly() {
    let (db, broker, ingest, publisher) = start().await;
    wait_for_queues(&broker).await;
    let messages = generate(&small_scenario());
    publisher.publish(&messages, None).await.unwrap();

    wait_for_count(&db, "raw_events", messages.len() as i64).await;
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for message in &messages {
        *expected
            .entry(expected_family(message).to_owned())
            .or_default() += 1;
    }
    assert_eq!(stored_by_family(&db).await, expected);
    assert_eq!(db.count("rejected_messages").await, 0);
    assert_eq!(db.count("event_keys").await, messages.len() as i64);

    // Selected columns, expected values read straight from the published JSON.
    for message in messages.iter().filter(|m| m.exchange == "nova").step_by(7) {
        let body = inner(message);
        let row = sqlx::query("SELECT event, request_id, is_error, routing_key, publisher FROM raw_events WHERE message_id = $1")
            .bind(body["message_id"].as_str().unwrap())
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(
            row.get::<String, _>("event"),
            body["event_type"].as_str().unwrap()
        );
        assert_eq!(
            row.get::<Option<String>, _>("request_id").as_deref(),
            body["_context_request_id"].as_str()
        );
        assert_eq!(row.get::<String, _>("routing_key"), message.routing_key);
        assert_eq!(
            row.get::<bool, _>("is_error"),
            message.routing_key.ends_with("error")
        );
        assert_eq!(
            row.get::<Option<String>, _>("publisher").as_deref(),
            body["publisher_id"].as_str()
        );
    }
    let crash_uuids: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT instance) FROM raw_events WHERE event = 'crash.processed'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let generated_crashes = messages
        .iter()
        .filter(|m| m.routing_key == "crash.processed")
        .count();
    assert_eq!(crash_uuids, generated_crashes as i64);

    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}

#[tokio::test]
async fn the_same_messages_twice_are_stored_once() {
    let (db, broker, ingest, publisher) = start().await;
    wait_for_queues(&broker).await;
    let messages = generate(&Scenario {
        seed: 7,
        ..small_scenario()
    });
    publisher.publish(&messages, None).await.unwrap();
    publisher.publish(&messages, None).await.unwrap();

    wait_for_count(&db, "raw_events", messages.len() as i64).await;
    // Both copies were consumed and acknowledged: the queues drain.
    for queue in tach_ingest::topology::queues(&broker.deployment(&broker.amqp_url)) {
        let url = broker.amqp_url.clone();
        harness::wait_until(
            &format!("{} to drain", queue.name),
            Duration::from_secs(30),
            || {
                let (url, name) = (url.clone(), queue.name.clone());
                async move { TestBroker::queue_depth_at(&url, &name).await == Some(0) }
            },
        )
        .await;
    }
    assert_eq!(db.count("raw_events").await, messages.len() as i64);
    assert_eq!(db.count("rejected_messages").await, 0);

    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}

#[tokio::test]
async fn bad_messages_are_rejected_and_the_good_ones_around_them_stored() {
    let (db, broker, ingest, publisher) = start().await;
    wait_for_queues(&broker).await;
    let messages = generate(&Scenario {
        seed: 11,
        instances: 3,
        images: 1,
        crashes: 2,
        releases: 0,
        products: 0,
        ..small_scenario()
    });
    let (first_half, second_half) = messages.split_at(messages.len() / 2);
    publisher.publish(first_half, None).await.unwrap();
    let five_megabytes = format!(
        "{{\"event_type\": \"x\", \"pad\": \"{}\"}}",
        "a".repeat(5 * 1024 * 1024)
    );
    let bad: [(&str, &str, &[u8]); 5] = [
        (
            "nova",
            "notifications.info",
            b"{\"event_type\": \"compute.instance.update\", ",
        ),
        (
            "glance",
            "notifications.info",
            b"[\"not\", \"an\", \"object\"]",
        ),
        (
            "tach",
            "crash.processed",
            b"\x00\x9f\x92\x96 binary \xff garbage",
        ),
        ("nova", "notifications.info", five_megabytes.as_bytes()),
        (
            "nova",
            "notifications.error",
            b"{\"payload\": {\"instance_id\": \"x\"}, \"message_id\": \"m-1\"}",
        ),
    ];
    for (exchange, routing_key, body) in bad {
        publisher
            .publish_raw(exchange, routing_key, body)
            .await
            .unwrap();
    }
    publisher.publish(second_half, None).await.unwrap();

    wait_for_count(&db, "rejected_messages", 5).await;
    wait_for_count(&db, "raw_events", messages.len() as i64).await;
    let reasons: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT exchange, routing_key, reason FROM rejected_messages ORDER BY reason, exchange",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let row = |exchange: &str, routing_key: &str, reason: &str| {
        (
            format!("{}{exchange}", broker.prefix),
            routing_key.to_owned(),
            reason.to_owned(),
        )
    };
    assert_eq!(
        reasons,
        [
            row("nova", "notifications.info", "invalid_json"),
            row("tach", "crash.processed", "invalid_json"),
            row("nova", "notifications.error", "missing_event_type"),
            row("glance", "notifications.info", "not_an_object"),
            row("nova", "notifications.info", "too_large"),
        ]
    );
    let big_body_bytes: i32 =
        sqlx::query_scalar("SELECT length(body) FROM rejected_messages WHERE reason = 'too_large'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        big_body_bytes as usize,
        five_megabytes.len(),
        "the rejected bytes are kept whole"
    );

    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}
