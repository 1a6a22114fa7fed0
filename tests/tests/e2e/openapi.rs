//! tach-query's OpenAPI document holds for its own answers: schemathesis
//! reads `/openapi.json` from a live tach-query over events of every family
//! and sends valid and invalid requests to every documented operation; no
//! answer may be a 5xx, and each must have a documented status, content type
//! and body schema.

use std::time::Duration;

use chrono::{DurationRound, TimeDelta, Utc};
use tach_schema::Store;
use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::samples::store_generated;
use tach_tests::harness::{self, python, TestDatabase};

/// Pinned: another version generates other requests from the same seed.
const SCHEMATHESIS: &str = "4.32.5";

/// The token release writes require here; schemathesis sends it on every
/// request, so its writes get past the check and reach the handlers.
const TOKEN: &str = "schemathesis-token";

/// Crash reports, products and releases over the last two weeks, nova and
/// glance over the last day: a few hundred events ending about now, so the
/// default windows of searches, summaries and KPIs hold rows.
fn scenarios() -> [Scenario; 2] {
    let hour = |days| {
        (Utc::now() - TimeDelta::days(days))
            .duration_trunc(TimeDelta::hours(1))
            .unwrap()
    };
    let none = Scenario {
        instances: 0,
        images: 0,
        crashes: 0,
        releases: 0,
        products: 0,
        ..Scenario::default()
    };
    [
        Scenario {
            seed: 41,
            start: hour(14),
            crashes: 40,
            releases: 2,
            products: 2,
            ..none.clone()
        },
        Scenario {
            seed: 42,
            start: hour(1),
            instances: 5,
            images: 2,
            ..none
        },
    ]
}

/// The flags of `schemathesis run`: every check that judges the document,
/// valid and invalid requests, a fixed seed and count so a run repeats
/// (about a minute here), one worker (threads in Python 3.11 hit a race in
/// its `ast` module, an error of the tool, not of the API), `/ui/`, streams
/// and the Prometheus text of `/metrics` left out, and every failure of an
/// operation reported rather than its first.
const FLAGS: [&str; 18] = [
    "--checks",
    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
    "--mode",
    "all",
    "--max-examples",
    "50",
    "--seed",
    "1",
    "--workers",
    "1",
    "--request-timeout",
    "10",
    "--exclude-path-regex",
    "^/(ui/|metrics$)|/stream$",
    "--continue-on-failure",
    "--generation-database",
    "none",
    "--no-color",
];

#[tokio::test]
async fn schemathesis_finds_every_answer_as_the_document_says() {
    // A tool that cannot be installed fails the test with the reason: a
    // skipped conformance run would pass without proving anything.
    let python = tokio::task::spawn_blocking(|| {
        let name = format!("tach-schemathesis-{SCHEMATHESIS}");
        let package = format!("schemathesis=={SCHEMATHESIS}");
        python::virtualenv(&name, &[&package], |_, _| Ok(()))
    })
    .await
    .unwrap()
    .unwrap_or_else(|why| panic!("pip must install schemathesis {SCHEMATHESIS} (PyPI): {why}"));
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    for scenario in scenarios() {
        store_generated(&store, &generate(&scenario), Utc::now()).await;
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let state = tach_query::AppState {
        api_token: Some(TOKEN.to_owned()),
        ..tach_query::AppState::new(db.pool.clone())
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(tach_query::serve(
        listener,
        state,
        Duration::from_secs(30),
        shutdown.clone(),
    ));
    // schemathesis replays the requests it cached in its working directory,
    // and Hypothesis keeps files there too: a fresh one per run, so no run
    // depends on an earlier one.
    let work = std::env::temp_dir().join(format!("tach-st-run-{}", harness::unique_suffix()));
    std::fs::create_dir_all(&work).unwrap();
    let schema = format!("http://{address}/openapi.json");
    let authorization = format!("Authorization: Bearer {TOKEN}");
    let run = tokio::process::Command::new(python.with_file_name("schemathesis"))
        .args(["run", schema.as_str(), "--header", authorization.as_str()])
        .args(FLAGS)
        .current_dir(&work)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("schemathesis finishes within 10 minutes")
        .expect("schemathesis runs");
    shutdown.cancel();
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&work);
    // Its summary (operations, API calls, warnings) is in the test's output.
    println!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "schemathesis failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    db.drop_database().await;
}
