//! The live stream (`stacky/watch/<deployment>/stream`) through the real
//! services: every committed event is pushed once, in commit order, while
//! two writers commit batches out of id order; a client that reconnects
//! with `Last-Event-ID` gets exactly what it missed; filters keep exactly
//! their events.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::sse::{EventStream, Message};
use tach_tests::harness::TestQuery;

use crate::ingest::{start, wait_for_count, wait_for_queues};

fn scenario(seed: u64) -> Scenario {
    Scenario {
        seed,
        instances: 8,
        images: 2,
        crashes: 6,
        releases: 1,
        products: 1,
        ..Scenario::default()
    }
}

/// The event ids (`#`, the row's first element) of the messages.
fn event_ids(messages: &[Message]) -> Vec<i64> {
    messages
        .iter()
        .map(|message| {
            let row: Value = serde_json::from_str(&message.data).expect("a JSON row");
            row[0].as_i64().expect("an id first")
        })
        .collect()
}

#[tokio::test]
async fn every_committed_event_is_pushed_once_across_a_reconnect() {
    let (db, broker, ingest, publisher) = start().await;
    wait_for_queues(&broker).await;
    let query = TestQuery::start(db.pool.clone()).await;
    let path = "/stacky/watch/0/stream";
    let mut stream = EventStream::open(query.address, path, None).await;

    let first = generate(&scenario(5));
    publisher.publish(&first, None).await.unwrap();
    wait_for_count(&db, "raw_events", first.len() as i64).await;
    let nova_first: i64 =
        sqlx::query_scalar("SELECT count(*) FROM raw_events WHERE family = 'nova'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    // Half of them, then the connection drops.
    let before = stream
        .take(nova_first as usize / 2, Duration::from_secs(30))
        .await;
    drop(stream);

    let second = generate(&scenario(6));
    publisher.publish(&second, None).await.unwrap();
    wait_for_count(&db, "raw_events", (first.len() + second.len()) as i64).await;
    let stored: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM raw_events WHERE family = 'nova' ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let last_id = before.last().and_then(|message| message.id.clone());
    let mut resumed = EventStream::open(query.address, path, last_id.as_deref()).await;
    let after = resumed
        .take(stored.len() - before.len(), Duration::from_secs(30))
        .await;
    assert_eq!(
        resumed.next(Duration::from_secs(1)).await,
        None,
        "more than was stored"
    );

    let mut pushed = event_ids(&before);
    pushed.extend(event_ids(&after));
    let unique: BTreeSet<i64> = pushed.iter().copied().collect();
    assert_eq!(unique.len(), pushed.len(), "an event was pushed twice");
    assert_eq!(unique.into_iter().collect::<Vec<_>>(), stored);
    // Cursors only grow, in commit order.
    let cursors: Vec<(u64, u64)> = before
        .iter()
        .chain(&after)
        .map(|message| {
            let (xact, index) = message.id.as_deref().unwrap().split_once('-').unwrap();
            (xact.parse().unwrap(), index.parse().unwrap())
        })
        .collect();
    assert!(
        cursors.windows(2).all(|pair| pair[0] < pair[1]),
        "{cursors:?}"
    );

    // One row against the table it comes from.
    let row: Value = serde_json::from_str(&after[0].data).unwrap();
    let expected = db
        .json_rows(&format!(
            "SELECT r.id, CASE WHEN r.is_error THEN 'E' ELSE ' ' END AS e,
                    to_char(r.\"when\", 'YYYY-MM-DD') AS day, d.name, r.event,
                    coalesce(r.instance, '-') AS uuid
               FROM raw_events r JOIN deployments d ON d.id = r.deployment_id WHERE r.id = {}",
            row[0]
        ))
        .await;
    let expected = &expected[0];
    assert_eq!(
        [&row[0], &row[1], &row[2], &row[4], &row[5], &row[6]],
        [
            &expected["id"],
            &expected["e"],
            &expected["day"],
            &expected["name"],
            &expected["event"],
            &expected["uuid"]
        ]
    );

    // From the feed's start with filters: exactly the matching events.
    let mut glance = EventStream::open(
        query.address,
        "/stacky/watch/0/stream?service=glance&event_name=image.upload",
        Some("0-0"),
    )
    .await;
    let uploads: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM raw_events WHERE family = 'glance' AND event = 'image.upload'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(uploads > 0);
    let pushed = glance.take(uploads as usize, Duration::from_secs(30)).await;
    assert_eq!(glance.next(Duration::from_secs(1)).await, None);
    assert!(pushed
        .iter()
        .all(|message| message.data.contains("\"image.upload\"")));

    query.stop().await;
    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}
