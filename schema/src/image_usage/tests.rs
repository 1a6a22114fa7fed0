//! Image rows of real glance notifications (tests/samples/glance).

use std::path::Path;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::envelope::{parse, DEFAULT_MAX_BODY_BYTES};
use crate::event::{Delivery, ExchangeFamily};

fn sample(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/glance")
        .join(file);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn event_of(body: &Value, exchange_family: ExchangeFamily) -> Event {
    let body = serde_json::to_vec(body).unwrap();
    let delivery = Delivery {
        exchange: "glance",
        routing_key: "notifications.info",
        exchange_family,
        body: &body,
        received_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
    };
    parse(&delivery, DEFAULT_MAX_BODY_BYTES).unwrap()
}

fn glance(body: &Value) -> ImageRows {
    rows_of(&event_of(body, ExchangeFamily::Glance))
}

fn utc(text: &str) -> DateTime<Utc> {
    timestamp::parse(text).unwrap()
}

#[test]
fn activate_records_the_image_usage() {
    let rows = glance(&sample("glance-33.0.0-image.activate.json"));
    let usage = ImageUsage {
        uuid: "8d4bd2b4-6d6c-4d93-9f3e-4a1f9f2d1a10".into(),
        created_at: Some(utc("2026-11-22T22:10:29Z")),
        owner: Some("c9d3a1b2e3f44e5f8a7b6c5d4e3f2a1b".into()),
        size: Some(16338944),
    };
    assert_eq!(
        rows,
        ImageRows {
            usage: Some(usage),
            ..ImageRows::default()
        }
    );
}

#[test]
fn delete_records_the_deletion_time() {
    let rows = glance(&sample("glance-33.0.0-image.delete.json"));
    let delete = ImageDelete {
        uuid: "8d4bd2b4-6d6c-4d93-9f3e-4a1f9f2d1a10".into(),
        deleted_at: Some(utc("2026-11-22T22:10:29Z")),
    };
    assert_eq!(
        rows,
        ImageRows {
            delete: Some(delete),
            ..ImageRows::default()
        }
    );
}

#[test]
fn a_deleted_at_beside_the_payload_wins() {
    let mut body = sample("glance-33.0.0-image.delete.json");
    body["deleted_at"] = json!("2026-11-22 23:00:00");
    let rows = glance(&body);
    assert_eq!(
        rows.delete.unwrap().deleted_at,
        Some(utc("2026-11-22T23:00:00Z"))
    );
}

#[test]
fn exists_gives_one_row_per_listed_image() {
    let rows = glance(&sample("glance-legacy-image.exists-yagi-tests.json"));
    let period = (
        Some(utc("2013-09-02 00:00:00")),
        Some(utc("2013-09-02 23:59:59.999999")),
    );
    assert_eq!(
        rows.exists,
        vec![
            ImageExists {
                position: 0,
                uuid: "image1".into(),
                created_at: utc("2013-09-02 16:08:10"),
                deleted_at: None,
                audit_period_beginning: period.0,
                audit_period_ending: period.1,
                owner: Some("owner1".into()),
                size: Some(12345),
            },
            ImageExists {
                position: 1,
                uuid: "image2".into(),
                created_at: utc("2013-09-02 16:05:17"),
                deleted_at: Some(utc("2013-09-02 16:08:46")),
                audit_period_beginning: period.0,
                audit_period_ending: period.1,
                owner: Some("owner1".into()),
                size: Some(67890),
            },
        ]
    );
    assert!(rows.usage.is_none() && rows.delete.is_none());
}

#[test]
fn an_image_listed_twice_gives_two_rows() {
    let legacy = sample("glance-legacy-stacktach-tests.json");
    let exists = legacy
        .as_array()
        .unwrap()
        .iter()
        .find(|delivery| delivery["body"]["event_type"] == "image.exists")
        .unwrap();
    let rows = glance(&exists["body"]);
    let listed: Vec<(i32, &str)> = rows
        .exists
        .iter()
        .map(|row| (row.position, row.uuid.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (0, "2df2ccf6-bc1b-4853-aab0-25fda346b3bb"),
            (1, "2df2ccf6-bc1b-4853-aab0-25fda346b3bb"),
        ]
    );
    assert_eq!(rows.exists[0].owner.as_deref(), Some("testtenantid1"));
}

#[test]
fn images_without_id_or_creation_time_are_skipped() {
    let body = json!({
        "event_type": "image.exists",
        "message_id": "m-1",
        "timestamp": "2026-01-01 00:00:00",
        "payload": {
            "owner": "o",
            "images": [
                {"id": "no-created-at", "created_at": null},
                {"created_at": "2026-01-01 00:00:00"},
                "not an object",
                {"id": "kept", "created_at": "2026-01-01 00:00:00", "size": "big"},
            ],
        },
    });
    let rows = glance(&body);
    assert_eq!(rows.exists.len(), 1);
    assert_eq!(
        (rows.exists[0].position, rows.exists[0].uuid.as_str()),
        (3, "kept")
    );
    assert_eq!(rows.exists[0].size, None);
}

#[test]
fn nothing_comes_of_other_events() {
    let string_payload = sample("glance-33.0.0-image.upload-error.json");
    assert!(glance(&string_payload).is_empty());
    assert!(glance(&sample("glance-33.0.0-image.create.json")).is_empty());
    let no_images = json!({"event_type": "image.exists", "payload": {"images": "none"}});
    assert!(glance(&no_images).is_empty());
    let activate_without_id = json!({"event_type": "image.activate", "payload": {"size": 1}});
    assert!(glance(&activate_without_id).is_empty());
    // The same body through a nova exchange is not glance's.
    let activate = sample("glance-33.0.0-image.activate.json");
    assert!(rows_of(&event_of(&activate, ExchangeFamily::Nova)).is_empty());
}
