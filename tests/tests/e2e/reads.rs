//! The reads that answer from indexes and aggregates (SPEC §4.6, §4.8) give
//! what a plain SQL query over the stored rows gives: `stacky/search` on
//! every field of every service (one index walk per family), `watch` over
//! several families, summary windows read from whole days, whole hours and
//! partial edge hours (exact extremes included), and the Socorro searches
//! and counts the aggregates answer.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use tach_schema::histogram::{bucket_of, percentile_us};
use tach_schema::Store;
use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::samples::store_generated;
use tach_tests::harness::{TestApi, TestDatabase};

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Nova on four days (so windows hold whole days, whole hours and partial
/// hours, and some extreme buckets are held on three whole days), glance,
/// and crash reports over two weeks.
fn scenarios() -> Vec<Scenario> {
    let nova_only = |seed: u64, start: &str| Scenario {
        seed,
        start: time(start),
        instances: 30,
        images: 0,
        crashes: 0,
        releases: 0,
        products: 0,
        ..Scenario::default()
    };
    vec![
        Scenario {
            images: 4,
            crashes: 400,
            releases: 1,
            products: 3,
            ..nova_only(31, "2026-03-01T05:00:00Z")
        },
        Scenario {
            images: 3,
            ..nova_only(32, "2026-03-02T13:00:00Z")
        },
        nova_only(33, "2026-03-03T21:00:00Z"),
        nova_only(34, "2026-03-05T03:00:00Z"),
    ]
}

async fn load() -> (TestDatabase, TestApi) {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    for scenario in scenarios() {
        store_generated(&store, &generate(&scenario), time("2026-03-01T00:00:00Z")).await;
    }
    let api = TestApi::new(db.pool.clone());
    (db, api)
}

fn families(service: &str) -> Vec<&'static str> {
    match service {
        "nova" => vec!["nova"],
        "glance" => vec!["glance"],
        _ => vec!["generic", "crash", "product", "deploy"],
    }
}

/// The allowed `stacky/search` fields of a service and their columns (API.md §1).
fn search_fields(service: &str) -> Vec<(&'static str, &'static str)> {
    if service == "glance" {
        return vec![
            ("uuid", "image_uuid"),
            ("request_id", "request_id"),
            ("event", "event"),
            ("host", "host"),
            ("service", "service"),
            ("publisher", "publisher"),
            ("status", "image_status"),
            ("owner", "image_owner"),
            ("routing_key", "routing_key"),
            ("message_id", "message_id"),
        ];
    }
    [
        "instance",
        "request_id",
        "tenant",
        "event",
        "host",
        "service",
        "publisher",
        "state",
        "old_state",
        "old_task",
        "task",
        "routing_key",
        "message_id",
    ]
    .into_iter()
    .map(|field| (field, field))
    .collect()
}

/// The most frequent, a middle and the rarest value of a column in some families.
async fn sample_values(db: &TestDatabase, column: &str, families: &[&str]) -> Vec<String> {
    let statement = format!(
        "SELECT {column} FROM raw_events WHERE family = ANY($1) AND {column} IS NOT NULL
         GROUP BY 1 ORDER BY count(*) DESC, 1"
    );
    let values: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
        .bind(families)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let mut picked: Vec<String> = [0, values.len() / 2, values.len().saturating_sub(1)]
        .into_iter()
        .filter_map(|index| values.get(index).cloned())
        .collect();
    picked.dedup();
    picked
}

/// The ids of an event table answer (`[]` or a header and rows).
fn ids(table: &Value) -> Vec<i64> {
    table
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|row| row[0].as_i64().unwrap())
        .collect()
}

fn unix(time: DateTime<Utc>) -> String {
    format!("{:.6}", time.timestamp_micros() as f64 / 1e6)
}

/// A page of events by plain SQL: `column = value` in `families`, in a window.
struct Page<'a> {
    column: &'a str,
    value: &'a str,
    families: &'a [&'a str],
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    newest_first: bool,
    limit: i64,
    offset: i64,
}

