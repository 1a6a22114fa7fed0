//! Both services' `/metrics` after real work: the series SPEC §6 names are
//! there, and `promtool check metrics` accepts the exposition (CLIENTS.md §4);
//! the Grafana dashboard's expressions are PromQL promtool accepts, over
//! metrics that exposition really has.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::{self, TestApi, TestBroker, TestDatabase, TestIngest};
use tach_tests::publish::Publisher;

use crate::ingest::{wait_for_count, wait_for_queues};

/// promtool from `TACH_PROMTOOL` (deploy/test.sh sets it) or the PATH.
fn promtool() -> String {
    std::env::var("TACH_PROMTOOL").unwrap_or_else(|_| "promtool".into())
}

#[tokio::test]
async fn metrics_name_every_series_and_pass_promtool() {
    tach_ingest::metrics::install();
    tach_query::metrics::install();
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
    let messages = generate(&Scenario {
        seed: 3,
        instances: 5,
        images: 1,
        crashes: 3,
        releases: 1,
        products: 1,
        ..Scenario::default()
    });
    publisher.publish(&messages, None).await.unwrap();
    publisher
        .publish_raw("nova", "notifications.info", b"not json")
        .await
        .unwrap();
    wait_for_count(&db, "raw_events", messages.len() as i64).await;
    wait_for_count(&db, "rejected_messages", 1).await;
    ingest.stop().await;

    let api = TestApi::new(db.pool.clone());
    let _ = api.get("/stacky/deployments/").await;
    // /readyz records the read pool's replication (a primary here); the
    // sampler tach-query's process runs records the pools' connections.
    assert_eq!(api.get("/readyz").await.0.as_u16(), 200);
    let sampler = tokio_util::sync::CancellationToken::new();
    tokio::spawn(tach_query::replica::sample_periodically(
        db.pool.clone(),
        None,
        sampler.clone(),
    ));
    harness::wait_until(
        "the sampler's first sample",
        std::time::Duration::from_secs(10),
        || async {
            api.text("/metrics")
                .await
                .contains("tach_query_pool_connections{")
        },
    )
    .await;
    sampler.cancel();
    let exposition = api.text("/metrics").await;
    for name in [
        "tach_ingest_messages_consumed_total",
        "tach_ingest_messages_stored_total",
        "tach_ingest_messages_duplicate_total",
        "tach_ingest_messages_rejected_total",
        "tach_ingest_batch_size_bucket",
        "tach_ingest_commit_duration_seconds_bucket",
        "tach_ingest_lag_seconds_bucket",
        "tach_ingest_pairs_completed_total",
        "tach_ingest_last_commit_timestamp_seconds",
        "tach_http_requests_total",
        "tach_http_request_duration_seconds_bucket",
        "tach_ingest_consumer_up",
        "tach_ingest_reconnects_total",
        "tach_ingest_queue_messages",
        "tach_query_read_pool_replica 0",
        "tach_query_replica_lag_seconds 0",
        "tach_query_replica_lag_bytes 0",
        "tach_query_pool_connections{pool=\"read\",state=\"busy\"}",
    ] {
        assert!(
            exposition.contains(name),
            "{name} missing from:\n{exposition}"
        );
    }
    assert!(
        exposition.contains("reason=\"invalid_json\"} 1"),
        "{exposition}"
    );
    assert!(
        exposition.contains("route=\"/stacky/deployments\""),
        "{exposition}"
    );

    let mut check = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (deploy/test.sh provides it as TACH_PROMTOOL)");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = check.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    check_dashboard(&exposition);

    broker.delete_all().await;
    db.drop_database().await;
}

/// tach's Grafana dashboard, as deploy/compose.yaml provisions it.
const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/grafana/dashboards/tach.json"
);

/// Concrete values for the dashboard's variables: Grafana's own intervals
/// and the dashboard's template variables (their "All" value).
const VARIABLES: [(&str, &str); 5] = [
    ("$__rate_interval", "1m"),
    ("$__interval", "1m"),
    ("$__range", "1h"),
    ("$deployment", ".*"),
    ("$route", ".*"),
];

/// Every panel's (rows' panels too) and variable's PromQL expression, with
/// its variables replaced; a variable left over fails.
fn dashboard_expressions(dashboard: &Value) -> Vec<String> {
    fn panels(list: &Value, into: &mut Vec<String>) {
        for panel in list.as_array().into_iter().flatten() {
            panels(&panel["panels"], into);
            for target in panel["targets"].as_array().into_iter().flatten() {
                into.push(target["expr"].as_str().expect("a target's expr").to_owned());
            }
        }
    }
    let mut expressions = Vec::new();
    panels(&dashboard["panels"], &mut expressions);
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        // label_values(metric, label) is Grafana's: its metric, as a selector.
        let query = variable["query"]["query"]
            .as_str()
            .expect("a variable's query");
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("variable query {query} is not label_values(metric, label)"));
        expressions.push(inner.trim().to_owned());
    }
    expressions
        .into_iter()
        .map(|expression| {
            let concrete = VARIABLES
                .iter()
                .fold(expression, |text, (name, value)| text.replace(name, value));
            assert!(!concrete.contains('$'), "an unknown variable in {concrete}");
            concrete
        })
        .collect()
}

