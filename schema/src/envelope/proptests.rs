//! Properties of [`parse`] over whole deliveries — exchange, routing key and
//! body — whatever a publisher sends:
//!
//! - arbitrary bytes and arbitrary JSON (plain, or in an oslo.messaging v2
//!   envelope) never panic; each one is an event or a rejection whose code is
//!   one of [`ParseError::CODES`] and whose message says why, and the same
//!   delivery always gets the same answer (a rejection is permanent);
//! - every accepted event can be stored as it is: its keys are short and
//!   without NUL, every derived text column follows [`text::column`], the
//!   body is the message's JSON text and the time is within the partitioned
//!   years;
//! - a valid notification round-trips: its message id, event type, time and
//!   body come out exactly as sent, and its publisher, tenant and instance as
//!   [`text::column`] of what was sent.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Map, Value};

use super::*;
use crate::event::{Delivery, ExchangeFamily, Family};

fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

/// A delivery owned by the test, so strategies can build it.
#[derive(Debug, Clone)]
struct Owned {
    exchange: String,
    routing_key: String,
    family: ExchangeFamily,
    body: Vec<u8>,
    limit: usize,
}

impl Owned {
    fn delivery(&self) -> Delivery<'_> {
        Delivery {
            exchange: &self.exchange,
            routing_key: &self.routing_key,
            exchange_family: self.family,
            body: &self.body,
            received_at: received_at(),
        }
    }
}

/// Text as hostile publishers send it: NUL, the six characters of its
/// escape, multi-byte characters and anything else, sometimes around the
/// 255-character cut so both sides of it are tried.
fn text() -> impl Strategy<Value = String> {
    let character = prop_oneof![
        3 => prop::char::range('a', 'z'),
        1 => Just('\0'),
        1 => Just('.'),
        1 => Just('é'),
        1 => Just('\u{10FFFF}'),
        2 => any::<char>(),
    ];
    let piece = prop_oneof![
        8 => character.prop_map(String::from),
        1 => Just(text::NUL_ESCAPE.to_owned()),
    ];
    prop_oneof![
        4 => prop::collection::vec(piece.clone(), 0..12),
        1 => prop::collection::vec(piece, MAX_FIELD_CHARS - 3..MAX_FIELD_CHARS + 4),
    ]
    .prop_map(|pieces| pieces.concat())
}

/// Keys the envelopes read in a message, so that arbitrary JSON reaches
/// the derivations and not only the first check.
const MESSAGE_KEYS: [&str; 10] = [
    "event_type",
    "message_id",
    "timestamp",
    "_context_timestamp",
    "publisher_id",
    "_context_request_id",
    "_context_project_id",
    "payload",
    "oslo.version",
    "oslo.message",
];

/// Event types that select a family's own derivation.
const KNOWN_EVENT_TYPES: [&str; 8] = [
    "compute.instance.update",
    "instance.update",
    "image.upload",
    "crash.processed",
    "product.version",
    "release.create",
    "package.start",
    "environment.status",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(&MESSAGE_KEYS[..]).prop_map(str::to_owned),
        2 => prop::sample::select(&PAYLOAD_KEYS[..]).prop_map(str::to_owned),
        1 => text(),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        // Non-finite floats have no JSON form; json! makes them null.
        1 => any::<f64>().prop_map(|number| json!(number)),
        4 => text().prop_map(Value::from),
        1 => prop::sample::select(&KNOWN_EVENT_TYPES[..]).prop_map(Value::from),
        1 => Just(json!("2015-11-30 01:02:03.456789")),
    ]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Keys the derivations read in a payload, at any depth they look.
const PAYLOAD_KEYS: [&str; 24] = [
    "tenant_id",
    "instance_id",
    "instance_uuid",
    "instance",
    "exception",
    "kwargs",
    "uuid",
    "nova_object.data",
    "state_update",
    "state",
    "old_state",
    "old_task_state",
    "new_task_state",
    "task_state",
    "image_meta",
    "properties",
    "image_type",
    "os_type",
    "os_distro",
    "id",
    "status",
    "owner",
    "size",
    "release_id",
];

