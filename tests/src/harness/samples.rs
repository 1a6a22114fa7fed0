//! Loading the sample notifications of `tests/samples/`, and generated
//! streams, into a test database through the shared write path, optionally
//! shifted in time (KPI and watch look at the recent past).

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tach_schema::{Delivery, Event, ExchangeFamily, Store};

use crate::gen::Message;

/// The samples directory.
pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// The notifications of a JSON-array sample file, e.g. `nova-legacy/nova-legacy-create-sequence.json`.
pub fn read_sample(relative: &str) -> Vec<Value> {
    let bytes = std::fs::read(samples_dir().join(relative)).expect("sample file");
    match serde_json::from_slice(&bytes).expect("sample is JSON") {
        Value::Array(items) => items,
        single => vec![single],
    }
}

/// Moves every `timestamp` of `messages` by `shift`, keeping nova's format.
pub fn shift_timestamps(messages: &mut [Value], shift: TimeDelta) {
    for message in messages {
        let Some(text) = message.get("timestamp").and_then(Value::as_str) else {
            continue;
        };
        let when = tach_schema::timestamp::parse(text).expect("sample timestamp parses") + shift;
        message["timestamp"] = Value::String(when.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
    }
}

/// Parses and stores `messages` (bodies of one exchange family) for `deployment`.
pub async fn store_messages(
    store: &Store,
    deployment: &str,
    family: ExchangeFamily,
    messages: &[Value],
) -> Vec<Event> {
    let deployment_id = store.deployment_id(deployment).await.expect("deployment");
    let events: Vec<Event> = messages
        .iter()
        .map(|message| {
            let body = serde_json::to_vec(message).expect("serializable");
            let priority = message
                .get("priority")
                .and_then(Value::as_str)
                .unwrap_or("INFO")
                .to_lowercase();
            let routing_key = format!("notifications.{priority}");
            let delivery = Delivery {
                exchange: exchange_name(family),
                routing_key: &routing_key,
                exchange_family: family,
                body: &body,
                received_at: received_at(),
            };
            tach_schema::parse(&delivery, tach_schema::envelope::DEFAULT_MAX_BODY_BYTES)
                .expect("sample parses")
        })
        .collect();
    store
        .write_batch(deployment_id, &events, &[])
        .await
        .expect("batch commits");
    events
}

fn exchange_name(family: ExchangeFamily) -> &'static str {
    match family {
        ExchangeFamily::Nova => "nova",
        ExchangeFamily::Glance => "glance",
        ExchangeFamily::Tach => "tach",
        ExchangeFamily::Generic => "generic",
    }
}

fn received_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("constant")
        .with_timezone(&Utc)
}

/// Stores `tach-gen` messages for deployment `region-1` through the write
/// path, 250 per batch, each as received at `received_at`.
pub async fn store_generated(store: &Store, messages: &[Message], received_at: DateTime<Utc>) {
    let deployment_id = store.deployment_id("region-1").await.expect("deployment");
    for chunk in messages.chunks(250) {
        let bodies: Vec<Vec<u8>> = chunk.iter().map(Message::body_bytes).collect();
        let events: Vec<Event> = chunk
            .iter()
            .zip(&bodies)
            .map(|(message, body)| {
                let delivery = Delivery {
                    exchange: &message.exchange,
                    routing_key: &message.routing_key,
                    exchange_family: match message.exchange.as_str() {
                        "nova" => ExchangeFamily::Nova,
                        "glance" => ExchangeFamily::Glance,
                        _ => ExchangeFamily::Tach,
                    },
                    body,
                    received_at,
                };
                tach_schema::parse(&delivery, tach_schema::envelope::DEFAULT_MAX_BODY_BYTES)
                    .expect("generated messages parse")
            })
            .collect();
        store
            .write_batch(deployment_id, &events, &[])
            .await
            .expect("the batch is stored");
    }
}
