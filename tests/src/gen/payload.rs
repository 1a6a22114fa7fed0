//! Notification payloads, with the members many events share serialized
//! once. Most nova messages go out in oslo's v2 envelope, whose inner
//! message is a JSON string: assembling it from pre-serialized text, rather
//! than re-serializing a 2 KB object per message, is what keeps generating
//! hundreds of thousands of messages quick in a debug build.

use std::borrow::Cow;
use std::fmt::Write;
use std::rc::Rc;

use serde_json::{Map, Value};

/// A JSON object's members, as a map and as their serialized text
/// (`"a":1,"b":2`, without braces).
#[derive(Debug, Clone, Default)]
pub struct Members {
    map: Map<String, Value>,
    json: String,
}

impl Members {
    /// Members holding `map`.
    pub fn new(map: Map<String, Value>) -> Members {
        let mut members = Members {
            map,
            json: String::new(),
        };
        members.serialize();
        members
    }

    /// The length of the members' text.
    pub fn text_len(&self) -> usize {
        self.json.len()
    }

    /// The members as a map.
    pub fn map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// Changes the members (rare: a resize, a launch, a delete).
    pub fn update(&mut self, change: impl FnOnce(&mut Map<String, Value>)) {
        change(&mut self.map);
        self.serialize();
    }

    /// Appends the members' text to `out`.
    pub fn write_json(&self, out: &mut String) {
        out.push_str(&self.json);
    }

    fn serialize(&mut self) {
        let map = std::mem::take(&mut self.map);
        let object = Value::Object(map);
        self.json = members_text(&object);
        if let Value::Object(map) = object {
            self.map = map;
        }
    }
}

