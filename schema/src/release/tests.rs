use chrono::TimeZone;
use serde_json::json;

use super::*;

fn event(event_type: &str, second: u32, message_id: &str, payload: Value) -> ReleaseEvent {
    ReleaseEvent {
        event_type: event_type.to_owned(),
        when: Utc.with_ymd_and_hms(2026, 1, 2, 3, 0, second).unwrap(),
        message_id: message_id.to_owned(),
        payload: payload.as_object().cloned().unwrap_or_default(),
    }
}

fn lifecycle() -> Vec<ReleaseEvent> {
    let package = |extra: Value| {
        let mut fields =
            json!({"release_id": "r", "package_id": "p", "name": "web", "version": "1.0"});
        fields
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        fields
    };
    vec![
        event(
            "release.create",
            0,
            "a",
            json!({"id": "r", "tag": "v1", "user": "ann", "platforms": "prod", "notes": ["n1"], "metadata": {"k": 1}}),
        ),
        event("release.start", 1, "b", json!({"release_id": "r"})),
        event("package.start", 2, "c", package(json!({}))),
        event("package.end", 12, "d", package(json!({"success": "True"}))),
        event(
            "package.result",
            12,
            "e",
            json!({"release_id": "r", "package_id": "p", "content": "ok"}),
        ),
        event(
            "release.note",
            13,
            "f",
            json!({"release_id": "r", "text": "n2"}),
        ),
        event(
            "release.metadata",
            13,
            "g",
            json!({"release_id": "r", "metadata": {"k": 2, "j": 3}}),
        ),
        event("release.end", 20, "h", json!({"release_id": "r"})),
    ]
}

#[test]
fn a_lifecycle_derives_the_same_release_in_every_order() {
    let events = lifecycle();
    let expected = derive("r", &events).unwrap();
    assert_eq!(expected.status, Status::Successful);
    assert_eq!(expected.duration, Some(19));
    assert_eq!(expected.platforms, vec![json!("prod")]);
    assert_eq!(expected.notes, vec![json!("n1"), json!("n2")]);
    assert_eq!(
        Value::Object(expected.metadata.clone()),
        json!({"k": 2, "j": 3})
    );
    assert_eq!(expected.tag(), Some("v1"));
    let package = &expected.packages[0];
    assert_eq!(
        (package.status, package.duration),
        (Status::Successful, Some(10))
    );
    assert_eq!(package.results, vec![json!("ok")]);
    // Rotations and the reverse cover every position of every event.
    for shift in 0..events.len() {
        let mut rotated = events.clone();
        rotated.rotate_left(shift);
        assert_eq!(derive("r", &rotated).as_ref(), Some(&expected));
        rotated.reverse();
        assert_eq!(derive("r", &rotated).as_ref(), Some(&expected));
    }
}

fn package_with(status: Status) -> Package {
    Package {
        status,
        ..new_package("p".into())
    }
}

#[test]
fn release_status_follows_its_packages() {
    use Status::*;
    let cases: [(&[Status], bool, Status); 9] = [
        (&[], false, NotStarted),
        (&[], true, Successful),
        (&[Successful, Failed], false, Failed),
        (&[InProgress, Failed], false, Failed),
        (&[InProgress, Successful], false, InProgress),
        (&[Successful, Successful], true, Successful),
        (&[NotStarted, NotStarted], false, NotStarted),
        (&[Successful, NotStarted], false, InProgress),
        (&[InProgress], false, InProgress),
    ];
    for (statuses, stopped, expected) in cases {
        let packages: Vec<Package> = statuses.iter().map(|s| package_with(*s)).collect();
        assert_eq!(release_status(&packages, stopped), expected, "{statuses:?}");
    }
}

#[test]
fn success_is_read_as_orlo_reads_it() {
    for (value, expected) in [
        (json!(true), true),
        (json!("true"), true),
        (json!("True"), true),
        (json!("1"), true),
        (json!(false), false),
        (json!("yes"), false),
        (json!(null), false),
    ] {
        assert_eq!(is_success(Some(&value)), expected, "{value}");
    }
    assert!(!is_success(None));
}

#[test]
fn an_early_stop_is_kept_and_paired_later() {
    let stop = event(
        "package.end",
        5,
        "x",
        json!({"package_id": "p", "success": false}),
    );
    let alone = derive("r", std::slice::from_ref(&stop)).unwrap();
    assert_eq!(alone.packages[0].status, Status::Failed);
    assert_eq!(alone.packages[0].stime, None);
    let start = event("package.start", 1, "y", json!({"package_id": "p"}));
    let paired = derive("r", &[stop, start]).unwrap();
    assert_eq!(paired.packages[0].duration, Some(4));
}
