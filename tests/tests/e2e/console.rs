//! The console (`/ui/`) in a real browser: Debian's Chromium, headless,
//! driven by Playwright (tests/python/console_check.py) against the real
//! services and a generated stream. Every view loads at a deep link
//! without console errors and shows the figures the API gives for the
//! stream (exact counts where the API has them), on a wide and a narrow
//! screen; an event published while the live view is open appears without
//! a reload, and after the stream's connection is cut the view resumes
//! without gaps or repeats. Screenshots go to `target/console/`.

use std::process::Stdio;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};
use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::{python, ChaosProxy, TestApi, TestDatabase, TestQuery};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::ingest::{start, wait_for_count, wait_for_queues};

const PLAYWRIGHT: &str = "1.55.0";

/// A stream whose last event is about now (as tach-gen places its own), so
/// the views' default windows (the last 7 days, the last 24 hours) hold it.
fn scenario(seed: u64) -> Scenario {
    let now = Utc::now();
    let mut scenario = Scenario {
        seed,
        start: now,
        instances: 10,
        images: 2,
        crashes: 40,
        releases: 3,
        products: 2,
        ..Scenario::default()
    };
    let last = generate(&scenario)
        .iter()
        .filter_map(|message| message.when())
        .max();
    if let Some(span) = last
        .map(|last| last - now)
        .filter(|span| *span > TimeDelta::zero())
    {
        scenario.start = now - span - TimeDelta::minutes(5);
    }
    scenario
}

/// A query string of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The next line the browser check prints, within four minutes.
async fn line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    expected: &str,
) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(240), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("the browser did not say {expected:?} in time"))
        .unwrap()
}

/// Rows of a stacky table, header excluded.
fn rows(table: &Value) -> usize {
    table
        .as_array()
        .map_or(0, |rows| rows.len().saturating_sub(1))
}

