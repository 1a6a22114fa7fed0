//! The release API (API.md §3) against real services: a lifecycle written
//! over HTTP and the same events over the bus read the same; Observatory's
//! endpoints answer exact bodies for a fixed stream; Orlo's filters, status
//! derivation, info and stats; the bearer token; every bad input; and
//! orloclient's own integration tests against a live tach-query.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{json, Value};
use sqlx::Row;
use tach_schema::{ExchangeFamily, Store};
use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::samples::{read_sample, store_messages};
use tach_tests::harness::{self, python, TestApi, TestBroker, TestDatabase, TestIngest};
use tach_tests::publish::Publisher;

/// POSTs and asserts the status; returns the body.
async fn post(api: &TestApi, path: &str, body: Option<Value>, status: StatusCode) -> Value {
    let (got, answer) = api.post(path, body).await;
    assert_eq!(got, status, "POST {path}: {answer}");
    answer
}

/// Creates a release over HTTP; returns its id.
async fn create_release(api: &TestApi, body: Value) -> String {
    let answer = post(api, "/releases", Some(body), StatusCode::OK).await;
    let id = answer["id"].as_str().expect("an id").to_owned();
    uuid::Uuid::parse_str(&id).expect("the id is a UUID");
    id
}

/// Adds a package over HTTP; returns its id.
async fn create_package(api: &TestApi, release: &str, body: Value) -> String {
    let path = format!("/releases/{release}/packages");
    let answer = post(api, &path, Some(body), StatusCode::OK).await;
    answer["id"].as_str().expect("an id").to_owned()
}

async fn package_action(
    api: &TestApi,
    release: &str,
    package: &str,
    action: &str,
    body: Option<Value>,
) {
    let path = format!("/releases/{release}/packages/{package}/{action}");
    post(api, &path, body, StatusCode::NO_CONTENT).await;
}

