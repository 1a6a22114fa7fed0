//! Nothing a message carries, no recurring database error and no retention
//! step may block a deployment or change what it derives (SPEC §4.3, §4.7).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};
use tach_ingest::batch::{self, Destination, Received};
use tach_schema::{ExchangeFamily, Store};
use tach_tests::gen::{generate, Message, Scenario};
use tach_tests::harness::python::{self, RawMessage};
use tach_tests::harness::TestDatabase;
use tokio_util::sync::CancellationToken;

use crate::ingest::{start, wait_for_count, wait_for_queues};

/// A crash report the Socorro family accepts.
fn crash(message_id: &str, uuid: &str) -> Value {
    json!({
        "message_id": message_id,
        "event_type": "crash.processed",
        "publisher_id": "processor.processor-01",
        "timestamp": "2026-12-01 10:00:00.000000",
        "payload": {"uuid": uuid, "product": "Firefox", "version": "42.0",
                    "signature": "sig", "date_processed": "2026-12-01T10:00:00Z"},
    })
}

/// Publishes `body` with a routing key and a message-id property of raw bytes.
fn publish_bytes(
    python: &Path,
    amqp_url: &str,
    exchange: &str,
    routing_key: &[u8],
    message_id: &[u8],
    body: &Value,
) {
    let message = RawMessage {
        exchange: exchange.to_owned(),
        routing_key: routing_key.to_vec(),
        message_id: message_id.to_vec(),
        body: body.to_string().into_bytes(),
    };
    python::publish_raw(python, amqp_url, &[message]).expect("py-amqp publishes");
}

#[tokio::test]
async fn hostile_envelopes_are_stored_or_rejected_and_the_stream_goes_on() {
    let python = tokio::task::spawn_blocking(python::amqp_python)
        .await
        .unwrap()
        .unwrap_or_else(|why| panic!("pip must provide py-amqp (PyPI): {why}"));
    let (db, broker, ingest, publisher) = start().await;
    wait_for_queues(&broker).await;
    let deep = format!(
        "{{\"event_type\": \"x.y\", \"payload\": {}{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let nul_publisher = json!({"event_type": "compute.instance.update", "message_id": "m-nul-host",
                               "publisher_id": "compute.host\u{0}a", "payload": {}});
    let nul_message_id = json!({"event_type": "x.y", "message_id": "m\u{0}x", "payload": {}});
    let hostile: [(&str, &str, Vec<u8>); 5] = [
        (
            "tach",
            "crash.processed\0tail",
            crash("m-nul-key", "00000000-0000-4000-8000-00000000a001")
                .to_string()
                .into_bytes(),
        ),
        (
            "nova",
            "notifications.info",
            nul_publisher.to_string().into_bytes(),
        ),
        (
            "nova",
            "notifications.info",
            nul_message_id.to_string().into_bytes(),
        ),
        ("nova", "notifications.info", deep.into_bytes()),
        ("tach", "bad\0key", b"not json".to_vec()),
    ];
    for (exchange, routing_key, body) in &hostile {
        publisher
            .publish_raw(exchange, routing_key, body)
            .await
            .unwrap();
    }
    // Bytes that are not UTF-8, in the routing key and a property: the AMQP
    // client parses them (escaped) instead of dropping the connection.
    let python_for_task = python.clone();
    let (amqp_url, exchange) = (broker.amqp_url.clone(), format!("{}tach", broker.prefix));
    tokio::task::spawn_blocking(move || {
        publish_bytes(
            &python_for_task,
            &amqp_url,
            &exchange,
            b"crash.processed\xff",
            b"prop-\xfe",
            &crash("m-bad-utf8", "00000000-0000-4000-8000-00000000a002"),
        )
    })
    .await
    .unwrap();
    // And the stream after them is stored as ever.
    let messages = generate(&crate::ingest::small_scenario());
    publisher.publish(&messages, None).await.unwrap();

    let stored = messages.len() as i64 + 3;
    wait_for_count(&db, "raw_events", stored).await;
    wait_for_count(&db, "rejected_messages", 3).await;
    let kept: Vec<(String, String)> = sqlx::query_as(
        "SELECT message_id, routing_key FROM raw_events
         WHERE message_id IN ('m-nul-key', 'm-bad-utf8') ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        kept,
        [
            ("m-bad-utf8".to_owned(), "crash.processed\\xFF".to_owned()),
            (
                "m-nul-key".to_owned(),
                "crash.processed\\u0000tail".to_owned()
            ),
        ]
    );
    let host: String =
        sqlx::query_scalar("SELECT host FROM raw_events WHERE message_id = 'm-nul-host'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(host, "host\\u0000a");
    let rejected: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT reason, routing_key, properties->>'content_type' IS NOT NULL
         FROM rejected_messages ORDER BY reason, routing_key",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let rejected: Vec<(&str, &str, bool)> = rejected
        .iter()
        .map(|(reason, key, properties)| (reason.as_str(), key.as_str(), *properties))
        .collect();
    assert_eq!(
        rejected,
        [
            ("invalid_field", "notifications.info", true),
            ("invalid_json", "bad\\u0000key", true),
            ("invalid_json", "notifications.info", true),
        ]
    );
    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}

