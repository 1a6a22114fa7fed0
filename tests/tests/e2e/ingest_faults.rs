//! Faults mid-stream: PostgreSQL backends killed and the broker connection
//! severed while messages flow. After recovery every published event is
//! stored exactly once (SPEC §4.1).

use std::time::Duration;

use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::{self, ChaosProxy, TestBroker, TestDatabase, TestIngest};
use tach_tests::publish::Publisher;

use crate::ingest::{wait_for_count, wait_for_queues};

fn broker_host_port(amqp_url: &str) -> String {
    let after_at = amqp_url
        .rsplit_once('@')
        .map(|(_, rest)| rest)
        .unwrap_or(amqp_url);
    let host_port = after_at.split('/').next().unwrap_or("127.0.0.1:5672");
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5672")
    }
}

#[tokio::test]
async fn killed_database_connections_and_a_severed_broker_lose_and_double_nothing() {
    let db = TestDatabase::create().await;
    let broker = TestBroker::new();
    let proxy = ChaosProxy::start(broker_host_port(&broker.amqp_url)).await;
    let deployment = broker.deployment(&proxy.amqp_url(&broker.amqp_url));
    let ingest = TestIngest::start(&db.url, vec![deployment], harness::test_settings()).await;
    let publisher = Publisher::connect(&broker.amqp_url, &broker.prefix)
        .await
        .unwrap();
    publisher.declare_exchanges().await.unwrap();
    wait_for_queues(&broker).await;

    let messages = generate(&Scenario {
        seed: 99,
        instances: 60,
        images: 10,
        crashes: 200,
        releases: 5,
        products: 5,
        ..Scenario::default()
    });
    let total = messages.len() as i64;
    let publishing = tokio::spawn(async move {
        publisher.publish(&messages, Some(1500.0)).await.unwrap();
        publisher
    });

    // Alternate the two faults while the stream flows.
    let mut database_kills = 0;
    let mut broker_severs = 0;
    for round in 0..8 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if round % 2 == 0 {
            database_kills += db.terminate_connections().await;
        } else {
            broker_severs += proxy.sever_all().await;
        }
    }
    assert!(
        database_kills > 0 && broker_severs > 0,
        "faults injected: {database_kills} db, {broker_severs} broker"
    );
    let publisher = publishing.await.unwrap();

    wait_for_count(&db, "raw_events", total).await;
    assert_eq!(db.count("event_keys").await, total);
    assert_eq!(db.count("rejected_messages").await, 0);
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT message_id FROM raw_events GROUP BY deployment_id, message_id HAVING count(*) > 1) d",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(doubled, 0);

    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}
