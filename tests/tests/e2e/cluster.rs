//! Scale-out on a RabbitMQ cluster (SPEC §6) with quorum queues: two
//! tach-ingest processes listing a private three-node cluster's nodes lose
//! the node they consume from mid-stream, resume on the next, and end with
//! exactly the state of a fault-free reference ingest of the same stream;
//! and a message delivered more often than its queue's delivery limit is
//! dead-lettered to tach's own queue and stored as rejected, never lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, BasicNackOptions};
use lapin::{Connection, ConnectionProperties};
use serde_json::json;
use sqlx::Row;
use tach_ingest::config::{QueueArgument, ReplayArgs};
use tach_tests::gen::Message;
use tach_tests::harness::state::{
    fault_stream, first_difference, longest_stall, progress, sample_progress, stored_state,
    FaultStream,
};
use tach_tests::harness::{
    self, test_settings, PrivateCluster, ServiceProcess, TestBroker, TestDatabase, TestIngest,
};
use tach_tests::publish::Publisher;
use tokio_util::sync::CancellationToken;

/// Node N's AMQP port is this + N - 1; distribution and epmd ports follow
/// (tests/src/harness/cluster.rs): 56460–56466.
const BASE_PORT: u16 = 56460;
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;
const DRAIN_DEADLINE: Duration = Duration::from_secs(150);

/// The stream: over 20,000 generated events in time order, then 5 % of
/// them again (redeliveries a publisher retried).
struct Stream {
    messages: Vec<Message>,
    events: usize,
    per_type: BTreeMap<String, i64>,
}

fn stream() -> Stream {
    let FaultStream {
        events,
        duplicates,
        per_type,
    } = fault_stream(1515);
    let count = events.len();
    let mut messages = events;
    messages.extend(duplicates);
    Stream {
        messages,
        events: count,
        per_type,
    }
}

/// A TACH_CONFIG of one deployment on every node of the cluster, node 1
/// first, with quorum queues.
fn cluster_config(cluster: &PrivateCluster, vhost: &str, name: &str) -> std::path::PathBuf {
    let urls: Vec<String> = (1..=harness::cluster::NODES)
        .map(|node| format!("{:?}", cluster.node_url(node, vhost)))
        .collect();
    let text = format!(
        "[[deployment]]\nname = \"cluster\"\namqp_urls = [{}]\nexchange_durable = true\nqueue_arguments = {{ \"x-queue-type\" = \"quorum\" }}\n",
        urls.join(", ")
    );
    let path = std::env::temp_dir().join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("writing the config file");
    path
}

/// Lines of `process`'s log saying it consumes from node `node`.
fn consuming_from(process: &ServiceProcess, node: u16) -> bool {
    process
        .stderr()
        .lines()
        .any(|line| line.contains("consuming") && line.contains(&format!(" node={node} ")))
}

/// The reference: the same stream through `tach-ingest replay --file`, the
/// write path without a broker.
async fn reference_state(stream: &Stream) -> serde_json::Value {
    let db = TestDatabase::create().await;
    let file =
        std::env::temp_dir().join(format!("tach-cluster-{}.jsonl", harness::unique_suffix()));
    let lines: Vec<String> = stream.messages.iter().map(Message::to_json_line).collect();
    std::fs::write(&file, lines.join("\n") + "\n").expect("writing the stream");
    let args = ReplayArgs {
        file: Some(file.clone()),
        deployment: "cluster".into(),
        reason: None,
        batch_size: 500,
        max_body_bytes: tach_schema::envelope::DEFAULT_MAX_BODY_BYTES,
        config: None,
    };
    tach_ingest::commands::replay::replay(&db.url, &args)
        .await
        .expect("the reference replay");
    std::fs::remove_file(&file).expect("removing the stream file");
    assert_eq!(db.count("raw_events").await, stream.events as i64);
    let state = stored_state(&db).await;
    db.drop_database().await;
    state
}