async fn expected_ids(db: &TestDatabase, page: &Page<'_>) -> Vec<i64> {
    let direction = if page.newest_first { "DESC" } else { "ASC" };
    let statement = format!(
        "SELECT id FROM raw_events
         WHERE {} = $1 AND family = ANY($2)
           AND (NOT $3 OR \"when\" BETWEEN $4 AND $5)
         ORDER BY \"when\" {direction}, id {direction} LIMIT $6 OFFSET $7",
        page.column
    );
    let (min, max) = page.window.unwrap_or_default();
    sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
        .bind(page.value)
        .bind(page.families)
        .bind(page.window.is_some())
        .bind(min)
        .bind(max)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn search_on_every_field_equals_a_plain_sql_filter() {
    let (db, api) = load().await;
    let window = (time("2026-03-02T14:12:30Z"), time("2026-03-04T01:20:00Z"));
    let mut checked = 0;
    for service in ["nova", "glance", "generic"] {
        let families = families(service);
        for (field, column) in search_fields(service) {
            for value in sample_values(&db, column, &families).await {
                for (window, offset) in [(None, 0), (None, 3), (Some(window), 0)] {
                    let mut path = format!(
                        "/stacky/search/?service={service}&field={field}&value={}&limit=6&offset={offset}",
                        urlencoding(&value)
                    );
                    if let Some((min, max)) = window {
                        path.push_str(&format!("&when_min={}&when_max={}", unix(min), unix(max)));
                    }
                    let page = Page {
                        column,
                        value: &value,
                        families: &families,
                        window,
                        newest_first: true,
                        limit: 6,
                        offset,
                    };
                    assert_eq!(
                        ids(&api.ok(&path).await),
                        expected_ids(&db, &page).await,
                        "{path}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 200, "{checked} searches");

    // uuid and request list oldest first through the same indexes.
    let instance = &sample_values(&db, "instance", &["nova"]).await[0];
    let page = Page {
        column: "instance",
        value: instance,
        families: &["nova"],
        window: None,
        newest_first: false,
        limit: 8,
        offset: 2,
    };
    let path = format!("/stacky/uuid/?uuid={instance}&limit=8&offset=2");
    assert_eq!(ids(&api.ok(&path).await), expected_ids(&db, &page).await);

    // watch merges the families of a service, oldest first.
    let since = time("2026-03-01T00:00:00Z");
    for (service, event) in [
        ("generic", None),
        ("generic", Some("crash.processed")),
        ("nova", None),
    ] {
        let mut path = format!(
            "/stacky/watch/0/?service={service}&since={}",
            since.timestamp()
        );
        if let Some(event) = event {
            path.push_str(&format!("&event_name={event}"));
        }
        let watched = api.ok(&path).await;
        let got: Vec<i64> = watched[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row[0].as_i64().unwrap())
            .collect();
        let expected: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM raw_events WHERE family = ANY($1) AND \"when\" > $2
               AND ($3::text IS NULL OR event = $3)
             ORDER BY \"when\", id LIMIT 1000",
        )
        .bind(families(service))
        .bind(since)
        .bind(event)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert!(!expected.is_empty(), "{path}");
        assert_eq!(got, expected, "{path}");
    }
    db.drop_database().await;
}

/// Percent-encodes a query value.
fn urlencoding(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// StackTach's duration, as `stacky/summary` prints it.
fn duration(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    format!(
        "{}d {:02}:{:02}:{:02}.{:02}",
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
        micros % 1_000_000 / 10_000
    )
}

/// The summary of the complete timings that ended in `[min, max]`, from the
/// timings table, with p50, p95 and p99 from their buckets.
async fn summary_by_plain_sql(
    db: &TestDatabase,
    min: Option<DateTime<Utc>>,
    max: Option<DateTime<Utc>>,
) -> Value {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT operation, duration_us FROM timings
         WHERE duration_us >= 0 AND ($1::timestamptz IS NULL OR end_when >= $1)
           AND ($2::timestamptz IS NULL OR end_when <= $2)",
    )
    .bind(min)
    .bind(max)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut by_operation: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (operation, micros) in rows {
        by_operation.entry(operation).or_default().push(micros);
    }
    let mut table = vec![json!([
        "Event", "N", "Min", "Max", "Avg", "p50", "p95", "p99"
    ])];
    for (operation, durations) in by_operation {
        let (low, high) = (
            *durations.iter().min().unwrap(),
            *durations.iter().max().unwrap(),
        );
        let count = durations.len() as i64;
        let average = durations.iter().sum::<i64>() / count;
        let buckets: Vec<(i16, i64)> = durations
            .iter()
            .map(|micros| (bucket_of(*micros), 1))
            .collect();
        let whole = duration(average);
        let mut row = vec![
            json!(operation),
            json!(count),
            json!(duration(low)),
            json!(duration(high)),
            json!(whole[..whole.len() - 3]),
        ];
        for percentile in [50.0, 95.0, 99.0] {
            let value = percentile_us(&buckets, percentile, low, high).unwrap();
            row.push(json!(duration(value)));
        }
        table.push(Value::Array(row));
    }
    Value::Array(table)
}

#[tokio::test]
async fn summary_windows_over_days_hours_and_edges_equal_a_plain_sql_recomputation() {
    let (db, api) = load().await;
    let at = |text: &str| Some(time(text));
    let microsecond_before = |text: &str| Some(time(text) - TimeDelta::microseconds(1));
    let windows = [
        (None, None),
        // Whole days, whole hours around them, partial hours at both ends.
        (at("2026-03-01T07:13:20.5Z"), at("2026-03-04T02:41:07Z")),
        // Every day whole: the extremes of buckets held on many days are walked.
        (
            at("2026-02-28T00:00:00Z"),
            microsecond_before("2026-03-07T00:00:00Z"),
        ),
        (
            at("2026-03-02T00:00:00Z"),
            microsecond_before("2026-03-04T00:00:00Z"),
        ),
        (
            at("2026-03-01T09:00:00Z"),
            microsecond_before("2026-03-01T12:00:00Z"),
        ),
        (at("2026-03-02T14:05:00Z"), at("2026-03-02T14:50:00Z")),
        (at("2026-03-01T05:30:00Z"), at("2026-03-02T16:20:00.25Z")),
        (at("2026-03-02T15:30:00Z"), None),
        (None, at("2026-03-03T22:10:00Z")),
    ];
    for (min, max) in windows {
        let mut path = "/stacky/summary/?percentiles=50,95,99".to_owned();
        if let Some(min) = min {
            path.push_str(&format!("&when_min={}", unix(min)));
        }
        if let Some(max) = max {
            path.push_str(&format!("&when_max={}", unix(max)));
        }
        let expected = summary_by_plain_sql(&db, min, max).await;
        assert!(
            expected.as_array().unwrap().len() > 3,
            "{path} holds timings"
        );
        assert_eq!(api.ok(&path).await, expected, "{path}");
    }
    db.drop_database().await;
}

/// `/search/signatures`' hits and total by plain SQL over the reports.
async fn signatures_by_plain_sql(
    db: &TestDatabase,
    condition: &str,
    from: &str,
    to: &str,
    offset: i64,
) -> Value {
    let statement = format!(
        "WITH matching AS (
             SELECT * FROM crash_reports
             WHERE date_processed >= $1::timestamptz AND date_processed < $2::timestamptz AND {condition}),
         hits AS (
             SELECT signature, count(*) AS count,
                    count(*) FILTER (WHERE os_name LIKE 'Win%') AS is_windows,
                    count(*) FILTER (WHERE os_name LIKE 'Mac%') AS is_mac,
                    count(*) FILTER (WHERE os_name LIKE 'Lin%') AS is_linux,
                    count(*) FILTER (WHERE hangid IS NOT NULL) AS numhang,
                    count(*) FILTER (WHERE process = 'plugin') AS numplugin
             FROM matching GROUP BY signature)
         SELECT json_build_object(
             'hits', coalesce((SELECT json_agg(h ORDER BY h.count DESC, h.signature COLLATE \"C\")
                               FROM (SELECT * FROM hits ORDER BY count DESC, signature COLLATE \"C\"
                                     LIMIT 100 OFFSET $3) h), '[]'),
             'total', (SELECT count(*) FROM hits))"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
        .bind(time(from))
        .bind(time(to))
        .bind(offset)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn socorro_searches_answered_from_the_aggregates_equal_the_reports() {
    let (db, api) = load().await;
    let (product, version): (String, String) = sqlx::query_as(
        "SELECT product, version FROM crash_reports GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let signatures: Vec<String> = sqlx::query_scalar(
        "SELECT signature FROM crash_reports WHERE product = $1 GROUP BY 1 ORDER BY count(*) DESC, 1",
    )
    .bind(&product)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let (frequent, rare) = (&signatures[0], signatures.last().unwrap());
    let word: String = frequent.chars().skip(2).take(5).collect();
    assert!(!word.contains('\''), "{word:?} goes into SQL as a literal");
    // Days, hours and partial hours; a window inside one day; one on hour bounds.
    let windows = [
        ("2026-03-02T07:13:20Z", "2026-03-11T16:41:05.5Z"),
        ("2026-03-04T03:10:00Z", "2026-03-04T19:55:00Z"),
        ("2026-03-01T00:00:00Z", "2026-03-16T00:00:00Z"),
    ];
    let cases = [
        ("", format!("product = '{product}'")),
        (
            "&products=Firefox%2BThunderbird",
            "product IN ('Firefox', 'Thunderbird')".to_owned(),
        ),
        (
            &*format!("&products={product}&versions={product}:{version}"),
            format!("product = '{product}' AND version = '{version}'"),
        ),
        (
            &*format!("&products={product}&versions={version}&os=Win"),
            format!("product = '{product}' AND version = '{version}' AND os_name ILIKE 'Win%'"),
        ),
        (
            &*format!(
                "&products={product}&for={}&search_mode=contains",
                urlencoding(&word)
            ),
            format!("product = '{product}' AND strpos(signature, '{word}') > 0"),
        ),
        (
            &*format!("&products={product}&report_process=plugin"),
            format!("product = '{product}' AND process = 'plugin'"),
        ),
    ]
    .map(|(query, condition)| (query.to_owned(), condition));
    for (from, to) in windows {
        let period = format!("from={}&to={}", urlencoding(from), urlencoding(to));
        for (query, condition) in &cases {
            let query = if query.is_empty() {
                format!("&products={product}")
            } else {
                query.clone()
            };
            for offset in [0, 3, 1000] {
                let path = format!("/search/signatures/?{period}{query}&result_offset={offset}");
                let expected = signatures_by_plain_sql(&db, condition, from, to, offset).await;
                assert_eq!(api.ok(&path).await, expected, "{path}");
            }
        }
        // The totals of report/list and search/crashes.
        for signature in [frequent, rare] {
            let path = format!(
                "/report/list/?signature={}&products={product}&{period}",
                urlencoding(signature)
            );
            let body = api.ok(&path).await;
            let expected: (i64, Vec<String>) = sqlx::query_as(
                "SELECT count(*), coalesce((array_agg(uuid ORDER BY date_processed DESC, uuid COLLATE \"C\"))[1:100], '{}')
                 FROM crash_reports WHERE product = $1 AND signature = $2
                   AND date_processed >= $3 AND date_processed < $4",
            )
            .bind(&product)
            .bind(signature)
            .bind(time(from))
            .bind(time(to))
            .fetch_one(&db.pool)
            .await
            .unwrap();
            let uuids: Vec<&str> = body["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|hit| hit["uuid"].as_str().unwrap())
                .collect();
            assert_eq!(
                (body["total"].as_i64().unwrap(), uuids),
                (expected.0, expected.1.iter().map(String::as_str).collect()),
                "{path}"
            );
        }
        let path = format!("/search/crashes/?products={product}&{period}");
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM crash_reports WHERE product = $1 AND date_processed >= $2 AND date_processed < $3",
        )
        .bind(&product)
        .bind(time(from))
        .bind(time(to))
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(api.ok(&path).await["total"], total, "{path}");
    }

    // Top crashers over a period of whole days, whole hours and edges.
    let end = "2026-03-12T17:25:00Z";
    let body = api
        .ok(&format!(
            "/crashes/signatures/?product={product}&version={version}&end_date={}&duration=200",
            urlencoding(end)
        ))
        .await;
    let expected: Value = sqlx::query_scalar(
        "SELECT json_agg(json_build_array(signature, n) ORDER BY n DESC, signature COLLATE \"C\")
         FROM (SELECT signature, count(*) AS n FROM crash_reports
               WHERE product = $1 AND version = $2 AND date_processed >= $3 - interval '200 hours'
                 AND date_processed < $3
               GROUP BY signature) s",
    )
    .bind(&product)
    .bind(&version)
    .bind(time(end))
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let got: Vec<Value> = body["crashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| json!([row["signature"], row["count"]]))
        .collect();
    assert_eq!(Value::Array(got), expected);
    db.drop_database().await;
}
