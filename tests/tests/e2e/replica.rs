//! tach-query with its reads on a streaming standby: a private primary and
//! standby from deploy/lib/replica.sh (ports 56450–56451), tach-ingest
//! writing to the primary, tach-query as a process with DATABASE_URL on the
//! primary and TACH_QUERY_DATABASE_URL on the standby. Reads come from the
//! standby, release writes are read back at once through the primary, and
//! `/readyz` and `tach_query_replica_lag_seconds` follow the standby's lag
//! while its replay is paused and after it resumes.

use std::time::Duration;

use serde_json::{json, Value};
use tach_schema::PoolSettings;
use tach_tests::gen::{generate, Message, Scenario};
use tach_tests::harness::{self, http, PrivateReplica, ServiceProcess, TestApi};

use crate::ingest::{inner, start_on, wait_for_count, wait_for_queues};

/// The primary's port; the standby takes the next.
const BASE_PORT: u16 = 56450;
/// tach-query's read sessions name themselves so, to be found on the standby.
const READER: &str = "tach-query-reads";
/// TACH_QUERY_MAX_REPLICA_LAG_SECS here.
const MAX_LAG_SECS: u64 = 2;

fn scenario(seed: u64) -> Scenario {
    Scenario {
        seed,
        instances: 6,
        images: 2,
        crashes: 5,
        releases: 1,
        products: 1,
        ..Scenario::default()
    }
}

/// The first nova instance of a stream.
fn first_instance(messages: &[Message]) -> String {
    messages
        .iter()
        .filter(|message| message.exchange == "nova")
        .find_map(|message| {
            inner(message)["payload"]["instance_id"]
                .as_str()
                .map(str::to_owned)
        })
        .expect("the stream has a nova instance")
}

/// GETs `path` from the tach-query process: status and JSON body.
async fn get(query: &ServiceProcess, path: &str) -> (u16, Value) {
    let answer = http(&query.address.to_string(), "GET", path, &[], None).await;
    (answer.status, answer.json())
}

/// The value of an unlabelled gauge in the process's exposition.
async fn gauge(query: &ServiceProcess, name: &str) -> Option<f64> {
    let answer = http(&query.address.to_string(), "GET", "/metrics", &[], None).await;
    answer.body.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

/// `SELECT count(*)` of a table through `pool`.
async fn count(pool: &sqlx::PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .expect("counting rows")
}

/// tach-query's read sessions on the server behind `pool`.
async fn reader_sessions(pool: &sqlx::PgPool, database: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
    )
    .bind(READER)
    .bind(database)
    .fetch_one(pool)
    .await
    .expect("reading pg_stat_activity")
}

