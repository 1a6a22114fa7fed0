//! How a generated notification is put on the wire (CLIENTS.md §1): the
//! legacy notification object, oslo.messaging's two drivers' bodies, the
//! routing key, and the time formats the publishers write.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{Map, Value};

use super::payload::{members_text, Payload};
use super::rng::Rng;
use super::{Message, Timed};

/// A notification's priority, upper case on the wire as oslo writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// `INFO`, routed as `notifications.info`.
    Info,
    /// `ERROR`, routed as `notifications.error`.
    Error,
}

impl Priority {
    /// The `priority` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Info => "INFO",
            Priority::Error => "ERROR",
        }
    }

    /// oslo's routing key: `<topic>.<priority in lower case>`.
    pub fn routing_key(self) -> &'static str {
        match self {
            Priority::Info => "notifications.info",
            Priority::Error => "notifications.error",
        }
    }
}

/// Which oslo.messaging driver sends a nova or glance message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `messagingv2`: `{"oslo.version": "2.0", "oslo.message": "<inner JSON>"}`.
    V2,
    /// `messaging`: the inner object bare.
    V1,
}

/// A request context (`_context_*` members) in the form a driver writes
/// it; built in the form the sender's driver needs, so only that one is paid for.
pub enum Context {
    /// For v1 bodies: the members to add to the object.
    Members(Map<String, Value>),
    /// For v2 bodies: the members' JSON text (`"a":1,"b":2`).
    Text(String),
}

impl Context {
    /// The members as a map.
    fn to_map(&self) -> Map<String, Value> {
        match self {
            Context::Members(map) => map.clone(),
            Context::Text(text) => match serde_json::from_str(&format!("{{{text}}}")) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            },
        }
    }

    /// Appends the members' text, after a comma when there are any.
    fn write_json(&self, out: &mut String) {
        let text = match self {
            Context::Members(map) if map.is_empty() => return,
            Context::Members(map) => members_text(&Value::Object(map.clone())),
            Context::Text(text) if text.is_empty() => return,
            Context::Text(text) => {
                out.push(',');
                out.push_str(text);
                return;
            }
        };
        out.push(',');
        out.push_str(&text);
    }

    fn text_len(&self) -> usize {
        match self {
            Context::Members(_) => 1024,
            Context::Text(text) => text.len(),
        }
    }
}

/// One notification before it is wrapped.
pub struct Notification<'a> {
    /// `event_type`.
    pub event_type: &'a str,
    /// `publisher_id`, `service.host` (versioned nova: `service:host`).
    pub publisher_id: &'a str,
    /// Priority, which also picks the routing key.
    pub priority: Priority,
    /// Event time: `timestamp`, and the order of the stream.
    pub when: DateTime<Utc>,
    /// `payload`.
    pub payload: Payload,
}

impl Notification<'_> {
    /// The legacy notification object, keys in oslo's order: `message_id`,
    /// `publisher_id`, `event_type`, `priority`, `payload`, `timestamp`.
    fn into_object(self, message_id: String) -> Map<String, Value> {
        let mut object = Map::new();
        object.insert("message_id".into(), Value::String(message_id));
        object.insert("publisher_id".into(), self.publisher_id.into());
        object.insert("event_type".into(), self.event_type.into());
        object.insert("priority".into(), self.priority.as_str().into());
        object.insert("payload".into(), self.payload.into_value());
        object.insert("timestamp".into(), nova_time(self.when).into());
        object
    }

    /// The same object as JSON text, written in a few pieces so the shared
    /// parts of the payload and `context` are copied, not re-serialized.
    fn into_json(self, message_id: &str, unique_id: &str, context: Option<&Context>) -> String {
        // Every string written here unescaped is this generator's own ASCII
        // (uuids, hex, host and event names, priorities, timestamps); the
        // tests parse every generated body.
        let context_len = context.map_or(0, Context::text_len);
        let mut text = String::with_capacity(self.payload.text_len_hint() + context_len + 320);
        text.push_str(&format!(
            "{{\"message_id\":\"{message_id}\",\"publisher_id\":\"{}\",\"event_type\":\"{}\",\"priority\":\"{}\",\"payload\":",
            self.publisher_id,
            self.event_type,
            self.priority.as_str(),
        ));
        let timestamp = nova_time(self.when);
        self.payload.write_json(&mut text);
        text.push_str(",\"timestamp\":\"");
        text.push_str(&timestamp);
        text.push_str("\",\"_unique_id\":\"");
        text.push_str(unique_id);
        text.push('"');
        if let Some(context) = context {
            context.write_json(&mut text);
        }
        text.push('}');
        // The capacity was a guess; most messages stay in memory until published.
        text.shrink_to_fit();
        text
    }
}

