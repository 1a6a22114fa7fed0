//! Parsing: every envelope of SPEC §3.2 — legacy notifications, the
//! oslo.messaging v2 envelope, versioned nova notifications and tach's own
//! families — normalized into one [`Event`], with the fields derived as
//! StackTach derived them. Pure functions over bytes; no I/O.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Map, Value};

use crate::error::ParseError;
use crate::event::{Delivery, Event, Family};
use crate::text::{self, MAX_FIELD_CHARS};
use crate::{image_type, timestamp};

/// Default largest body accepted, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Event times outside these years are rejected as bad timestamps: raw
/// events are partitioned by month, and a typo like year 20140 must not
/// create a partition for it.
const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 9998;

/// Namespace of message ids derived from a body's bytes (uuid v5), so the
/// same bytes always get the same id and a replay is recognized (SPEC §3.2).
const DERIVED_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x7ac4_9b1e_2f5d_4c33_9e0a_51d6_c8f2_a417);

/// Parses one delivery into an event.
pub fn parse(delivery: &Delivery<'_>, max_body_bytes: usize) -> Result<Event, ParseError> {
    if delivery.body.len() > max_body_bytes {
        return Err(ParseError::TooLarge {
            body_bytes: delivery.body.len(),
            limit_bytes: max_body_bytes,
        });
    }
    let (body, message) = unwrap_envelope(delivery.body)?;
    let event_type = match message.get("event_type") {
        Some(Value::String(event_type)) if !event_type.trim().is_empty() => event_type.clone(),
        _ => return Err(ParseError::MissingEventType),
    };
    if !text::is_valid_key(&event_type) {
        return Err(ParseError::InvalidField {
            field: "event_type",
            why: format!("must be at most {MAX_FIELD_CHARS} characters without NUL"),
        });
    }
    let family = delivery.exchange_family.resolve(&event_type);
    let message_id = message_id(&message, delivery.body)?;
    let when = event_time(&message, delivery.received_at)?;
    let mut event = Event {
        message_id,
        family,
        exchange: text::column(delivery.exchange),
        routing_key: text::column(delivery.routing_key),
        is_error: delivery.routing_key.ends_with("error"),
        event_type,
        when,
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
        body,
        message,
    };
    derive_common(&mut event);
    match family {
        Family::Nova => derive_nova(&mut event),
        Family::Glance => derive_glance(&mut event),
        Family::Crash => derive_crash(&mut event)?,
        Family::Deploy => derive_deploy(&mut event),
        Family::Product | Family::Generic => {}
    }
    Ok(event)
}

/// Returns the message's JSON text and its parsed object, unwrapping an
/// oslo.messaging v2 envelope (`{"oslo.version": "2.0", "oslo.message": "<json>"}`).
fn unwrap_envelope(bytes: &[u8]) -> Result<(String, Map<String, Value>), ParseError> {
    let outer = parse_object(bytes)?;
    let Some(inner) = outer.get("oslo.message") else {
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|error| ParseError::InvalidJson(error.to_string()))?;
        return Ok((text, outer));
    };
    let Value::String(inner_text) = inner else {
        return Err(ParseError::BadEnvelope(
            "oslo.message is not a string".into(),
        ));
    };
    let message = parse_object(inner_text.as_bytes())
        .map_err(|error| ParseError::BadEnvelope(format!("oslo.message: {error}")))?;
    Ok((inner_text.clone(), message))
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ParseError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| ParseError::InvalidJson(error.to_string()))?;
    match value {
        Value::Object(object) => Ok(object),
        Value::Array(_) => Err(ParseError::NotAnObject("array")),
        Value::String(_) => Err(ParseError::NotAnObject("string")),
        Value::Number(_) => Err(ParseError::NotAnObject("number")),
        Value::Bool(_) => Err(ParseError::NotAnObject("boolean")),
        Value::Null => Err(ParseError::NotAnObject("null")),
    }
}