/// One of an event's own payload members' values. The common ones are
/// written with `write!` (std's optimized formatting) rather than through
/// serde_json, which in a debug build costs ten times more per message.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A string that needs no JSON escaping: the generator's own ASCII
    /// (states, ids, timestamps, constant messages), never a `"`, `\` or
    /// control character. Anything else goes in [`Field::Json`].
    Plain(Cow<'static, str>),
    /// `null`, or a plain string.
    Maybe(Option<&'static str>),
    /// A number.
    Number(u64),
    /// Any JSON value.
    Json(Value),
}

impl Field {
    /// A plain string field (see [`Field::Plain`]).
    pub fn plain(text: impl Into<Cow<'static, str>>) -> Field {
        Field::Plain(text.into())
    }

    fn into_value(self) -> Value {
        match self {
            Field::Plain(text) => Value::String(text.into_owned()),
            Field::Maybe(text) => text.map_or(Value::Null, Value::from),
            Field::Number(number) => Value::from(number),
            Field::Json(value) => value,
        }
    }

    fn write_json(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = match self {
            Field::Plain(text) => write!(out, "\"{text}\""),
            Field::Maybe(None) => write!(out, "null"),
            Field::Maybe(Some(text)) => write!(out, "\"{text}\""),
            Field::Number(number) => write!(out, "{number}"),
            Field::Json(value) => write!(out, "{value}"),
        };
    }
}

/// An event's own payload members, in order; keys are unique.
pub type Own = Vec<(&'static str, Field)>;

/// Sets `key` in `own`, replacing its value when it is there already.
pub fn set(own: &mut Own, key: &'static str, field: Field) {
    match own.iter_mut().find(|(existing, _)| *existing == key) {
        Some((_, value)) => *value = field,
        None => own.push((key, field)),
    }
}

/// A payload made of members many events share and the event's own
/// members (no key in two of them), optionally wrapped as a versioned
/// `nova_object` of a class.
pub struct SharedPayload {
    /// Members shared with other events: those that never change, then
    /// those that sometimes do (kept apart so a change re-serializes little).
    pub shared: [Rc<Members>; 2],
    /// This event's members, after the shared ones.
    pub own: Own,
    /// `nova_object.name` and `nova_object.version` when versioned.
    pub class: Option<(&'static str, &'static str)>,
}

/// A notification's `payload`.
pub enum Payload {
    /// Any JSON value (glance's upload error sends a string).
    Whole(Value),
    /// Shared and own members.
    Shared(SharedPayload),
}

impl Payload {
    /// The payload as a value.
    pub fn into_value(self) -> Value {
        let shared = match self {
            Payload::Whole(value) => return value,
            Payload::Shared(shared) => shared,
        };
        let [fixed, changing] = shared.shared;
        let mut data = fixed.map().clone();
        data.extend(changing.map().clone());
        let own = shared.own.into_iter();
        data.extend(own.map(|(key, field)| (key.to_owned(), field.into_value())));
        let Some((name, version)) = shared.class else {
            return Value::Object(data);
        };
        let mut object = Map::new();
        object.insert("nova_object.data".into(), Value::Object(data));
        object.insert("nova_object.name".into(), name.into());
        object.insert("nova_object.namespace".into(), "nova".into());
        object.insert("nova_object.version".into(), version.into());
        Value::Object(object)
    }

    /// About how long the payload's text is, to allocate once.
    pub fn text_len_hint(&self) -> usize {
        match self {
            Payload::Whole(_) => 1024,
            Payload::Shared(shared) => {
                shared.shared.iter().map(|m| m.text_len()).sum::<usize>() + 512
            }
        }
    }

    /// Appends the payload's JSON text to `out`.
    pub fn write_json(self, out: &mut String) {
        let shared = match self {
            Payload::Whole(value) => return out.push_str(&value.to_string()),
            Payload::Shared(shared) => shared,
        };
        if shared.class.is_some() {
            out.push_str("{\"nova_object.data\":");
        }
        out.push('{');
        let mut empty = true;
        for members in shared
            .shared
            .iter()
            .filter(|members| members.text_len() > 0)
        {
            if !empty {
                out.push(',');
            }
            members.write_json(out);
            empty = false;
        }
        for (key, field) in &shared.own {
            if !empty {
                out.push(',');
            }
            let _ = write!(out, "\"{key}\":");
            field.write_json(out);
            empty = false;
        }
        out.push('}');
        if let Some((name, version)) = shared.class {
            // Class names and versions are this crate's constants: plain
            // ASCII, nothing to escape.
            out.push_str(",\"nova_object.name\":\"");
            out.push_str(name);
            out.push_str("\",\"nova_object.namespace\":\"nova\",\"nova_object.version\":\"");
            out.push_str(version);
            out.push_str("\"}");
        }
    }
}

/// The map of a `json!({...})` value (empty for any other value).
pub fn object_of(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// An object's members as JSON text, without the braces.
pub fn members_text(object: &Value) -> String {
    // Value's Display runs serde_json's own compiled code, once per object:
    // a generic serializer called from here would be instantiated in this
    // crate and run unoptimized in debug builds, and one call per member
    // costs more than the members.
    let text = object.to_string();
    match text
        .strip_prefix('{')
        .and_then(|text| text.strip_suffix('}'))
    {
        Some(members) => members.to_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_text_and_the_value_agree() {
        let shared = Rc::new(Members::new(match json!({"a": 1, "b": {"c": "d\"e"}}) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }));
        for class in [None, Some(("InstanceActionPayload", "1.9"))] {
            let own = vec![
                ("state", Field::plain("active")),
                ("task", Field::Maybe(None)),
                ("bandwidth", Field::Json(json!({"public": {"bw_in": 1}}))),
                ("code", Field::Number(500)),
                ("reason", Field::Json(json!("a \"quoted\"\nline"))),
            ];
            let payload = || {
                Payload::Shared(SharedPayload {
                    shared: [Rc::clone(&shared), Rc::default()],
                    own: own.clone(),
                    class,
                })
            };
            let mut text = String::new();
            payload().write_json(&mut text);
            let parsed: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(parsed, payload().into_value());
            assert_eq!(text, payload().into_value().to_string());
        }
    }
}
