//! The invariants of SPEC §4.2 and §4.6 on a generated stream: derived state
//! does not depend on arrival order, batching or the number of consumers,
//! and the summaries equal a plain SQL recomputation from the raw events.

use std::time::Duration;

use serde_json::Value;
use tach_ingest::Settings;
use tach_tests::gen::{generate, Message, Rng, Scenario};
use tach_tests::harness::{self, TestApi, TestBroker, TestDatabase, TestIngest};
use tach_tests::publish::Publisher;

use crate::ingest::{wait_for_count, wait_for_queues};

fn scenario() -> Scenario {
    Scenario {
        seed: 2024,
        start: chrono::Utc::now() - chrono::TimeDelta::hours(20),
        instances: 40,
        images: 6,
        crashes: 10,
        releases: 1,
        products: 1,
    }
}

/// Every derived table, without tach's event ids (which depend on arrival order).
async fn derived_state(db: &TestDatabase) -> Value {
    let queries = [
        "SELECT instance, operation, request_id, seq, start_when, end_when, duration_us FROM timings ORDER BY 1, 2, 3, 4",
        "SELECT operation, hour, bucket, n, total_us FROM timing_buckets ORDER BY 1, 2, 3",
        "SELECT request_id, instance, start_when, end_when, operation, tenant, duration_us FROM kpi_trackers ORDER BY 1, 3, 2",
        "SELECT * FROM usage_launches ORDER BY instance, request_id",
        "SELECT * FROM usage_deletes ORDER BY instance, launched_at",
        "SELECT * FROM usage_exists ORDER BY instance, message_id",
        "SELECT * FROM event_names ORDER BY 1, 2",
        "SELECT * FROM event_hosts ORDER BY 1, 2",
        "SELECT * FROM event_tenants ORDER BY 1",
    ];
    let mut state = Vec::new();
    for query in queries {
        let statement = format!("SELECT coalesce(json_agg(t), '[]') FROM ({query}) t");
        let rows: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(
            rows.as_array().is_some_and(|rows| !rows.is_empty()),
            "derived rows exist for {query}"
        );
        state.push(rows);
    }
    Value::Array(state)
}

/// Ingests `messages` in the given order with `consumers` concurrent
/// tach-ingest instances; returns the derived state.
async fn ingest_in_order(messages: &[Message], consumers: usize, settings: Settings) -> Value {
    let db = TestDatabase::create().await;
    let broker = TestBroker::new();
    let mut ingests = Vec::new();
    for _ in 0..consumers {
        ingests.push(
            TestIngest::start(
                &db.url,
                vec![broker.deployment(&broker.amqp_url)],
                settings.clone(),
            )
            .await,
        );
    }
    let publisher = Publisher::connect(&broker.amqp_url, &broker.prefix)
        .await
        .unwrap();
    publisher.declare_exchanges().await.unwrap();
    wait_for_queues(&broker).await;
    publisher.publish(messages, None).await.unwrap();
    wait_for_count(&db, "raw_events", messages.len() as i64).await;
    for ingest in ingests {
        ingest.stop().await;
    }
    let state = derived_state(&db).await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
    state
}

fn shuffled(messages: &[Message], seed: u64) -> Vec<Message> {
    let mut rng = Rng::new(seed);
    let mut copy = messages.to_vec();
    for index in (1..copy.len()).rev() {
        copy.swap(index, rng.below(index as u64 + 1) as usize);
    }
    copy
}

#[tokio::test]
async fn arrival_order_batching_and_consumer_count_do_not_change_derived_state() {
    let messages = generate(&scenario());
    let in_time_order = ingest_in_order(&messages, 1, harness::test_settings()).await;

    let mut reversed = messages.clone();
    reversed.reverse();
    let three_consumers = ingest_in_order(&reversed, 3, harness::test_settings()).await;
    assert_eq!(three_consumers, in_time_order, "reversed, three consumers");

    let small_batches = Settings {
        batch_size: 7,
        writers: 3,
        batch_linger: Duration::from_millis(5),
        ..harness::test_settings()
    };
    let shuffled_state = ingest_in_order(&shuffled(&messages, 5), 1, small_batches).await;
    assert_eq!(shuffled_state, in_time_order, "shuffled, batches of 7");
}

#[tokio::test]
async fn summaries_equal_a_plain_sql_recomputation() {
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
    let messages = shuffled(
        &generate(&Scenario {
            seed: 77,
            ..scenario()
        }),
        9,
    );
    publisher.publish(&messages, None).await.unwrap();
    wait_for_count(&db, "raw_events", messages.len() as i64).await;
    ingest.stop().await;

    // The n-th start pairs with the n-th end of (instance, operation,
    // request), both in time order: a plain window-function query.
    let expected: Value = sqlx::query_scalar(
        "WITH halves AS (
             SELECT instance, regexp_replace(event, '\\.(start|end)$', '') AS operation,
                    coalesce(request_id, '') AS request_id, right(event, 4) = '.end' AS is_end, \"when\",
                    row_number() OVER (PARTITION BY instance, regexp_replace(event, '\\.(start|end)$', ''),
                                       coalesce(request_id, ''), right(event, 4) = '.end'
                                       ORDER BY \"when\", message_id) AS n
             FROM raw_events
             WHERE family = 'nova' AND instance IS NOT NULL AND event ~ '\\.(start|end)$'),
         pairs AS (
             SELECT s.operation, e.\"when\" - s.\"when\" AS duration
             FROM halves s JOIN halves e USING (instance, operation, request_id, n)
             WHERE NOT s.is_end AND e.is_end AND e.\"when\" >= s.\"when\")
         SELECT json_agg(json_build_array(operation, n, min_us, max_us, avg_us) ORDER BY operation)
         FROM (SELECT operation, count(*) AS n,
                      (extract(epoch FROM min(duration)) * 1000000)::bigint AS min_us,
                      (extract(epoch FROM max(duration)) * 1000000)::bigint AS max_us,
                      (sum(extract(epoch FROM duration) * 1000000) / count(*))::bigint AS avg_us
               FROM pairs GROUP BY operation) s",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let render = |micros: i64, whole: bool| {
        let seconds = micros / 1_000_000;
        let base = format!(
            "{}d {:02}:{:02}:{:02}",
            seconds / 86400,
            seconds % 86400 / 3600,
            seconds % 3600 / 60,
            seconds % 60
        );
        if whole {
            base
        } else {
            format!("{base}.{:02}", micros % 1_000_000 / 10_000)
        }
    };
    let mut expected_rows = vec![serde_json::json!(["Event", "N", "Min", "Max", "Avg"])];
    for row in expected.as_array().unwrap() {
        let micros = |index: usize| row[index].as_i64().unwrap();
        expected_rows.push(serde_json::json!([
            row[0],
            row[1],
            render(micros(2), false),
            render(micros(3), false),
            render(micros(4), true)
        ]));
    }
    assert!(expected_rows.len() > 5, "the stream has many operations");
    let api = TestApi::new(db.pool.clone());
    assert_eq!(
        api.ok("/stacky/summary/").await,
        Value::Array(expected_rows)
    );

    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}