/// The publisher's `message_id`, or a uuid v5 of the body's bytes.
fn message_id(message: &Map<String, Value>, bytes: &[u8]) -> Result<String, ParseError> {
    let given = match message.get("message_id") {
        Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    match given {
        Some(id) if !text::is_valid_key(&id) => Err(ParseError::InvalidField {
            field: "message_id",
            why: format!("must be at most {MAX_FIELD_CHARS} characters without NUL"),
        }),
        Some(id) => Ok(id),
        None => Ok(uuid::Uuid::new_v5(&DERIVED_ID_NAMESPACE, bytes).to_string()),
    }
}

/// `timestamp`, else `_context_timestamp` (older nova), else the time of
/// receipt (versioned samples and some glance events carry none).
fn event_time(
    message: &Map<String, Value>,
    received_at: DateTime<Utc>,
) -> Result<DateTime<Utc>, ParseError> {
    for field in ["timestamp", "_context_timestamp"] {
        match message.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::String(text)) if text.is_empty() => continue,
            Some(value) => {
                return timestamp::parse_value(value)
                    .filter(|when| (MIN_YEAR..=MAX_YEAR).contains(&when.year()))
                    .ok_or_else(|| ParseError::BadTimestamp {
                        field,
                        value: value.to_string().chars().take(100).collect(),
                    })
            }
        }
    }
    Ok(received_at)
}

/// A text value fit for a derived column: strings, numbers and booleans as
/// text, by [`text::column`]'s policy.
fn column_text(value: Option<&Value>) -> Option<String> {
    let scalar = match value? {
        Value::String(string) => Cow::Borrowed(string.as_str()),
        Value::Number(number) => Cow::Owned(number.to_string()),
        Value::Bool(flag) => Cow::Owned(flag.to_string()),
        _ => return None,
    };
    Some(text::column(&scalar))
}

/// Like [`column_text`], but an empty string counts as absent.
pub(crate) fn non_empty_text(value: Option<&Value>) -> Option<String> {
    column_text(value).filter(|text| !text.is_empty())
}

fn payload_object(event: &Event) -> Option<&Map<String, Value>> {
    event.payload().and_then(Value::as_object)
}

/// Versioned nova notifications put the instance in `payload.nova_object.data`.
fn versioned_data(event: &Event) -> Option<&Map<String, Value>> {
    payload_object(event)?.get("nova_object.data")?.as_object()
}

/// Fields every family shares: publisher split, request id, tenant, instance.
fn derive_common(event: &mut Event) {
    let publisher = match event.message.get("publisher_id") {
        Some(Value::String(publisher)) => Some(publisher.clone()),
        _ => None,
    };
    let separator = if versioned_data(event).is_some() {
        ':'
    } else {
        '.'
    };
    if let Some(publisher) = &publisher {
        // Split before cutting, so an overlong host does not eat the service.
        let (service, host) = match publisher.split_once(separator) {
            Some((service, host)) => (service, Some(host)),
            None => (publisher.as_str(), None),
        };
        event.service = Some(text::column(service));
        event.host = host.map(text::column);
    }
    event.publisher = publisher.as_deref().map(text::column);
    event.request_id = non_empty_text(event.message.get("_context_request_id"));
    let payload = payload_object(event);
    let payload_field = |key: &str| payload.and_then(|payload| payload.get(key));
    let tenant = non_empty_text(payload_field("tenant_id"))
        .or_else(|| non_empty_text(event.message.get("_context_project_id")));
    let instance = non_empty_text(payload_field("instance_id"))
        .or_else(|| non_empty_text(payload_field("instance_uuid")))
        .or_else(|| {
            let kwargs = payload_field("exception")?.get("kwargs")?;
            non_empty_text(kwargs.get("uuid"))
        })
        .or_else(|| non_empty_text(payload_field("instance")?.get("uuid")));
    event.tenant = tenant;
    event.instance = instance;
}

