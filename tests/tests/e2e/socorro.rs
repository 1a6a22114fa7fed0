//! The Socorro middleware endpoints (API.md §2) over real PostgreSQL: the 16
//! real processed crashes of tests/samples/socorro stored through the write
//! path, a generated crash and product stream, and hostile input. Bodies are
//! compared whole; expected values come from the sample payloads, hand
//! calculation, or a plain SQL recount over the stored reports.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use tach_schema::{ExchangeFamily, Store};
use tach_tests::gen::{generate, Message, Scenario};
use tach_tests::harness::samples::{read_sample, store_messages};
use tach_tests::harness::{TestApi, TestDatabase};

const SAMPLES: &str = "socorro/socorro-processed-crashes-2015-11-30.json";
const WINDOW: &str = "from/2015-11-29/to/2015-12-01";

/// A processed crash as a processor would publish it on tach's exchange.
fn crash_message(payload: &Value, message_id: &str, timestamp: &str) -> Value {
    json!({
        "message_id": message_id,
        "event_type": "crash.processed",
        "publisher_id": "processor.processor-01",
        "priority": "INFO",
        "timestamp": timestamp,
        "payload": payload,
    })
}

fn sample_crashes() -> Vec<Value> {
    read_sample(SAMPLES)
}

fn sample_messages() -> Vec<Value> {
    sample_crashes()
        .iter()
        .map(|crash| {
            let uuid = crash["uuid"].as_str().unwrap();
            let processed = crash["date_processed"].as_str().unwrap();
            crash_message(crash, &format!("sample-{uuid}"), processed)
        })
        .collect()
}

async fn load_samples() -> (TestDatabase, TestApi, Store) {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    store_messages(&store, "socorro", ExchangeFamily::Tach, &sample_messages()).await;
    let api = TestApi::new(db.pool.clone());
    (db, api, store)
}

fn time(text: &str) -> DateTime<Utc> {
    tach_schema::timestamp::parse(text).unwrap()
}

