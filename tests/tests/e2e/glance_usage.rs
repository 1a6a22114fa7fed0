//! Glance image usage (API.md §1) through the real broker: real glance
//! deliveries (envelope bytes as oslo.messaging sent them) and StackTach's
//! and yagi's `image.exists` bodies become exactly the expected rows, once
//! each, however often they are delivered.

use serde_json::{json, Value};
use tach_tests::harness::samples::read_sample;

use crate::ingest::{start, wait_for_count, wait_for_queues};

#[tokio::test]
async fn glance_usage_deletes_and_exists_are_derived_once() {
    let (db, broker, ingest, publisher) = start().await;
    wait_for_queues(&broker).await;

    let deliveries = read_sample("glance/glance-33.0.0-amqp-deliveries.json");
    let yagi_exists = read_sample("glance/glance-legacy-image.exists-yagi-tests.json");
    let stacktach = read_sample("glance/glance-legacy-stacktach-tests.json");
    let stacktach_exists = stacktach
        .iter()
        .find(|delivery| delivery["body"]["event_type"] == "image.exists")
        .expect("the StackTach sample holds an image.exists");
    let mut bodies: Vec<(String, Vec<u8>)> = deliveries
        .iter()
        .map(|delivery| {
            let routing_key = delivery["routing_key"].as_str().unwrap().to_owned();
            let bytes = delivery["body"].as_str().unwrap().as_bytes().to_vec();
            (routing_key, bytes)
        })
        .collect();
    for exists in [&yagi_exists[0], &stacktach_exists["body"]] {
        bodies.push((
            "notifications.info".into(),
            serde_json::to_vec(exists).unwrap(),
        ));
    }
    // Every message twice: the second copies must change nothing.
    for (routing_key, body) in bodies.iter().chain(bodies.iter()) {
        publisher
            .publish_raw("glance", routing_key, body)
            .await
            .unwrap();
    }
    wait_for_count(&db, "raw_events", bodies.len() as i64).await;
    // The last copies are consumed after the first are stored; wait for
    // the queue to drain so they were seen.
    let queue = format!("{}tach.glance.info", broker.prefix);
    tach_tests::harness::wait_until(
        "the glance queue to drain",
        std::time::Duration::from_secs(30),
        || {
            let (url, queue) = (broker.amqp_url.clone(), queue.clone());
            async move { tach_tests::harness::TestBroker::queue_depth_at(&url, &queue).await == Some(0) }
        },
    )
    .await;

    let image = "8d4bd2b4-6d6c-4d93-9f3e-4a1f9f2d1a10";
    let owner = "c9d3a1b2e3f44e5f8a7b6c5d4e3f2a1b";
    assert_eq!(
        db.json_rows("SELECT message_id, uuid, created_at, owner, size FROM image_usage")
            .await,
        json!([{
            "message_id": "b6b607fb-471f-48c8-9477-fd4a33b1266b",
            "uuid": image,
            "created_at": "2026-11-22T22:10:29+00:00",
            "owner": owner,
            "size": 16338944,
        }])
    );
    assert_eq!(
        db.json_rows("SELECT message_id, uuid, deleted_at FROM image_deletes")
            .await,
        json!([{
            "message_id": "38bc537a-666e-47a3-8d6a-c45e62413695",
            "uuid": image,
            "deleted_at": "2026-11-22T22:10:29+00:00",
        }])
    );
    let stacktach_image = "2df2ccf6-bc1b-4853-aab0-25fda346b3bb";
    let stacktach_row = |position: i32| {
        json!({
            "message_id": "d14cfa51-6a0e-4cf8-9130-804738be96d2",
            "position": position,
            "uuid": stacktach_image,
            "created_at": "2013-05-20T19:31:57.939614+00:00",
            "deleted_at": null,
            "audit_period_beginning": "2013-05-20T17:31:57.939614+00:00",
            "audit_period_ending": "2013-06-20T17:31:57.939614+00:00",
            "owner": "testtenantid1",
            "size": 123,
            "status": "pending",
        })
    };
    let yagi_row = |position: i32, uuid: &str, created: &str, deleted: Value, size: i64| {
        json!({
            "message_id": "18b59543-2e99-4208-ba53-22726c02bd67",
            "position": position,
            "uuid": uuid,
            "created_at": created,
            "deleted_at": deleted,
            "audit_period_beginning": "2013-09-02T00:00:00+00:00",
            "audit_period_ending": "2013-09-02T23:59:59.999999+00:00",
            "owner": "owner1",
            "size": size,
            "status": "pending",
        })
    };
    assert_eq!(
        db.json_rows(
            "SELECT message_id, position, uuid, created_at, deleted_at, audit_period_beginning,
                    audit_period_ending, owner, size, status
             FROM image_exists ORDER BY message_id, position"
        )
        .await,
        json!([
            yagi_row(0, "image1", "2013-09-02T16:08:10+00:00", Value::Null, 12345),
            yagi_row(
                1,
                "image2",
                "2013-09-02T16:05:17+00:00",
                json!("2013-09-02T16:08:46+00:00"),
                67890
            ),
            stacktach_row(0),
            stacktach_row(1),
        ])
    );
    // Each row points at the event it came from.
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT event_id, message_id FROM image_usage
             UNION ALL SELECT event_id, message_id FROM image_deletes
             UNION ALL SELECT event_id, message_id FROM image_exists
         ) derived
         WHERE NOT EXISTS (SELECT 1 FROM raw_events raw
                           WHERE raw.id = derived.event_id AND raw.message_id = derived.message_id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0);

    ingest.stop().await;
    publisher.close().await.unwrap();
    broker.delete_all().await;
    db.drop_database().await;
}
