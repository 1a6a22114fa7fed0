//! Properties of whole deliveries as the consumer takes them off the wire —
//! the `basic.deliver` method (exchange, routing key), the content header
//! (AMQP properties) and the body — whatever bytes a publisher put there:
//!
//! - the method and content-header parsers never panic on arbitrary bytes
//!   (a panic there would drop the connection, and the broker would
//!   redeliver the same message forever);
//! - a short string of any bytes parses: valid UTF-8 as it is, any other
//!   byte written as `\xNN`;
//! - properties of any values (NUL, invalid UTF-8, nested tables, NaN)
//!   round-trip through the wire, and survive into the rejected row as JSON
//!   that PostgreSQL's `json` type takes: text without NUL that parses back
//!   to the same value;
//! - headers nested to any depth a frame can carry parse without exhausting
//!   the stack, the levels past `MAX_NESTING` kept as their bytes;
//! - [`prepare`] turns every delivery into exactly one event or one
//!   rejection, and a rejection carries a known reason code and a message.

use lapin::protocol::basic::{parse_deliver, parse_properties};
use lapin::types::parsing::{parse_short_string, MAX_NESTING};
use lapin::types::{AMQPValue, ShortString};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::json;
use tach_schema::{ExchangeFamily, ParseError};

use super::*;

/// Bytes of a short string (at most 255): mostly text with NUL and
/// multi-byte characters, sometimes any bytes at all, sometimes the longest
/// run of invalid UTF-8 a short string can hold.
fn short_bytes() -> impl Strategy<Value = Vec<u8>> {
    let text = prop::collection::vec(
        prop_oneof![
            3 => prop::char::range('a', 'z'),
            1 => Just('\0'),
            1 => Just('é'),
            1 => any::<char>(),
        ],
        0..40,
    )
    .prop_map(|chars| chars.into_iter().collect::<String>().into_bytes());
    prop_oneof![
        4 => text,
        2 => prop::collection::vec(any::<u8>(), 0..=255),
        1 => (0..=255usize).prop_map(|length| vec![0xff; length]),
    ]
}

/// What `bytes` must read as: UTF-8 kept, every other byte as `\xNN`.
fn expected_text(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02X}"));
        }
    }
    text
}

fn put_short(wire: &mut Vec<u8>, bytes: &[u8]) {
    wire.push(u8::try_from(bytes.len()).expect("a short string holds 255 bytes at most"));
    wire.extend_from_slice(bytes);
}

fn put_long(wire: &mut Vec<u8>, bytes: &[u8]) {
    wire.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
    wire.extend_from_slice(bytes);
}

/// A header value as a publisher may send it, in the types RabbitMQ's wire
/// format has.
#[derive(Debug, Clone)]
enum Header {
    Text(Vec<u8>),
    Bytes(Vec<u8>),
    Flag(bool),
    Integer(i64),
    Double(f64),
    Timestamp(u64),
    Void,
    List(Vec<Header>),
    Table(Vec<(Vec<u8>, Header)>),
}

impl Header {
    fn put(&self, wire: &mut Vec<u8>) {
        match self {
            Header::Text(bytes) => {
                wire.push(b'S');
                put_long(wire, bytes);
            }
            Header::Bytes(bytes) => {
                wire.push(b'x');
                put_long(wire, bytes);
            }
            Header::Flag(flag) => wire.extend([b't', u8::from(*flag)]),
            Header::Integer(number) => {
                wire.push(b'l');
                wire.extend(number.to_be_bytes());
            }
            Header::Double(number) => {
                wire.push(b'd');
                wire.extend(number.to_be_bytes());
            }
            Header::Timestamp(seconds) => {
                wire.push(b'T');
                wire.extend(seconds.to_be_bytes());
            }
            Header::Void => wire.push(b'V'),
            Header::List(_) => {
                wire.push(b'A');
                put_long(wire, &self.content());
            }
            Header::Table(_) => {
                wire.push(b'F');
                put_long(wire, &self.content());
            }
        }
    }

    /// The bytes inside a list's or table's length prefix.
    fn content(&self) -> Vec<u8> {
        let mut inner = Vec::new();
        match self {
            Header::List(items) => items.iter().for_each(|item| item.put(&mut inner)),
            Header::Table(fields) => {
                for (key, value) in fields {
                    put_short(&mut inner, key);
                    value.put(&mut inner);
                }
            }
            _ => {}
        }
        inner
    }