fn report_time(text: &str) -> String {
    time(text).format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// The hit `/search/crashes` and `/report/list` give for a sample payload.
fn expected_report(crash: &Value) -> Value {
    let text_or_null = |key: &str| match &crash[key] {
        Value::Null => Value::Null,
        other => other.clone(),
    };
    json!({
        "uuid": crash["uuid"],
        "date_processed": report_time(crash["date_processed"].as_str().unwrap()),
        "client_crash_date": report_time(crash["client_crash_date"].as_str().unwrap()),
        "product": crash["product"],
        "version": crash["version"],
        "build": crash["build"],
        "release_channel": crash["release_channel"],
        "os_name": crash["os_name"],
        "os_version": crash["os_version"],
        "cpu_name": crash["cpu_name"],
        "signature": crash["signature"],
        "reason": crash["reason"],
        "address": crash["address"],
        "hangid": text_or_null("hangid"),
        "process_type": text_or_null("process_type"),
        "user_comments": text_or_null("user_comments"),
        "email": text_or_null("email"),
        "url": text_or_null("url"),
        "uptime": crash["uptime"],
        "install_age": crash["install_age"],
        "PluginName": text_or_null("PluginName"),
        "PluginVersion": text_or_null("PluginVersion"),
        "PluginFilename": text_or_null("PluginFilename"),
    })
}

/// Samples matching `keep`, newest first (ties by uuid).
fn expected_reports(keep: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut crashes: Vec<Value> = sample_crashes().into_iter().filter(|c| keep(c)).collect();
    crashes.sort_by(|a, b| {
        let key = |c: &Value| {
            (
                time(c["date_processed"].as_str().unwrap()),
                c["uuid"].as_str().unwrap().to_owned(),
            )
        };
        key(b).0.cmp(&key(a).0).then(key(a).1.cmp(&key(b).1))
    });
    crashes.iter().map(expected_report).collect()
}

/// GETs the path form, the query form and the `/bpapi/` form; asserts all
/// three answer 200 with the same body, and returns it.
async fn same_in_every_form(api: &TestApi, path_form: &str, query_form: &str) -> Value {
    let body = api.ok(path_form).await;
    assert_eq!(
        api.ok(query_form).await,
        body,
        "{query_form} vs {path_form}"
    );
    assert_eq!(
        api.ok(&format!("/bpapi{path_form}")).await,
        body,
        "/bpapi{path_form}"
    );
    body
}

#[tokio::test]
async fn search_crashes_lists_the_sample_reports_newest_first() {
    let (db, api, _) = load_samples().await;
    let body = same_in_every_form(
        &api,
        &format!("/search/crashes/products/Firefox+Fennec+Thunderbird/{WINDOW}/"),
        "/search/crashes?products=Firefox%2BFennec%2BThunderbird&from=2015-11-29&to=2015-12-01",
    )
    .await;
    let expected = expected_reports(|_| true);
    assert_eq!(expected.len(), 16);
    assert_eq!(body, json!({"hits": expected, "total": 16}));

    // The default product is Firefox; paging keeps the total.
    let body = api
        .ok(&format!(
            "/search/crashes/{WINDOW}/result_number/2/result_offset/1/"
        ))
        .await;
    let firefox = expected_reports(|c| c["product"] == "Firefox");
    assert_eq!(body, json!({"hits": firefox[1..3], "total": 14}));

    // Filters: versions as Product:Version, os prefix, report_process, build ids.
    let body = api
        .ok(&format!(
            "/search/crashes/{WINDOW}/versions/Firefox:42.0/os/Mac/"
        ))
        .await;
    let mac = expected_reports(|c| {
        c["version"] == "42.0" && c["product"] == "Firefox" && c["os_name"] == "Mac OS X"
    });
    assert_eq!(body, json!({"hits": mac, "total": 4}));
    let body = api
        .ok(&format!("/search/crashes/{WINDOW}/report_process/plugin/plugin_terms/libflash/plugin_in/filename/"))
        .await;
    assert_eq!(
        body,
        json!({"hits": expected_reports(|c| c["process_type"] == "plugin"), "total": 1})
    );
    let body = api
        .ok(&format!(
            "/search/crashes/{WINDOW}/versions/42.0+19.0.2/os/Lin/"
        ))
        .await;
    let bare = expected_reports(|c| {
        c["product"] == "Firefox"
            && (c["version"] == "42.0" || c["version"] == "19.0.2")
            && c["os_name"] == "Linux"
    });
    assert_eq!(body, json!({"hits": bare, "total": 3}));
    let body = api
        .ok(&format!(
            "/search/crashes/{WINDOW}/branches/beta/report_type/crash/"
        ))
        .await;
    let beta = expected_reports(|c| c["release_channel"] == "beta");
    assert_eq!(body, json!({"hits": beta, "total": 1}));
    let hangs = api
        .ok(&format!("/search/crashes/{WINDOW}/report_type/hang/"))
        .await;
    assert_eq!(hangs, json!({"hits": [], "total": 0}));
    let body = api
        .ok(&format!(
            "/search/crashes/{WINDOW}/build_ids/20151030083518/"
        ))
        .await;
    assert_eq!(
        body,
        json!({"hits": expected_reports(|c| c["build"] == "20151030083518"), "total": 1})
    );
    let body = api
        .ok(&format!("/search/crashes/{WINDOW}/build_from/20150929144111/build_to/20151029151421/reasons/EXCEPTION_BREAKPOINT/"))
        .await;
    let expected = expected_reports(|c| {
        c["product"] == "Firefox"
            && c["reason"] == "EXCEPTION_BREAKPOINT"
            && c["build"] == "20151029151421"
    });
    assert_eq!(body, json!({"hits": expected, "total": 3}));
    db.drop_database().await;
}

#[tokio::test]
async fn search_signatures_counts_distinct_signatures_and_escapes_patterns() {
    let (db, api, _) = load_samples().await;
    let body = same_in_every_form(
        &api,
        &format!("/search/signatures/for/shutdownhang/{WINDOW}/"),
        "/search/signatures?for=shutdownhang&from=2015-11-29&to=2015-12-01",
    )
    .await;
    let hit = |signature: &str, win: i64, mac: i64, linux: i64| {
        json!({"signature": signature, "count": 1, "is_windows": win, "is_mac": mac,
               "is_linux": linux, "numhang": 0, "numplugin": 0})
    };
    assert_eq!(
        body,
        json!({"hits": [
            hit("shutdownhang | KiIntSystemCall", 1, 0, 0),
            hit("shutdownhang | WaitForSingleObjectEx | WaitForSingleObject | PR_Wait | mozilla::ReentrantMonitor::Wait | nsThread::ProcessNextEvent | NS_ProcessNextEvent | mozilla::MediaShutdownManager::Shutdown", 1, 0, 0),
            hit("shutdownhang | je_free | nsStringBuffer::Release", 1, 0, 0),
            hit("shutdownhang | libpthread-2.21.so@0xcda0", 0, 0, 1),
            hit("shutdownhang | memset | arena_dalloc | mozilla::net::CacheFileChunk::~CacheFileChunk", 0, 1, 0),
        ], "total": 5})
    );
    let contains = api
        .ok(&format!(
            "/search/signatures/for/nsStringBuffer::Release/search_mode/contains/{WINDOW}/"
        ))
        .await;
    assert_eq!(
        contains,
        json!({"hits": [hit("shutdownhang | je_free | nsStringBuffer::Release", 1, 0, 0)], "total": 1})
    );
    let exact = api
        .ok("/search/signatures?for=OOM%20%7C%20small&search_mode=is_exactly&from=2015-11-29&to=2015-12-01")
        .await;
    assert_eq!(
        exact,
        json!({"hits": [hit("OOM | small", 0, 0, 1)], "total": 1})
    );
    // `%` and `_` are literal: no signature contains a `%` or starts with `_`.
    let empty = json!({"hits": [], "total": 0});
    for path in [
        format!("/search/signatures/for/%25/search_mode/contains/{WINDOW}/"),
        format!("/search/signatures/for/_/search_mode/starts_with/{WINDOW}/"),
        format!("/search/signatures/for/%5C/search_mode/contains/{WINDOW}/"),
        format!("/search/signatures/for/%25/{WINDOW}/"),
    ] {
        assert_eq!(api.ok(&path).await, empty, "{path}");
    }
    // But `_` inside a term matches an underscore.
    let underscore = api
        .ok(&format!("/search/signatures/for/mozalloc_/{WINDOW}/"))
        .await;
    assert_eq!(underscore["total"], 1);
    db.drop_database().await;
}

#[tokio::test]
async fn report_list_comments_extensions_and_pairs_of_the_samples() {
    let (db, api, _) = load_samples().await;
    let body = same_in_every_form(
        &api,
        &format!("/report/list/signature/OOM%20%7C%20small/{WINDOW}/"),
        "/report/list?signature=OOM%20%7C%20small&from=2015-11-29&to=2015-12-01",
    )
    .await;
    assert_eq!(
        body,
        json!({"hits": expected_reports(|c| c["signature"] == "OOM | small"), "total": 1})
    );

    // No sample carries a comment.
    let comments = api
        .ok(&format!(
            "/crashes/comments/signature/OOM%20%7C%20small/{WINDOW}/"
        ))
        .await;
    assert_eq!(comments, json!({"hits": [], "total": 0}));

    let uuid = "379fa96c-c4e6-4c58-9aad-ff9962151130";
    let report_id: i64 = sqlx::query_scalar("SELECT id FROM raw_events WHERE instance = $1")
        .bind(uuid)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let extensions = same_in_every_form(
        &api,
        &format!("/extensions/uuid/{uuid}/date/2015-11-30T00:02:02.538819+00:00/"),
        &format!("/extensions?uuid={uuid}&date=2015-11-30T00:02:02.538819%2B00:00"),
    )
    .await;
    let crash = sample_crashes()
        .into_iter()
        .find(|c| c["uuid"] == uuid)
        .unwrap();
    let addons = crash["addons"].as_array().unwrap();
    let hits: Vec<Value> = addons
        .iter()
        .enumerate()
        .map(|(key, addon)| {
            json!({"report_id": report_id, "date_processed": "2015-11-30T00:02:02.538819+00:00",
                   "extension_key": key, "extension_id": addon[0], "extension_version": addon[1]})
        })
        .collect();
    assert_eq!(extensions, json!({"hits": hits, "total": 2}));
    // The date must be the report's.
    let wrong_day = api
        .ok(&format!(
            "/extensions/uuid/{uuid}/date/2015-11-29T00:02:02+00:00/"
        ))
        .await;
    assert_eq!(wrong_day, json!({"hits": [], "total": 0}));

    // The samples hold no hang pair.
    let paired = api.ok(&format!("/crashes/paireduuid/uuid/{uuid}/")).await;
    assert_eq!(paired, json!({"hits": [], "total": 0}));
    db.drop_database().await;
}

/// A sample crash re-sent as a new report: another uuid, signature and time.
fn copy_of(crash: &Value, uuid: &str, processed: &str, signature: Option<&str>) -> Value {
    let mut copy = crash.clone();
    copy["uuid"] = json!(uuid);
    copy["date_processed"] = json!(processed);
    if let Some(signature) = signature {
        copy["signature"] = json!(signature);
    }
    crash_message(&copy, &format!("copy-{uuid}"), processed)
}

#[tokio::test]
async fn top_crashers_rank_two_periods_from_the_aggregates() {
    let (db, api, store) = load_samples().await;
    let crashes = sample_crashes();
    let gc_marker = crashes
        .iter()
        .find(|c| c["uuid"] == "f0aa5046-3061-4c6a-8fe4-786e32151130")
        .unwrap();
    let oom = crashes
        .iter()
        .find(|c| c["signature"] == "OOM | small")
        .unwrap();
    let je_free = crashes
        .iter()
        .find(|c| c["signature"] == "shutdownhang | je_free | nsStringBuffer::Release")
        .unwrap();
    // Current period [11-29 12:30, 11-30 12:30): the samples (whole hours)
    // and two GCMarker copies on its partial edge hours; one copy after it.
    // Previous period [11-28 12:30, 11-29 12:30): OOM twice, je_free once.
    let copies = [
        copy_of(
            gc_marker,
            "c0000000-0000-0000-0000-000000000001",
            "2015-11-29T12:45:00+00:00",
            None,
        ),
        copy_of(
            gc_marker,
            "c0000000-0000-0000-0000-000000000002",
            "2015-11-30T12:10:00+00:00",
            None,
        ),
        copy_of(
            gc_marker,
            "c0000000-0000-0000-0000-000000000003",
            "2015-11-30T12:40:00+00:00",
            None,
        ),
        copy_of(
            oom,
            "c0000000-0000-0000-0000-000000000004",
            "2015-11-28T20:00:00+00:00",
            None,
        ),
        copy_of(
            oom,
            "c0000000-0000-0000-0000-000000000005",
            "2015-11-29T12:20:00+00:00",
            None,
        ),
        copy_of(
            je_free,
            "c0000000-0000-0000-0000-000000000006",
            "2015-11-28T12:35:00+00:00",
            None,
        ),
        // Before the previous period: counted nowhere.
        copy_of(
            je_free,
            "c0000000-0000-0000-0000-000000000007",
            "2015-11-28T12:25:00+00:00",
            None,
        ),
    ];
    store_messages(&store, "socorro", ExchangeFamily::Tach, &copies).await;

    let body = same_in_every_form(
        &api,
        "/crashes/signatures/product/Firefox/version/42.0/end_date/2015-11-30%2012:30:00/duration/24/",
        "/crashes/signatures?product=Firefox&version=42.0&end_date=2015-11-30T12:30:00Z&duration=24",
    )
    .await;
    let total = 12.0;
    let row = |signature: &str,
               count: i64,
               rank: i64,
               previous: Option<(i64, f64)>,
               os: (i64, i64, i64)| {
        let percent = count as f64 / total;
        let (previous_rank, previous_percent, change_rank, change_percent) = match previous {
            Some((previous_rank, previous_percent)) => (
                json!(previous_rank),
                json!(previous_percent),
                json!(previous_rank - rank),
                json!(percent - previous_percent),
            ),
            None => (json!("null"), json!("null"), json!("new"), json!("new")),
        };
        json!({"signature": signature, "count": count, "currentRank": rank,
               "previousRank": previous_rank, "changeInRank": change_rank,
               "percentOfTotal": percent, "previousPercentOfTotal": previous_percent,
               "changeInPercentOfTotal": change_percent, "win_count": os.0, "mac_count": os.1,
               "linux_count": os.2, "hang_count": 0, "plugin_count": 0, "content_count": 0})
    };
    let rows = vec![
        row("js::GCMarker::processMarkStackTop", 3, 0, None, (0, 3, 0)),
        row("OOM | small", 1, 1, Some((0, 2.0 / 3.0)), (0, 0, 1)),
        row("libdispatch.dylib@0x216b", 1, 2, None, (0, 1, 0)),
        row(
            "mozalloc_abort | NS_DebugBreak | mozilla::layers::PImageBridgeChild::Write",
            1,
            3,
            None,
            (1, 0, 0),
        ),
        row(
            "mozilla::CycleCollectedJSRuntime::DeferredFinalize",
            1,
            4,
            None,
            (0, 1, 0),
        ),
        row("nvwgf2um.dll@0xe2294", 1, 5, None, (1, 0, 0)),
        row("shutdownhang | KiIntSystemCall", 1, 6, None, (1, 0, 0)),
        row(
            "shutdownhang | je_free | nsStringBuffer::Release",
            1,
            7,
            Some((1, 1.0 / 3.0)),
            (1, 0, 0),
        ),
        row(
            "shutdownhang | libpthread-2.21.so@0xcda0",
            1,
            8,
            None,
            (0, 0, 1),
        ),
        row(
            "shutdownhang | memset | arena_dalloc | mozilla::net::CacheFileChunk::~CacheFileChunk",
            1,
            9,
            None,
            (0, 1, 0),
        ),
    ];
    let total_percentage = rows.iter().fold(0.0, |sum, row| {
        sum + row["percentOfTotal"].as_f64().unwrap()
    });
    assert_eq!(
        body,
        json!({"crashes": rows, "totalNumberOfCrashes": 12, "totalPercentage": total_percentage,
               "start_date": "2015-11-29 12:30:00", "end_date": "2015-11-30 12:30:00"})
    );

    // limit, os and crash_type narrow the answer; the ranks stay the period's.
    let limited = api
        .ok("/crashes/signatures/product/Firefox/version/42.0/end_date/2015-11-30%2012:30:00/duration/24/limit/2/")
        .await;
    assert_eq!(limited["crashes"], json!(rows[..2]));
    assert_eq!(limited["totalNumberOfCrashes"], 12);
    let mac = api
        .ok("/crashes/signatures/product/Firefox/version/42.0/end_date/2015-11-30%2012:30:00/duration/24/os/Mac/")
        .await;
    assert_eq!(mac["totalNumberOfCrashes"], 6);
    assert_eq!(
        mac["crashes"][0]["signature"],
        "js::GCMarker::processMarkStackTop"
    );
    let plugin = api
        .ok("/crashes/signatures/product/Firefox/version/42.0/end_date/2015-11-30%2012:30:00/duration/24/crash_type/plugin/")
        .await;
    assert_eq!(plugin["crashes"], json!([]));
    assert_eq!(plugin["totalNumberOfCrashes"], 0);
    db.drop_database().await;
}

/// The crash and product messages of a generated stream, as bodies.
fn generated(scenario: &Scenario) -> Vec<Message> {
    generate(scenario)
        .into_iter()
        .filter(|message| {
            message.routing_key.starts_with("crash.") || message.routing_key.starts_with("product.")
        })
        .collect()
}

fn crash_scenario() -> Scenario {
    Scenario {
        seed: 4,
        start: time("2026-01-01T00:00:00Z"),
        instances: 0,
        images: 0,
        crashes: 300,
        releases: 0,
        products: 6,
        ..Scenario::default()
    }
}

/// The aggregates, and the same sums recounted from the stored reports by plain SQL.
async fn aggregates_and_recount(db: &TestDatabase) -> (Value, Value) {
    let stored: Value = sqlx::query_scalar(
        "SELECT coalesce(json_agg(t ORDER BY product, version, hour, signature, os_name, process), '[]')
         FROM (SELECT product, version, hour, signature, os_name, process, total, win_count,
                      mac_count, linux_count, other_count, hang_count, plugin_count,
                      content_count, browser_count FROM crash_signature_hours) t",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let recount: Value = sqlx::query_scalar(
        "SELECT coalesce(json_agg(t ORDER BY product, version, hour, signature, os_name, process), '[]')
         FROM (SELECT product, version, date_trunc('hour', date_processed) AS hour, signature,
                      os_name, process, count(*) AS total,
                      count(*) FILTER (WHERE os_name LIKE 'Win%') AS win_count,
                      count(*) FILTER (WHERE os_name LIKE 'Mac%') AS mac_count,
                      count(*) FILTER (WHERE os_name LIKE 'Lin%') AS linux_count,
                      count(*) FILTER (WHERE os_name NOT LIKE 'Win%' AND os_name NOT LIKE 'Mac%'
                                         AND os_name NOT LIKE 'Lin%') AS other_count,
                      count(*) FILTER (WHERE hangid IS NOT NULL) AS hang_count,
                      count(*) FILTER (WHERE process_type = 'plugin') AS plugin_count,
                      count(*) FILTER (WHERE process_type = 'content') AS content_count,
                      count(*) FILTER (WHERE process_type IS NULL OR process_type = 'browser') AS browser_count
               FROM crash_reports
               GROUP BY 1, 2, 3, 4, 5, 6) t",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    (stored, recount)
}

/// The rows where the daily rollup differs from the hourly aggregates summed
/// per day (none, when they agree).
async fn daily_rollup_differences(db: &TestDatabase) -> Value {
    db.json_rows(
        "WITH days AS (
             SELECT product, version, day, signature, os_name, process, total, win_count, mac_count,
                    linux_count, other_count, hang_count, plugin_count, content_count, browser_count
             FROM crash_signature_days
         ), regrouped AS (
             SELECT product, version, date_trunc('day', hour) AS day, signature, os_name, process,
                    sum(total)::bigint, sum(win_count)::bigint, sum(mac_count)::bigint,
                    sum(linux_count)::bigint, sum(other_count)::bigint, sum(hang_count)::bigint,
                    sum(plugin_count)::bigint, sum(content_count)::bigint, sum(browser_count)::bigint
             FROM crash_signature_hours GROUP BY 1, 2, 3, 4, 5, 6
         )
         (SELECT 'only in days' AS side, * FROM (TABLE days EXCEPT TABLE regrouped) d)
         UNION ALL
         (SELECT 'only in hours' AS side, * FROM (TABLE regrouped EXCEPT TABLE days) h)",
    )
    .await
}

/// Every crash and product table, without raw event ids (which depend on arrival order).
async fn crash_state(db: &TestDatabase) -> Value {
    assert_eq!(daily_rollup_differences(db).await, json!([]));
    let queries = [
        "SELECT uuid, source_message_id, date_processed, product, version, signature, os_name, hangid, process FROM crash_reports ORDER BY uuid",
        "SELECT * FROM crash_extensions ORDER BY uuid, extension_key",
        "SELECT * FROM crash_signature_hours ORDER BY product, version, hour, signature, os_name, process",
        "SELECT * FROM crash_signature_days ORDER BY product, version, day, signature, os_name, process",
        "SELECT * FROM product_versions ORDER BY product, version",
        "SELECT * FROM product_builds ORDER BY product, version, platform, buildid",
    ];
    let mut state = Vec::new();
    for query in queries {
        let statement = format!("SELECT coalesce(json_agg(t), '[]') FROM ({query}) t");
        let rows: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        state.push(rows);
    }
    Value::Array(state)
}

/// A crash message re-sent later with another signature: the report is replaced.
fn resent(message: &Message, signature: &str, later_seconds: i64) -> Value {
    let mut body = message.body.clone();
    let when = time(body["timestamp"].as_str().unwrap()) + TimeDelta::seconds(later_seconds);
    body["message_id"] = json!(format!(
        "resent-{later_seconds}-{}",
        body["message_id"].as_str().unwrap()
    ));
    body["timestamp"] = json!(tach_tests::gen::nova_time(when));
    body["payload"]["signature"] = json!(signature);
    body
}

async fn store_in_batches(store: &Store, bodies: &[Value], batch: usize) {
    for chunk in bodies.chunks(batch) {
        store_messages(store, "socorro", ExchangeFamily::Tach, chunk).await;
    }
}

#[tokio::test]
async fn generated_reports_are_counted_once_and_aggregates_equal_a_recount() {
    let messages = generated(&crash_scenario());
    let crashes: Vec<&Message> = messages
        .iter()
        .filter(|m| m.routing_key == "crash.processed")
        .collect();
    let mut bodies: Vec<Value> = messages.iter().map(|m| m.body.clone()).collect();
    // Re-sent reports: a newer one replaces, an older one is ignored, a
    // duplicate message id is dropped.
    bodies.push(resent(crashes[3], "resent | newer", 60));
    bodies.push(resent(crashes[3], "resent | older", -60));
    bodies.push(crashes[5].body.clone());

    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    store_in_batches(&store, &bodies, 37).await;
    let reports: i64 = sqlx::query_scalar("SELECT count(*) FROM crash_reports")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(reports, crashes.len() as i64);
    let uuid = crashes[3].body["payload"]["uuid"].as_str().unwrap();
    let signature: String =
        sqlx::query_scalar("SELECT signature FROM crash_reports WHERE uuid = $1")
            .bind(uuid)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(signature, "resent | newer");
    let (stored, recount) = aggregates_and_recount(&db).await;
    assert!(stored.as_array().unwrap().len() > 50);
    assert_eq!(stored, recount);

    // The same events in reverse order, in other batches, give the same state.
    let reversed_db = TestDatabase::create().await;
    let reversed_store = Store::new(reversed_db.pool.clone());
    let reversed: Vec<Value> = bodies.iter().rev().cloned().collect();
    store_in_batches(&reversed_store, &reversed, 11).await;
    assert_eq!(crash_state(&reversed_db).await, crash_state(&db).await);
    reversed_db.drop_database().await;

    // Top crashers' counts equal a plain SQL count over the reports.
    let api = TestApi::new(db.pool.clone());
    let (product, version) = ("Firefox", "42.0");
    let end = "2026-01-15T00:00:00Z";
    let body = api
        .ok(&format!(
            "/crashes/signatures?product={product}&version={version}&end_date={end}&duration=336"
        ))
        .await;
    let expected: Value = sqlx::query_scalar(
        "SELECT json_agg(json_build_array(signature, n) ORDER BY n DESC, signature COLLATE \"C\")
         FROM (SELECT signature, count(*) AS n FROM crash_reports
               WHERE product = $1 AND version = $2 AND date_processed >= $3::timestamptz - interval '336 hours'
                 AND date_processed < $3::timestamptz
               GROUP BY signature) s",
    )
    .bind(product)
    .bind(version)
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

#[tokio::test]
async fn generated_hang_pairs_comments_and_products() {
    let scenario = crash_scenario();
    let messages = generated(&scenario);
    let bodies: Vec<Value> = messages.iter().map(|m| m.body.clone()).collect();
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    store_in_batches(&store, &bodies, 50).await;
    let api = TestApi::new(db.pool.clone());

    // A hang pair: the plugin and browser reports sharing a hangid.
    let payloads: Vec<&Value> = messages
        .iter()
        .filter(|m| m.routing_key == "crash.processed")
        .map(|m| &m.body["payload"])
        .collect();
    let plugin = payloads
        .iter()
        .find(|p| p["hangid"].is_string() && p["process_type"] == "plugin")
        .expect("the stream has a hang pair");
    let hangid = plugin["hangid"].as_str().unwrap();
    let browser = payloads
        .iter()
        .find(|p| p["hangid"] == hangid && p["uuid"] != plugin["uuid"])
        .unwrap();
    let (plugin_uuid, browser_uuid) = (
        plugin["uuid"].as_str().unwrap(),
        browser["uuid"].as_str().unwrap(),
    );
    let paired = same_in_every_form(
        &api,
        &format!("/crashes/paireduuid/uuid/{plugin_uuid}/"),
        &format!("/crashes/paireduuid?uuid={plugin_uuid}"),
    )
    .await;
    assert_eq!(
        paired,
        json!({"hits": [{"uuid": browser_uuid}], "total": 1})
    );
    let with_hangid = api
        .ok(&format!(
            "/crashes/paireduuid/uuid/{browser_uuid}/hangid/{hangid}/"
        ))
        .await;
    assert_eq!(
        with_hangid,
        json!({"hits": [{"uuid": plugin_uuid}], "total": 1})
    );

    // Comments of one signature, newest first.
    let with_comment = payloads
        .iter()
        .find(|p| p["user_comments"].is_string())
        .expect("the stream has comments");
    let signature = with_comment["signature"].as_str().unwrap();
    let mut expected: Vec<&&Value> = payloads
        .iter()
        .filter(|p| {
            p["signature"] == signature
                && p["product"] == "Firefox"
                && p["user_comments"].is_string()
        })
        .collect();
    expected.sort_by_key(|p| std::cmp::Reverse(time(p["date_processed"].as_str().unwrap())));
    let hits: Vec<Value> = expected
        .iter()
        .map(|p| {
            json!({"date_processed": report_time(p["date_processed"].as_str().unwrap()),
                   "uuid": p["uuid"], "user_comments": p["user_comments"], "email": p["email"]})
        })
        .collect();
    let encoded = signature
        .replace('%', "%25")
        .replace(' ', "%20")
        .replace('|', "%7C");
    let comments = same_in_every_form(
        &api,
        &format!("/crashes/comments/signature/{encoded}/from/2025-12-31/to/2026-01-20/"),
        &format!("/crashes/comments?signature={encoded}&from=2025-12-31&to=2026-01-20"),
    )
    .await;
    assert_eq!(comments, json!({"hits": hits, "total": expected.len()}));

    check_products(&api, &messages).await;
    db.drop_database().await;
}

/// A JSON scalar as text (the generator sends some numbers as strings).
fn as_text(value: &Value) -> Value {
    match value {
        Value::Number(number) => json!(number.to_string()),
        other => other.clone(),
    }
}

/// A build id given as a number or as decimal text.
fn build_id(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| value.as_str().unwrap().parse().unwrap())
}

/// `/products/versions`, `/products/builds` and `/util/versions_info` against
/// the generated `product.*` payloads.
async fn check_products(api: &TestApi, messages: &[Message]) {
    let payloads = |kind: &str| -> Vec<Value> {
        messages
            .iter()
            .filter(|m| m.routing_key == kind)
            .map(|m| m.body["payload"].clone())
            .collect()
    };
    let versions = payloads("product.version");
    let builds = payloads("product.build");
    let mut hits: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({"product": v["product"], "version": v["version"], "build_type": v["build_type"],
                   "start_date": v["start_date"], "end_date": v["end_date"],
                   "throttle": v["throttle"], "is_featured": v["is_featured"]})
        })
        .collect();
    let text = |value: &Value| value.as_str().unwrap().to_owned();
    hits.sort_by_key(|h| (text(&h["product"]), text(&h["version"])));
    let all = api.ok("/products/versions/").await;
    assert_eq!(all, json!({"hits": hits, "total": versions.len()}));
    let first = &versions[0];
    let pair = format!("{}:{}", text(&first["product"]), text(&first["version"]));
    let one = hits
        .iter()
        .find(|h| h["product"] == first["product"] && h["version"] == first["version"])
        .unwrap();
    for path in [
        format!("/products/versions/{pair}/"),
        format!("/products/versions/versions/{pair}+Nope:1.0/"),
        format!("/products/versions?versions={pair}"),
    ] {
        assert_eq!(
            api.ok(&path).await,
            json!({"hits": [one], "total": 1}),
            "{path}"
        );
    }

    let mut build_ids: Vec<i64> = builds
        .iter()
        .filter(|b| b["product"] == first["product"] && b["version"] == first["version"])
        .map(|b| build_id(&b["buildid"]))
        .collect();
    build_ids.sort_unstable();
    build_ids.dedup();
    assert!(!build_ids.is_empty());
    let info = same_in_every_form(
        api,
        &format!("/util/versions_info/versions/{pair}+Nope:1.0/"),
        &format!("/util/versions_info?versions={pair}%2BNope:1.0"),
    )
    .await;
    assert_eq!(
        info,
        json!({pair.clone(): {"version_string": first["version"], "product_name": first["product"],
               "major_version": as_text(&first["major_version"]), "release_channel": first["release_channel"],
               "build_id": build_ids}})
    );
    let product = text(&first["product"]);
    let mut expected: Vec<Value> = builds
        .iter()
        .filter(|b| b["product"] == product.as_str())
        .map(|b| {
            json!({"product": b["product"], "version": b["version"], "platform": b["platform"],
                   "buildid": build_id(&b["buildid"]), "build_type": b["build_type"],
                   "beta_number": as_text(&b["beta_number"]), "repository": b["repository"],
                   "date": b["date"]})
        })
        .collect();
    expected.sort_by_key(|b| {
        (
            std::cmp::Reverse(text(&b["date"])),
            std::cmp::Reverse(b["buildid"].as_i64().unwrap()),
            text(&b["version"]),
            text(&b["platform"]),
        )
    });
    assert!(!expected.is_empty());
    let body = api
        .ok(&format!(
            "/products/builds/product/{product}/from_date/2025-01-01/"
        ))
        .await;
    assert_eq!(body, Value::Array(expected));
    assert_eq!(
        api.ok(&format!(
            "/products/builds?product={product}&date_from=2025-01-01"
        ))
        .await,
        body
    );
    let later = api
        .ok(&format!(
            "/products/builds/product/{product}/from_date/2030-01-01/"
        ))
        .await;
    assert_eq!(later, json!([]));
}