/// The metric names a PromQL expression reads: identifiers outside strings,
/// label matchers, ranges and grouping lists that are neither calls
/// (functions, aggregations) nor keywords.
fn metric_names(expression: &str) -> BTreeSet<String> {
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    const KEYWORDS: [&str; 5] = ["bool", "and", "or", "unless", "offset"];
    let chars: Vec<char> = expression.chars().collect();
    let mut names = BTreeSet::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if c == '"' || c == '\'' {
            at = skip_string(&chars, at);
        } else if c == '{' || c == '[' {
            at = skip_until(&chars, at, if c == '{' { '}' } else { ']' });
        } else if c.is_ascii_digit() || c == '.' {
            // A number or a duration (5m, 0.99, 1e3).
            while at < chars.len() && (chars[at].is_ascii_alphanumeric() || chars[at] == '.') {
                at += 1;
            }
        } else if c.is_alphabetic() || c == '_' || c == ':' {
            let start = at;
            while at < chars.len() && (chars[at].is_alphanumeric() || "_:".contains(chars[at])) {
                at += 1;
            }
            let word: String = chars[start..at].iter().collect();
            let mut next = at;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            // `sum by (le) (…)`: an aggregation with its grouping first.
            let rest: String = chars[next..].iter().collect();
            let grouped_first = ["by", "without"].iter().any(|clause| {
                rest.strip_prefix(clause)
                    .is_some_and(|after| after.trim_start().starts_with('('))
            });
            let is_call = chars.get(next) == Some(&'(') || grouped_first;
            if GROUPING.contains(&word.as_str()) {
                if is_call {
                    at = skip_until(&chars, next, ')');
                }
            } else if !is_call && !KEYWORDS.contains(&word.as_str()) {
                names.insert(word);
            }
        } else {
            at += 1;
        }
    }
    names
}

/// The index after the string literal that opens at `at`.
fn skip_string(chars: &[char], at: usize) -> usize {
    let quote = chars[at];
    let mut at = at + 1;
    while at < chars.len() && chars[at] != quote {
        at += if chars[at] == '\\' { 2 } else { 1 };
    }
    at + 1
}

/// The index after the `end` that closes what opens at `at`, strings inside
/// skipped whole.
fn skip_until(chars: &[char], at: usize, end: char) -> usize {
    let mut at = at + 1;
    while at < chars.len() && chars[at] != end {
        at = if chars[at] == '"' || chars[at] == '\'' {
            skip_string(chars, at)
        } else {
            at + 1
        };
    }
    at + 1
}

/// The dashboard's expressions pass `promtool check rules` as recording
/// rules, and every metric they read is in `exposition`.
fn check_dashboard(exposition: &str) {
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(DASHBOARD).expect("the dashboard file"))
            .expect("the dashboard is JSON");
    let expressions = dashboard_expressions(&dashboard);
    assert!(expressions.len() >= 20, "{expressions:?}");
    let exposed: BTreeSet<&str> = exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .collect();
    let mut used = BTreeSet::new();
    for expression in &expressions {
        let names = metric_names(expression);
        assert!(!names.is_empty(), "no metric in {expression}");
        for name in names {
            assert!(
                exposed.contains(name.as_str()),
                "{name} (in {expression}) is not exposed by either service"
            );
            used.insert(name);
        }
    }
    // The metrics the dashboard must show (README "Operating it").
    for name in [
        "tach_ingest_messages_stored_total",
        "tach_ingest_messages_rejected_total",
        "tach_ingest_messages_duplicate_total",
        "tach_ingest_pairs_completed_total",
        "tach_ingest_commit_duration_seconds_bucket",
        "tach_ingest_lag_seconds_bucket",
        "tach_ingest_consumer_up",
        "tach_ingest_reconnects_total",
        "tach_ingest_queue_messages",
        "tach_http_requests_total",
        "tach_http_request_duration_seconds_bucket",
        "tach_query_replica_lag_seconds",
    ] {
        assert!(used.contains(name), "the dashboard shows no {name}");
    }

    let rules = serde_json::json!({"groups": [{
        "name": "grafana_dashboard",
        "rules": expressions.iter().enumerate().map(|(index, expression)| {
            serde_json::json!({"record": format!("dashboard_expression_{index}"), "expr": expression})
        }).collect::<Vec<_>>(),
    }]});
    // JSON is YAML, which is what promtool reads.
    let path =
        std::env::temp_dir().join(format!("tach-dashboard-{}.yml", harness::unique_suffix()));
    std::fs::write(&path, rules.to_string()).unwrap();
    let output = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .expect("promtool runs (deploy/test.sh provides it as TACH_PROMTOOL)");
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "promtool check rules failed on the dashboard's expressions:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn metric_names_are_what_an_expression_reads() {
    let names = |expression| metric_names(expression).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route=~"x|y", s="{b}"}[1m])))"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        names("time() - max by (instance) (last_seconds) / on (job) group_left c_total or d"),
        ["c_total", "d", "last_seconds"]
    );
    assert_eq!(names("sum without(pool)(e) and bool f"), ["e", "f"]);
}
