//! The generator's contract: reproducible, shaped like the publishers'
//! messages, and covering every kind of event on a default scenario.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use serde_json::Value;

use super::*;

/// The inner message of a body (unwrapping an oslo v2 envelope).
fn inner(message: &Message) -> Value {
    match message.body.get("oslo.message").and_then(Value::as_str) {
        Some(text) => serde_json::from_str(text).expect("the envelope holds JSON"),
        None => message.body.clone(),
    }
}

fn event_type(body: &Value) -> &str {
    body["event_type"].as_str().unwrap_or_default()
}

fn timestamp(body: &Value) -> NaiveDateTime {
    let text = body["timestamp"].as_str().expect("timestamp is a string");
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect(text)
}

#[test]
fn the_same_scenario_gives_the_same_bytes_and_another_seed_does_not() {
    let scenario = Scenario::default();
    let first = serde_json::to_string(&generate(&scenario)).unwrap();
    let second = serde_json::to_string(&generate(&scenario)).unwrap();
    assert_eq!(first, second);
    let other = generate(&Scenario {
        seed: 2,
        ..scenario.clone()
    });
    assert_ne!(generate(&scenario), other);
}

#[test]
fn every_body_is_a_notification_with_a_unique_id() {
    let messages = generate(&Scenario::default());
    let mut ids = BTreeSet::new();
    for message in &messages {
        let body = inner(message);
        assert!(body.is_object(), "{body}");
        for field in [
            "event_type",
            "message_id",
            "publisher_id",
            "timestamp",
            "payload",
        ] {
            assert!(body.get(field).is_some(), "{field} missing in {body}");
        }
        let id = body["message_id"].as_str().unwrap().to_owned();
        assert!(ids.insert(id.clone()), "message_id {id} repeats");
        timestamp(&body);
        let context_keys = body
            .as_object()
            .unwrap()
            .keys()
            .filter(|key| key.starts_with("_context_"))
            .count();
        match message.exchange.as_str() {
            "glance" => assert_eq!(context_keys, 0, "glance sends no context: {body}"),
            "nova" => {
                for key in [
                    "_context_request_id",
                    "_context_project_id",
                    "_context_user_id",
                ] {
                    assert!(body.get(key).is_some(), "{key} missing in {body}");
                }
            }
            exchange => {
                assert_eq!(exchange, "tach");
                assert_eq!(message.routing_key, event_type(&body));
            }
        }
    }
}

#[test]
fn the_stream_is_in_time_order_from_the_start() {
    let scenario = Scenario::default();
    let messages = generate(&scenario);
    let times: Vec<NaiveDateTime> = messages.iter().map(|m| timestamp(&inner(m))).collect();
    assert_eq!(times[0], scenario.start.naive_utc());
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
}

#[test]
fn a_default_scenario_has_every_kind_of_event() {
    let messages = generate(&Scenario::default());
    let event_types: BTreeSet<String> = messages
        .iter()
        .map(|m| event_type(&inner(m)).to_owned())
        .collect();
    let mut expected = vec![
        "scheduler.run_instance.start",
        "scheduler.run_instance.end",
        "compute.instance.exists",
        "compute.instance.shutdown.start",
        "compute.instance.shutdown.end",
        "instance.update",
        "instance.create.start",
        "instance.create.end",
        "image.create",
        "image.prepare",
        "image.upload",
        "image.activate",
        "image.update",
        "image.delete",
        "image.exists",
        "crash.processed",
        "product.version",
        "product.build",
        "release.create",
        "release.start",
        "release.end",
        "package.start",
        "package.end",
        "package.result",
        "environment.deploy",
        "environment.status",
    ];
    let steps = [
        "create",
        "resize.prep",
        "resize",
        "finish_resize",
        "resize.confirm",
        "snapshot",
        "rebuild",
        "reboot",
        "power_off",
        "delete",
    ];
    let legacy: Vec<String> = steps
        .iter()
        .flat_map(|step| ["start", "end"].map(|edge| format!("compute.instance.{step}.{edge}")))
        .collect();
    expected.extend(legacy.iter().map(String::as_str));
    expected.push("compute.instance.update");
    let missing: Vec<&str> = expected
        .into_iter()
        .filter(|kind| !event_types.contains(*kind))
        .collect();
    assert!(missing.is_empty(), "missing {missing:?} in {event_types:?}");
}