/// An object holding each of [`PAYLOAD_KEYS`] or not, with `values`.
fn payload_with(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop::collection::vec(prop::option::weighted(0.4, values), PAYLOAD_KEYS.len()).prop_map(
        |values| {
            let fields = PAYLOAD_KEYS.iter().zip(values);
            let present = fields.filter_map(|(key, value)| Some(((*key).to_owned(), value?)));
            Value::Object(present.collect())
        },
    )
}

/// A payload as the derivations see it: known keys whose values are mostly
/// text, some of them objects of known keys again (`nova_object.data`,
/// `state_update`, `image_meta`, `exception.kwargs`, `instance.uuid`).
fn payload() -> impl Strategy<Value = Value> {
    payload_with(scalar()).prop_recursive(2, 64, 24, |inner| {
        payload_with(prop_oneof![3 => scalar(), 1 => inner])
    })
}

/// A JSON object shaped like a notification, each field possibly of the
/// wrong type.
fn notification_like() -> impl Strategy<Value = Value> {
    let event_type = prop_oneof![
        6 => prop::sample::select(&KNOWN_EVENT_TYPES[..]).prop_map(Value::from),
        1 => text().prop_map(Value::from),
        1 => json_value(),
    ];
    let timestamp = prop_oneof![
        2 => Just(None),
        2 => Just(Some(json!("2015-11-30T01:02:03Z"))),
        1 => prop::option::of(scalar()),
    ];
    let payload = prop_oneof![
        4 => payload().prop_map(Some),
        1 => prop::option::of(json_value()),
    ];
    (
        event_type,
        prop::option::of(scalar()),
        timestamp,
        prop::option::of(scalar()),
        payload,
        prop::collection::vec((key(), json_value()), 0..4),
    )
        .prop_map(
            |(event_type, message_id, timestamp, publisher, payload, extra)| {
                let mut message: Map<String, Value> = extra.into_iter().collect();
                message.insert("event_type".into(), event_type);
                let optional = [
                    ("message_id", message_id),
                    ("timestamp", timestamp),
                    ("publisher_id", publisher),
                    ("payload", payload),
                ];
                for (name, value) in optional {
                    if let Some(value) = value {
                        message.insert(name.into(), value);
                    }
                }
                Value::Object(message)
            },
        )
}

/// `message` as a body: plain, or inside an oslo.messaging v2 envelope
/// (whose inner message may itself be anything).
fn body_of(message: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<u8>> {
    (message, 0..8u8, json_value()).prop_map(|(message, form, other)| {
        let text = message.to_string();
        let body = match form {
            0..=3 => return text.into_bytes(),
            4..=6 => json!({"oslo.version": "2.0", "oslo.message": text}),
            // An envelope whose inner message is arbitrary JSON (often
            // not a string).
            _ => json!({"oslo.version": "2.0", "oslo.message": other}),
        };
        body.to_string().into_bytes()
    })
}

fn exchange_family() -> impl Strategy<Value = ExchangeFamily> {
    prop::sample::select(
        &[
            ExchangeFamily::Nova,
            ExchangeFamily::Glance,
            ExchangeFamily::Tach,
            ExchangeFamily::Generic,
        ][..],
    )
}

fn routing_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("notifications.info".to_owned()),
        Just("notifications.error".to_owned()),
        text(),
        text().prop_map(|key| format!("{key}error")),
    ]
}

