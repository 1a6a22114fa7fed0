//! tach-ingest's subcommands through their library entry points on a real
//! database: `replay` of a JSON-lines file and of rejected messages, and
//! `prune` of old raw partitions without touching aggregates.

use chrono::Utc;
use serde_json::{json, Value};
use tach_ingest::batch::{self, Destination, Received};
use tach_ingest::commands::{prune, replay, report};
use tach_ingest::config::{ReplayArgs, ReportArgs};
use tach_ingest::DeploymentConfig;
use tach_schema::{ExchangeFamily, Store};
use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::samples::{read_sample, store_messages};
use tach_tests::harness::{TestApi, TestDatabase};
use tokio_util::sync::CancellationToken;

fn replay_args(file: Option<std::path::PathBuf>) -> ReplayArgs {
    ReplayArgs {
        file,
        deployment: "local".into(),
        reason: None,
        batch_size: 50,
        max_body_bytes: tach_schema::envelope::DEFAULT_MAX_BODY_BYTES,
        config: None,
    }
}

fn default_families() -> std::collections::BTreeMap<String, ExchangeFamily> {
    replay::exchange_families(&[DeploymentConfig::single("local", "")])
}

#[tokio::test]
async fn replaying_a_file_stores_each_message_once_and_keeps_bad_lines() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    let messages = generate(&Scenario {
        seed: 8,
        instances: 3,
        images: 1,
        crashes: 4,
        releases: 1,
        products: 1,
        ..Scenario::default()
    });
    let mut lines: Vec<String> = messages
        .iter()
        .map(|m| serde_json::to_string(m).unwrap())
        .collect();
    lines.insert(3, "this line is not a message".into());
    let path = std::env::temp_dir().join(format!("tach-replay-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let args = replay_args(Some(path.clone()));

    let first = replay::replay_file(&store, &path, "local", &default_families(), &args)
        .await
        .unwrap();
    assert_eq!(
        (first.read, first.stored, first.duplicates, first.rejected),
        (messages.len() + 1, messages.len(), 0, 1)
    );
    let again = replay::replay_file(&store, &path, "local", &default_families(), &args)
        .await
        .unwrap();
    assert_eq!(
        (again.stored, again.duplicates, again.rejected),
        (0, messages.len(), 1)
    );
    assert_eq!(db.count("raw_events").await, messages.len() as i64);
    assert_eq!(
        db.count("rejected_messages").await,
        2,
        "each rejected delivery is kept, replays included"
    );

    std::fs::remove_file(path).unwrap();
    db.drop_database().await;
}

#[tokio::test]
async fn replaying_rejected_messages_after_a_fix_stores_them() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    let destination = Destination {
        id: store.deployment_id("local").await.unwrap(),
        name: "local".into(),
    };
    let messages = generate(&Scenario {
        seed: 9,
        instances: 2,
        images: 0,
        crashes: 0,
        releases: 0,
        products: 0,
        ..Scenario::default()
    });
    let received: Vec<Received> = messages
        .iter()
        .map(|m| Received {
            exchange: m.exchange.clone(),
            routing_key: m.routing_key.clone(),
            queue: Some("tach.nova.info".into()),
            family: ExchangeFamily::Nova,
            body: serde_json::to_vec(&m.body).unwrap(),
            properties: None,
            received_at: Utc::now(),
            dead_lettered: None,
        })
        .collect();
    // A limit too small for these bodies: every message is rejected as too large.
    let mut prepared = batch::prepare("local", &received, 100);
    batch::commit(
        &store,
        &destination,
        &received,
        &mut prepared,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(db.count("raw_events").await, 0);
    assert_eq!(db.count("rejected_messages").await, messages.len() as i64);

    // The fix: the normal limit.
    let totals = replay::replay_rejected(&store, &default_families(), &replay_args(None))
        .await
        .unwrap();
    assert_eq!(
        (totals.read, totals.stored, totals.rejected),
        (messages.len(), messages.len(), 0)
    );
    assert_eq!(db.count("raw_events").await, messages.len() as i64);
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM rejected_messages WHERE replayed_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(pending, 0);
    let nothing_left = replay::replay_rejected(&store, &default_families(), &replay_args(None))
        .await
        .unwrap();
    assert_eq!(nothing_left.read, 0);
    db.drop_database().await;
}

#[tokio::test]
async fn pruning_drops_old_partitions_and_keeps_aggregates_dedup_and_usage() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    // Real nova captures from January 2015: far past any retention.
    let old = read_sample("nova-legacy/nova-legacy-create-sequence.json");
    store_messages(&store, "region-1", ExchangeFamily::Nova, &old).await;
    let api = TestApi::new(db.pool.clone());
    let summary = api.ok("/stacky/summary/").await;
    assert_eq!(summary[1][0], "compute.instance.create");
    let launches = db.json_rows("SELECT * FROM usage_launches").await;
    assert_eq!(launches.as_array().map(Vec::len), Some(1));

    let dropped = prune::prune_once(&store, 90).await.unwrap();
    let dropped: Vec<(String, i64)> = dropped.into_iter().map(|d| (d.table, d.rows)).collect();
    assert_eq!(
        dropped,
        [("raw_events_p201501".to_owned(), old.len() as i64)]
    );
    assert_eq!(db.count("raw_events").await, 0);
    assert_eq!(
        api.ok("/stacky/summary/").await,
        summary,
        "aggregates survive retention"
    );
    assert_eq!(prune::prune_once(&store, 90).await.unwrap(), []);

    // A replay of the pruned capture is recognized: nothing is stored or counted twice.
    store_messages(&store, "region-1", ExchangeFamily::Nova, &old).await;
    assert_eq!(db.count("raw_events").await, 0);
    assert_eq!(api.ok("/stacky/summary/").await, summary);

    // Today's audit of the instance re-derives its usage: the launch of
    // 2015, whose events were pruned, is still there beside the new exists.
    let mut exists = old
        .iter()
        .find(|m| m["event_type"] == "compute.instance.create.end")
        .unwrap()
        .clone();
    let now = Utc::now();
    exists["event_type"] = "compute.instance.exists".into();
    exists["message_id"] = "a1b2c3d4-0000-4000-8000-000000000001".into();
    exists["timestamp"] = now.format("%Y-%m-%d %H:%M:%S%.6f").to_string().into();
    exists["payload"]["launched_at"] = "2015-01-22 01:01:39".into();
    exists["payload"]["audit_period_beginning"] = "2026-01-01 00:00:00".into();
    exists["payload"]["audit_period_ending"] = "2026-01-02 00:00:00".into();
    store_messages(&store, "region-1", ExchangeFamily::Nova, &[exists]).await;
    assert_eq!(db.count("raw_events").await, 1);
    assert_eq!(db.json_rows("SELECT * FROM usage_launches").await, launches);
    let audited = db
        .json_rows("SELECT message_id, launched_at, audit_period_ending FROM usage_exists")
        .await;
    assert_eq!(
        audited,
        serde_json::json!([{
            "message_id": "a1b2c3d4-0000-4000-8000-000000000001",
            "launched_at": "2015-01-22T01:01:39+00:00",
            "audit_period_ending": "2026-01-02T00:00:00+00:00",
        }])
    );
    db.drop_database().await;
}