#[test]
fn errors_are_routed_as_errors_and_end_their_step() {
    let messages = generate(&Scenario::default());
    let mut nova_errors = 0;
    for message in &messages {
        let body = inner(message);
        let is_error = body["priority"] == "ERROR";
        assert_eq!(is_error, message.routing_key == "notifications.error");
        if !is_error || message.exchange != "nova" {
            continue;
        }
        nova_errors += 1;
        assert!(event_type(&body).ends_with(".error"), "{body}");
        let payload = &body["payload"];
        let code = &payload["exception"]["kwargs"]["code"];
        let fault = &payload["nova_object.data"]["fault"];
        assert!(code.is_u64() || fault.is_object(), "{body}");
        // No `.end` of the failed step in the same request.
        let request_id = &body["_context_request_id"];
        let end = event_type(&body).replace(".error", ".end");
        assert!(!messages.iter().map(inner).any(|other| {
            other["_context_request_id"] == *request_id && event_type(&other) == end
        }));
    }
    assert!(nova_errors > 0, "no nova error in a default scenario");
}

#[test]
fn glance_sends_a_failed_upload_with_a_string_payload() {
    let messages = generate(&Scenario::default());
    let failed = messages
        .iter()
        .filter(|m| m.exchange == "glance")
        .map(inner)
        .find(|body| body["payload"].is_string())
        .expect("a failed upload");
    assert_eq!(failed["event_type"], "image.upload");
    assert_eq!(failed["priority"], "ERROR");
    let exists = messages
        .iter()
        .map(inner)
        .find(|body| body["event_type"] == "image.exists")
        .expect("an image.exists");
    assert!(exists["payload"]["images"][0]["created_at"].is_string());
}

#[test]
fn hang_pairs_share_a_hangid_between_plugin_and_browser() {
    let messages = generate(&Scenario::default());
    let mut pairs: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for message in messages
        .iter()
        .filter(|m| m.routing_key == "crash.processed")
    {
        let payload = &message.body["payload"];
        if let Some(hangid) = payload["hangid"].as_str() {
            pairs
                .entry(hangid.to_owned())
                .or_default()
                .push(payload["process_type"].clone());
        }
    }
    assert!(!pairs.is_empty(), "no hang pair");
    for process_types in pairs.values() {
        assert_eq!(process_types, &[Value::from("plugin"), Value::Null]);
    }
}