/// A delivery of `body` with any exchange, routing key and family, and
/// usually the default size limit (sometimes a small one, so `too_large`
/// is reached too).
fn delivery_of(body: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Owned> {
    let limit = prop_oneof![
        12 => Just(DEFAULT_MAX_BODY_BYTES),
        1 => 0..64usize,
    ];
    (text(), routing_key(), exchange_family(), body, limit).prop_map(
        |(exchange, routing_key, family, body, limit)| Owned {
            exchange,
            routing_key,
            family,
            body,
            limit,
        },
    )
}

/// Asserts what holds for the answer to any delivery.
fn check_answer(owned: &Owned) -> Result<(), TestCaseError> {
    let delivery = owned.delivery();
    let answer = parse(&delivery, owned.limit);
    // Permanent: the consumer acknowledges a rejection instead of retrying
    // it, which is only right when the same bytes always fail the same way.
    prop_assert_eq!(&answer, &parse(&delivery, owned.limit));
    prop_assert_eq!(
        matches!(answer, Err(ParseError::TooLarge { .. })),
        owned.body.len() > owned.limit
    );
    match answer {
        Ok(event) => check_storable(&event, &delivery),
        Err(error) => check_reason(&error),
    }
}

/// A rejection names a code that metrics and `rejected_messages.reason`
/// know, and says why in words.
fn check_reason(error: &ParseError) -> Result<(), TestCaseError> {
    let code = error.code();
    prop_assert!(ParseError::CODES.contains(&code), "unknown code {code}");
    // That one is the store's, never the parser's.
    prop_assert_ne!(code, "database_rejected");
    prop_assert_ne!(code, crate::error::DELIVERY_LIMIT);
    prop_assert!(!error.to_string().trim().is_empty(), "{error:?}");
    Ok(())
}

/// An event PostgreSQL takes as it is (see [`crate::text`]).
fn check_storable(event: &Event, delivery: &Delivery<'_>) -> Result<(), TestCaseError> {
    for key in [&event.event_type, &event.message_id] {
        prop_assert!(text::is_valid_key(key), "{key:?}");
        prop_assert!(!key.is_empty());
    }
    prop_assert!(!event.event_type.trim().is_empty());
    prop_assert_eq!(&event.exchange, &text::column(delivery.exchange));
    prop_assert_eq!(&event.routing_key, &text::column(delivery.routing_key));
    prop_assert_eq!(event.is_error, delivery.routing_key.ends_with("error"));
    let columns = [
        &event.publisher,
        &event.service,
        &event.host,
        &event.instance,
        &event.request_id,
        &event.tenant,
        &event.state,
        &event.old_state,
        &event.old_task,
        &event.task,
        &event.image_uuid,
        &event.image_status,
        &event.image_owner,
    ];
    let derived = columns.into_iter().flatten();
    for column in derived.chain([&event.exchange, &event.routing_key]) {
        check_column(column)?;
    }
    // The body is the message's own text: the stored JSON is what was parsed.
    let reparsed: Value = serde_json::from_str(&event.body).unwrap();
    prop_assert_eq!(reparsed, Value::Object(event.message.clone()));
    prop_assert!((1900..=9998).contains(&event.when.year()), "{}", event.when);
    Ok(())
}

/// A value [`text::column`] can have made: no NUL, and at most 255
/// characters before each NUL became its six-character escape. The input
/// may have held those six characters itself, so each escape found allows
/// five more characters rather than exactly five.
fn check_column(column: &str) -> Result<(), TestCaseError> {
    prop_assert!(!column.contains('\0'), "{column:?}");
    let escapes = column.matches(text::NUL_ESCAPE).count();
    let allowed = MAX_FIELD_CHARS + escapes * (text::NUL_ESCAPE.chars().count() - 1);
    prop_assert!(column.chars().count() <= allowed, "{column:?}");
    Ok(())
}

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_an_event_or_a_reasoned_rejection(
        owned in delivery_of(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            // Almost JSON: a valid document with one byte replaced.
            (body_of(notification_like()), any::<prop::sample::Index>(), any::<u8>())
                .prop_map(|(mut body, at, byte)| {
                    if !body.is_empty() {
                        let at = at.index(body.len());
                        body[at] = byte;
                    }
                    body
                }),
        ])
    ) {
        check_answer(&owned)?;
    }

    #[test]
    fn arbitrary_json_is_an_event_or_a_reasoned_rejection(
        owned in delivery_of(body_of(prop_oneof![
            1 => json_value(),
            3 => notification_like(),
        ]))
    ) {
        check_answer(&owned)?;
    }
}

/// A valid notification and what parsing it must give back.
#[derive(Debug, Clone)]
struct Valid {
    event_type: String,
    message_id: String,
    when: DateTime<Utc>,
    service: String,
    host: String,
    tenant: String,
    instance: String,
    family: ExchangeFamily,
    oslo: bool,
}