#[tokio::test]
async fn two_processes_fail_over_to_the_next_node_and_lose_nothing() {
    let cluster = tokio::task::spawn_blocking(|| PrivateCluster::start("tach-cluster", BASE_PORT))
        .await
        .unwrap()
        .unwrap_or_else(|why| panic!("the test's own RabbitMQ cluster: {why}"));
    // Shared with the blocking tasks that stop and start a node.
    let cluster = std::sync::Arc::new(cluster);
    let run_id = harness::unique_suffix();
    let vhost = format!("cluster-{run_id}");
    cluster.add_vhost(&vhost).expect("a vhost for the test");
    let stream = stream();
    let db = TestDatabase::create().await;
    let config = cluster_config(&cluster, &vhost, &format!("tach-cluster-{run_id}"));
    let config_text = config.display().to_string();
    let shutdown_timeout = SHUTDOWN_TIMEOUT_SECS.to_string();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("TACH_CONFIG", config_text.as_str()),
        ("TACH_SHUTDOWN_TIMEOUT_SECS", shutdown_timeout.as_str()),
        ("RUST_LOG", "info,lapin=off"),
    ];
    let mut processes: Vec<ServiceProcess> = (1..=2)
        .map(|n| ServiceProcess::ingest(crate::INGEST, &format!("tach-cluster-ingest-{n}"), &env))
        .collect();
    for process in &mut processes {
        process
            .wait_for_ok("/readyz", Duration::from_secs(30))
            .await;
        assert!(consuming_from(process, 1), "{}", process.stderr());
    }
    // Published through node 3, which stays up.
    let publish_url = cluster.node_url(3, &vhost);
    let started = Instant::now();
    let stop_sampling = CancellationToken::new();
    let sampler = sample_progress(db.pool.clone(), started, stop_sampling.clone());
    let publisher = Publisher::connect(&publish_url, "")
        .await
        .expect("publisher connects");
    let messages = stream.messages.clone();
    let publishing = tokio::spawn(async move {
        let published = publisher.publish(&messages, None).await;
        let _ = publisher.close().await;
        published
    });

    // Node 1 goes away once a fifth of the stream is stored.
    let fifth = stream.events as i64 / 5;
    harness::wait_until("a fifth of the stream stored", DRAIN_DEADLINE, || async {
        progress(&db.pool).await.unwrap_or(0) >= fifth
    })
    .await;
    let stored_at_loss = progress(&db.pool).await.unwrap_or(0);
    let lost = Instant::now();
    // Stopped in the background: the clients are cut off while the node
    // shuts down, and the processes move on before the stop returns.
    let stopper = cluster.clone();
    let stopping = tokio::task::spawn_blocking(move || stopper.stop_node(1));
    for process in &processes {
        harness::wait_until(
            "both processes consuming from another node",
            Duration::from_secs(60),
            || {
                let moved = consuming_from(process, 2) || consuming_from(process, 3);
                async move { moved }
            },
        )
        .await;
    }
    let resumed_consuming = lost.elapsed();
    let stored_before = progress(&db.pool).await.unwrap_or(0);
    harness::wait_until(
        "progress after the failover",
        Duration::from_secs(60),
        || async { progress(&db.pool).await.unwrap_or(0) > stored_before },
    )
    .await;
    let resumed_storing = lost.elapsed();
    stopping.await.unwrap().expect("node 1 stops");
    let node_gone = lost.elapsed();

    // Node 1 comes back while the stream goes on, and rejoins.
    let starter = cluster.clone();
    tokio::task::spawn_blocking(move || starter.start_node(1))
        .await
        .unwrap()
        .expect("node 1 starts again");
    let node_back = lost.elapsed();
    let published = publishing
        .await
        .unwrap()
        .expect("every message published and confirmed");
    assert_eq!(published, stream.messages.len());
    let published_at = started.elapsed();

    let expected = stream.events as i64;
    let drained = loop {
        let stored = db.count("raw_events").await;
        if stored == expected {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < DRAIN_DEADLINE,
            "not drained after {DRAIN_DEADLINE:?}: {stored} of {expected} stored; logs:\n{}\n{}",
            processes[0].stderr(),
            processes[1].stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop_sampling.cancel();
    let longest_stall = longest_stall(&sampler.await.expect("sampler"));
    // Nothing more arrives: nothing was doubled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(db.count("raw_events").await, expected);
    assert_eq!(
        db.count("event_keys").await,
        expected,
        "one key per stored event"
    );
    assert_eq!(db.count("rejected_messages").await, 0);
    let per_type: BTreeMap<String, i64> =
        sqlx::query("SELECT event, count(*) AS n FROM raw_events GROUP BY event")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.get("event"), row.get("n")))
            .collect();
    assert_eq!(per_type, stream.per_type, "events per type");
    for process in processes {
        let status = process.terminate().await;
        assert!(
            status.success(),
            "tach-ingest exited with {status} after SIGTERM"
        );
    }
    let state = stored_state(&db).await;
    let reference = reference_state(&stream).await;
    if let Some(difference) = first_difference(&reference, &state) {
        panic!("state differs from the reference ingest: {difference}");
    }
    println!(
        "cluster failover: published {} ({} events, {} duplicates) in {:.1} s; node 1 stopped at {stored_at_loss} stored; both processes consuming from another node {:.1} s and storing {:.1} s after its stop began (the stop took {:.1} s); node 1 back after {:.1} s; drained in {:.1} s; longest stall {:.1} s",
        stream.messages.len(),
        stream.events,
        stream.messages.len() - stream.events,
        published_at.as_secs_f64(),
        resumed_consuming.as_secs_f64(),
        resumed_storing.as_secs_f64(),
        node_gone.as_secs_f64(),
        node_back.as_secs_f64(),
        drained.as_secs_f64(),
        longest_stall.as_secs_f64(),
    );
    db.drop_database().await;
    let _ = std::fs::remove_file(&config);
    let cluster = std::sync::Arc::into_inner(cluster).expect("the only owner");
    cluster
        .delete_vhost(&vhost)
        .expect("deleting the test's vhost");
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

