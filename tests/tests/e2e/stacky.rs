//! `stacky/*` answers for known event sets: the create and delete sequences
//! of tests/samples/nova-legacy (real nova captures), moved to the recent
//! past so the last-day views (kpi, watch) see them. Every body is compared
//! whole; expected values come from the sample files and hand calculation.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{json, Value};
use tach_schema::{ExchangeFamily, Store};
use tach_tests::harness::samples::{read_sample, shift_timestamps, store_messages};
use tach_tests::harness::{TestApi, TestDatabase};

const CREATED: &str = "248c4d3b-5329-5e58-96c3-cb77f0798c4b";
const DELETED: &str = "2a83bebd-6fc0-58a4-8794-e6cde05c88c8";
const DELETE_REQUEST: &str = "req-c23104fe-3ea1-5f42-9039-e39185da19b1";

/// The two sequences, shifted so the create sequence starts at `base`.
struct Loaded {
    db: TestDatabase,
    api: TestApi,
    base: DateTime<Utc>,
    create: Vec<Value>,
    delete: Vec<Value>,
}

async fn load() -> Loaded {
    let db = TestDatabase::create().await;
    let base = (Utc::now() - TimeDelta::hours(12))
        .duration_trunc(TimeDelta::hours(1))
        .unwrap();
    let original = DateTime::parse_from_rfc3339("2015-01-22T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut create = read_sample("nova-legacy/nova-legacy-create-sequence.json");
    let mut delete = read_sample("nova-legacy/nova-legacy-delete-sequence.json");
    shift_timestamps(&mut create, base - original);
    shift_timestamps(&mut delete, base - original);
    let store = Store::new(db.pool.clone());
    store_messages(&store, "region-1", ExchangeFamily::Nova, &create).await;
    store_messages(&store, "region-1", ExchangeFamily::Nova, &delete).await;
    let api = TestApi::new(db.pool.clone());
    Loaded {
        db,
        api,
        base,
        create,
        delete,
    }
}

fn at(base: DateTime<Utc>, offset: &str) -> String {
    // offset like "05:00:25.085329" after base.
    let parts: Vec<f64> = offset
        .split(':')
        .map(|part| part.parse().unwrap())
        .collect();
    let micros = ((parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]) * 1e6).round() as i64;
    let when = base + TimeDelta::microseconds(micros);
    if micros % 1_000_000 == 0 {
        when.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        when.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

async fn id_of(db: &TestDatabase, message_id: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM raw_events WHERE message_id = $1")
        .bind(message_id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// The nova event table rows of `messages`, built from their JSON.
async fn nova_rows(db: &TestDatabase, messages: &[&Value]) -> Vec<Value> {
    let mut rows = Vec::new();
    for message in messages {
        let payload = &message["payload"];
        let publisher = message["publisher_id"].as_str().unwrap();
        let timestamp = message["timestamp"].as_str().unwrap();
        let when = timestamp.strip_suffix(".000000").unwrap_or(timestamp);
        let text = |key: &str| match payload.get(key) {
            Some(Value::String(text)) if !text.is_empty() => json!(text),
            _ => Value::Null,
        };
        rows.push(json!([
            id_of(db, message["message_id"].as_str().unwrap()).await,
            " ",
            when,
            "region-1",
            message["event_type"],
            publisher.split_once('.').unwrap().1,
            text("state"),
            text("old_state"),
            text("old_task_state"),
        ]));
    }
    rows
}

const NOVA_HEADER: [&str; 9] = [
    "#",
    "?",
    "When",
    "Deployment",
    "Event",
    "Host",
    "State",
    "State'",
    "Task'",
];

#[tokio::test]
async fn lists_deployments_events_and_hosts() {
    let loaded = load().await;
    let api = &loaded.api;
    assert_eq!(
        api.ok("/stacky/deployments/").await,
        json!([["#", "Name"], [1, "region-1"]])
    );
    assert_eq!(
        api.ok("/stacky/deployments").await,
        json!([["#", "Name"], [1, "region-1"]])
    );
    let mut names: Vec<String> = loaded
        .create
        .iter()
        .chain(&loaded.delete)
        .map(|m| m["event_type"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names.dedup();
    let mut expected = vec![json!(["Event Name"])];
    expected.extend(names.iter().map(|name| json!([name])));
    assert_eq!(
        api.ok("/stacky/events/?service=nova").await,
        Value::Array(expected.clone())
    );
    assert_eq!(api.ok("/stacky/events/").await, Value::Array(expected));
    assert_eq!(
        api.ok("/stacky/events/?service=glance").await,
        json!([["Event Name"]])
    );
    assert_eq!(
        api.ok("/stacky/hosts/").await,
        json!([
            ["Host Name"],
            ["api-01"],
            ["compute-53"],
            ["compute-60"],
            ["scheduler-01"]
        ])
    );
    let (status, body) = api.get("/stacky/hosts/?service=cinder").await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            json!([
                ["Error", "Message"],
                [
                    "Bad Request",
                    "service must be nova, glance or generic, not \"cinder\""
                ]
            ])
        )
    );
    loaded.db.drop_database().await;
}

#[tokio::test]
async fn event_tables_by_uuid_request_and_search() {
    let loaded = load().await;
    let (api, db) = (&loaded.api, &loaded.db);
    let delete_events: Vec<&Value> = loaded.delete.iter().collect();
    let mut expected = vec![json!(NOVA_HEADER)];
    expected.extend(nova_rows(db, &delete_events).await);
    assert_eq!(
        api.ok(&format!("/stacky/uuid/?uuid={DELETED}")).await,
        Value::Array(expected.clone())
    );
    // 32 hex digits name the same instance.
    assert_eq!(
        api.ok(&format!("/stacky/uuid/?uuid={}", DELETED.replace('-', "")))
            .await,
        Value::Array(expected.clone())
    );
    assert_eq!(
        api.ok(&format!("/stacky/request/?request_id={DELETE_REQUEST}"))
            .await,
        Value::Array(expected.clone())
    );
    // Paging and the inclusive time window.
    let paged = api
        .ok(&format!("/stacky/uuid/?uuid={DELETED}&limit=2&offset=1"))
        .await;
    assert_eq!(paged, json!([expected[0], expected[2], expected[3]]));
    let first_second = loaded.base + TimeDelta::hours(5);
    let window = format!(
        "when_min={}&when_max={}",
        first_second.timestamp(),
        first_second.timestamp() as f64 + 0.230646
    );
    let windowed = api
        .ok(&format!("/stacky/uuid/?uuid={DELETED}&{window}"))
        .await;
    assert_eq!(windowed, json!([expected[0], expected[1], expected[2]]));
    // Search is newest first.
    let mut newest_first = vec![expected[0].clone()];
    newest_first.extend(expected[1..].iter().rev().cloned());
    assert_eq!(
        api.ok("/stacky/search/?field=tenant&value=895506").await,
        Value::Array(newest_first)
    );
    assert_eq!(
        api.ok("/stacky/search/?field=host&value=x%27%20OR%20%271%27%3D%271%25")
            .await,
        json!([])
    );
    assert_eq!(
        api.ok("/stacky/uuid/?uuid=00000000-0000-0000-0000-000000000000")
            .await,
        json!([])
    );
    assert_eq!(
        api.ok("/stacky/request/?request_id=req-00000000-0000-0000-0000-000000000000")
            .await,
        json!([NOVA_HEADER])
    );
    loaded.db.drop_database().await;
}

#[tokio::test]
async fn bad_parameters_are_400s_in_stacktachs_shape() {
    let loaded = load().await;
    let api = &loaded.api;
    let bad = |why: &str| json!([["Error", "Message"], ["Bad Request", why]]);
    let cases = [
        ("/stacky/uuid/", bad("missing required parameter uuid")),
        ("/stacky/uuid/?uuid=not-a-uuid", bad("\"not-a-uuid\" is not a UUID")),
        ("/stacky/request/?request_id=req-nope", bad("\"req-nope\" is not a request id (req-<uuid>)")),
        ("/stacky/uuid/?uuid=248c4d3b-5329-5e58-96c3-cb77f0798c4b&limit=x", bad("limit must be a non-negative integer, not \"x\"")),
        ("/stacky/uuid/?uuid=248c4d3b-5329-5e58-96c3-cb77f0798c4b&offset=-3", bad("offset must be a non-negative integer, not \"-3\"")),
        ("/stacky/uuid/?uuid=248c4d3b-5329-5e58-96c3-cb77f0798c4b&when_min=soon", bad("when_min must be decimal unix seconds, not \"soon\"")),
        ("/stacky/timings/", bad("missing required parameter name")),
        ("/stacky/show/abc/", bad("the event id must be an integer, not \"abc\"")),
        (
            "/stacky/search/?field=password&value=x",
            bad("unknown field \"password\"; use one of instance, request_id, tenant, event, host, service, publisher, state, old_state, old_task, task, routing_key, message_id"),
        ),
        ("/stacky/summary/?percentiles=50,abc", bad("percentiles must be numbers in (0, 100], not \"abc\"")),
    ];
    for (path, expected) in cases {
        let (status, body) = api.get(path).await;
        assert_eq!((status.as_u16(), &body), (400, &expected), "{path}");
    }
    let (status, body) = api.get("/stacky/show/999999/").await;
    assert_eq!(
        (status.as_u16(), body),
        (
            404,
            json!([
                ["Error", "Message"],
                ["Not Found", "event 999999 not found"]
            ])
        )
    );
    let (status, body) = api.get("/stacky/nothing-here/").await;
    assert_eq!(
        (status.as_u16(), body),
        (
            404,
            json!([
                ["Error", "Message"],
                ["Not Found", "route /stacky/nothing-here/ not found"]
            ])
        )
    );
    // A NUL byte is text PostgreSQL cannot hold: a 400 naming the value, never a 500.
    let nul = bad("a parameter holds a value the database cannot take: invalid byte sequence for encoding \"UTF8\": 0x00");
    for path in [
        "/stacky/search/?field=host&value=a%00b",
        "/stacky/timings/?name=%00",
        "/stacky/kpi/%00/",
        "/stacky/watch/0/?event_name=%00",
        "/stacky/reports/search/?name=%00",
        "/stacky/events/?service=nova%00",
    ] {
        let (status, body) = api.get(path).await;
        let expected = if path.contains("service=") {
            bad("service must be nova, glance or generic, not \"nova\\0\"")
        } else {
            nul.clone()
        };
        assert_eq!((status.as_u16(), &body), (400, &expected), "{path}");
    }
    // Over the hard limit is clamped, not refused.
    let (status, _) = api
        .get(&format!("/stacky/uuid/?uuid={CREATED}&limit=100000"))
        .await;
    assert_eq!(status.as_u16(), 200);
    loaded.db.drop_database().await;
}

#[tokio::test]
async fn timings_summary_and_kpi() {
    let loaded = load().await;
    let api = &loaded.api;
    assert_eq!(
        api.ok(&format!("/stacky/timings/uuid/?uuid={CREATED}"))
            .await,
        json!([
            ["?", "Event", "Time (secs)"],
            [".", "compute.instance.create", "0d 01:01:38.19"]
        ])
    );
    assert_eq!(
        api.ok(&format!("/stacky/timings/uuid/?uuid={DELETED}"))
            .await,
        json!([
            ["?", "Event", "Time (secs)"],
            [".", "compute.instance.delete", "0d 00:00:21.61"],
            [".", "compute.instance.shutdown", "0d 00:00:21.21"]
        ])
    );
    assert_eq!(
        api.ok("/stacky/timings/?name=compute.instance.delete")
            .await,
        json!([
            ["compute.instance.delete", "Time"],
            [DELETED, "0d 00:00:21.61"]
        ])
    );
    let summary = json!([
        ["Event", "N", "Min", "Max", "Avg"],
        [
            "compute.instance.create",
            1,
            "0d 01:01:38.19",
            "0d 01:01:38.19",
            "0d 01:01:38"
        ],
        [
            "compute.instance.delete",
            1,
            "0d 00:00:21.61",
            "0d 00:00:21.61",
            "0d 00:00:21"
        ],
        [
            "compute.instance.shutdown",
            1,
            "0d 00:00:21.21",
            "0d 00:00:21.21",
            "0d 00:00:21"
        ]
    ]);
    assert_eq!(api.ok("/stacky/summary/").await, summary);
    // A window ending at create.end keeps only the create timing.
    let create_end = loaded.base + TimeDelta::microseconds(3_699_452_786);
    let until_create_end = format!(
        "/stacky/summary/?when_min={}&when_max={}&percentiles=50,99",
        loaded.base.timestamp(),
        create_end.timestamp_micros() as f64 / 1e6
    );
    assert_eq!(
        api.ok(&until_create_end).await,
        json!([
            ["Event", "N", "Min", "Max", "Avg", "p50", "p99"],
            [
                "compute.instance.create",
                1,
                "0d 01:01:38.19",
                "0d 01:01:38.19",
                "0d 01:01:38",
                "0d 01:01:38.19",
                "0d 01:01:38.19"
            ]
        ])
    );
    let kpi = json!([
        ["Event", "Time", "UUID", "Deployment"],
        [
            "compute.instance.delete",
            "0d 00:00:25.08",
            DELETED,
            "region-1"
        ],
        [
            "compute.instance.create",
            "0d 01:01:39.45",
            CREATED,
            "region-1"
        ]
    ]);
    assert_eq!(api.ok("/stacky/kpi/").await, kpi);
    assert_eq!(api.ok("/stacky/kpi/895506/").await, json!([kpi[0], kpi[1]]));
    let (status, body) = api.get("/stacky/kpi/nobody/").await;
    assert_eq!(
        (status.as_u16(), body),
        (
            404,
            json!([
                ["Error", "Message"],
                ["Not Found", "tenant nobody not found"]
            ])
        )
    );
    loaded.db.drop_database().await;
}

#[tokio::test]
async fn usage_show_and_watch() {
    let loaded = load().await;
    let (api, db) = (&loaded.api, &loaded.db);
    // create.end reported a failed build: the launch keeps create.start's flavor and no launch time.
    assert_eq!(
        api.ok(&format!("/stacky/usage/launches?instance={CREATED}"))
            .await,
        json!([
            [
                "UUID",
                "Launched At",
                "Instance Type Id",
                "Instance Flavor Id"
            ],
            [CREATED, null, "2", "2"]
        ])
    );
    assert_eq!(
        api.ok("/stacky/usages/deletes/").await,
        json!([
            ["UUID", "Launched At", "Deleted At"],
            [
                DELETED,
                "2015-01-20 20:31:13.585401",
                "2015-01-22 05:00:24.585401"
            ]
        ])
    );
    assert_eq!(
        api.ok("/stacky/usage/exists").await,
        json!([[
            "UUID",
            "Launched At",
            "Deleted At",
            "Instance Type Id",
            "Instance Flavor Id",
            "Message ID",
            "Status"
        ]])
    );

    let delete_end = loaded.delete.last().unwrap();
    let id = id_of(db, delete_end["message_id"].as_str().unwrap()).await;
    let pretty = serde_json::to_string_pretty(&json!(["notifications.info", delete_end])).unwrap();
    assert_eq!(
        api.ok(&format!("/stacky/show/{id}/")).await,
        json!([
            [
                ["Key", "Value"],
                ["#", id],
                ["When", at(loaded.base, "05:00:25.085329")],
                ["Deployment", "region-1"],
                ["Category", "notifications.info"],
                ["Publisher", "compute.compute-60"],
                ["State", "deleted"],
                ["Event", "compute.instance.delete.end"],
                ["Service", "compute"],
                ["Host", "compute-60"],
                ["UUID", DELETED],
                ["Req ID", DELETE_REQUEST]
            ],
            pretty,
            DELETED
        ])
    );

    let since = (loaded.base + TimeDelta::hours(5)).timestamp();
    let watched = api
        .ok(&format!(
            "/stacky/watch/0/?since={since}&event_name=compute.instance.delete.end"
        ))
        .await;
    let widest = loaded
        .create
        .iter()
        .chain(&loaded.delete)
        .map(|m| m["event_type"].as_str().unwrap().len())
        .max()
        .unwrap();
    let when = loaded.base + TimeDelta::microseconds(18_025_085_329);
    assert_eq!(watched[0], json!([10, 1, 15, 20, widest, 36]));
    assert_eq!(
        watched[1],
        json!([[
            id,
            " ",
            when.format("%Y-%m-%d").to_string(),
            when.format("%H:%M:%S%.6f").to_string(),
            "region-1",
            "compute.instance.delete.end",
            DELETED
        ]])
    );
    let now: i64 = watched[2].as_str().unwrap().parse().unwrap();
    assert!(
        (Utc::now().timestamp() - now).abs() <= 5,
        "now is the current second: {now}"
    );
    let (status, _) = api.get("/stacky/watch/abc/").await;
    assert_eq!(status.as_u16(), 400);
    loaded.db.drop_database().await;
}

#[tokio::test]
async fn reports_are_generated_stored_and_listed() {
    let loaded = load().await;
    let (api, db) = (&loaded.api, &loaded.db);
    let start = loaded.base;
    let end = start + TimeDelta::hours(24) - TimeDelta::seconds(1);
    let id = tach_schema::store::generate_summary(&db.pool, start, end, 97, 1800, None)
        .await
        .unwrap()
        .unwrap();
    // Regenerating the same period replaces the report instead of adding one.
    assert_eq!(
        tach_schema::store::generate_summary(&db.pool, start, end, 97, 1800, None)
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(
        tach_schema::store::generate_summary(&db.pool, start, end, 97, 1800, Some("nowhere"))
            .await
            .unwrap(),
        None
    );

    // The create request ran 1:01:39 (over 30 minutes: a too-long failure);
    // the delete request 25 s on a snapshot image, with no create/resize/… step: "aux".
    let report = api.ok(&format!("/stacky/report/{id}")).await;
    assert_eq!(
        report,
        json!([
            {
                "percentile": 97, "pct": 0.015, "hours": 24,
                "start": start.timestamp() as f64, "end": end.timestamp() as f64,
                "region": null, "cells": ["region-1"], "total": 2,
                "4xx failure count": 0, "4xx failure percentage": 0.0,
                "5xx failure count": 0, "5xx failure percentage": 0.0,
                "> 30 failure count": 1, "> 30 failure percentage": 50.0,
                "state failure count": 0, "state failure percentage": 0.0,
                "failure_grand_total": 1, "failure_grand_rate": 50.0
            },
            ["Operation", "Image", "OS Type", "Min", "Max", "Med", "97%", "Requests", "4xx", "% 4xx", "5xx", "% 5xx", "> 30", "% > 30", "state", "% state"],
            ["aux", "snap", "linux", "25s", "25s", "25s", "25s", 1, 0, 0.0, 0, 0.0, 0, 0.0, 0, 0.0],
            ["create", "base", "linux", "1:01:39s", "1:01:39s", "1:01:39s", "1:01:39s", 1, 0, 0.0, 0, 0.0, 1, 1.0, 0, 0.0]
        ])
    );

    let created: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT created FROM reports WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let listed = api.ok("/stacky/reports").await;
    let header = json!(["Id", "Start", "End", "Created", "Name", "Version"]);
    let created_unix = created.timestamp_micros() as f64 / 1e6;
    assert_eq!(
        listed,
        json!([
            header,
            [
                id,
                start.timestamp() as f64,
                end.timestamp() as f64,
                created_unix,
                "summary for region: all",
                4
            ]
        ])
    );
    let long_ago = "/stacky/reports/?created_from=0&created_to=1000";
    assert_eq!(api.ok(long_ago).await, json!([header]));
    let seconds = |time: chrono::DateTime<Utc>| time.format("%Y-%m-%d %H:%M:%S").to_string();
    let found = api
        .ok(&format!(
            "/stacky/reports/search/?name=summary%20for%20region%3A%20all&created={}",
            created.format("%Y-%m-%d")
        ))
        .await;
    assert_eq!(
        found,
        json!([
            header,
            [
                id,
                seconds(start),
                seconds(end),
                seconds(created),
                "summary for region: all",
                4
            ]
        ])
    );

    let bad = |why: &str| json!([["Error", "Message"], ["Bad Request", why]]);
    for (path, expected) in [
        ("/stacky/reports/search/?colour=red", bad("unknown parameter colour; use id, name, created, period_start, period_end, limit, offset")),
        ("/stacky/reports/search/?created=yesterday", bad("created must be YYYY-MM-DD, not \"yesterday\"")),
        ("/stacky/reports/?created_from=soon", bad("created_from must be decimal unix seconds, not \"soon\"")),
        ("/stacky/report/x", bad("the report id must be an integer, not \"x\"")),
    ] {
        let (status, body) = api.get(path).await;
        assert_eq!((status.as_u16(), &body), (400, &expected), "{path}");
    }
    let (status, body) = api.get("/stacky/report/999/").await;
    assert_eq!(
        (status.as_u16(), body),
        (
            404,
            json!([["Error", "Message"], ["Not Found", "report 999 not found"]])
        )
    );
    loaded.db.drop_database().await;
}

/// The glance event table (API.md §1).
const GLANCE_HEADER: [&str; 7] = ["#", "?", "When", "Deployment", "Event", "Host", "Status"];

#[tokio::test]
async fn glance_events_by_image_owner_and_id() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    // glance 33.0.0's own notifications of one image's life and a failed upload.
    let files = [
        "create",
        "prepare",
        "upload",
        "activate",
        "update",
        "send",
        "prepare-before-failed-upload",
        "upload-error",
        "delete",
    ];
    let messages: Vec<Value> = files
        .iter()
        .map(|name| read_sample(&format!("glance/glance-33.0.0-image.{name}.json")).remove(0))
        .collect();
    store_messages(&store, "region-1", ExchangeFamily::Glance, &messages).await;
    let api = TestApi::new(db.pool.clone());
    let image = "8d4bd2b4-6d6c-4d93-9f3e-4a1f9f2d1a10";
    let owner = "c9d3a1b2e3f44e5f8a7b6c5d4e3f2a1b";

    let mut rows = Vec::new();
    for message in &messages {
        let id = id_of(&db, message["message_id"].as_str().unwrap()).await;
        let payload = &message["payload"];
        let error = if message["priority"] == "ERROR" {
            "E"
        } else {
            " "
        };
        let row = json!([
            id,
            error,
            message["timestamp"],
            "region-1",
            message["event_type"],
            "localhost",
            payload["status"]
        ]);
        rows.push((payload["id"].clone(), payload["owner"].clone(), row));
    }
    let of_image: Vec<Value> = rows
        .iter()
        .filter(|(id, _, _)| id == image)
        .map(|(_, _, row)| row.clone())
        .collect();
    assert_eq!(of_image.len(), 6);
    let mut expected = vec![json!(GLANCE_HEADER)];
    expected.extend(of_image);
    assert_eq!(
        api.ok(&format!("/stacky/uuid/?uuid={image}&service=glance"))
            .await,
        Value::Array(expected)
    );

    // By owner, newest first: every event but the id-less send and the string-payload error.
    let mut expected = vec![json!(GLANCE_HEADER)];
    expected.extend(
        rows.iter()
            .rev()
            .filter(|(_, row_owner, _)| row_owner == owner)
            .map(|(_, _, row)| row.clone()),
    );
    assert_eq!(expected.len(), 1 + 7);
    assert_eq!(
        api.ok(&format!(
            "/stacky/search/?service=glance&field=owner&value={owner}"
        ))
        .await,
        Value::Array(expected)
    );
    let (status, body) = api
        .get("/stacky/search/?service=glance&field=tenant&value=x")
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            json!([["Error", "Message"], ["Bad Request", "unknown field \"tenant\"; use one of uuid, request_id, event, host, service, publisher, status, owner, routing_key, message_id"]])
        )
    );

    let activate = &messages[3];
    let id = id_of(&db, activate["message_id"].as_str().unwrap()).await;
    let pretty = serde_json::to_string_pretty(&json!(["notifications.info", activate])).unwrap();
    assert_eq!(
        api.ok(&format!("/stacky/show/{id}/?service=glance")).await,
        json!([
            [
                ["Key", "Value"],
                ["#", id],
                ["When", "2026-11-22 22:10:29.143554"],
                ["Deployment", "region-1"],
                ["Category", "notifications.info"],
                ["Publisher", "image.localhost"],
                ["Status", "active"],
                ["Event", "image.activate"],
                ["Service", "image"],
                ["Host", "localhost"],
                ["UUID", image],
                ["Req ID", null]
            ],
            pretty,
            image
        ])
    );
    db.drop_database().await;
}

#[tokio::test]
async fn a_limit_over_the_hard_limit_is_clamped_to_1000() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    let update = read_sample("nova-legacy/nova-legacy-create-sequence.json").remove(0);
    // A fraction that is never zero, so every `When` prints it.
    let base = (Utc::now() - TimeDelta::hours(2))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap()
        + TimeDelta::microseconds(123_456);
    let updates: Vec<Value> = (0..1_005)
        .map(|n| {
            let mut message = update.clone();
            message["message_id"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
            let when = base + TimeDelta::seconds(n);
            message["timestamp"] = json!(when.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
            message
        })
        .collect();
    store_messages(&store, "region-1", ExchangeFamily::Nova, &updates).await;
    let api = TestApi::new(db.pool.clone());
    let rows = |body: Value| body.as_array().unwrap().len() - 1;
    for (query, expected) in [
        ("", 50),
        ("&limit=7", 7),
        ("&limit=1000", 1000),
        ("&limit=100000", 1000),
    ] {
        let body = api
            .ok(&format!("/stacky/uuid/?uuid={CREATED}{query}"))
            .await;
        assert_eq!(rows(body), expected, "{query}");
    }
    // The clamped page is the first 1,000, oldest first; the offset reaches the rest.
    let page = api
        .ok(&format!(
            "/stacky/uuid/?uuid={CREATED}&limit=5000&offset=1000"
        ))
        .await;
    assert_eq!(rows(page.clone()), 5);
    assert_eq!(
        page[5][2],
        json!((base + TimeDelta::seconds(1_004))
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string())
    );
    db.drop_database().await;
}
