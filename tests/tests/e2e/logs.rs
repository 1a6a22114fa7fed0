//! Logs an operator can ship: tach-query run as its own process with
//! `TACH_LOG_FORMAT=json` writes one JSON object a line on stderr, one
//! access line per request with its method, route template, status,
//! duration and request id, and echoes the request id in the answer; an
//! unknown format stops either binary with a line naming the setting.

use std::time::Duration;

use serde_json::{json, Value};
use tach_tests::harness::{http, QueryProcess, TestDatabase};
use tokio::process::Command;

use crate::INGEST;
use crate::QUERY;

/// The access line of the request with id `request_id`.
async fn access_line(query: &QueryProcess, request_id: &str) -> Value {
    let what = format!("the access line of {request_id}");
    query
        .wait_for(&what, |record| {
            record["target"] == "tach_query::access" && record["request_id"] == request_id
        })
        .await
}

/// An access line without what differs between runs (its time and
/// duration), after checking the duration is a number of milliseconds.
fn without_time(mut record: Value) -> Value {
    let fields = record.as_object_mut().unwrap();
    assert!(fields.remove("timestamp").unwrap().is_string());
    let duration_ms = fields.remove("duration_ms").unwrap();
    assert!(
        duration_ms.as_f64().is_some_and(|ms| ms >= 0.0),
        "{duration_ms}"
    );
    record
}

fn access(method: &str, route: &str, status: u16, request_id: &str) -> Value {
    json!({
        "level": "INFO",
        "message": "request answered",
        "method": method,
        "route": route,
        "status": status,
        "request_id": request_id,
        "target": "tach_query::access",
    })
}

async fn get(
    address: &str,
    path: &str,
    request_id: Option<&str>,
) -> tach_tests::harness::HttpAnswer {
    let headers: Vec<(&str, &str)> = request_id
        .map(|id| ("X-Request-Id", id))
        .into_iter()
        .collect();
    http(address, "GET", path, &headers, None).await
}

#[tokio::test]
async fn every_request_gets_an_id_echoed_and_one_json_access_line() {
    let db = TestDatabase::create().await;
    let query = QueryProcess::start(QUERY, &[("DATABASE_URL", &db.url)]);
    let address = query.address().await;

    let answer = get(&address, "/stacky/deployments", Some("abc-123")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-request-id"), Some("abc-123"));
    assert_eq!(
        without_time(access_line(&query, "abc-123").await),
        access("GET", "/stacky/deployments", 200, "abc-123")
    );

    // Without an id, and with one that is not sane, the answer carries a
    // new UUID, and its access line the same; a rewritten spelling of the
    // path is logged by its route template.
    for sent in [None, Some("two words")] {
        let answer = get(&address, "/stacky/deployments/", sent).await;
        assert_eq!(answer.status, 200);
        let generated = answer.header("x-request-id").unwrap().to_owned();
        let uuid = uuid::Uuid::try_parse(&generated).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(
            without_time(access_line(&query, &generated).await),
            access("GET", "/stacky/deployments", 200, &generated)
        );
    }

    // Errors too: an unknown route is logged by the path asked for.
    let answer = get(&address, "/stacky/nope/", Some("req-404")).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.header("x-request-id"), Some("req-404"));
    assert_eq!(
        without_time(access_line(&query, "req-404").await),
        access("GET", "/stacky/nope/", 404, "req-404")
    );
    let answer = get(&address, "/stacky/uuid?uuid=not-a-uuid", Some("req-400")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("x-request-id"), Some("req-400"));
    assert_eq!(
        without_time(access_line(&query, "req-400").await),
        access("GET", "/stacky/uuid", 400, "req-400")
    );

    // One access line per request, and every line JSON (records() checks).
    let access_lines = query
        .records()
        .into_iter()
        .filter(|record| record["target"] == "tach_query::access")
        .count();
    assert_eq!(access_lines, 5);
    query.stop().await;
    db.drop_database().await;
}

#[tokio::test]
async fn an_unknown_log_format_stops_either_binary_naming_it() {
    for program in [INGEST, QUERY] {
        let run = Command::new(program)
            .env_clear()
            .env("TACH_LOG_FORMAT", "xml")
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("the flags are checked before anything starts")
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{program}: {said}");
        assert!(
            said.contains("invalid value 'xml' for '--log-format <LOG_FORMAT>'")
                && said.contains("unknown log format \"xml\": expected text or json"),
            "{program}: {said}"
        );
    }
}