/// Returns every message of `queue` to it unacknowledged until the broker
/// dead-letters them (no more to get); how many times it returned one.
async fn return_until_dead_lettered(amqp_url: &str, queue: &str) -> usize {
    let connection = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .expect("connects");
    let channel = connection.create_channel().await.expect("a channel");
    let mut returned = 0;
    loop {
        let got = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await
            .expect("basic.get");
        let Some(message) = got else { break };
        channel
            .basic_nack(
                message.delivery.delivery_tag,
                BasicNackOptions {
                    multiple: false,
                    requeue: true,
                },
            )
            .await
            .expect("basic.nack");
        returned += 1;
        assert!(returned < 10, "never dead-lettered");
    }
    let _ = connection.close(200, "done".into()).await;
    returned
}

#[tokio::test]
async fn a_message_past_its_delivery_limit_is_stored_as_rejected() {
    harness::init_tracing();
    let db = TestDatabase::create().await;
    let broker = TestBroker::new();
    let mut deployment = broker.deployment(&broker.amqp_url);
    deployment.queue_arguments = BTreeMap::from([(
        "x-queue-type".to_owned(),
        QueueArgument::Text("quorum".into()),
    )]);
    deployment.delivery_limit = 1;
    // The first start declares the topology.
    let ingest = TestIngest::start(&db.url, vec![deployment.clone()], test_settings()).await;
    broker.wait_for_consumer("tach.dead").await;
    ingest.stop().await;

    let publisher = Publisher::connect(&broker.amqp_url, &broker.prefix)
        .await
        .unwrap();
    let body = json!({"event_type": "compute.instance.update", "message_id": "poisonous-1",
                      "publisher_id": "api.host1", "timestamp": "2026-01-01 00:00:00.000000",
                      "payload": {"instance_id": "i-1"}})
    .to_string();
    publisher
        .publish_raw("nova", "notifications.info", body.as_bytes())
        .await
        .unwrap();
    // A consumer that dies on it every time: returned without an ack, it
    // is delivered twice, once more than the limit allows.
    let queue = format!("{}tach.nova.info", broker.prefix);
    assert_eq!(
        return_until_dead_lettered(&broker.amqp_url, &queue).await,
        2
    );
    let dead = format!("{}tach.dead", broker.prefix);
    harness::wait_until(
        "the dead-letter queue holds it",
        Duration::from_secs(10),
        || async { TestBroker::queue_depth_at(&broker.amqp_url, &dead).await == Some(1) },
    )
    .await;

    // Restarted with another limit: the queues exist, so their arguments
    // stay as created and the start does not fail.
    deployment.delivery_limit = 5;
    let ingest = TestIngest::start(&db.url, vec![deployment], test_settings()).await;
    crate::ingest::wait_for_count(&db, "rejected_messages", 1).await;
    let rows = db
        .json_rows(
            "SELECT reason, exchange, routing_key, queue, convert_from(body, 'UTF8') AS body,
                    message LIKE '%reason delivery_limit%' AS says_why
             FROM rejected_messages",
        )
        .await;
    assert_eq!(
        rows,
        json!([{
            "reason": "delivery_limit",
            "exchange": format!("{}nova", broker.prefix),
            "routing_key": "notifications.info",
            "queue": queue,
            "body": body,
            "says_why": true,
        }])
    );
    harness::wait_until(
        "the dead-letter queue drained",
        Duration::from_secs(10),
        || async { TestBroker::queue_depth_at(&broker.amqp_url, &dead).await == Some(0) },
    )
    .await;
    assert_eq!(db.count("raw_events").await, 0);
    ingest.stop().await;
    let _ = publisher.close().await;
    broker.delete_queues(&[dead]).await;
    broker.delete_all().await;
    db.drop_database().await;
}