/// Every endpoint, with the parameters that make it answer.
const ENDPOINTS: [(&str, &str); 10] = [
    ("/crashes/comments", "signature/x/"),
    ("/crashes/paireduuid", "uuid/x/"),
    ("/crashes/signatures", "product/Firefox/version/42.0/"),
    ("/extensions", "uuid/x/date/2015-11-30/"),
    ("/products/builds", "product/Firefox/"),
    ("/products/versions", "versions/Firefox:42.0/"),
    ("/search/signatures", ""),
    ("/search/crashes", ""),
    ("/report/list", "signature/x/"),
    ("/util/versions_info", "versions/Firefox:42.0/"),
];

async fn assert_bad(api: &TestApi, path: &str, parameter: &str) {
    let (status, body) = api.get(path).await;
    assert_eq!(status, 400, "{path}: {body}");
    assert_eq!(body["error"]["parameter"], parameter, "{path}: {body}");
    assert!(body["error"]["message"].is_string(), "{path}: {body}");
}

#[tokio::test]
async fn bad_and_hostile_input_gets_a_400_or_an_empty_answer_never_a_500() {
    let (db, api, _) = load_samples().await;
    for (service, good) in ENDPOINTS {
        api.ok(&format!("{service}/{good}")).await;
    }
    // Missing mandatory parameters.
    for (path, parameter) in [
        ("/crashes/comments/", "signature"),
        ("/crashes/paireduuid/", "uuid"),
        ("/crashes/signatures/product/Firefox/", "version"),
        ("/crashes/signatures?version=42.0", "product"),
        ("/extensions/uuid/x/", "date"),
        ("/extensions?date=2015-11-30", "uuid"),
        ("/products/builds/", "product"),
        ("/report/list/signature//", "signature"),
        ("/util/versions_info/", "versions"),
    ] {
        assert_bad(&api, path, parameter).await;
    }
    // Malformed values.
    for (path, parameter) in [
        ("/search/crashes/from/yesterday/", "from"),
        ("/search/signatures?to=2015-13-01", "to"),
        ("/crashes/comments/signature/x/from/2015-02-30/", "from"),
        (
            "/crashes/signatures/product/F/version/1/end_date/soon/",
            "end_date",
        ),
        (
            "/crashes/signatures/product/F/version/1/duration/week/",
            "duration",
        ),
        (
            "/crashes/signatures/product/F/version/1/duration/-1/",
            "duration",
        ),
        (
            "/crashes/signatures/product/F/version/1/crash_type/hang/",
            "crash_type",
        ),
        (
            "/crashes/signatures/product/F/version/1/limit/ten/",
            "limit",
        ),
        ("/extensions/uuid/x/date/0000-00-00/", "date"),
        ("/products/builds/product/Firefox/from_date/1/", "from_date"),
        ("/search/crashes/build_ids/2015abc/", "build_ids"),
        ("/report/list/signature/x/build_from/x/", "build_from"),
        ("/crashes/comments/signature/x/build_to/1e3/", "build_to"),
        (
            "/search/crashes/build_ids/99999999999999999999/",
            "build_ids",
        ),
        ("/search/signatures/search_mode/regex/", "search_mode"),
        ("/search/crashes/report_process/gpu/", "report_process"),
        ("/search/crashes/report_type/oops/", "report_type"),
        ("/search/crashes/in/dump/for/x/", "in"),
        (
            "/search/crashes/report_process/plugin/plugin_search_mode/x/",
            "plugin_search_mode",
        ),
        ("/search/crashes/result_number/many/", "result_number"),
        ("/search/crashes/result_offset/-5/", "result_offset"),
        ("/search/everything/", "data_type"),
        ("/products/versions/versions/Firefox/", "versions"),
        ("/util/versions_info/versions/noversion/", "versions"),
        ("/report/list/signature/%FF/", "signature"),
    ] {
        assert_bad(&api, path, parameter).await;
    }
    // A NUL byte is text PostgreSQL cannot hold: a 400, never a 500.
    for path in [
        format!("/report/list/signature/a%00b/{WINDOW}/"),
        format!("/search/signatures/for/a%00b/{WINDOW}/"),
        "/crashes/paireduuid/uuid/a%00b/".to_owned(),
    ] {
        let (status, body) = api.get(&path).await;
        assert_eq!(
            (status.as_u16(), &body["error"]["message"]),
            (
                400,
                &json!("a parameter holds a value the database cannot take: invalid byte sequence for encoding \"UTF8\": 0x00")
            ),
            "{path}"
        );
    }
    // A period that ends before it starts (here before the default start,
    // a week ago) or holds no whole hour is read from the reports alone:
    // nothing, or what those minutes hold — never a 500.
    for data_type in ["signatures", "crashes"] {
        for period in [
            "to=2000-01-01T00:00:00Z",
            "from=2015-11-30T10:10:00Z&to=2015-11-30T10:20:00Z",
        ] {
            let path = format!("/search/{data_type}?{period}");
            assert_eq!(
                api.ok(&path).await,
                json!({"hits": [], "total": 0}),
                "{path}"
            );
        }
    }
    // Hostile strings as terms and values: empty answers, never a 500.
    let long = "x%_\\'\"".repeat(400);
    let hostile = [
        "'; DROP TABLE crash_reports; --".to_owned(),
        "%".to_owned(),
        "_".to_owned(),
        "\\".to_owned(),
        "\"quoted\"".to_owned(),
        long,
    ];
    let empty = json!({"hits": [], "total": 0});
    for term in &hostile {
        let encoded: String = term.bytes().map(|byte| format!("%{byte:02X}")).collect();
        for mode in ["default", "is_exactly", "contains", "starts_with"] {
            for data_type in ["signatures", "crashes"] {
                let path =
                    format!("/search/{data_type}/for/{encoded}/search_mode/{mode}/{WINDOW}/");
                let body = api.ok(&path).await;
                if term == "_" && mode == "contains" {
                    // A literal underscore: only the signatures that have one.
                    let matching = sample_crashes()
                        .iter()
                        .filter(|c| c["product"] == "Firefox")
                        .filter(|c| c["signature"].as_str().unwrap().contains('_'))
                        .count();
                    assert_eq!(matching, 4);
                    assert_eq!(body["total"], matching, "{path}");
                } else {
                    assert_eq!(body, empty, "{path}");
                }
            }
        }
        for path in [
            format!("/report/list/signature/{encoded}/{WINDOW}/"),
            format!("/crashes/comments/signature/{encoded}/{WINDOW}/"),
            format!("/crashes/paireduuid/uuid/{encoded}/hangid/{encoded}/"),
            format!("/extensions/uuid/{encoded}/date/2015-11-30/"),
            format!("/search/crashes/os/{encoded}/reasons/{encoded}/branches/{encoded}/{WINDOW}/"),
            format!("/search/crashes/report_process/plugin/plugin_terms/{encoded}/plugin_search_mode/contains/{WINDOW}/"),
        ] {
            assert_eq!(api.ok(&path).await, empty, "{path}");
        }
        let top = api
            .ok(&format!(
                "/crashes/signatures/product/{encoded}/version/{encoded}/os/{encoded}/"
            ))
            .await;
        assert_eq!(top["crashes"], json!([]));
        assert_eq!(
            api.ok(&format!("/products/builds/product/{encoded}/"))
                .await,
            json!([])
        );
        assert_eq!(
            api.ok(&format!("/products/versions/{encoded}:{encoded}/"))
                .await,
            empty
        );
        assert_eq!(
            api.ok(&format!(
                "/util/versions_info/versions/{encoded}:{encoded}/"
            ))
            .await,
            json!({})
        );
    }
    // Unknown routes of the family: a 404 in its shape.
    let (status, body) = api.get("/crashes/unknown/").await;
    assert_eq!(status, 404);
    assert!(body["error"]["message"].is_string());
    db.drop_database().await;
}

