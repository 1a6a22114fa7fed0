//! The invariants of SPEC §4.2 and §4.6 on a generated stream: derived state
//! does not depend on arrival order, batching or the number of consumers,
//! and the summaries and reports equal a plain SQL recomputation from the
//! raw events.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::{json, Value};
use tach_ingest::Settings;
use tach_tests::gen::{generate, Message, Rng, Scenario};
use tach_tests::harness::state::derived_state;
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
        ..Scenario::default()
    }
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
    let shuffled_state = ingest_in_order(&shuffled(&messages, 5), 3, small_batches).await;
    assert_eq!(
        shuffled_state, in_time_order,
        "shuffled, three consumers, batches of 7"
    );
}

/// The "summary for region" report of `start..=end`, recomputed from the
/// raw events with one SQL query (API.md §1 "Reports"): each request's
/// operation is the last operation named by its events, its image and OS
/// the union of their flags, its duration last minus first event, and its
/// failure the last event that decides one (an error state, a recovery
/// from it, an error notification), else too long; an error code turns a
/// failure into 4xx or 5xx.
async fn report_by_plain_sql(
    db: &TestDatabase,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    percentile: u32,
    too_long_seconds: i64,
) -> Value {
    let groups: Value = sqlx::query_scalar(
        "WITH events AS (
             SELECT request_id, message_id COLLATE \"C\" AS message_id, \"when\", image_type,
                    CASE WHEN old_state = 'error' AND (state IS NULL OR state NOT IN ('deleted', 'error')) THEN 'none'
                         WHEN state = 'error' AND old_state IS DISTINCT FROM 'error' THEN 'state'
                         WHEN is_error THEN 'http' END AS effect,
                    CASE WHEN is_error AND trim(body -> 'payload' -> 'exception' -> 'kwargs' ->> 'code') ~ '^[+-]?[0-9]{1,18}$'
                         THEN trim(body -> 'payload' -> 'exception' -> 'kwargs' ->> 'code')::bigint END AS code,
                    CASE WHEN event LIKE '%create%' THEN 'create' WHEN event LIKE '%rebuild%' THEN 'rebuild'
                         WHEN event LIKE '%rescue%' THEN 'rescue' WHEN event LIKE '%resize%' THEN 'resize'
                         WHEN event LIKE '%snapshot%' THEN 'snapshot' END AS operation
             FROM raw_events
             WHERE family = 'nova' AND request_id IS NOT NULL AND event <> 'compute.instance.exists'
               AND \"when\" BETWEEN $1 AND $2),
         requests AS (
             SELECT coalesce((array_agg(operation ORDER BY \"when\" DESC, message_id DESC)
                                  FILTER (WHERE operation IS NOT NULL))[1], 'aux') AS operation,
                    bit_or(coalesce(image_type, 0)) AS flags,
                    (array_agg(effect ORDER BY \"when\" DESC, message_id DESC) FILTER (WHERE effect IS NOT NULL))[1] AS effect,
                    (array_agg(code ORDER BY \"when\" DESC, message_id DESC) FILTER (WHERE code IS NOT NULL))[1] AS code,
                    (extract(epoch FROM max(\"when\") - min(\"when\")) * 1000000)::bigint AS duration_us
             FROM events GROUP BY request_id),
         failed AS (
             SELECT *, coalesce(nullif(effect, 'none'),
                                CASE WHEN duration_us > $4 * 1000000 THEN 'too long' END) AS failure
             FROM requests),
         classified AS (
             SELECT operation COLLATE \"C\" AS operation,
                    CASE WHEN flags & 2 = 2 THEN 'snap' WHEN flags & 1 <> 0 THEN 'base' ELSE '?' END COLLATE \"C\" AS image,
                    CASE WHEN flags & 32 <> 0 THEN 'windows' WHEN flags & 16 <> 0 THEN 'linux' ELSE '?' END COLLATE \"C\" AS os,
                    duration_us,
                    CASE WHEN failure IS NOT NULL AND code BETWEEN 400 AND 499 THEN '4xx'
                         WHEN failure IS NOT NULL AND code BETWEEN 500 AND 599 THEN '5xx'
                         ELSE failure END AS failure
             FROM failed)
         SELECT json_agg(json_build_array(operation, image, os, min_us, max_us, median_us, percentile_us,
                                          n, n_4xx, n_5xx, n_too_long, n_state)
                         ORDER BY operation, image, os)
         FROM (SELECT operation, image, os, count(*) AS n,
                      min(duration_us) AS min_us, max(duration_us) AS max_us,
                      (array_agg(duration_us ORDER BY duration_us))[count(*) / 2 + 1] AS median_us,
                      (array_agg(duration_us ORDER BY duration_us))
                          [least(floor($3::float8 / 100 * count(*))::bigint, count(*) - 1) + 1] AS percentile_us,
                      count(*) FILTER (WHERE failure = '4xx') AS n_4xx,
                      count(*) FILTER (WHERE failure = '5xx') AS n_5xx,
                      count(*) FILTER (WHERE failure = 'too long') AS n_too_long,
                      count(*) FILTER (WHERE failure = 'state') AS n_state
               FROM classified GROUP BY operation, image, os) g",
    )
    .bind(start)
    .bind(end)
    .bind(percentile as i32)
    .bind(too_long_seconds)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let groups = groups.as_array().expect("the period holds requests");
    assert!(groups.len() > 3, "several (operation, image, OS) groups");

    // StackTach's report durations: `5s`, `1:05s`, `2:03:04s`.
    let text = |micros: &Value| {
        let seconds = micros.as_i64().unwrap() / 1_000_000;
        let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
        match (hours, minutes) {
            (0, 0) => format!("{seconds}s"),
            (0, _) => format!("{minutes}:{seconds:02}s"),
            _ => format!("{hours}:{minutes:02}:{seconds:02}s"),
        }
    };
    let too_long = format!("> {}", too_long_seconds / 60);
    let failure_types = ["4xx", "5xx", too_long.as_str(), "state"];
    let mut header = vec![
        json!("Operation"),
        json!("Image"),
        json!("OS Type"),
        json!("Min"),
        json!("Max"),
        json!("Med"),
        json!(format!("{percentile}%")),
        json!("Requests"),
    ];
    for failure in failure_types {
        header.extend([json!(failure), json!(format!("% {failure}"))]);
    }
    let mut rows = vec![Value::Array(header)];
    let (mut total, mut failures) = (0, [0i64; 4]);
    for group in groups {
        let requests = group[7].as_i64().unwrap();
        total += requests;
        let mut row = vec![
            group[0].clone(),
            group[1].clone(),
            group[2].clone(),
            json!(text(&group[3])),
            json!(text(&group[4])),
            json!(text(&group[5])),
            json!(text(&group[6])),
            json!(requests),
        ];
        for (index, failed) in failures.iter_mut().enumerate() {
            let count = group[8 + index].as_i64().unwrap();
            *failed += count;
            row.extend([json!(count), json!(count as f64 / requests as f64)]);
        }
        rows.push(Value::Array(row));
    }
    assert!(
        failures.iter().filter(|&&count| count > 0).count() >= 3,
        "the stream fails in several ways: {failures:?}"
    );
    let rate = |count: i64| count as f64 / total as f64 * 100.0;
    let cells: Value = sqlx::query_scalar("SELECT json_agg(name ORDER BY name) FROM deployments")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let mut metadata = json!({
        "percentile": percentile,
        "pct": (100.0 - f64::from(percentile)) / 2.0 / 100.0,
        "hours": ((end - start).num_seconds() + 1) / 3600,
        "start": start.timestamp() as f64,
        "end": end.timestamp() as f64,
        "region": null,
        "cells": cells,
        "total": total,
        "failure_grand_total": failures.iter().sum::<i64>(),
        "failure_grand_rate": rate(failures.iter().sum()),
    });
    for (failure, count) in failure_types.iter().zip(failures) {
        metadata[format!("{failure} failure count")] = json!(count);
        metadata[format!("{failure} failure percentage")] = json!(rate(count));
    }
    rows.insert(0, metadata);
    Value::Array(rows)
}

/// `value` with every number as a float: SQL's `1` and Rust's `1.0` are the
/// same figure.
fn numbers_as_floats(value: Value) -> Value {
    match value {
        Value::Number(number) => json!(number.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_floats).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| (key, numbers_as_floats(value)))
                .collect(),
        ),
        other => other,
    }
}

#[tokio::test]
async fn summaries_and_reports_equal_a_plain_sql_recomputation() {
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
    let mut expected_rows = vec![json!(["Event", "N", "Min", "Max", "Avg"])];
    for row in expected.as_array().unwrap() {
        let micros = |index: usize| row[index].as_i64().unwrap();
        expected_rows.push(json!([
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

    // A report over a period that cuts through requests at both ends.
    let (first, last): (DateTime<Utc>, DateTime<Utc>) =
        sqlx::query_as("SELECT min(\"when\"), max(\"when\") FROM raw_events")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let start = (first + TimeDelta::minutes(10)).trunc_subsecs(0);
    let end = (last - TimeDelta::minutes(10)).trunc_subsecs(0);
    let (percentile, too_long_seconds) = (90, 600);
    let id = tach_schema::store::generate_summary(
        &db.pool,
        start,
        end,
        percentile,
        too_long_seconds,
        None,
    )
    .await
    .unwrap()
    .expect("a report for every deployment");
    let expected = report_by_plain_sql(&db, start, end, percentile, too_long_seconds).await;
    assert_eq!(
        numbers_as_floats(api.ok(&format!("/stacky/report/{id}")).await),
        numbers_as_floats(expected)
    );

    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}