/// Opens a pool on the standby's copy of the test database once the
/// standby has replayed its creation and migrations.
async fn standby_pool(url: &str) -> sqlx::PgPool {
    let settings = PoolSettings {
        create_if_missing: false,
        ..PoolSettings::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(pool) = tach_schema::connect(url, settings).await {
            if tach_schema::database::schema_is_current(&pool)
                .await
                .unwrap_or(false)
            {
                return pool;
            }
            pool.close().await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the standby has no migrated copy of the database within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `/readyz` of a caught-up standby, exactly.
fn ready_on_replica() -> Value {
    json!({
        "status": "ready",
        "read_pool": "replica",
        "replica_lag_seconds": 0.0,
        "replica_lag_bytes": 0.0,
        "max_replica_lag_seconds": MAX_LAG_SECS,
    })
}

#[tokio::test]
async fn reads_come_from_the_standby_and_readyz_follows_its_lag() {
    let replica = PrivateReplica::start("tach-replica", BASE_PORT)
        .unwrap_or_else(|error| panic!("a primary and a standby: {error}"));
    let (db, broker, ingest, publisher) = start_on(&replica.primary_server_url()).await;
    let standby_url = replica.standby_url(&db.name);
    let standby = standby_pool(&standby_url).await;
    wait_for_queues(&broker).await;
    let first = generate(&scenario(11));
    publisher.publish(&first, None).await.unwrap();
    wait_for_count(&db, "raw_events", first.len() as i64).await;

    let reads_url = format!("{standby_url}?application_name={READER}");
    let max_lag = MAX_LAG_SECS.to_string();
    let mut query = ServiceProcess::query(
        crate::QUERY,
        "replica-query",
        &[
            ("DATABASE_URL", &db.url),
            ("TACH_QUERY_DATABASE_URL", &reads_url),
            ("TACH_QUERY_MAX_REPLICA_LAG_SECS", &max_lag),
        ],
    );
    query.wait_for_ok("/readyz", Duration::from_secs(60)).await;
    harness::wait_until(
        "the standby to replay the first stream",
        Duration::from_secs(30),
        || async { count(&standby, "raw_events").await == first.len() as i64 },
    )
    .await;
    harness::wait_until(
        "/readyz to report a caught-up replica",
        Duration::from_secs(30),
        || async { get(&query, "/readyz").await == (200, ready_on_replica()) },
    )
    .await;

    // The standby answers exactly as the primary would.
    let primary_api = TestApi::new(db.pool.clone());
    let old_instance = first_instance(&first);
    let paths = [
        "/stacky/deployments/".to_owned(),
        "/stacky/events/".to_owned(),
        "/stacky/hosts/".to_owned(),
        format!("/stacky/uuid/?uuid={old_instance}"),
        "/products/versions/".to_owned(),
    ];
    for path in &paths {
        assert_eq!(
            get(&query, path).await,
            (200, primary_api.ok(path).await),
            "{path}"
        );
    }
    // The live stream reads the standby too: from the feed's start, every
    // nova event of the first stream, once.
    let mut stream = tach_tests::harness::sse::EventStream::open(
        query.address,
        "/stacky/watch/0/stream",
        Some("0-0"),
    )
    .await;
    let nova: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM raw_events WHERE family = 'nova' ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let mut pushed: Vec<i64> = stream
        .take(nova.len(), Duration::from_secs(30))
        .await
        .iter()
        .map(|message| {
            serde_json::from_str::<Value>(&message.data).unwrap()[0]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(stream.next(Duration::from_secs(1)).await, None);
    drop(stream);
    pushed.sort_unstable();
    assert_eq!(pushed, nova);
    // tach-query's read sessions are on the standby, none on the primary.
    assert!(reader_sessions(&standby, &db.name).await > 0);
    assert_eq!(reader_sessions(&db.pool, &db.name).await, 0);
    harness::wait_until(
        "the sampled metrics to show a replica in step",
        Duration::from_secs(15),
        || async {
            gauge(&query, "tach_query_read_pool_replica").await == Some(1.0)
                && gauge(&query, "tach_query_replica_lag_seconds").await == Some(0.0)
        },
    )
    .await;

    // Replay paused, the primary moves on: the standby's answers stay put.
    replica.pause_replay().await;
    let second = generate(&scenario(12));
    let new_instance = first_instance(&second);
    publisher.publish(&second, None).await.unwrap();
    wait_for_count(&db, "raw_events", (first.len() + second.len()) as i64).await;
    assert_eq!(count(&standby, "raw_events").await, first.len() as i64);
    let new_path = format!("/stacky/uuid/?uuid={new_instance}");
    let on_primary = primary_api.ok(&new_path).await;
    assert!(on_primary.as_array().unwrap().len() > 1, "{on_primary}");
    let (status, on_standby) = get(&query, &new_path).await;
    assert_eq!(status, 200);
    assert_eq!(on_standby, json!([]));

    // orloclient's create-then-read works at once: release reads go to the primary.
    let address = query.address.to_string();
    let created = http(
        &address,
        "POST",
        "/releases",
        &[],
        Some(r#"{"platforms": ["p1"], "user": "alice", "team": "ops"}"#),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let package = http(
        &address,
        "POST",
        &format!("/releases/{id}/packages"),
        &[],
        Some(r#"{"name": "web", "version": "1.2"}"#),
    )
    .await;
    assert_eq!(package.status, 200, "{}", package.body);
    let (status, release) = get(&query, &format!("/releases/{id}")).await;
    assert_eq!(status, 200, "{release}");
    assert_eq!(release["releases"][0]["user"], "alice");
    assert_eq!(release["releases"][0]["packages"][0]["name"], "web");
    let on_standby: i64 = sqlx::query_scalar("SELECT count(*) FROM releases WHERE id::text = $1")
        .bind(&id)
        .fetch_one(&standby)
        .await
        .unwrap();
    assert_eq!(
        on_standby, 0,
        "the paused standby has not replayed the release"
    );

    // The sampler sees the lag grow past the bound, and /readyz says so.
    let bound = MAX_LAG_SECS as f64;
    harness::wait_until(
        "the sampled lag to pass the bound",
        Duration::from_secs(20),
        || async {
            gauge(&query, "tach_query_replica_lag_seconds")
                .await
                .is_some_and(|lag| lag > bound)
                && gauge(&query, "tach_query_replica_lag_bytes")
                    .await
                    .is_some_and(|bytes| bytes > 0.0)
        },
    )
    .await;
    let (status, body) = get(&query, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "replica lag over the bound", "{body}");
    assert_eq!(body["read_pool"], "replica");
    assert_eq!(body["max_replica_lag_seconds"], MAX_LAG_SECS);
    assert!(
        body["replica_lag_seconds"].as_f64().unwrap() > bound,
        "{body}"
    );
    assert!(body["replica_lag_bytes"].as_f64().unwrap() > 0.0, "{body}");

    // Replay resumed: ready again, and the standby answers as the primary.
    replica.resume_replay().await;
    harness::wait_until(
        "/readyz to be ready again after the standby caught up",
        Duration::from_secs(30),
        || async { get(&query, "/readyz").await == (200, ready_on_replica()) },
    )
    .await;
    for path in paths.iter().chain([&new_path]) {
        assert_eq!(
            get(&query, path).await,
            (200, primary_api.ok(path).await),
            "{path}"
        );
    }
    harness::wait_until(
        "the sampled lag to return to 0",
        Duration::from_secs(15),
        || async { gauge(&query, "tach_query_replica_lag_seconds").await == Some(0.0) },
    )
    .await;

    assert!(query.terminate().await.success());
    ingest.stop().await;
    broker.delete_all().await;
    standby.close().await;
    db.drop_database().await;
    drop(replica);
}