#[tokio::test]
async fn an_end_after_retention_dropped_its_start_still_pairs_and_ends_its_kpi() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    // The 2015 capture without its create.end: the api update and the
    // create.start are stored, then pruned with their partition.
    let capture = read_sample("nova-legacy/nova-legacy-create-sequence.json");
    let (end, before_end): (Vec<Value>, Vec<Value>) = capture
        .into_iter()
        .partition(|m| m["event_type"] == "compute.instance.create.end");
    store_messages(&store, "region-1", ExchangeFamily::Nova, &before_end).await;
    let open_timings =
        "SELECT operation, start_when IS NOT NULL AS started, duration_us FROM timings
                        WHERE operation = 'compute.instance.create'";
    assert_eq!(
        db.json_rows(open_timings).await,
        json!([{"operation": "compute.instance.create", "started": true, "duration_us": null}])
    );
    let dropped = prune::prune_once(&store, 90).await.unwrap();
    assert_eq!(dropped.len(), 1);
    assert_eq!(db.count("raw_events").await, 0);

    store_messages(&store, "region-1", ExchangeFamily::Nova, &end).await;
    // 00:00:01.254607 to 01:01:39.452786.
    assert_eq!(
        db.json_rows(open_timings).await,
        json!([{"operation": "compute.instance.create", "started": true, "duration_us": 3_698_198_179_i64}])
    );
    // The tracker started by the api update at 00:00:00 ends at the create.end.
    assert_eq!(
        db.json_rows("SELECT operation, duration_us FROM kpi_trackers")
            .await,
        json!([{"operation": "compute.instance.create", "duration_us": 3_699_452_786_i64}])
    );
    db.drop_database().await;
}