/// signature, os_name, build_id, process, hangid, date_processed,
/// user_comments, uptime of a stored report.
type StoredFields = (
    String,
    String,
    Option<i64>,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<String>,
    Option<i64>,
);

#[tokio::test]
async fn malformed_crash_and_product_payloads_are_stored_without_failing_the_batch() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    let long_signature = "sig|".repeat(2000);
    let crash = json!({
        "uuid": "bad00000-0000-0000-0000-000000151130",
        "date_processed": "not a date",
        "product": "Firefox", "version": "42.0",
        "build": "2015abc", "signature": long_signature,
        "os_name": 7, "hangid": "", "process_type": "gpu",
        "user_comments": "nul \u{0} inside", "uptime": "abc",
        "addons": [[1, 2], [null], "bare@id", {"id": "x"}],
    });
    // Multi-byte text longer than any index row PostgreSQL accepts.
    let wide = json!({
        "uuid": "bad00000-0000-0000-0000-000000251130",
        "date_processed": "2015-11-30T10:00:00+00:00",
        "product": "€".repeat(2000), "version": "€".repeat(2000),
        "signature": "€".repeat(2000), "os_name": "€".repeat(2000),
        "hangid": "€".repeat(2000),
    });
    let messages = [
        crash_message(&crash, "bad-crash", "2015-11-30 10:00:00"),
        crash_message(&wide, "wide-crash", "2015-11-30 10:00:00"),
        json!({"message_id": "bad-version", "event_type": "product.version", "publisher_id": "a.b",
               "timestamp": "2015-11-30 10:00:00",
               "payload": {"product": "Firefox", "version": "42.0", "start_date": "soon",
                           "throttle": "lots", "is_featured": "maybe", "major_version": 42}}),
        json!({"message_id": "bad-build", "event_type": "product.build", "publisher_id": "a.b",
               "timestamp": "2015-11-30 10:00:00",
               "payload": {"product": "Firefox", "version": "42.0", "buildid": "nightly"}}),
    ];
    store_messages(&store, "socorro", ExchangeFamily::Tach, &messages).await;
    let row: StoredFields =
        sqlx::query_as(
            "SELECT signature, os_name, build_id, process, hangid, date_processed, user_comments, uptime
             FROM crash_reports WHERE uuid = 'bad00000-0000-0000-0000-000000151130'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(row.0.len(), tach_schema::crash::MAX_SIGNATURE_BYTES);
    assert_eq!(
        (
            row.1.as_str(),
            row.2,
            row.3.as_str(),
            row.4,
            row.5,
            row.6.as_deref(),
            row.7
        ),
        (
            "7",
            None,
            "other",
            None,
            time("2015-11-30 10:00:00"),
            Some("nul \\u0000 inside"),
            None
        )
    );
    let extensions: Vec<(i32, String, Option<String>)> = sqlx::query_as(
        "SELECT extension_key, extension_id, extension_version FROM crash_extensions ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        extensions,
        [
            (0, "1".to_owned(), Some("2".to_owned())),
            (2, "bare@id".to_owned(), None)
        ]
    );
    let version: (
        Option<chrono::NaiveDate>,
        Option<f64>,
        Option<bool>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT start_date, throttle, is_featured, major_version FROM product_versions",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(version, (None, None, None, Some("42".to_owned())));
    let builds: i64 = sqlx::query_scalar("SELECT count(*) FROM product_builds")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(builds, 0);
    let (stored, recount) = aggregates_and_recount(&db).await;
    assert_eq!(stored, recount);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_of_overlapping_batches_agree_with_one_writer() {
    let messages = generated(&crash_scenario());
    let crashes: Vec<&Message> = messages
        .iter()
        .filter(|m| m.routing_key == "crash.processed")
        .collect();
    let mut bodies: Vec<Value> = messages.iter().map(|m| m.body.clone()).collect();
    for (index, crash) in crashes.iter().enumerate().take(40) {
        bodies.push(resent(
            crash,
            &format!("resent | {}", index % 3),
            30 + index as i64,
        ));
    }
    let sequential = TestDatabase::create().await;
    store_in_batches(&Store::new(sequential.pool.clone()), &bodies, 64).await;

    let concurrent = TestDatabase::create().await;
    let store = Store::new(concurrent.pool.clone());
    // Four writers: each stores every message, in its own order and batch size.
    let writers = (0..4).map(|writer| {
        let store = store.clone();
        let mut mine = bodies.clone();
        mine.rotate_left(writer * bodies.len() / 4);
        if writer % 2 == 1 {
            mine.reverse();
        }
        tokio::spawn(async move { store_in_batches(&store, &mine, 13 + writer * 7).await })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap();
    }
    assert_eq!(
        crash_state(&concurrent).await,
        crash_state(&sequential).await
    );
    let (stored, recount) = aggregates_and_recount(&concurrent).await;
    assert_eq!(stored, recount);
    sequential.drop_database().await;
    concurrent.drop_database().await;
}

#[tokio::test]
async fn the_default_product_is_configurable() {
    let (db, default_api, _) = load_samples().await;
    let path = "/search/crashes?from=2015-11-29&to=2015-12-01";
    assert_eq!(
        default_api.ok(path).await["total"],
        json!(14),
        "Firefox by default"
    );
    let thunderbird = TestApi::with_state(tach_query::AppState {
        default_product: "Thunderbird".into(),
        ..tach_query::AppState::new(db.pool.clone())
    });
    assert_eq!(thunderbird.ok(path).await["total"], json!(1));
    db.drop_database().await;
}

#[tokio::test]
async fn protected_fields_need_the_read_token_when_one_is_set() {
    let (db, _, _) = load_samples().await;
    let state = tach_query::AppState {
        read_token: Some("reader-token".into()),
        ..tach_query::AppState::new(db.pool.clone())
    };
    let api = TestApi::with_state(state);
    let get = |path: String, token: Option<&str>| {
        let mut request = axum::http::Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(axum::body::Body::empty()).unwrap()
    };
    let full = json!({"hits": expected_reports(|c| c["signature"] == "OOM | small"), "total": 1});
    let mut hidden = full.clone();
    for hit in hidden["hits"].as_array_mut().unwrap() {
        for field in ["email", "url", "user_comments"] {
            hit.as_object_mut().unwrap().shift_remove(field);
        }
    }
    for path in [
        format!("/report/list/signature/OOM%20%7C%20small/{WINDOW}/"),
        format!("/search/crashes/for/OOM%20%7C%20small/search_mode/is_exactly/{WINDOW}/"),
    ] {
        for (token, expected) in [
            (None, &hidden),
            (Some("wrong"), &hidden),
            (Some("reader-token"), &full),
        ] {
            let (status, body) = api.request(get(path.clone(), token)).await;
            assert_eq!(
                (status.as_u16(), &body),
                (200, expected),
                "{path} {token:?}"
            );
        }
    }
    db.drop_database().await;
}
