//! Every file of `tests/samples/` (real payloads written by others) turned
//! into deliveries and parsed; selected fields asserted for each envelope.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::event::{Delivery, ExchangeFamily};
use crate::image_type::{BASE_IMAGE, LINUX_IMAGE, OS_DEBIAN};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/samples")
}

fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

/// A delivery owned by the test.
struct Sample {
    file: String,
    exchange_family: ExchangeFamily,
    routing_key: String,
    body: Vec<u8>,
}

impl Sample {
    fn parse(&self) -> Result<Event, ParseError> {
        let delivery = Delivery {
            exchange: "test",
            routing_key: &self.routing_key,
            exchange_family: self.exchange_family,
            body: &self.body,
            received_at: received_at(),
        };
        parse(&delivery, DEFAULT_MAX_BODY_BYTES)
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn routing_key_for(body: &Value) -> String {
    let priority = body["priority"].as_str().unwrap_or("INFO").to_lowercase();
    format!("notifications.{priority}")
}

fn notification(file: &str, family: ExchangeFamily, body: &Value) -> Sample {
    Sample {
        file: file.to_owned(),
        exchange_family: family,
        routing_key: routing_key_for(body),
        body: serde_json::to_vec(body).unwrap(),
    }
}

fn tach_event(file: &str, event_type: &str, payload: &Value) -> Sample {
    let body = json!({
        "event_type": event_type,
        "publisher_id": "sample.test",
        "timestamp": "2015-11-30 00:00:00",
        "payload": payload,
    });
    Sample {
        file: file.to_owned(),
        exchange_family: ExchangeFamily::Tach,
        routing_key: event_type.to_owned(),
        body: serde_json::to_vec(&body).unwrap(),
    }
}

fn family_of_exchange(exchange: &str) -> ExchangeFamily {
    match exchange {
        "nova" => ExchangeFamily::Nova,
        "glance" => ExchangeFamily::Glance,
        _ => ExchangeFamily::Generic,
    }
}

/// Replaces notigen's `[[[[DT_n]]]]` placeholders using the template's
/// `time_map` (days, seconds, microseconds from a base time), and every other
/// placeholder with a fixed string, as notigen rendered them.
fn render_template(template: &Value) -> Vec<Value> {
    let items = template.as_array().unwrap();
    let time_map = items[0]["time_map"].as_object().unwrap();
    let base = Utc.with_ymd_and_hms(2015, 1, 22, 0, 0, 0).unwrap();
    let mut text = serde_json::to_string(&items[1..]).unwrap();
    for (placeholder, offset) in time_map {
        let [days, seconds, micros] = [0, 1, 2].map(|i| offset[i].as_i64().unwrap());
        let when = base
            + Duration::days(days)
            + Duration::seconds(seconds)
            + Duration::microseconds(micros);
        text = text.replace(
            placeholder,
            &when.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        );
    }
    while let Some(start) = text.find("[[[[") {
        let end = text[start..].find("]]]]").unwrap() + start + 4;
        text.replace_range(start..end, "rendered-value");
    }
    serde_json::from_str(&text).unwrap()
}

/// Turns one sample file into deliveries, by what the file holds (see
/// tests/samples/SOURCES.md). A file nobody classified fails the test.
fn deliveries_of(path: &Path) -> Vec<Sample> {
    let file = path.file_name().unwrap().to_str().unwrap().to_owned();
    let directory = path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let value = || read_json(path);
    let routed = |family: ExchangeFamily| -> Vec<Sample> {
        value()
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let routing_key = item["routing_key"].as_str().unwrap();
                let family = if routing_key.starts_with("generic") {
                    ExchangeFamily::Generic
                } else {
                    family
                };
                Sample {
                    file: file.clone(),
                    exchange_family: family,
                    routing_key: routing_key.to_owned(),
                    body: serde_json::to_vec(&item["body"]).unwrap(),
                }
            })
            .collect()
    };
    let amqp = || -> Vec<Sample> {
        value()
            .as_array()
            .unwrap()
            .iter()
            .map(|item| Sample {
                file: file.clone(),
                exchange_family: family_of_exchange(item["exchange"].as_str().unwrap()),
                routing_key: item["routing_key"].as_str().unwrap().to_owned(),
                body: item["body"].as_str().unwrap().as_bytes().to_vec(),
            })
            .collect()
    };
    let each = |family: ExchangeFamily| -> Vec<Sample> {
        match value() {
            Value::Array(items) => items
                .iter()
                .map(|body| notification(&file, family, body))
                .collect(),
            body => vec![notification(&file, family, &body)],
        }
    };
    match (directory, file.as_str()) {
        (_, name) if name.ends_with(".md") => vec![],
        (_, name) if name.contains("amqp-deliveries") => amqp(),
        (_, name) if name.ends_with("stacktach-tests.json") => routed(if directory == "glance" {
            ExchangeFamily::Glance
        } else {
            ExchangeFamily::Nova
        }),
        ("oslo-messaging", _) => vec![Sample {
            file: file.clone(),
            exchange_family: ExchangeFamily::Nova,
            routing_key: if file.contains("error") {
                "notifications.error"
            } else {
                "notifications.info"
            }
            .into(),
            body: std::fs::read(path).unwrap(),
        }],
        ("nova-legacy" | "nova-versioned", _) => each(ExchangeFamily::Nova),
        ("glance", _) => each(ExchangeFamily::Glance),
        ("notigen-templates", _) => render_template(&value())
            .iter()
            .map(|body| notification(&file, ExchangeFamily::Nova, body))
            .collect(),
        ("socorro", "socorro-processed-crashes-2015-11-30.json") => value()
            .as_array()
            .unwrap()
            .iter()
            .map(|crash| tach_event(&file, "crash.processed", crash))
            .collect(),
        ("socorro", "socorro-middleware-server_status-response.json") => value()["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|status| tach_event(&file, "environment.status", &status.clone()))
            .collect(),
        // The raw crash's metadata, as the middleware returned it: no uuid.
        ("socorro", "socorro-middleware-crash_data-meta-response.json") => {
            vec![tach_event(&file, "crash.meta", &value())]
        }
        ("socorro", _) => vec![tach_event(&file, "crash.processed", &value())],
        ("releases", "orlo-0.4.3-http-exchanges.json") => vec![],
        ("releases", name) if name.starts_with("github-git") => value()
            .as_array()
            .unwrap()
            .iter()
            .map(|tag| tach_event(&file, "release.create", tag))
            .collect(),
        ("releases", "orlo-json_examples-releases.json") => {
            vec![tach_event(&file, "release.create", &value())]
        }
        ("releases", "orlo-json_examples-package.json") => {
            vec![tach_event(&file, "package.start", &value())]
        }
        other => panic!("unclassified sample {other:?}: say in deliveries_of how to read it"),
    }
}

fn all_samples() -> Vec<Sample> {
    let mut paths = Vec::new();
    for directory in std::fs::read_dir(samples_dir()).unwrap() {
        let directory = directory.unwrap().path();
        if directory.is_dir() {
            for file in std::fs::read_dir(&directory).unwrap() {
                paths.push(file.unwrap().path());
            }
        }
    }
    paths.sort();
    assert!(paths.len() > 90, "samples missing: {}", paths.len());
    paths.iter().flat_map(|path| deliveries_of(path)).collect()
}

fn sample(file: &str, index: usize) -> Event {
    let samples: Vec<Sample> = all_samples()
        .into_iter()
        .filter(|s| s.file == file)
        .collect();
    samples[index].parse().unwrap()
}

#[test]
fn every_sample_parses() {
    let samples = all_samples();
    assert!(samples.len() > 500, "only {} deliveries", samples.len());
    for sample in &samples {
        let event = sample
            .parse()
            .unwrap_or_else(|error| panic!("{}: {error}", sample.file));
        assert!(!event.event_type.is_empty(), "{}", sample.file);
        assert!(!event.message_id.is_empty(), "{}", sample.file);
    }
}

#[test]
fn legacy_nova_fields() {
    let event = sample("nova-legacy-create-sequence.json", 0);
    assert_eq!(event.family, Family::Nova);
    assert_eq!(event.event_type, "compute.instance.update");
    assert_eq!(event.message_id, "45b90e58-9bca-5c2a-a7db-bb08ceea649b");
    assert_eq!(
        event.when,
        Utc.with_ymd_and_hms(2015, 1, 22, 0, 0, 0).unwrap()
    );
    assert_eq!(event.publisher.as_deref(), Some("api.api-01"));
    assert_eq!(event.service.as_deref(), Some("api"));
    assert_eq!(event.host.as_deref(), Some("api-01"));
    assert_eq!(
        event.instance.as_deref(),
        Some("248c4d3b-5329-5e58-96c3-cb77f0798c4b")
    );
    assert_eq!(event.tenant.as_deref(), Some("210397"));
    assert_eq!(
        event.request_id.as_deref(),
        Some("req-cebe3671-b96a-54f8-9c82-780906f80aed")
    );
    assert_eq!(event.state.as_deref(), Some("building"));
    assert_eq!(event.old_state, None);
    assert_eq!(event.old_task, None);
    assert_eq!(event.task.as_deref(), Some("scheduling"));
    assert_eq!(event.image_type, Some(BASE_IMAGE | LINUX_IMAGE | OS_DEBIAN));
    assert!(!event.is_error);
}

#[test]
fn oslo_v2_envelope_is_unwrapped() {
    let event = sample(
        "oslo-messaging-v2-envelope-compute.instance.create.end.json",
        0,
    );
    assert_eq!(event.message_id, "44a60c6f-c911-4470-aed5-a006ca1625e9");
    assert_eq!(event.event_type, "compute.instance.create.end");
    assert_eq!(
        event.when,
        DateTime::parse_from_rfc3339("2026-11-22T22:11:43.640231Z").unwrap()
    );
    assert_eq!(event.service.as_deref(), Some("compute"));
    assert_eq!(event.host.as_deref(), Some("compute-53"));
    assert_eq!(
        event.instance.as_deref(),
        Some("248c4d3b-5329-5e58-96c3-cb77f0798c4b")
    );
    assert_eq!(event.tenant.as_deref(), Some("210397"));
    assert_eq!(
        event.request_id.as_deref(),
        Some("req-cebe3671-b96a-54f8-9c82-780906f80aed")
    );
    assert_eq!(event.state.as_deref(), Some("building"));
    assert_eq!(event.image_type, Some(BASE_IMAGE | LINUX_IMAGE | OS_DEBIAN));
    // The stored body is the inner message, verbatim.
    assert!(
        event.body.starts_with("{\"message_id\": \"44a60c6f"),
        "{}",
        &event.body[..40]
    );
    let error = sample(
        "oslo-messaging-v2-envelope-compute.instance.create.error.json",
        0,
    );
    assert!(error.is_error);
    assert_eq!(error.event_type, "compute.instance.create.error");
}

#[test]
fn versioned_nova_fields() {
    let event = sample("nova-versioned-instance-update.json", 0);
    assert_eq!(event.event_type, "instance.update");
    assert_eq!(event.publisher.as_deref(), Some("nova-compute:fake-mini"));
    assert_eq!(event.service.as_deref(), Some("nova-compute"));
    assert_eq!(event.host.as_deref(), Some("fake-mini"));
    assert_eq!(
        event.instance.as_deref(),
        Some("178b0921-8f85-4257-88b6-2e743b5a975c")
    );
    assert_eq!(
        event.tenant.as_deref(),
        Some("6f70656e737461636b20342065766572")
    );
    assert_eq!(event.state.as_deref(), Some("active"));
    assert_eq!(event.task.as_deref(), Some("scheduling"));
    assert_eq!(event.old_state.as_deref(), Some("building"));
    assert_eq!(event.old_task, None);
    // No timestamp in the sample: the time of receipt stands in.
    assert_eq!(event.when, received_at());
}

#[test]
fn glance_fields() {
    let event = sample("glance-33.0.0-image.activate.json", 0);
    assert_eq!(event.family, Family::Glance);
    assert_eq!(event.message_id, "b6b607fb-471f-48c8-9477-fd4a33b1266b");
    assert_eq!(event.service.as_deref(), Some("image"));
    assert_eq!(event.host.as_deref(), Some("localhost"));
    assert_eq!(
        event.image_uuid.as_deref(),
        Some("8d4bd2b4-6d6c-4d93-9f3e-4a1f9f2d1a10")
    );
    assert_eq!(event.image_status.as_deref(), Some("active"));
    assert_eq!(
        event.image_owner.as_deref(),
        Some("c9d3a1b2e3f44e5f8a7b6c5d4e3f2a1b")
    );
    assert_eq!(
        event.tenant.as_deref(),
        Some("c9d3a1b2e3f44e5f8a7b6c5d4e3f2a1b")
    );
    assert_eq!(event.image_size, Some(16338944));
    assert_eq!(event.image_type, Some(BASE_IMAGE));
    assert_eq!(event.request_id, None);
}

#[test]
fn glance_string_payload_is_kept_with_null_fields() {
    let event = sample("glance-33.0.0-image.upload-error.json", 0);
    assert!(event.is_error);
    assert_eq!(
        event.payload(),
        Some(&json!("Image storage media is full: disk full"))
    );
    assert_eq!(
        (
            event.image_uuid,
            event.image_status,
            event.tenant,
            event.instance,
            event.image_type
        ),
        (None, None, None, None, None)
    );
}

#[test]
fn crash_reports_are_keyed_by_uuid() {
    let event = sample("socorro-processed-crashes-2015-11-30.json", 0);
    assert_eq!(event.family, Family::Crash);
    assert_eq!(
        event.instance.as_deref(),
        Some("023f4074-ca43-4f1d-931f-737122151130")
    );
}

fn raw(body: &[u8], routing_key: &str) -> Result<Event, ParseError> {
    raw_with_limit(body, routing_key, 1000)
}

fn raw_with_limit(body: &[u8], routing_key: &str, limit: usize) -> Result<Event, ParseError> {
    let delivery = Delivery {
        exchange: "nova",
        routing_key,
        exchange_family: ExchangeFamily::Tach,
        body,
        received_at: received_at(),
    };
    parse(&delivery, limit)
}

#[test]
fn bad_input_gets_a_reason_code() {
    let cases: [(&[u8], &str); 9] = [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe\x00garbage", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b"\"text\"", "not_an_object"),
        (br#"{"payload": {}}"#, "missing_event_type"),
        (
            br#"{"event_type": "x", "timestamp": "yesterday"}"#,
            "bad_timestamp",
        ),
        (
            br#"{"oslo.version": "2.0", "oslo.message": 5}"#,
            "bad_envelope",
        ),
        (
            br#"{"event_type": "crash.processed", "payload": {}}"#,
            "missing_field",
        ),
        (&[b' '; 1001], "too_large"),
    ];
    for (body, code) in cases {
        let error = raw(body, "x.info").unwrap_err();
        assert_eq!(error.code(), code, "{error}");
    }
}

#[test]
fn derived_ids_are_stable_and_routing_keys_mark_errors() {
    let body = br#"{"event_type": "thing.happened", "payload": {"tenant_id": "t\u0000x"}}"#;
    let first = raw(body, "notifications.error").unwrap();
    let second = raw(body, "notifications.error").unwrap();
    assert_eq!(first.message_id, second.message_id);
    assert_eq!(first.family, Family::Generic);
    assert!(first.is_error);
    assert_eq!(
        first.tenant.as_deref(),
        Some("t\\u0000x"),
        "NUL is escaped in columns"
    );
    assert_ne!(
        first.message_id,
        raw(b"{\"event_type\": \"other\"}", "x").unwrap().message_id
    );
}

#[test]
fn a_release_without_an_id_gets_one_from_its_message_id() {
    let body =
        br#"{"event_type": "release.create", "message_id": "m-1", "payload": {"tag": "v1"}}"#;
    let first = raw(body, "release.create").unwrap();
    let again = raw(body, "release.create").unwrap();
    let release = first.instance.clone().unwrap();
    assert!(uuid::Uuid::parse_str(&release).is_ok(), "{release}");
    assert_eq!(again.instance, first.instance);
}

#[test]
fn overlong_values_are_cut_in_columns_but_kept_in_the_body() {
    let host = "h".repeat(5000);
    let body = json!({"event_type": "a.b", "publisher_id": format!("svc.{host}")}).to_string();
    let routing_key = format!("{}.error", "k".repeat(5000));
    let event = raw_with_limit(body.as_bytes(), &routing_key, DEFAULT_MAX_BODY_BYTES).unwrap();
    assert_eq!(event.host.unwrap().len(), MAX_FIELD_CHARS);
    assert!(event.body.contains(&host));
    // The routing key is a column too (and indexed); the error mark is
    // read from the whole key.
    assert_eq!(event.routing_key.len(), MAX_FIELD_CHARS);
    assert!(event.is_error);
}