async fn scalar(db: &TestDatabase, sql: &str) -> String {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// The nova event ids stored after `after`.
async fn nova_ids_after(db: &TestDatabase, after: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM raw_events WHERE family = 'nova' AND id > $1 ORDER BY id")
        .bind(after)
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

async fn max_id(db: &TestDatabase) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM raw_events")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// What each view must show for the stored stream, read from the API.
async fn expectations(db: &TestDatabase, api: &TestApi) -> Value {
    let instance = scalar(
        db,
        "SELECT instance FROM raw_events WHERE family = 'nova' AND instance IS NOT NULL
          GROUP BY instance ORDER BY count(*) DESC, instance LIMIT 1",
    )
    .await;
    let events = api
        .ok(&format!("/stacky/uuid?uuid={instance}&limit=1000"))
        .await;
    let timings = api
        .ok(&format!("/stacky/timings/uuid?uuid={instance}"))
        .await;
    let launches = api
        .ok(&format!("/stacky/usage/launches?instance={instance}"))
        .await;
    let request = scalar(
        db,
        "SELECT request_id FROM raw_events WHERE family = 'nova' AND request_id IS NOT NULL
          GROUP BY request_id ORDER BY count(*) DESC, request_id LIMIT 1",
    )
    .await;
    let request_events = api
        .ok(&format!("/stacky/request?request_id={request}&limit=1000"))
        .await;
    let summary = api.ok("/stacky/summary?percentiles=50,95,99").await;
    let operation = summary[1][0]
        .as_str()
        .expect("a timed operation")
        .to_owned();
    let durations = api
        .ok(&format!("/stacky/timings?name={operation}&limit=1000"))
        .await;
    let kpi = api.ok("/stacky/kpi").await;
    let (product, version) = {
        let row = sqlx::query_as::<_, (String, String)>(
            "SELECT product, version FROM crash_reports GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        row
    };
    let top = api
        .ok(&format!(
            "/crashes/signatures?product={product}&version={version}&duration=168"
        ))
        .await;
    let crashes = top["crashes"].as_array().expect("crashes").len();
    assert!(crashes > 0, "no crashes in the last 7 days: {top}");
    let signature = top["crashes"][0]["signature"].as_str().unwrap().to_owned();
    let query = form(&[
        ("signature", &signature),
        ("product", &product),
        ("version", &version),
    ]);
    let reports = api
        .ok(&format!(
            "/report/list?{}",
            form(&[
                ("signature", &signature),
                ("products", &product),
                ("versions", &format!("{product}:{version}")),
                ("result_number", "200"),
            ])
        ))
        .await;
    let releases = api.ok("/releases?limit=100").await;
    let release_count = releases["releases"].as_array().unwrap().len();
    let environments = api.ok("/environments").await;
    let environment_count = environments.as_object().unwrap().len();
    assert!(release_count > 0 && environment_count > 0);
    json!({
        "pages": [
            {"name": "instance", "path": format!("/ui/instance?field=instance&value={instance}"),
             "texts": [instance.clone()],
             "counts": {"#events tbody tr": rows(&events), "#timeline .lane": rows(&timings),
                        "#usage table >> nth=0 >> tbody tr": rows(&launches)}},
            {"name": "request", "path": format!("/ui/instance?field=request_id&value={request}"),
             "counts": {"#events tbody tr": rows(&request_events)}},
            {"name": "timings", "path": format!("/ui/timings?operation={operation}"),
             "texts": [format!("{} timings", rows(&durations))],
             "counts": {"#summary tbody tr": rows(&summary), "#kpi tbody tr": rows(&kpi),
                        "#histogram .uplot": 1}},
            {"name": "crashes", "path": format!("/ui/crashes?product={product}&version={version}&duration=168"),
             "texts": [format!("{} crashes, {crashes} signatures", top["totalNumberOfCrashes"])],
             "counts": {"#top-crashers tbody tr": crashes, "#top-crashers svg.sparkline": crashes}},
            {"name": "signature", "path": format!("/ui/signature?{query}"),
             "texts": [format!("{} reports", reports["total"])],
             "counts": {"#reports tbody tr": reports["hits"].as_array().unwrap().len()}},
            {"name": "releases", "path": "/ui/releases",
             "texts": [format!("{release_count} releases")],
             "counts": {"#releases .card": release_count}},
            {"name": "environments", "path": "/ui/environments",
             "counts": {"#environments .card": environment_count, "#environments .uplot": environment_count}},
            {"name": "empty-search", "path": "/ui/instance?field=host&value=no-such-host",
             "texts": ["No events match."]},
            {"name": "api-error", "path": "/ui/instance?field=instance&value=not-a-uuid",
             "texts": ["400: Bad Request: \"not-a-uuid\" is not a UUID"], "api_error": true},
        ],
        "live": "/ui/live?deployment=0&service=nova",
    })
}

#[tokio::test]
async fn every_view_shows_the_streams_figures_and_live_events_arrive_once() {
    let chromium = std::env::var("TACH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "the console tests need Chromium at {chromium} (deploy/test.sh installs Debian's chromium)"
    );
    let python = tokio::task::spawn_blocking(|| {
        let package = format!("playwright=={PLAYWRIGHT}");
        python::virtualenv(
            &format!("tach-playwright-{PLAYWRIGHT}"),
            &[&package],
            |_, _| Ok(()),
        )
    })
    .await
    .unwrap()
    .unwrap_or_else(|why| panic!("pip must install playwright {PLAYWRIGHT} (PyPI): {why}"));

    let (db, broker, ingest, publisher) = start().await;
    wait_for_queues(&broker).await;
    // Releases every six hours from their start: placed in the last day,
    // so the environments have status samples in their 7-day window.
    let mut messages = generate(&Scenario {
        releases: 0,
        ..scenario(21)
    });
    messages.extend(generate(&Scenario {
        seed: 24,
        start: Utc::now() - TimeDelta::hours(20),
        instances: 0,
        images: 0,
        crashes: 0,
        releases: 3,
        products: 0,
        ..Scenario::default()
    }));
    publisher.publish(&messages, None).await.unwrap();
    wait_for_count(&db, "raw_events", messages.len() as i64).await;
    let api = TestApi::new(db.pool.clone());
    let spec = expectations(&db, &api).await;
    let spec_file = std::env::temp_dir().join(format!("{}console.json", broker.prefix));
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/console");
    std::fs::create_dir_all(shots).unwrap();

    // The browser reaches tach-query through a proxy the test can cut.
    let query = TestQuery::start(db.pool.clone()).await;
    let proxy = ChaosProxy::start(query.address.to_string()).await;
    let base = format!("http://{}", proxy.address);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/console_check.py");
    let mut browser = tokio::process::Command::new(&python)
        .args([
            script,
            &base,
            &chromium,
            shots,
            &spec_file.to_string_lossy(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("running the browser check");
    let mut to_browser = browser.stdin.take().unwrap();
    let mut from_browser = BufReader::new(browser.stdout.take().unwrap()).lines();
    let opened = line(&mut from_browser, "live-open").await;
    if opened.as_deref() != Some("live-open") {
        let output = browser.wait_with_output().await.unwrap();
        panic!(
            "the browser check failed before the live view ({opened:?}):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // Published while the view is open: shown without a reload.
    let before = max_id(&db).await;
    let more = generate(&Scenario {
        instances: 2,
        crashes: 0,
        releases: 0,
        images: 0,
        products: 0,
        ..scenario(22)
    });
    publisher.publish(&more, None).await.unwrap();
    wait_for_count(&db, "raw_events", (messages.len() + more.len()) as i64).await;
    let shown = nova_ids_after(&db, before).await;
    assert!(!shown.is_empty());
    let expect = |ids: &[i64]| {
        format!(
            "expect {}\n",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        )
    };
    to_browser
        .write_all(expect(&shown).as_bytes())
        .await
        .unwrap();
    assert_eq!(
        line(&mut from_browser, "seen").await.as_deref(),
        Some("seen")
    );

    // The stream's connection cut, events published meanwhile: every one
    // arrives once the browser has reconnected with its last id.
    let severed = proxy.sever_all().await;
    assert!(severed >= 1, "no open stream to cut");
    let before = max_id(&db).await;
    let during = generate(&Scenario {
        instances: 2,
        crashes: 0,
        releases: 0,
        images: 0,
        products: 0,
        ..scenario(23)
    });
    publisher.publish(&during, None).await.unwrap();
    wait_for_count(
        &db,
        "raw_events",
        (messages.len() + more.len() + during.len()) as i64,
    )
    .await;
    let resumed = nova_ids_after(&db, before).await;
    to_browser
        .write_all(expect(&resumed).as_bytes())
        .await
        .unwrap();
    assert_eq!(
        line(&mut from_browser, "seen").await.as_deref(),
        Some("seen")
    );
    to_browser.write_all(b"finish\n").await.unwrap();
    drop(to_browser);
    let finished = line(&mut from_browser, "the live summary").await;
    let status = tokio::time::timeout(Duration::from_secs(60), browser.wait())
        .await
        .expect("the browser check ends")
        .unwrap();
    let mut stderr = String::new();
    if let Some(mut pipe) = browser.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = pipe.read_to_string(&mut stderr).await;
    }
    assert!(status.success(), "{finished:?}\n{stderr}");
    println!("{}", finished.unwrap_or_default());

    std::fs::remove_file(&spec_file).unwrap();
    query.stop().await;
    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}