/// A nova or glance message as oslo.messaging publishes it: `_unique_id`
/// and the request context's keys follow the notification's own.
pub fn oslo_message(
    rng: &mut Rng,
    exchange: &str,
    driver: Driver,
    notification: Notification<'_>,
    context: Option<&Context>,
) -> Timed {
    let (when, priority) = (notification.when, notification.priority);
    let message_id = rng.uuid().to_string();
    let unique_id = rng.hex(32);
    let body = match driver {
        Driver::V2 => {
            let inner = notification.into_json(&message_id, &unique_id, context);
            let mut envelope = Map::new();
            envelope.insert("oslo.version".into(), "2.0".into());
            envelope.insert("oslo.message".into(), Value::String(inner));
            Value::Object(envelope)
        }
        Driver::V1 => {
            let mut object = notification.into_object(message_id);
            object.insert("_unique_id".into(), Value::String(unique_id));
            if let Some(context) = context {
                object.extend(context.to_map());
            }
            Value::Object(object)
        }
    };
    Timed {
        when,
        message: Message {
            exchange: exchange.to_owned(),
            routing_key: priority.routing_key().to_owned(),
            body,
        },
    }
}

/// A message on tach's own exchange: the legacy shape, bare, routed by its
/// event type (SPEC §3.1).
pub fn tach_message(rng: &mut Rng, notification: Notification<'_>) -> Timed {
    let when = notification.when;
    let routing_key = notification.event_type.to_owned();
    let object = notification.into_object(rng.uuid().to_string());
    Timed {
        when,
        message: Message {
            exchange: "tach".to_owned(),
            routing_key,
            body: Value::Object(object),
        },
    }
}

/// Nova's `str(datetime)`: `2026-01-01 00:00:01.254607`, and no fraction at
/// all when the microseconds are 0, as Python prints it.
pub fn nova_time(when: DateTime<Utc>) -> String {
    // Written out rather than through a strftime pattern, which is parsed
    // again on every call: this runs several times per message.
    let (date, micros) = (when.date_naive(), when.nanosecond() / 1000 % 1_000_000);
    let (hour, minute, second) = (when.hour(), when.minute(), when.second());
    let (year, month, day) = (date.year(), date.month(), date.day());
    if micros == 0 {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{micros:06}")
    }
}

/// Midnight (UTC) at the start of `when`'s day: audit periods are days.
pub fn day_start(when: DateTime<Utc>) -> DateTime<Utc> {
    when.date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|midnight| midnight.and_utc())
        .unwrap_or(when)
}

/// ISO 8601 to the second with `Z`: glance's and versioned nova's times,
/// GitHub's tag dates.
pub fn iso_seconds(when: DateTime<Utc>) -> String {
    when.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// ISO 8601 with microseconds and `+00:00`: Socorro's `date_processed`.
pub fn iso_micros(when: DateTime<Utc>) -> String {
    when.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nova_time_drops_a_zero_fraction() {
        let when = DateTime::parse_from_rfc3339("2026-01-01T00:00:01.254607Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(nova_time(when), "2026-01-01 00:00:01.254607");
        let whole = when.with_nanosecond(0).unwrap();
        assert_eq!(nova_time(whole), "2026-01-01 00:00:01");
        assert_eq!(iso_micros(when), "2026-01-01T00:00:01.254607+00:00");
    }
}