impl Valid {
    fn inner_text(&self) -> String {
        json!({
            "event_type": self.event_type,
            "message_id": self.message_id,
            "timestamp": self.when.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            "publisher_id": format!("{}.{}", self.service, self.host),
            "priority": "INFO",
            "payload": {"tenant_id": self.tenant, "instance_id": self.instance},
        })
        .to_string()
    }

    fn body(&self) -> Vec<u8> {
        let inner = self.inner_text();
        if self.oslo {
            json!({"oslo.version": "2.0", "oslo.message": inner})
                .to_string()
                .into_bytes()
        } else {
            inner.into_bytes()
        }
    }
}

/// A non-empty payload value; the derivations treat an empty one as absent.
fn non_empty_text() -> impl Strategy<Value = String> {
    text().prop_filter("an empty value counts as absent", |text| !text.is_empty())
}

prop_compose! {
    fn valid()(
        event_type in "[a-z]{1,8}(\\.[a-z]{1,8}){1,3}",
        // Any characters but NUL, up to the longest key kept.
        message_id in "[^\0]{1,255}",
        // Whole microseconds from 1900 to 9998, the years kept.
        micros in -2_208_988_800_000_000i64..253_370_764_800_000_000,
        service in "[a-z][a-z-]{0,7}",
        host in text(),
        tenant in non_empty_text(),
        instance in non_empty_text(),
        family in prop::sample::select(&[
            ExchangeFamily::Nova,
            ExchangeFamily::Tach,
            ExchangeFamily::Generic,
        ][..]),
        oslo in any::<bool>(),
    ) -> Valid {
        Valid {
            event_type,
            message_id,
            when: DateTime::from_timestamp_micros(micros).unwrap(),
            service,
            host,
            tenant,
            instance,
            family,
            oslo,
        }
    }
}

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn valid_notifications_round_trip(valid in valid()) {
        let body = valid.body();
        let delivery = Delivery {
            exchange: "nova",
            routing_key: "notifications.info",
            exchange_family: valid.family,
            body: &body,
            received_at: received_at(),
        };
        let event = parse(&delivery, DEFAULT_MAX_BODY_BYTES).unwrap();
        check_storable(&event, &delivery)?;
        prop_assert_eq!(&event.message_id, &valid.message_id);
        prop_assert_eq!(&event.event_type, &valid.event_type);
        prop_assert_eq!(event.family, valid.family.resolve(&valid.event_type));
        prop_assert_eq!(event.when, valid.when);
        // The stored body is the notification's own text, also when it came
        // inside an oslo envelope.
        prop_assert_eq!(&event.body, &valid.inner_text());
        let publisher = format!("{}.{}", valid.service, valid.host);
        prop_assert_eq!(event.publisher, Some(text::column(&publisher)));
        prop_assert_eq!(event.service, Some(text::column(&valid.service)));
        prop_assert_eq!(event.host, Some(text::column(&valid.host)));
        prop_assert_eq!(event.tenant, Some(text::column(&valid.tenant)));
        // A release.create is about its release, whose id stands in for the
        // instance; every other family keeps the payload's instance.
        if event.family != Family::Deploy || valid.event_type != "release.create" {
            prop_assert_eq!(event.instance, Some(text::column(&valid.instance)));
        }
    }

    #[test]
    fn crash_reports_keep_their_uuid_as_the_instance(
        uuid in non_empty_text(),
        oslo in any::<bool>(),
    ) {
        let inner = json!({
            "event_type": "crash.processed",
            "payload": {"uuid": uuid},
        })
        .to_string();
        let body = if oslo {
            json!({"oslo.version": "2.0", "oslo.message": inner}).to_string()
        } else {
            inner
        };
        let delivery = Delivery {
            exchange: "tach",
            routing_key: "crash.processed",
            exchange_family: ExchangeFamily::Tach,
            body: body.as_bytes(),
            received_at: received_at(),
        };
        let event = parse(&delivery, DEFAULT_MAX_BODY_BYTES).unwrap();
        prop_assert_eq!(event.family, Family::Crash);
        prop_assert_eq!(event.instance, Some(text::column(&uuid)));
    }
}