#[tokio::test]
async fn the_report_schedule_makes_up_missing_reports() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    store.deployment_id("region-1").await.unwrap();
    let now: chrono::DateTime<Utc> = "2026-03-04T05:06:07Z".parse().unwrap();
    // The last day's 24 complete hours and the 2 complete days before today.
    assert_eq!(report::catch_up(&db.pool, now).await, 26);
    let periods = "SELECT to_char(period_start, 'MM-DD HH24:MI') AS start,
                          extract(epoch FROM period_end - period_start)::int AS seconds
                   FROM reports ORDER BY period_end - period_start DESC, period_start";
    let stored = db.json_rows(periods).await;
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), 26);
    assert_eq!(
        (&stored[0], &stored[1], &stored[2], &stored[25]),
        (
            &json!({"start": "03-02 00:00", "seconds": 86399}),
            &json!({"start": "03-03 00:00", "seconds": 86399}),
            &json!({"start": "03-03 05:00", "seconds": 3599}),
            &json!({"start": "03-04 04:00", "seconds": 3599}),
        )
    );
    assert_eq!(report::catch_up(&db.pool, now).await, 0, "nothing missing");

    // A report lost (or never made while tach-ingest was down) is made up.
    sqlx::query("DELETE FROM reports WHERE period_start = '2026-03-04 02:00:00+00'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(report::catch_up(&db.pool, now).await, 1);
    // An hour later, only the hour that just ended is new.
    let later = now + chrono::TimeDelta::hours(1);
    assert_eq!(report::catch_up(&db.pool, later).await, 1);
    assert_eq!(db.count("reports").await, 27);
    db.drop_database().await;
}

#[tokio::test]
async fn three_schedulers_started_together_store_each_report_once() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    store.deployment_id("region-1").await.unwrap();
    let now: chrono::DateTime<Utc> = "2026-03-04T05:06:07Z".parse().unwrap();
    // Three processes: a pool each, all catching up at the same moment.
    let mut pools = Vec::new();
    for _ in 0..3 {
        pools.push(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect(&db.url)
                .await
                .unwrap(),
        );
    }
    let (first, second, third) = tokio::join!(
        report::catch_up(&pools[0], now),
        report::catch_up(&pools[1], now),
        report::catch_up(&pools[2], now),
    );
    assert_eq!(
        first + second + third,
        26,
        "each of the 26 periods stored by exactly one process ({first}, {second}, {third})"
    );
    let list = "SELECT id, to_char(period_start, 'MM-DD HH24:MI') AS start,
                       extract(epoch FROM period_end - period_start)::int AS seconds, created
                FROM reports ORDER BY period_end - period_start DESC, period_start";
    let stored = db.json_rows(list).await;
    let rows = stored.as_array().unwrap();
    let periods: Vec<(String, i64)> = rows
        .iter()
        .map(|row| {
            (
                row["start"].as_str().unwrap().to_owned(),
                row["seconds"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut expected = vec![
        ("03-02 00:00".to_owned(), 86399),
        ("03-03 00:00".to_owned(), 86399),
    ];
    for hour in 0..24 {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-03T05:00:00Z").unwrap()
            + chrono::TimeDelta::hours(hour);
        expected.push((at.format("%m-%d %H:%M").to_string(), 3599));
    }
    assert_eq!(periods, expected);
    // Starting them again changes nothing: no report is replaced.
    let (first, second, third) = tokio::join!(
        report::catch_up(&pools[0], now),
        report::catch_up(&pools[1], now),
        report::catch_up(&pools[2], now),
    );
    assert_eq!((first, second, third), (0, 0, 0));
    assert_eq!(
        db.json_rows(list).await,
        stored,
        "ids and creation times unchanged"
    );
    for pool in pools {
        pool.close().await;
    }
    db.drop_database().await;
}

#[tokio::test]
async fn the_report_command_stores_the_period_percentile_and_region_asked_for() {
    let db = TestDatabase::create().await;
    let store = Store::new(db.pool.clone());
    let old = read_sample("nova-legacy/nova-legacy-create-sequence.json");
    store_messages(&store, "region-1", ExchangeFamily::Nova, &old).await;
    store.deployment_id("elsewhere").await.unwrap();
    let args = ReportArgs {
        start: Some("2015-01-22".into()),
        hours: 6,
        percentile: 90,
        region: Some("REGION".into()),
        too_long_secs: 600,
    };
    report::report(&db.url, &args).await.unwrap();
    let body = db
        .json_rows("SELECT name, period_start, period_end, body FROM reports")
        .await;
    assert_eq!(
        (
            &body[0]["name"],
            &body[0]["period_start"],
            &body[0]["period_end"]
        ),
        (
            &json!("summary for region: REGION"),
            &json!("2015-01-22T00:00:00+00:00"),
            &json!("2015-01-22T05:59:59+00:00")
        )
    );
    let report = &body[0]["body"];
    assert_eq!(
        (
            &report[0]["percentile"],
            &report[0]["hours"],
            &report[0]["cells"]
        ),
        (&json!(90), &json!(6), &json!(["region-1"]))
    );
    // The create request ran 1:01:39 (over 10 minutes: too long), on a base Linux image.
    assert_eq!(
        report[2],
        json!([
            "create", "base", "linux", "1:01:39s", "1:01:39s", "1:01:39s", "1:01:39s", 1, 0, 0.0,
            0, 0.0, 1, 1.0, 0, 0.0
        ])
    );
    let nowhere = ReportArgs {
        region: Some("nowhere".into()),
        ..args
    };
    let error = report::report(&db.url, &nowhere).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "no deployment matches region \"nowhere\""
    );
    db.drop_database().await;
}