/// Deliveries as the consumer hands them over, from generated messages.
fn received(messages: &[Message]) -> Vec<Received> {
    messages
        .iter()
        .map(|message| Received {
            exchange: message.exchange.clone(),
            routing_key: message.routing_key.clone(),
            queue: None,
            family: match message.exchange.as_str() {
                "nova" => ExchangeFamily::Nova,
                "glance" => ExchangeFamily::Glance,
                _ => ExchangeFamily::Tach,
            },
            body: message.body_bytes(),
            properties: None,
            received_at: Utc::now(),
            dead_lettered: None,
        })
        .collect()
}

/// Parses and commits `received` for deployment `name` in one batch.
async fn commit_all(store: &Store, name: &str, received: &[Received]) -> usize {
    let destination = Destination {
        id: store.deployment_id(name).await.unwrap(),
        name: name.to_owned(),
    };
    let mut prepared = batch::prepare(
        name,
        received,
        tach_schema::envelope::DEFAULT_MAX_BODY_BYTES,
    );
    let outcome = batch::commit(
        store,
        &destination,
        received,
        &mut prepared,
        &CancellationToken::new(),
    )
    .await
    .expect("committed");
    outcome.stored.len()
}

#[tokio::test]
async fn a_batch_the_database_keeps_refusing_is_split_and_only_the_culprits_rejected() {
    let db = TestDatabase::create().await;
    // One message meets an error that looks transient (a statement timeout)
    // on every attempt, another one that is permanent.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.message_id = 'poison-transient' THEN
                 RAISE EXCEPTION 'simulated statement timeout' USING ERRCODE = '57014';
             END IF;
             IF NEW.message_id = 'poison-permanent' THEN
                 RAISE EXCEPTION 'simulated refusal' USING ERRCODE = '22023';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_poison BEFORE INSERT ON raw_events
             FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let mut messages = generate(&crate::ingest::small_scenario());
    let middle = messages.len() / 2;
    for (position, id) in [
        (middle, "poison-transient"),
        (middle + 7, "poison-permanent"),
    ] {
        messages.insert(
            position,
            Message {
                exchange: "tach".into(),
                routing_key: "crash.processed".into(),
                body: crash(id, &format!("00000000-0000-4000-8000-{:012}", position)),
            },
        );
    }
    let store = Store::new(db.pool.clone());
    let stored = commit_all(&store, "local", &received(&messages)).await;

    assert_eq!(stored, messages.len() - 2);
    assert_eq!(db.count("raw_events").await, (messages.len() - 2) as i64);
    let rejected: Vec<(String, String)> =
        sqlx::query_as("SELECT reason, message FROM rejected_messages ORDER BY message")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(rejected
        .iter()
        .all(|(reason, _)| reason == "database_rejected"));
    assert!(rejected[0].1.contains("simulated refusal"), "{rejected:?}");
    assert!(
        rejected[1].1.contains("simulated statement timeout"),
        "{rejected:?}"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn the_same_message_ids_in_two_deployments_are_one_event_in_each() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    let messages = generate(&crate::ingest::small_scenario());
    let exists = messages
        .iter()
        .filter(|m| {
            m.inner()
                .is_some_and(|inner| inner["event_type"] == "compute.instance.exists")
        })
        .count() as i64;
    assert!(exists > 0, "the stream has audits");
    let deliveries = received(&messages);
    assert_eq!(
        commit_all(&store, "region-a", &deliveries).await,
        messages.len()
    );
    assert_eq!(
        commit_all(&store, "region-b", &deliveries).await,
        messages.len()
    );

    let per_deployment: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT d.name,
                (SELECT count(*) FROM raw_events r WHERE r.deployment_id = d.id),
                (SELECT count(*) FROM usage_exists u WHERE u.deployment_id = d.id)
         FROM deployments d ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let total = messages.len() as i64;
    assert_eq!(
        per_deployment,
        [
            ("region-a".to_owned(), total, exists),
            ("region-b".to_owned(), total, exists)
        ]
    );
    db.drop_database().await;
}

/// Every derived table, without tach's event ids.
async fn derived_state(db: &TestDatabase) -> Value {
    let queries = [
        "SELECT instance, operation, request_id, seq, start_when, end_when, duration_us FROM timings ORDER BY 1, 2, 3, 4",
        "SELECT operation, hour, bucket, n, total_us FROM timing_buckets ORDER BY 1, 2, 3",
        "SELECT operation, bucket, n, total_us FROM timing_buckets_total ORDER BY 1, 2",
        "SELECT request_id, instance, start_when, end_when, operation, tenant, duration_us FROM kpi_trackers ORDER BY 1, 3, 2",
        "SELECT * FROM usage_launches ORDER BY instance, request_id",
        "SELECT * FROM usage_deletes ORDER BY instance, launched_at",
        "SELECT * FROM usage_exists ORDER BY instance, message_id",
        "SELECT * FROM releases ORDER BY id",
        "SELECT * FROM release_packages ORDER BY 1, 2",
        "SELECT uuid, signature, product, version FROM crash_reports ORDER BY uuid",
    ];
    let mut state = BTreeMap::new();
    for query in queries {
        state.insert(query, db.json_rows(query).await);
    }
    json!(state)
}

#[tokio::test]
async fn pruning_old_partitions_changes_nothing_that_late_events_derive() {
    let messages = generate(&Scenario {
        seed: 200,
        start: Utc::now() - chrono::TimeDelta::days(200),
        instances: 20,
        images: 2,
        crashes: 5,
        releases: 3,
        products: 1,
        ..Scenario::default()
    });
    // Hold back the last event of every instance and release.
    let deliveries = received(&messages);
    let prepared = batch::prepare(
        "local",
        &deliveries,
        tach_schema::envelope::DEFAULT_MAX_BODY_BYTES,
    );
    let mut last_of_key: BTreeMap<&str, usize> = BTreeMap::new();
    for (event, &source) in prepared.events.iter().zip(&prepared.sources) {
        let keyed = matches!(
            event.family,
            tach_schema::Family::Nova | tach_schema::Family::Deploy
        );
        if let (true, Some(key)) = (keyed, event.instance.as_deref()) {
            last_of_key.insert(key, source);
        }
    }
    let held: Vec<usize> = last_of_key.values().copied().collect();
    let (mut early, mut late) = (Vec::new(), Vec::new());
    for (index, delivery) in deliveries.iter().enumerate() {
        if held.contains(&index) {
            late.push(delivery.clone());
        } else {
            early.push(delivery.clone());
        }
    }
    assert!(late.len() >= 20, "held back {}", late.len());

    let mut states = Vec::new();
    for prune in [false, true] {
        let db = TestDatabase::create().await;
        let store = Store::new(db.pool.clone());
        commit_all(&store, "local", &early).await;
        if prune {
            let dropped = store
                .prune_older_than(Utc::now() - chrono::TimeDelta::days(90))
                .await
                .unwrap();
            let rows: i64 = dropped.iter().map(|partition| partition.rows).sum();
            assert_eq!(rows, early.len() as i64, "every early event was pruned");
        }
        commit_all(&store, "local", &late).await;
        states.push(derived_state(&db).await);
        db.drop_database().await;
    }
    assert_eq!(states[0], states[1]);
}

#[tokio::test]
async fn partitions_are_attached_and_detached_without_waiting_for_readers() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    store.create_partitions_ahead(Utc::now()).await.unwrap();
    let partitions = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'raw_events'::regclass ORDER BY 1",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap()
    };
    let this_month = Utc::now().format("raw_events_p%Y%m").to_string();
    let next_month = (Utc::now() + chrono::TimeDelta::days(31))
        .format("raw_events_p%Y%m")
        .to_string();
    let ahead = partitions().await;
    assert!(
        ahead.contains(&this_month) && ahead.contains(&next_month),
        "{ahead:?}"
    );

    // A long read holds raw_events; an event from 2013 still gets its
    // partition and commits (CREATE TABLE … PARTITION OF would wait for the
    // reader, and every batch behind it would wait too).
    let mut reader = db.pool.begin().await.unwrap();
    sqlx::query("SELECT count(*) FROM raw_events")
        .execute(&mut *reader)
        .await
        .unwrap();
    let old = |id: &str| Message {
        exchange: "tach".into(),
        routing_key: "crash.processed".into(),
        body: {
            let mut body = crash(id, &format!("00000000-0000-4000-8000-0000000{id}"));
            body["timestamp"] = json!("2013-05-01 10:00:00.000000");
            body
        },
    };
    let old_event = received(&[old("00001")]);
    let write = commit_all(&store, "local", &old_event);
    let stored = tokio::time::timeout(Duration::from_secs(30), write)
        .await
        .expect("the write does not wait for the reader");
    assert_eq!(stored, 1);
    assert!(partitions()
        .await
        .contains(&"raw_events_p201305".to_owned()));
    reader.commit().await.unwrap();

    let dropped = store.prune_older_than(Utc::now()).await.unwrap();
    let dropped: Vec<(String, i64)> = dropped.into_iter().map(|p| (p.table, p.rows)).collect();
    assert_eq!(dropped, [("raw_events_p201305".to_owned(), 1)]);
    assert!(!partitions()
        .await
        .contains(&"raw_events_p201305".to_owned()));
    // The month can be written again; the pruned event's key is still known.
    assert_eq!(
        commit_all(&store, "local", &received(&[old("00002")])).await,
        1
    );
    assert_eq!(
        commit_all(&store, "local", &received(&[old("00001")])).await,
        0
    );
    db.drop_database().await;
}