fn derive_nova(event: &mut Event) {
    if let Some(data) = versioned_data(event) {
        let state_update = data
            .get("state_update")
            .and_then(|update| update.get("nova_object.data"));
        let old = |key: &str| non_empty_text(state_update.and_then(|update| update.get(key)));
        let (instance, tenant, state, task) = (
            non_empty_text(data.get("uuid")),
            non_empty_text(data.get("tenant_id")),
            non_empty_text(data.get("state")),
            non_empty_text(data.get("task_state")),
        );
        let (old_state, old_task) = (old("old_state"), old("old_task_state"));
        event.instance = instance.or(event.instance.take());
        event.tenant = tenant.or(event.tenant.take());
        event.state = state;
        event.task = task;
        event.old_state = old_state;
        event.old_task = old_task;
        return;
    }
    let Some(payload) = payload_object(event) else {
        return;
    };
    let image_meta = payload.get("image_meta").and_then(Value::as_object);
    let os_type = payload.get("os_type").and_then(Value::as_str);
    let image_type = image_type::flags(image_meta, os_type);
    let state = non_empty_text(payload.get("state"));
    let old_state = non_empty_text(payload.get("old_state"));
    let old_task = non_empty_text(payload.get("old_task_state"));
    let task = non_empty_text(payload.get("new_task_state"));
    event.image_type = Some(image_type);
    event.state = state;
    event.old_state = old_state;
    event.old_task = old_task;
    event.task = task;
}

fn derive_glance(event: &mut Event) {
    // Glance sends no request context; the image's owner is its tenant (API.md §1).
    event.request_id = None;
    let Some(payload) = payload_object(event) else {
        // A string payload (image.upload's error form) is stored as sent;
        // everything derived from it stays null (SPEC §3.2).
        event.tenant = None;
        event.instance = None;
        return;
    };
    let properties = payload.get("properties").and_then(Value::as_object);
    let meta = payload
        .get("image_meta")
        .and_then(Value::as_object)
        .or(properties);
    let image_type = image_type::flags(meta, None);
    let image_uuid = non_empty_text(payload.get("id"));
    let image_status = non_empty_text(payload.get("status"));
    let image_owner = non_empty_text(payload.get("owner"));
    let image_size = payload.get("size").and_then(Value::as_i64);
    let instance =
        properties.and_then(|properties| non_empty_text(properties.get("instance_uuid")));
    event.image_type = Some(image_type);
    event.image_uuid = image_uuid;
    event.image_status = image_status;
    event.tenant = image_owner.clone();
    event.image_owner = image_owner;
    event.image_size = image_size;
    event.instance = instance;
}

/// A crash report is keyed by its `uuid`, which must be present (SPEC §3.3).
fn derive_crash(event: &mut Event) -> Result<(), ParseError> {
    if event.event_type != "crash.processed" {
        return Ok(());
    }
    let uuid = payload_object(event).and_then(|payload| non_empty_text(payload.get("uuid")));
    match uuid {
        Some(uuid) => {
            event.instance = Some(uuid);
            Ok(())
        }
        None => Err(ParseError::MissingField {
            event_type: event.event_type.clone(),
            field: "uuid",
        }),
    }
}

/// Deploy events are about a release: its id is their instance.
fn derive_deploy(event: &mut Event) {
    let Some(payload) = payload_object(event) else {
        return;
    };
    // A release.create without an id gets one derived from its message id
    // (SPEC §3.3: "generated if absent"), stable across replays.
    let release = non_empty_text(payload.get("release_id")).or_else(|| {
        (event.event_type == "release.create").then(|| {
            non_empty_text(payload.get("id")).unwrap_or_else(|| {
                uuid::Uuid::new_v5(&DERIVED_ID_NAMESPACE, event.message_id.as_bytes()).to_string()
            })
        })
    });
    if release.is_some() {
        event.instance = release;
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
