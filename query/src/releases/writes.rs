//! Orlo/Sponge writes (API.md §3). Each request becomes the very event the
//! bus carries (`release.create`, `package.start`, …), parsed by
//! `tach_schema::parse` and written by `Store::write_batch`: stored in the
//! raw table like any event, derived by the same code, and committed before
//! the answer, so the next read sees it (SPEC §5).

use chrono::Utc;
use serde_json::{json, Map, Value};
use tach_schema::{Delivery, ExchangeFamily, Store};

use super::queries::PackageRow;
use crate::error::ApiError;
use crate::state::AppState;

/// The deployment API writes are stored under.
const API_DEPLOYMENT: &str = "api";

/// A request body as a JSON object; an empty body is an empty object.
pub fn object_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::bad("the request body must be a JSON object")),
        Err(error) => Err(ApiError::bad(format!("invalid JSON body: {error}"))),
    }
}

/// A required, non-empty text field (numbers are taken as their text).
pub fn required_text(body: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match body.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(Value::Number(number)) => Ok(number.to_string()),
        _ => Err(ApiError::bad(format!("missing {field} in request body"))),
    }
}

/// An optional text field; anything but a string or null is a 400.
pub fn optional_text(body: &Map<String, Value>, field: &str) -> Result<Value, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::String(text)) => Ok(json!(text)),
        Some(_) => Err(ApiError::bad(format!("{field} must be a string"))),
    }
}

/// The payload of `release.create` for `POST /releases`.
pub fn create_payload(id: &str, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let platforms = match body.get("platforms") {
        Some(Value::String(platform)) => vec![json!(platform)],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items.clone(),
        Some(_) => {
            return Err(ApiError::bad(
                "platforms must be a string or a list of strings",
            ))
        }
        None => return Err(ApiError::bad("missing platforms in request body")),
    };
    let user = required_text(body, "user")?;
    let references = match body.get("references") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(reference)) => vec![json!(reference)],
        Some(_) => return Err(ApiError::bad("references must be a list")),
    };
    let notes = match optional_text(body, "note")? {
        Value::Null => Vec::new(),
        note => vec![note],
    };
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(fields)) => Value::Object(fields.clone()),
        Some(_) => return Err(ApiError::bad("metadata must be an object")),
    };
    Ok(json!({
        "id": id, "user": user, "team": optional_text(body, "team")?, "platforms": platforms,
        "references": references, "notes": notes, "metadata": metadata,
    }))
}

/// The fields every `package.*` event of `package` carries.
pub fn package_payload(package: &PackageRow) -> Map<String, Value> {
    let payload = json!({
        "release_id": package.release_id, "package_id": package.id, "name": package.name,
        "version": package.version, "rollback": package.rollback, "diff_url": package.diff_url,
    });
    payload.as_object().cloned().unwrap_or_default()
}

/// Builds the bus messages of `(event_type, payload)`, parses them as the
/// consumer does, and writes them as one batch.
pub async fn apply(state: &AppState, events: Vec<(&str, Value)>) -> Result<(), ApiError> {
    let received_at = Utc::now();
    let timestamp = received_at.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let mut parsed = Vec::with_capacity(events.len());
    for (event_type, payload) in events {
        let message = json!({
            "message_id": uuid::Uuid::new_v4().to_string(),
            "publisher_id": "tach-query.api",
            "event_type": event_type,
            "priority": "INFO",
            "timestamp": timestamp,
            "payload": payload,
        });
        let body = message.to_string();
        let delivery = Delivery {
            exchange: "tach",
            routing_key: event_type,
            exchange_family: ExchangeFamily::Tach,
            body: body.as_bytes(),
            received_at,
        };
        let event = tach_schema::parse(&delivery, tach_schema::envelope::DEFAULT_MAX_BODY_BYTES)
            .map_err(|error| ApiError::bad(format!("the request makes no valid event: {error}")))?;
        parsed.push(event);
    }
    let store = Store::new(state.write_pool.clone());
    let deployment_id = store.deployment_id(API_DEPLOYMENT).await?;
    store
        .write_batch(deployment_id, &parsed, &[])
        .await
        .map_err(|error| ApiError::from(error.source))?;
    Ok(())
}
