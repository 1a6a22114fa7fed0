use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::event::Family;

fn event(event_type: &str, message_id: &str, second: u32, payload: Value) -> Event {
    let mut message = Map::new();
    message.insert("payload".into(), payload);
    Event {
        message_id: message_id.into(),
        family: Family::Crash,
        exchange: "tach".into(),
        routing_key: event_type.into(),
        is_error: false,
        event_type: event_type.into(),
        when: Utc.with_ymd_and_hms(2015, 11, 30, 0, 0, second).unwrap(),
        publisher: None,
        service: None,
        host: None,
        instance: None,
        request_id: None,
        tenant: None,
        state: None,
        old_state: None,
        old_task: None,
        task: None,
        image_type: None,
        image_uuid: None,
        image_status: None,
        image_owner: None,
        image_size: None,
        body: String::new(),
        message,
    }
}

#[test]
fn a_report_keeps_its_fields_and_addons() {
    let report = CrashReport::from_event(&event(
        "crash.processed",
        "m1",
        0,
        json!({"uuid": "u1", "date_processed": "2015-11-30T00:00:04.470287+00:00",
               "product": "Firefox", "version": "42.0", "build": "20151029151421",
               "os_name": "Windows NT", "signature": "sig\u{0}", "hangid": "",
               "process_type": "plugin", "addons": [["a@b", "1.0"], ["c", null], "d", [null], {}]}),
    ))
    .unwrap();
    assert_eq!(report.uuid, "u1");
    assert_eq!(report.build_id, Some(20151029151421));
    assert_eq!(report.signature, "sig\\u0000", "NUL kept as its escape");
    assert_eq!(report.hangid, None);
    assert_eq!(
        report.addons,
        vec![
            Addon {
                position: 0,
                id: "a@b".into(),
                version: Some("1.0".into())
            },
            Addon {
                position: 1,
                id: "c".into(),
                version: None
            },
            Addon {
                position: 2,
                id: "d".into(),
                version: None
            },
        ]
    );
    let counts = SignatureCounts::of(&report.facts());
    assert_eq!(counts, SignatureCounts([1, 1, 0, 0, 0, 0, 1, 0, 0]));
}

#[test]
fn the_newest_message_wins_in_any_order() {
    let items = |order: [usize; 3]| {
        let all = [
            (
                "k",
                Source {
                    when: Utc.timestamp_opt(10, 0).unwrap(),
                    message_id: "b".into(),
                },
                1,
            ),
            (
                "k",
                Source {
                    when: Utc.timestamp_opt(10, 0).unwrap(),
                    message_id: "c".into(),
                },
                2,
            ),
            (
                "k",
                Source {
                    when: Utc.timestamp_opt(5, 0).unwrap(),
                    message_id: "z".into(),
                },
                3,
            ),
        ];
        order.map(|index| all[index].clone())
    };
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]] {
        let newest = newest_per_key(items(order));
        assert_eq!(newest["k"].1, 2);
    }
}

#[test]
fn replacing_a_report_undoes_its_contribution() {
    let mut deltas = SignatureDeltas::default();
    let old = CrashReport::from_event(&event(
        "crash.processed",
        "m1",
        0,
        json!({"uuid": "u1", "product": "Firefox", "version": "42.0", "signature": "a", "os_name": "Linux"}),
    ))
    .unwrap();
    deltas.add(&old.facts(), 1);
    deltas.add(&old.facts(), -1);
    assert!(deltas.changed().is_empty());
}

#[test]
fn product_rows_need_their_keys() {
    let version = ProductVersion::from_event(&event(
        "product.version",
        "m",
        0,
        json!({"product": "Firefox", "version": "42.0", "build_type": "release",
               "major_version": 42, "start_date": "2015-10-01", "throttle": 10.0, "is_featured": true}),
    ))
    .unwrap();
    assert_eq!(version.major_version.as_deref(), Some("42"));
    assert_eq!(version.release_channel.as_deref(), Some("release"));
    assert!(ProductBuild::from_event(&event(
        "product.build",
        "m",
        0,
        json!({"product": "Firefox", "version": "42.0", "buildid": "nightly"}),
    ))
    .is_none());
}