    /// The JSON of the value lapin reads for it, `depth` lists and tables
    /// down: past [`MAX_NESTING`], a list or table is kept as its bytes.
    fn json(&self, depth: usize) -> serde_json::Value {
        let leaf = match self {
            Header::List(_) | Header::Table(_) if depth >= MAX_NESTING => {
                AMQPValue::ByteArray(self.content().into())
            }
            Header::Text(bytes) => AMQPValue::LongString(bytes.clone().into()),
            Header::Bytes(bytes) => AMQPValue::ByteArray(bytes.clone().into()),
            Header::Flag(flag) => AMQPValue::Boolean(*flag),
            Header::Integer(number) => AMQPValue::LongLongInt(*number),
            Header::Double(number) => AMQPValue::Double(*number),
            Header::Timestamp(seconds) => AMQPValue::Timestamp(*seconds),
            Header::Void => AMQPValue::Void,
            Header::List(items) => {
                let items: Vec<_> = items.iter().map(|item| item.json(depth + 1)).collect();
                return json!({ "FieldArray": items });
            }
            Header::Table(fields) => return json!({ "FieldTable": table_json(fields, depth + 1) }),
        };
        serde_json::to_value(leaf).unwrap()
    }
}

fn put_table(wire: &mut Vec<u8>, fields: &[(Vec<u8>, Header)]) {
    put_long(wire, &Header::Table(fields.to_vec()).content());
}

/// The JSON of a table as lapin reads it, its values `depth` lists and
/// tables down: keys decoded like every short string, the last of repeated
/// keys kept.
fn table_json(fields: &[(Vec<u8>, Header)], depth: usize) -> serde_json::Value {
    let mut table = serde_json::Map::new();
    for (key, value) in fields {
        table.insert(expected_text(key), value.json(depth));
    }
    serde_json::Value::Object(table)
}

fn header() -> impl Strategy<Value = Header> {
    let bytes = prop::collection::vec(
        prop_oneof![3 => any::<u8>(), 1 => Just(0u8), 1 => Just(b'"'), 1 => Just(b'\\')],
        0..24,
    );
    let leaf = prop_oneof![
        3 => bytes.clone().prop_map(Header::Text),
        1 => bytes.prop_map(Header::Bytes),
        1 => any::<bool>().prop_map(Header::Flag),
        1 => any::<i64>().prop_map(Header::Integer),
        1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), any::<f64>()].prop_map(Header::Double),
        1 => any::<u64>().prop_map(Header::Timestamp),
        1 => Just(Header::Void),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Header::List),
            prop::collection::vec((short_bytes(), inner), 0..4).prop_map(Header::Table),
        ]
    })
}

/// The content-header properties a publisher sets, as raw bytes.
#[derive(Debug, Clone)]
struct Properties {
    content_type: Option<Vec<u8>>,
    headers: Option<Vec<(Vec<u8>, Header)>>,
    delivery_mode: Option<u8>,
    message_id: Option<Vec<u8>>,
    timestamp: Option<u64>,
    app_id: Option<Vec<u8>>,
}

impl Properties {
    /// The AMQP 0-9-1 property list: a flag word, then each field present
    /// in flag order.
    fn wire(&self) -> Vec<u8> {
        let mut flags = 0u16;
        let mut fields = Vec::new();
        if let Some(value) = &self.content_type {
            flags |= 1 << 15;
            put_short(&mut fields, value);
        }
        if let Some(value) = &self.headers {
            flags |= 1 << 13;
            put_table(&mut fields, value);
        }
        if let Some(value) = self.delivery_mode {
            flags |= 1 << 12;
            fields.push(value);
        }
        if let Some(value) = &self.message_id {
            flags |= 1 << 7;
            put_short(&mut fields, value);
        }
        if let Some(value) = self.timestamp {
            flags |= 1 << 6;
            fields.extend(value.to_be_bytes());
        }
        if let Some(value) = &self.app_id {
            flags |= 1 << 3;
            put_short(&mut fields, value);
        }
        let mut wire = flags.to_be_bytes().to_vec();
        wire.extend(fields);
        wire
    }
}

prop_compose! {
    fn properties()(
        content_type in prop::option::of(short_bytes()),
        headers in prop::option::of(prop::collection::vec((short_bytes(), header()), 0..6)),
        delivery_mode in prop::option::of(any::<u8>()),
        message_id in prop::option::of(short_bytes()),
        timestamp in prop::option::of(any::<u64>()),
        app_id in prop::option::of(short_bytes()),
    ) -> Properties {
        Properties { content_type, headers, delivery_mode, message_id, timestamp, app_id }
    }
}