#[test]
fn crash_counts_and_uuids_are_exact() {
    let scenario = Scenario {
        crashes: 101,
        ..Scenario::default()
    };
    let uuids: BTreeSet<String> = generate(&scenario)
        .iter()
        .filter(|m| m.routing_key == "crash.processed")
        .map(|m| m.body["payload"]["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(uuids.len(), 101);
}

#[test]
fn nova_mixes_envelopes_and_opens_requests_at_the_api() {
    let messages = generate(&Scenario {
        instances: 60,
        ..Scenario::default()
    });
    let nova: Vec<&Message> = messages.iter().filter(|m| m.exchange == "nova").collect();
    let v2 = nova
        .iter()
        .filter(|m| m.body["oslo.version"] == "2.0")
        .count();
    assert!(
        v2 > nova.len() / 2 && v2 < nova.len(),
        "{v2} of {}",
        nova.len()
    );
    let mut first_of_request: BTreeMap<String, Value> = BTreeMap::new();
    for message in &nova {
        let body = inner(message);
        let request_id = body["_context_request_id"].as_str().unwrap().to_owned();
        first_of_request.entry(request_id).or_insert(body);
    }
    for body in first_of_request.values() {
        let publisher = body["publisher_id"].as_str().unwrap();
        match event_type(body) {
            "compute.instance.update" => assert!(publisher.starts_with("api."), "{body}"),
            "instance.update" => assert!(publisher.starts_with("nova-api:"), "{body}"),
            // The daily audit runs in the compute host's periodic task.
            "compute.instance.exists" | "instance.exists" => {}
            other => panic!("request opened by {other}"),
        }
    }
}

#[test]
fn parts_do_not_disturb_each_other() {
    let scenario = Scenario::default();
    let nova = |scenario: &Scenario| -> Vec<Message> {
        generate(scenario)
            .into_iter()
            .filter(|m| m.exchange == "nova")
            .collect()
    };
    let more_crashes = Scenario {
        crashes: 500,
        images: 40,
        ..scenario.clone()
    };
    assert_eq!(nova(&scenario), nova(&more_crashes));
}

#[test]
fn a_message_line_is_exchange_routing_key_and_body() {
    let message = generate(&Scenario::default()).remove(0);
    let line = serde_json::to_value(&message).unwrap();
    let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["exchange", "routing_key", "body"]);
    let back: Message = serde_json::from_value(line).unwrap();
    assert_eq!(back, message);
    for message in generate(&Scenario::default()).iter().step_by(17) {
        assert_eq!(
            message.to_json_line(),
            serde_json::to_string(message).unwrap()
        );
        assert_eq!(
            message.body_bytes(),
            serde_json::to_vec(&message.body).unwrap()
        );
    }
}

#[test]
fn copies_are_fresh_streams_later_in_time() {
    let scenario = Scenario::default();
    assert_eq!(scenario.copy(0), scenario);
    let copy = scenario.copy(1);
    assert!(copy.start > scenario.start && copy.seed != scenario.seed);
    let ids = |scenario: &Scenario| -> BTreeSet<String> {
        generate(scenario)
            .iter()
            .map(|m| inner(m)["message_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(ids(&scenario).is_disjoint(&ids(&copy)));
}

/// An audit period's bounds in a nova payload, legacy (`payload.audit_period_*`)
/// or versioned (`payload.nova_object.data.audit_period`).
fn audit_bounds(body: &Value) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let payload = &body["payload"];
    let versioned = &payload["nova_object.data"]["audit_period"]["nova_object.data"];
    let holder = if versioned.is_object() {
        versioned
    } else {
        payload
    };
    let parse = |key: &str| {
        let text = holder.get(key)?.as_str()?;
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ"))
            .ok()
    };
    Some((
        parse("audit_period_beginning")?,
        parse("audit_period_ending")?,
    ))
}

#[test]
fn hourly_audits_cover_every_hour_a_running_instance_lives() {
    use chrono::{TimeDelta, Timelike};
    let scenario = Scenario {
        instances: 12,
        images: 0,
        crashes: 0,
        releases: 0,
        products: 0,
        audit_period: AuditPeriod::Hourly,
        ..Scenario::default()
    };
    let mut audits: BTreeMap<String, Vec<NaiveDateTime>> = BTreeMap::new();
    for message in generate(&scenario) {
        let body = inner(&message);
        let name = event_type(&body);
        if !(name.ends_with("update") || name.ends_with("exists")) {
            continue;
        }
        // Updates and exists carry the current period: it starts on the hour.
        let (beginning, ending) = audit_bounds(&body).expect("an audit period");
        assert_eq!((beginning.minute(), beginning.second()), (0, 0), "{body}");
        let periodic = ending.minute() == 0 && ending.second() == 0 && ending > beginning;
        if name.ends_with("exists") && periodic {
            assert_eq!(ending - beginning, TimeDelta::hours(1), "{body}");
            let payload = &body["payload"];
            let instance = payload["instance_id"]
                .as_str()
                .or(payload["nova_object.data"]["uuid"].as_str())
                .unwrap();
            audits
                .entry(instance.to_owned())
                .or_default()
                .push(beginning);
        }
    }
    // Consecutive hours, none twice; instances left running collect many.
    for hours in audits.values() {
        assert!(hours
            .windows(2)
            .all(|pair| pair[1] - pair[0] == TimeDelta::hours(1)));
    }
    assert!(audits.values().any(|hours| hours.len() >= 24), "{audits:?}");
    let daily = generate(&Scenario {
        audit_period: AuditPeriod::Daily,
        ..scenario
    });
    let daily_exists = daily
        .iter()
        .filter(|m| event_type(&inner(m)).ends_with("exists"))
        .count();
    let hourly_exists: usize = audits.values().map(Vec::len).sum();
    assert!(hourly_exists > 4 * daily_exists.max(1));
}