/// The lifecycle orloclient drives, plus notes, metadata and a failed package.
async fn http_lifecycle(api: &TestApi) -> String {
    let release = create_release(
        api,
        json!({"platforms": ["testplatform"], "user": "testuser", "team": "siteops",
               "references": ["TICKET-1"], "note": "a note", "metadata": {"env": "test"}}),
    )
    .await;
    let one = create_package(
        api,
        &release,
        json!({"name": "package_one", "version": "1.2.3"}),
    )
    .await;
    let two = create_package(
        api,
        &release,
        json!({"name": "package_two", "version": "2.0", "rollback": true, "diff_url": "https://example.com/d"}),
    )
    .await;
    package_action(api, &release, &one, "start", None).await;
    package_action(
        api,
        &release,
        &one,
        "results",
        Some(json!({"content": "test results"})),
    )
    .await;
    package_action(api, &release, &one, "stop", Some(json!({"success": true}))).await;
    package_action(api, &release, &two, "start", None).await;
    package_action(api, &release, &two, "stop", Some(json!({"success": "no"}))).await;
    post(
        api,
        &format!("/release/{release}/notes"),
        Some(json!({"text": "second note"})),
        StatusCode::NO_CONTENT,
    )
    .await;
    post(
        api,
        &format!("/releases/{release}/metadata"),
        Some(json!({"build": "42"})),
        StatusCode::NO_CONTENT,
    )
    .await;
    post(
        api,
        &format!("/releases/{release}/stop"),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    release
}

/// Every read the lifecycle shows up in.
fn read_paths(release: &str, package: &str) -> Vec<String> {
    let mut paths: Vec<String> = [
        "/releases",
        "/releases?asc=true",
        "/packages",
        "/info/users",
        "/info/platforms",
        "/info/packages",
        "/info/packages/versions",
        "/stats",
        "/stats/user",
        "/stats/package",
        "/stats/team/siteops",
        "/stats/by_date/release?unit=day",
        "/stats/by_date/package",
    ]
    .iter()
    .map(|path| path.to_string())
    .collect();
    paths.push(format!("/releases/{release}"));
    paths.push(format!("/packages/{package}"));
    paths
}

#[tokio::test]
async fn a_lifecycle_over_http_reads_as_the_same_events_over_the_bus() {
    harness::init_tracing();
    let over_http = TestDatabase::create().await;
    let api = TestApi::new(over_http.pool.clone());
    let release = http_lifecycle(&api).await;

    let answer = api.ok(&format!("/releases/{release}")).await;
    let read = &answer["releases"][0];
    assert_eq!(read["status"], "FAILED");
    assert_eq!(read["notes"], json!(["a note", "second note"]));
    assert_eq!(read["metadata"], json!({"env": "test", "build": "42"}));
    assert_eq!(
        (read["team"].clone(), read["platforms"].clone()),
        (json!("siteops"), json!(["testplatform"]))
    );
    let statuses: Vec<&Value> = read["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["status"])
        .collect();
    assert_eq!(statuses, [&json!("SUCCESSFUL"), &json!("FAILED")]);
    assert_eq!(read["packages"][1]["rollback"], true);
    assert!(
        read["ftime"].is_string() && read["duration"].is_i64(),
        "{read}"
    );
    let package = read["packages"][0]["id"].as_str().unwrap().to_owned();

    // The very events the writes stored, published over the bus in reverse.
    let rows = sqlx::query(
        "SELECT event, body::text AS body FROM raw_events WHERE family = 'deploy' ORDER BY id DESC",
    )
    .fetch_all(&over_http.pool)
    .await
    .unwrap();
    let over_bus = TestDatabase::create().await;
    let broker = TestBroker::new();
    let ingest = TestIngest::start(
        &over_bus.url,
        vec![broker.deployment(&broker.amqp_url)],
        harness::test_settings(),
    )
    .await;
    let publisher = Publisher::connect(&broker.amqp_url, &broker.prefix)
        .await
        .unwrap();
    publisher.declare_exchanges().await.unwrap();
    broker.wait_for_consumer("tach.events").await;
    for row in &rows {
        let (event, body): (String, String) = (row.get("event"), row.get("body"));
        publisher
            .publish_raw("tach", &event, body.as_bytes())
            .await
            .unwrap();
    }
    let expected = rows.len() as i64;
    harness::wait_until(
        "the bus lifecycle stored",
        Duration::from_secs(60),
        || async { over_bus.count("raw_events").await >= expected },
    )
    .await;

    let bus_api = TestApi::new(over_bus.pool.clone());
    for path in read_paths(&release, &package) {
        assert_eq!(bus_api.ok(&path).await, api.ok(&path).await, "{path}");
    }
    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    over_http.drop_database().await;
    over_bus.drop_database().await;
}

/// A tach-family message.
fn message(event_type: &str, when: DateTime<Utc>, id: &str, payload: Value) -> Value {
    json!({"message_id": id, "publisher_id": "release.tooling", "event_type": event_type,
           "priority": "INFO", "timestamp": when.format("%Y-%m-%d %H:%M:%S%.6f").to_string(), "payload": payload})
}

const V33: &str = "00000000-0000-4000-8000-000000000033";
const V34: &str = "00000000-0000-4000-8000-000000000034";

/// Socorro's real v33 tag object (the seed's example).
fn v33_tag() -> Value {
    read_sample("releases/github-git-tags-mozilla-socorro-v2.3-v48.json")
        .into_iter()
        .find(|tag| tag["tag"] == "v33")
        .expect("the sample holds v33")
}

/// Two releases (v33 finished, v34 in progress), deploys to two
/// environments and status samples, at fixed offsets from `base`.
fn observatory_stream(base: DateTime<Utc>) -> Vec<Value> {
    let at = |minutes: i64| base + TimeDelta::minutes(minutes);
    let mut create = v33_tag();
    create["id"] = json!(V33);
    create["user"] = json!("lonnen");
    create["platforms"] = json!(["prod"]);
    let package = json!({"release_id": V33, "package_id": "00000000-0000-4000-8000-0000000000a1",
                         "name": "socorro", "version": "33", "rollback": false, "diff_url": null});
    let mut stop = package.clone();
    stop["success"] = json!(true);
    let v34_package = json!({"release_id": V34, "package_id": "00000000-0000-4000-8000-0000000000a2",
                             "name": "socorro", "version": "34"});
    let status = |id: u64, minutes: i64, waiting: u64| {
        let created = at(minutes);
        json!({"environment": "prod", "id": id, "date_created": created.to_rfc3339(),
               "waiting_job_count": waiting, "processors_count": 10, "avg_wait_sec": 4.5,
               "avg_process_sec": 2.25, "date_oldest_job_queued": (created - TimeDelta::seconds(7)).to_rfc3339(),
               "date_recently_completed": (created - TimeDelta::seconds(1)).to_rfc3339()})
    };
    vec![
        message("release.create", at(0), "m01", create),
        message("release.start", at(1), "m02", json!({"release_id": V33})),
        message("package.start", at(2), "m03", package),
        message("package.end", at(12), "m04", stop),
        message("release.end", at(13), "m05", json!({"release_id": V33})),
        message(
            "release.create",
            at(20),
            "m06",
            json!({"id": V34, "tag": "v34", "ref": "refs/tags/v34", "message": "unreleased", "user": "lonnen", "platforms": "prod"}),
        ),
        message("release.start", at(21), "m07", json!({"release_id": V34})),
        message("package.start", at(22), "m08", v34_package),
        message(
            "environment.deploy",
            at(14),
            "m09",
            json!({"environment": "prod", "revisions": {"socorro": "1496281f8da7a13c8883961a7a235719383533f5", "breakpad": "1094"}}),
        ),
        message(
            "environment.deploy",
            at(-60),
            "m10",
            json!({"environment": "prod", "revisions": {"socorro": "old", "breakpad": "1000"}}),
        ),
        message(
            "environment.deploy",
            at(15),
            "m11",
            json!({"environment": "stage", "revisions": {"socorro": "ec6bdf4697187f9ba8db188dc0a95cb71786bfc2"}}),
        ),
        message("environment.status", at(30), "m12", status(441486, 30, 18)),
        message("environment.status", at(35), "m13", status(441487, 35, 20)),
        message(
            "environment.status",
            at(-8 * 24 * 60),
            "m14",
            status(400000, -8 * 24 * 60, 99),
        ),
    ]
}

fn orlo_time(when: DateTime<Utc>) -> String {
    when.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn observatory_time(when: DateTime<Utc>) -> String {
    when.format("%b %d %Y %H:%M:%S").to_string()
}

#[tokio::test]
async fn observatory_endpoints_answer_exact_bodies() {
    let db = TestDatabase::create().await;
    let base = (Utc::now() - TimeDelta::hours(2))
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap();
    let store = Store::new(db.pool.clone());
    let stream = observatory_stream(base);
    // Reversed and in two batches: arrival order must not matter.
    let (late, early) = stream.split_at(7);
    store_messages(
        &store,
        "release-bus",
        ExchangeFamily::Tach,
        &early.iter().rev().cloned().collect::<Vec<_>>(),
    )
    .await;
    store_messages(&store, "release-bus", ExchangeFamily::Tach, late).await;
    let api = TestApi::new(db.pool.clone());
    let at = |minutes: i64| base + TimeDelta::minutes(minutes);

    for path in [
        "/release/v33",
        "/releases/v33",
        "/releases/33",
        "/releases/33/",
        "/release/33",
    ] {
        assert_eq!(api.ok(path).await, v33_tag(), "{path}");
    }
    assert_eq!(
        api.get("/release/v99").await,
        (
            StatusCode::NOT_FOUND,
            json!({"message": "release v99 not found"})
        )
    );

    let tag = v33_tag();
    let expected_releases = json!({"releases": [
        {"id": V34, "user": "lonnen", "team": null, "platforms": ["prod"], "references": [], "notes": [],
         "metadata": {}, "stime": orlo_time(at(21)), "ftime": null, "duration": null, "status": "IN_PROGRESS",
         "packages": [{"id": "00000000-0000-4000-8000-0000000000a2", "release_id": V34, "name": "socorro",
                       "version": "34", "rollback": false, "diff_url": null, "status": "IN_PROGRESS",
                       "stime": orlo_time(at(22)), "ftime": null, "duration": null}],
         "tag": "v34", "ref": "refs/tags/v34", "sha": null, "message": "unreleased", "tagger": null, "url": null, "object": null},
        {"id": V33, "user": "lonnen", "team": null, "platforms": ["prod"], "references": [], "notes": [],
         "metadata": {}, "stime": orlo_time(at(1)), "ftime": orlo_time(at(13)), "duration": 720, "status": "SUCCESSFUL",
         "packages": [{"id": "00000000-0000-4000-8000-0000000000a1", "release_id": V33, "name": "socorro",
                       "version": "33", "rollback": false, "diff_url": null, "status": "SUCCESSFUL",
                       "stime": orlo_time(at(2)), "ftime": orlo_time(at(12)), "duration": 600}],
         "tag": "v33", "ref": null, "sha": tag["sha"], "message": tag["message"], "tagger": tag["tagger"],
         "url": tag["url"], "object": tag["object"]},
    ]});
    assert_eq!(api.ok("/releases").await, expected_releases);

    let sample = |id: u64, minutes: i64, waiting: u64| {
        let created = at(minutes);
        json!({"date_oldest_job_queued": observatory_time(created - TimeDelta::seconds(7)),
               "date_recently_completed": observatory_time(created - TimeDelta::seconds(1)),
               "processors_count": 10, "avg_wait_sec": 4.5, "waiting_job_count": waiting,
               "date_created": observatory_time(created), "id": id, "avg_process_sec": 2.25})
    };
    let hh_mm = |minutes: i64| at(minutes).format("%H:%M").to_string();
    let prod = json!({
        "socorroRevision": "1496281f8da7a13c8883961a7a235719383533f5", "breakpadRevision": "1094",
        "data": [sample(441487, 35, 20), sample(441486, 30, 18)],
        "plotData": {"waiting_job_count": [[1, 20], [0, 18]], "avg_wait_sec": [[1, 4.5], [0, 4.5]],
                     "processors_count": [[1, 10], [0, 10]], "avg_process_sec": [[1, 2.25], [0, 2.25]],
                     "xaxis_ticks": [[1, hh_mm(35)], [0, hh_mm(30)]]},
    });
    let stage = json!({"socorroRevision": "ec6bdf4697187f9ba8db188dc0a95cb71786bfc2", "data": [],
                       "plotData": {"waiting_job_count": [], "avg_wait_sec": [], "processors_count": [],
                                    "avg_process_sec": [], "xaxis_ticks": []}});
    assert_eq!(api.ok("/environment/prod").await, json!({"prod": prod}));
    assert_eq!(
        api.ok("/environments/").await,
        json!({"prod": prod, "stage": stage})
    );
    assert_eq!(
        api.get("/environment/dev").await,
        (
            StatusCode::NOT_FOUND,
            json!({"message": "environment dev not found"})
        )
    );
    db.drop_database().await;
}

/// Four releases covering every release status.
struct Fixture {
    api: TestApi,
    /// alice, one successful package, stopped: SUCCESSFUL.
    a: String,
    /// bob, a failed rollback package and an unstarted one, stopped: FAILED.
    b: String,
    /// alice, no team, one package in progress: IN_PROGRESS.
    c: String,
    /// carol, no packages, not stopped: NOT_STARTED.
    d: String,
}

async fn fixture() -> (TestDatabase, Fixture) {
    let db = TestDatabase::create().await;
    let api = TestApi::new(db.pool.clone());
    let a = create_release(
        &api,
        json!({"user": "alice", "team": "t1", "platforms": ["web"]}),
    )
    .await;
    let pa = create_package(&api, &a, json!({"name": "api", "version": "1"})).await;
    package_action(&api, &a, &pa, "start", None).await;
    package_action(&api, &a, &pa, "stop", Some(json!({"success": "1"}))).await;
    post(
        &api,
        &format!("/releases/{a}/stop"),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let b = create_release(
        &api,
        json!({"user": "bob", "team": "t2", "platforms": ["web", "db"]}),
    )
    .await;
    let pb = create_package(
        &api,
        &b,
        json!({"name": "api", "version": "2", "rollback": true}),
    )
    .await;
    create_package(&api, &b, json!({"name": "db", "version": "9"})).await;
    package_action(&api, &b, &pb, "start", None).await;
    package_action(&api, &b, &pb, "stop", None).await;
    post(
        &api,
        &format!("/releases/{b}/stop"),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let c = create_release(&api, json!({"user": "alice", "platforms": "db"})).await;
    let pc = create_package(&api, &c, json!({"name": "db", "version": "3"})).await;
    package_action(&api, &c, &pc, "start", None).await;
    let d = create_release(&api, json!({"user": "carol", "platforms": ["web"]})).await;
    (db, Fixture { api, a, b, c, d })
}

/// The ids `GET path` answers, in order.
async fn ids(api: &TestApi, path: &str) -> Vec<String> {
    let body = api.ok(path).await;
    body["releases"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: {body}"))
        .iter()
        .map(|release| release["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn filters_status_info_and_stats() {
    let (db, f) = fixture().await;
    let api = &f.api;
    let (a, b, c, d) = (f.a.clone(), f.b.clone(), f.c.clone(), f.d.clone());
    let newest_first = vec![d.clone(), c.clone(), b.clone(), a.clone()];
    assert_eq!(ids(api, "/releases").await, newest_first);
    assert_eq!(
        ids(api, "/releases?asc=true").await,
        newest_first.iter().rev().cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        ids(api, "/releases?limit=2&offset=1").await,
        vec![c.clone(), b.clone()]
    );
    for (status, id) in [
        ("SUCCESSFUL", &a),
        ("FAILED", &b),
        ("IN_PROGRESS", &c),
        ("NOT_STARTED", &d),
    ] {
        assert_eq!(
            ids(api, &format!("/releases?status={status}")).await,
            vec![id.clone()],
            "{status}"
        );
    }
    let cases: [(&str, Vec<&String>); 12] = [
        ("user=alice", vec![&c, &a]),
        ("team=t2", vec![&b]),
        ("team=null", vec![&d, &c]),
        ("platform=db", vec![&c, &b]),
        ("package_name=db", vec![&c, &b]),
        ("package_name=api&package_version=2", vec![&b]),
        ("package_rollback=true", vec![&b]),
        ("package_status=NOT_STARTED", vec![&b]),
        ("ftime_after=2000-01-01T00:00:00Z", vec![&b, &a]),
        ("ftime_before=null", vec![&d, &c]),
        ("duration_lt=3600&stime_after=2000-01-01", vec![&b, &a]),
        ("duration_gt=3600", vec![]),
    ];
    for (query, expected) in cases {
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(
            ids(api, &format!("/releases?{query}")).await,
            expected,
            "{query}"
        );
    }
    assert_eq!(
        api.ok("/releases?user=nobody").await,
        json!({"releases": []})
    );

    assert_eq!(
        api.ok("/info/users").await,
        json!({"alice": {"releases": 2}, "bob": {"releases": 1}, "carol": {"releases": 1}})
    );
    assert_eq!(
        api.ok("/info/users/alice").await,
        json!({"alice": {"releases": 2}})
    );
    assert_eq!(
        api.ok("/info/platforms").await,
        json!({"db": {"releases": 2}, "web": {"releases": 3}})
    );
    assert_eq!(
        api.ok("/info/packages?platform=web").await,
        json!({"api": {"releases": 2}, "db": {"releases": 1}})
    );
    assert_eq!(api.ok("/info/packages/versions").await, json!({"api": "1"}));
    let counts = |ns: i64, nf: i64, rs: i64, rf: i64| {
        json!({"releases": {"normal": {"successful": ns, "failed": nf}, "rollback": {"successful": rs, "failed": rf},
                            "total": {"successful": ns + rs, "failed": nf + rf}}})
    };
    assert_eq!(
        api.ok("/stats").await,
        json!({"global": counts(1, 0, 0, 1)})
    );
    assert_eq!(
        api.ok("/stats/user/alice").await,
        json!({"alice": counts(1, 0, 0, 0)})
    );
    assert_eq!(
        api.ok("/stats/user").await,
        json!({"alice": counts(1, 0, 0, 0), "bob": counts(0, 0, 0, 1), "carol": counts(0, 0, 0, 0)})
    );
    assert_eq!(
        api.ok("/stats/package/api").await,
        json!({"api": counts(1, 0, 0, 1)})
    );
    assert_eq!(
        api.ok("/stats/platform?platform=db").await,
        json!({"db": counts(0, 0, 0, 1), "web": counts(0, 0, 0, 1)})
    );

    assert_eq!(
        api.ok("/stats?stime=2100-01-01T00:00:00Z").await,
        json!({"global": counts(0, 0, 0, 0)})
    );
    assert_eq!(
        api.ok("/info/packages/db").await,
        json!({"db": {"releases": 2}})
    );

    // A release without packages succeeds once it stops.
    post(
        api,
        &format!("/releases/{d}/stop"),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(
        api.ok(&format!("/releases/{d}")).await["releases"][0]["status"],
        "SUCCESSFUL"
    );
    assert_eq!(
        api.ok("/packages?name=db&status=IN_PROGRESS").await["packages"][0]["release_id"],
        json!(c)
    );
    db.drop_database().await;
}

#[tokio::test]
async fn writes_need_the_token_when_one_is_set() {
    let db = TestDatabase::create().await;
    let api = TestApi::with_token(db.pool.clone(), Some("s3cret"));
    let body = json!({"user": "u", "platforms": ["p"]}).to_string();
    let refused =
        json!({"message": "a valid token is required (Authorization: Bearer or X-Auth-Token)"});
    assert_eq!(
        api.post_raw("/releases", Some(body.as_bytes()), None).await,
        (StatusCode::UNAUTHORIZED, refused.clone())
    );
    assert_eq!(
        api.post_raw("/releases", Some(body.as_bytes()), Some("wrong"))
            .await,
        (StatusCode::UNAUTHORIZED, refused.clone())
    );
    let (status, created) = api
        .post_raw("/releases", Some(body.as_bytes()), Some("s3cret"))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        api.post_raw(&format!("/releases/{id}/stop"), None, None)
            .await,
        (StatusCode::UNAUTHORIZED, refused)
    );
    assert_eq!(ids(&api, "/releases").await, vec![id.to_owned()]);
    let (status, _) = api
        .post_raw(&format!("/releases/{id}/stop"), None, Some("s3cret"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    db.drop_database().await;
}

#[tokio::test]
async fn every_bad_input_gets_a_4xx_with_a_message() {
    let db = TestDatabase::create().await;
    let api = TestApi::new(db.pool.clone());
    let release = create_release(&api, json!({"user": "u", "platforms": ["p"]})).await;
    let package = create_package(&api, &release, json!({"name": "n", "version": "1"})).await;
    let unknown = "6f1e8c2a-0000-4000-8000-000000000000";
    let posts: Vec<(String, Option<&[u8]>, StatusCode)> = vec![
        (
            "/releases".into(),
            Some(b"{not json"),
            StatusCode::BAD_REQUEST,
        ),
        ("/releases".into(), Some(b"[1]"), StatusCode::BAD_REQUEST),
        (
            "/releases".into(),
            Some(br#"{"user": "u"}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/releases".into(),
            Some(br#"{"platforms": ["p"]}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/release".into(),
            Some(br#"{"platforms": ["p"], "user": "u", "metadata": 3}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/releases/{release}/packages"),
            Some(br#"{"name": "p"}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/releases/{release}/notes"),
            Some(b"{}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/releases/{release}/metadata"),
            Some(b"\"x\""),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/releases/{release}/packages/{package}/stop"),
            Some(br#"{"success": true}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/releases/{release}/packages/{package}/results"),
            Some(b"{}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/releases/not-a-uuid/stop".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/releases/{release}/packages/zzz/start"),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/releases/{unknown}/stop"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/releases/{unknown}/packages"),
            Some(br#"{"name": "p", "version": "1"}"#),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/releases/{release}/packages/{unknown}/start"),
            None,
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, body, status) in posts {
        let (got, answer) = api.post_raw(&path, body, None).await;
        assert_eq!(got, status, "POST {path}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "POST {path}: {answer}"
        );
    }
    // NUL, which PostgreSQL's text cannot hold, is kept as its JSON escape
    // (tach_schema::text), not refused.
    let (got, created) = api
        .post_raw(
            "/releases",
            Some(br#"{"user": "u\u0000v", "platforms": ["p"], "team": "t\u0000"}"#),
            None,
        )
        .await;
    assert_eq!(got, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("an id");
    let stored = api.ok(&format!("/releases/{id}")).await;
    let stored = &stored["releases"][0];
    assert_eq!(
        (&stored["user"], &stored["team"]),
        (&json!("u\\u0000v"), &json!("t\\u0000")),
        "{stored}"
    );
    let gets = [
        (format!("/releases/{unknown}"), StatusCode::NOT_FOUND),
        ("/releases?bogus_filter=1".into(), StatusCode::BAD_REQUEST),
        (
            "/releases?limit=1&desc=true".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("/releases?limit=-1".into(), StatusCode::BAD_REQUEST),
        ("/releases?status=DONE".into(), StatusCode::BAD_REQUEST),
        (
            "/releases?stime_after=yesterday".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("/packages/12".into(), StatusCode::BAD_REQUEST),
        (format!("/packages/{unknown}"), StatusCode::NOT_FOUND),
        ("/packages?colour=red".into(), StatusCode::BAD_REQUEST),
        (
            "/stats/by_date/release?unit=fortnight".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("/stats/colour".into(), StatusCode::NOT_FOUND),
        ("/releases/x/y/z/w".into(), StatusCode::NOT_FOUND),
        // A NUL byte is text PostgreSQL cannot hold: no such environment,
        // and a filter on it is refused.
        ("/environment/a%00b".into(), StatusCode::NOT_FOUND),
        ("/releases?user=a%00b".into(), StatusCode::BAD_REQUEST),
    ];
    for (path, status) in gets {
        let (got, answer) = api.get(&path).await;
        assert_eq!(got, status, "GET {path}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "GET {path}: {answer}"
        );
    }
    // Nothing the bad requests sent was stored: the release is as created.
    let read = api.ok(&format!("/releases/{release}")).await;
    assert_eq!(
        (
            read["releases"][0]["notes"].clone(),
            read["releases"][0]["status"].clone()
        ),
        (json!([]), json!("NOT_STARTED"))
    );
    assert_eq!(api.ok("/ping").await, json!({"message": "pong"}));
    db.drop_database().await;
}

/// Where orloclient 0.4.5, its sdist's tests and the stubs they need live
/// (CLIENTS.md §2), prepared once per machine.
struct Orloclient {
    python: std::path::PathBuf,
    sdist: std::path::PathBuf,
    stubs: std::path::PathBuf,
}

/// The stub modules that let orloclient's integration tests run against any
/// server on port 7767: they import Flask-Testing and Orlo only to start
/// Orlo in-process.
const ORLOCLIENT_STUBS: [(&str, &str); 5] = [
    ("flask/__init__.py", ""),
    ("flask/ext/__init__.py", ""),
    (
        "flask/ext/testing.py",
        "import unittest\n\n\nclass LiveServerTestCase(unittest.TestCase):\n    pass\n",
    ),
    (
        "orlo/__init__.py",
        "class _App(object):\n    config = {}\n\n\napp = _App()\nfrom orlo import orm  # noqa\n",
    ),
    (
        "orlo/orm.py",
        "class _Session(object):\n    def remove(self):\n        pass\n\n\nclass _Db(object):\n    session = _Session()\n\n    def create_all(self):\n        pass\n\n    def drop_all(self):\n        pass\n\n\ndb = _Db()\n",
    ),
];

/// A virtualenv with orloclient, its sdist unpacked, and the stubs; `Err`
/// says why pip could not provide them.
fn orloclient() -> Result<Orloclient, String> {
    let name = "tach-orloclient-0.4.5";
    let unpack_sdist = |python: &std::path::Path, root: &std::path::Path| {
        let sdist = root.join("sdist").to_string_lossy().into_owned();
        let download = [
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            "orloclient==0.4.5",
            "-d",
            &sdist,
        ];
        python::run(python, &download)?;
        let unpack = "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])";
        let archive = format!("{sdist}/orloclient-0.4.5.tar.gz");
        python::run(python, &["-c", unpack, &archive, &sdist])
    };
    let python = python::virtualenv(name, &["orloclient==0.4.5", "six", "arrow<1"], unpack_sdist)?;
    let root = std::env::temp_dir().join(name);
    let sdist = root.join("sdist");
    let stubs = root.join("stubs");
    for (path, text) in ORLOCLIENT_STUBS {
        let path = stubs.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    Ok(Orloclient {
        python,
        sdist: sdist.join("orloclient-0.4.5"),
        stubs,
    })
}

/// orloclient's tests talk to http://localhost:7767, fixed. Another run of
/// this suite on the machine may hold the port for a few seconds: wait for it.
async fn bind_orloclient_port() -> tokio::net::TcpListener {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        match tokio::net::TcpListener::bind("127.0.0.1:7767").await {
            Ok(listener) => return listener,
            Err(error) => assert!(
                tokio::time::Instant::now() < deadline,
                "port 7767 (orloclient's integration tests use it) stayed busy: {error}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn orloclients_own_integration_tests_pass() {
    // A client that cannot be installed fails the test with the reason: a
    // skipped compatibility test would pass without proving anything.
    let client = tokio::task::spawn_blocking(orloclient)
        .await
        .unwrap()
        .unwrap_or_else(|why| panic!("pip must install orloclient 0.4.5 (PyPI): {why}"));
    let db = TestDatabase::create().await;
    let listener = bind_orloclient_port().await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(tach_query::serve(
        listener,
        tach_query::AppState::new(db.pool.clone()),
        Duration::from_secs(30),
        shutdown.clone(),
    ));
    let output = tokio::process::Command::new(&client.python)
        .args(["-m", "unittest", "-v", "tests.test_integration"])
        .current_dir(&client.sdist)
        .env("PYTHONPATH", &client.stubs)
        .output()
        .await
        .expect("python runs");
    shutdown.cancel();
    let _ = server.await;
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("Ran 11 tests"), "{report}");
    db.drop_database().await;
}

/// Reads that show every part of the deploy family.
const GENERATED_READS: [&str; 9] = [
    "/releases",
    "/packages",
    "/environments",
    "/environment/prod",
    "/stats",
    "/stats/user",
    "/info/packages",
    "/info/packages/versions",
    "/stats/by_date/package?unit=hour",
];

#[tokio::test]
async fn a_generated_stream_reads_the_same_over_the_bus_and_in_any_order() {
    let scenario = Scenario {
        seed: 5,
        start: (Utc::now() - TimeDelta::days(1))
            .duration_trunc(TimeDelta::hours(1))
            .unwrap(),
        instances: 0,
        images: 0,
        crashes: 0,
        releases: 3,
        products: 0,
        ..Scenario::default()
    };
    let messages: Vec<_> = generate(&scenario)
        .into_iter()
        .filter(|message| message.exchange == "tach")
        .collect();
    let over_bus = TestDatabase::create().await;
    let broker = TestBroker::new();
    let deployments = vec![broker.deployment(&broker.amqp_url)];
    let ingest = TestIngest::start(&over_bus.url, deployments, harness::test_settings()).await;
    let publisher = Publisher::connect(&broker.amqp_url, &broker.prefix)
        .await
        .unwrap();
    publisher.declare_exchanges().await.unwrap();
    broker.wait_for_consumer("tach.events").await;
    publisher.publish(&messages, None).await.unwrap();

    // The same stream stored directly, newest first, in batches of five.
    let reversed = TestDatabase::create().await;
    let store = Store::new(reversed.pool.clone());
    let bodies: Vec<Value> = messages.iter().rev().map(|m| m.body.clone()).collect();
    for batch in bodies.chunks(5) {
        store_messages(&store, "reversed", ExchangeFamily::Tach, batch).await;
    }
    let expected = messages.len() as i64;
    harness::wait_until("the stream stored", Duration::from_secs(60), || async {
        over_bus.count("raw_events").await >= expected
    })
    .await;

    let (bus_api, reversed_api) = (
        TestApi::new(over_bus.pool.clone()),
        TestApi::new(reversed.pool.clone()),
    );
    for path in GENERATED_READS {
        assert_eq!(
            bus_api.ok(path).await,
            reversed_api.ok(path).await,
            "{path}"
        );
    }
    assert_generated_reads(&bus_api, &bodies).await;
    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    over_bus.drop_database().await;
    reversed.drop_database().await;
}

/// What the generated messages themselves say the reads must hold.
async fn assert_generated_reads(api: &TestApi, newest_first: &[Value]) {
    let of_type = |event_type: &'static str| {
        newest_first
            .iter()
            .filter(move |body| body["event_type"] == event_type)
            .map(|body| &body["payload"])
    };
    let creates: Vec<&Value> = of_type("release.create").collect();
    for create in &creates {
        let tag = create["tag"].as_str().unwrap();
        let expected: serde_json::Map<String, Value> = tach_schema::release::TAG_FIELDS
            .into_iter()
            .filter_map(|field| Some((field.to_owned(), create.get(field)?.clone())))
            .collect();
        assert_eq!(
            api.ok(&format!("/release/{tag}")).await,
            Value::Object(expected)
        );
    }
    let releases = api.ok("/releases").await;
    assert_eq!(
        releases["releases"].as_array().unwrap().len(),
        creates.len()
    );
    let latest_deploy = of_type("environment.deploy").next().unwrap();
    let prod = &api.ok("/environment/prod").await["prod"];
    for (component, revision) in latest_deploy["revisions"].as_object().unwrap() {
        assert_eq!(&prod[format!("{component}Revision")], revision);
    }
    let samples: Vec<&Value> = of_type("environment.status").collect();
    let data = prod["data"].as_array().unwrap();
    assert_eq!(data.len(), samples.len());
    let ids: Vec<&Value> = data.iter().map(|sample| &sample["id"]).collect();
    let expected_ids: Vec<&Value> = samples.iter().map(|sample| &sample["id"]).collect();
    assert_eq!(ids, expected_ids, "newest first");
    let last = (samples.len() - 1) as i64;
    assert_eq!(
        prod["plotData"]["waiting_job_count"][0],
        json!([last, samples[0]["waiting_job_count"]])
    );
}