/// The `basic.deliver` arguments with raw exchange and routing-key bytes.
fn deliver_wire(exchange: &[u8], routing_key: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    put_short(&mut wire, b"amq.ctag-1");
    wire.extend(7u64.to_be_bytes());
    wire.push(0);
    put_short(&mut wire, exchange);
    put_short(&mut wire, routing_key);
    wire
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        Just(br#"{"event_type": "compute.instance.update", "payload": {}}"#.to_vec()),
        Just(br#"{"event_type": "crash.processed", "payload": {}}"#.to_vec()),
        Just(br#"{"oslo.version": "2.0", "oslo.message": "[]"}"#.to_vec()),
        Just(br#"{"event_type": "a\u0000b"}"#.to_vec()),
    ]
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

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn wire_parsers_never_panic_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        // Errors are expected; only a panic fails.
        let _ = parse_short_string(&bytes[..]);
        let _ = parse_deliver(&bytes[..]);
        let _ = parse_properties(&bytes[..]);
    }

    #[test]
    fn short_strings_of_any_bytes_are_read_as_text(
        exchange in short_bytes(),
        routing_key in short_bytes(),
    ) {
        let wire = deliver_wire(&exchange, &routing_key);
        let (rest, deliver) = parse_deliver(&wire[..]).unwrap();
        prop_assert!(rest.is_empty());
        prop_assert_eq!(deliver.exchange.as_str(), expected_text(&exchange));
        prop_assert_eq!(deliver.routing_key.as_str(), expected_text(&routing_key));
        if let Ok(text) = std::str::from_utf8(&routing_key) {
            prop_assert_eq!(deliver.routing_key.as_str(), text);
        }
    }

    #[test]
    fn properties_of_any_values_round_trip_through_the_wire(properties in properties()) {
        let wire = properties.wire();
        let (rest, parsed) = parse_properties(&wire[..]).unwrap();
        prop_assert!(rest.is_empty());
        let text = |bytes: &Option<Vec<u8>>| bytes.as_deref().map(expected_text);
        let short = |value: &Option<ShortString>| value.as_ref().map(|value| value.to_string());
        prop_assert_eq!(short(parsed.content_type()), text(&properties.content_type));
        prop_assert_eq!(short(parsed.message_id()), text(&properties.message_id));
        prop_assert_eq!(short(parsed.app_id()), text(&properties.app_id));
        prop_assert_eq!(*parsed.delivery_mode(), properties.delivery_mode);
        prop_assert_eq!(*parsed.timestamp(), properties.timestamp);
        // Compared as JSON, which is what is kept of them (and where NaN,
        // unequal to itself, is null).
        let headers = properties.headers.as_deref().map(|fields| table_json(fields, 0));
        prop_assert_eq!(serde_json::to_value(parsed.headers()).unwrap(), json!(headers));
    }

    #[test]
    fn every_delivery_is_an_event_or_a_rejection_with_storable_properties(
        exchange in short_bytes(),
        routing_key in short_bytes(),
        properties in properties(),
        body in body(),
        family in exchange_family(),
    ) {
        let deliver_bytes = deliver_wire(&exchange, &routing_key);
        let (_, deliver) = parse_deliver(&deliver_bytes[..]).unwrap();
        let properties_bytes = properties.wire();
        let (_, properties) = parse_properties(&properties_bytes[..]).unwrap();
        let received = Received {
            exchange: deliver.exchange.to_string(),
            routing_key: deliver.routing_key.to_string(),
            queue: Some("tach.nova".into()),
            family,
            body,
            properties: Some(properties),
            received_at: chrono::Utc::now(),
            dead_lettered: None,
        };
        let prepared = prepare("test", std::slice::from_ref(&received), 1024);
        prop_assert_eq!(prepared.events.len() + prepared.rejected.len(), 1);
        prop_assert_eq!(prepared.rejected.len(), prepared.rejected_families.len());
        // A rejection as the store would get it, whichever the reason: a
        // parse failure here, or the database refusing the event.
        let rejected = match prepared.rejected.first() {
            Some(rejected) => {
                prop_assert!(ParseError::CODES.contains(&rejected.reason), "{}", rejected.reason);
                prop_assert!(!rejected.message.trim().is_empty());
                rejected.clone()
            }
            None => received.rejected("test", "database_rejected", "refused".into()),
        };
        prop_assert_eq!(&rejected.body, &received.body);
        // The properties are kept (not dropped as unserializable), as text
        // PostgreSQL's json takes: no NUL, and JSON that reads back the same.
        let Some(kept) = &rejected.properties else {
            return Err(TestCaseError::fail("the properties were lost"));
        };
        let text = kept.to_string();
        prop_assert!(!text.contains('\0'));
        let reread: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&reread, kept);
    }
}

proptest! {
    // Fewer cases: each builds up to a thousand levels, and the depth is
    // what varies.
    #![proptest_config(Config::with_cases(64))]

    #[test]
    fn headers_nested_to_any_depth_parse_in_bounded_stack(
        // Each level a table (true) or a list; a thousand levels took more
        // than a thread's 2 MiB of stack when every level recursed.
        levels in prop::collection::vec(any::<bool>(), 0..1200),
    ) {
        let mut value = Header::Text(b"deepest".to_vec());
        for table in levels {
            value = if table {
                Header::Table(vec![(b"a".to_vec(), value)])
            } else {
                Header::List(vec![value])
            };
        }
        let fields = vec![(b"x-nested".to_vec(), value)];
        let properties = Properties {
            content_type: None,
            headers: Some(fields.clone()),
            delivery_mode: None,
            message_id: None,
            timestamp: None,
            app_id: None,
        };
        let wire = properties.wire();
        let (rest, parsed) = parse_properties(&wire[..]).unwrap();
        prop_assert!(rest.is_empty());
        // Nothing is lost past the limit: the deeper levels are their bytes.
        prop_assert_eq!(
            serde_json::to_value(parsed.headers()).unwrap(),
            json!(table_json(&fields, 0))
        );
    }
}
