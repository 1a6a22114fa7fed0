//! The one policy for text a message carries into PostgreSQL (SPEC §3.2,
//! "Text from the wire"). A `text` or `jsonb` value cannot hold U+0000, and
//! a publisher can put NUL in anything: a routing key, a property, any
//! payload string. Refusing such a row would fail its whole batch, and
//! retrying would block the stream behind it. So:
//!
//! - the keys of an event — `event_type` and `message_id` — are refused with
//!   `invalid_field` when they hold NUL or exceed [`MAX_FIELD_CHARS`]: changing
//!   them would change which event the message is;
//! - every other text column (exchange, routing key, publisher, service,
//!   host, instance, tenant, request id, states, crash and release fields)
//!   keeps its first [`MAX_FIELD_CHARS`] characters, with each NUL written as
//!   the six characters `\u0000` — the JSON spelling of what was sent;
//! - JSON that goes into a `jsonb` column gets the same escape in every
//!   string and key ([`jsonb_safe`]); `raw_events.body` is `json`, which
//!   keeps the `\u0000` escapes of the text as published.
//!
//! Rejected deliveries keep their body as `bytea`, so nothing is lost there.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// Longest value kept in a derived text column. Longer values (hostile or
/// broken publishers) are cut: PostgreSQL refuses index entries over ~2.7 kB,
/// and one such value must not fail a whole batch. The body keeps everything.
pub const MAX_FIELD_CHARS: usize = 255;

/// How a NUL is written in a text column.
pub const NUL_ESCAPE: &str = "\\u0000";

/// `text` with every NUL written as [`NUL_ESCAPE`]; borrowed when it has none.
pub fn escape_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', NUL_ESCAPE))
    } else {
        Cow::Borrowed(text)
    }
}

/// A value for a derived text column: its first [`MAX_FIELD_CHARS`]
/// characters, NUL escaped (cut first, so an escape is never split).
pub fn column(text: &str) -> String {
    let cut = match text.char_indices().nth(MAX_FIELD_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    };
    escape_nul(cut).into_owned()
}

/// True when `text` can be an event's key as it is (see the module docs).
pub fn is_valid_key(text: &str) -> bool {
    !text.contains('\0') && text.chars().nth(MAX_FIELD_CHARS).is_none()
}

/// Escapes NUL in every string and object key of `value`, in place, so that
/// PostgreSQL's `jsonb` accepts it.
pub fn jsonb_safe(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(escaped) = escape_nul(text) {
                *text = escaped;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(jsonb_safe),
        Value::Object(fields) => {
            if fields.keys().any(|key| key.contains('\0')) {
                let old = std::mem::take(fields);
                *fields = old
                    .into_iter()
                    .map(|(key, value)| (escape_nul(&key).into_owned(), value))
                    .collect::<Map<String, Value>>();
            }
            fields.values_mut().for_each(jsonb_safe);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Rows bound as one `jsonb` array (`jsonb_populate_recordset`), made safe.
pub fn jsonb_rows(rows: Vec<Value>) -> Value {
    let mut array = Value::Array(rows);
    jsonb_safe(&mut array);
    array
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_is_escaped_and_everything_else_kept() {
        assert_eq!(
            escape_nul("crash.processed\0tail"),
            "crash.processed\\u0000tail"
        );
        assert!(matches!(escape_nul("plain"), Cow::Borrowed("plain")));
        assert_eq!(column("a\0b\\c"), "a\\u0000b\\c");
    }

    #[test]
    fn columns_are_cut_by_characters_before_escaping() {
        let long = format!("{}\0", "é".repeat(MAX_FIELD_CHARS));
        assert_eq!(column(&long), "é".repeat(MAX_FIELD_CHARS));
        let nul_at_the_edge = format!("{}\0", "x".repeat(MAX_FIELD_CHARS - 1));
        assert_eq!(
            column(&nul_at_the_edge),
            format!("{}\\u0000", "x".repeat(MAX_FIELD_CHARS - 1))
        );
    }

    #[test]
    fn keys_must_be_short_and_without_nul() {
        assert!(is_valid_key("m-1"));
        assert!(is_valid_key(&"x".repeat(MAX_FIELD_CHARS)));
        assert!(!is_valid_key(&"x".repeat(MAX_FIELD_CHARS + 1)));
        assert!(!is_valid_key("m\0"));
    }

    #[test]
    fn jsonb_values_lose_no_field() {
        let mut value = json!({"a\u{0}": ["x\u{0}", 1, {"b": "\u{0}"}], "c": null});
        jsonb_safe(&mut value);
        assert_eq!(
            value,
            json!({"a\\u0000": ["x\\u0000", 1, {"b": "\\u0000"}], "c": null})
        );
    }
}
