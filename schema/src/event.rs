//! The one internal event every envelope normalizes into, and the small
//! validated types it is made of.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which kind of publisher an event comes from. It decides which derived
/// tables an event feeds and which `service` it answers to in `stacky/*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Nova notifications (legacy, oslo v2 or versioned).
    Nova,
    /// Glance image notifications.
    Glance,
    /// `crash.*` events from a crash processor.
    Crash,
    /// `product.*` events (product versions and builds).
    Product,
    /// `release.*`, `package.*` and `environment.*` events.
    Deploy,
    /// Anything else.
    Generic,
}

impl Family {
    /// Every family, in a stable order (used to pre-register metric series).
    pub const ALL: [Family; 6] = [
        Family::Nova,
        Family::Glance,
        Family::Crash,
        Family::Product,
        Family::Deploy,
        Family::Generic,
    ];

    /// The name stored in the database and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Nova => "nova",
            Family::Glance => "glance",
            Family::Crash => "crash",
            Family::Product => "product",
            Family::Deploy => "deploy",
            Family::Generic => "generic",
        }
    }

    /// The family of an event that came through tach's own exchange, where
    /// the event type's prefix decides (SPEC §3.1).
    pub fn from_event_type(event_type: &str) -> Family {
        let prefix = event_type.split('.').next().unwrap_or_default();
        match prefix {
            "crash" => Family::Crash,
            "product" => Family::Product,
            "release" | "package" | "environment" => Family::Deploy,
            _ => Family::Generic,
        }
    }
}

/// How the family of a delivery is decided: configured per exchange, since
/// the family comes from the exchange a delivery came through, never from a
/// queue name (SPEC §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeFamily {
    /// Every delivery is a nova notification.
    Nova,
    /// Every delivery is a glance notification.
    Glance,
    /// tach's own exchange: the event type's prefix decides.
    Tach,
    /// Every delivery is a generic event.
    Generic,
}

impl ExchangeFamily {
    /// The family of one event of this exchange.
    pub fn resolve(self, event_type: &str) -> Family {
        match self {
            ExchangeFamily::Nova => Family::Nova,
            ExchangeFamily::Glance => Family::Glance,
            ExchangeFamily::Tach => Family::from_event_type(event_type),
            ExchangeFamily::Generic => Family::Generic,
        }
    }
}

/// One message as it came off the bus (or out of a replay file), before
/// parsing.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// Exchange the message was published to.
    pub exchange: &'a str,
    /// Routing key it was published with; one ending in `error` marks an error.
    pub routing_key: &'a str,
    /// Family rule of the exchange.
    pub exchange_family: ExchangeFamily,
    /// The body, exactly as received.
    pub body: &'a [u8],
    /// When tach received it; the event time when the message carries none.
    pub received_at: DateTime<Utc>,
}

/// A normalized event: the columns of the raw table plus the parsed message,
/// which the derivations read.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The publisher's `message_id`, or one derived from the body's bytes.
    pub message_id: String,
    /// The family, from the exchange (and for tach's exchange, the event type).
    pub family: Family,
    /// Exchange the event came through, as a text column ([`crate::text::column`]).
    pub exchange: String,
    /// Routing key it was published with, as a text column.
    pub routing_key: String,
    /// True when the routing key ends in `error` (StackTach's `?` = `E`).
    pub is_error: bool,
    /// `event_type`.
    pub event_type: String,
    /// The event's own time (`timestamp`, else `_context_timestamp`, else receipt).
    pub when: DateTime<Utc>,
    /// `publisher_id`, verbatim.
    pub publisher: Option<String>,
    /// `publisher_id` up to its first `.` (versioned nova: `:`).
    pub service: Option<String>,
    /// The rest of `publisher_id`.
    pub host: Option<String>,
    /// The instance (or crash / release) the event is about.
    pub instance: Option<String>,
    /// `_context_request_id`.
    pub request_id: Option<String>,
    /// The tenant (project) the event belongs to.
    pub tenant: Option<String>,
    /// Nova `state`.
    pub state: Option<String>,
    /// Nova `old_state`.
    pub old_state: Option<String>,
    /// Nova `old_task_state`.
    pub old_task: Option<String>,
    /// Nova `new_task_state` (versioned: `task_state`).
    pub task: Option<String>,
    /// StackTach's image type bit flags.
    pub image_type: Option<i32>,
    /// Glance image id (`payload.id`).
    pub image_uuid: Option<String>,
    /// Glance image `status`.
    pub image_status: Option<String>,
    /// Glance image `owner`.
    pub image_owner: Option<String>,
    /// Glance image `size` in bytes.
    pub image_size: Option<i64>,
    /// The message's JSON text as published (for an oslo v2 envelope, the
    /// inner message), kept verbatim so `stacky/show` prints what was sent.
    pub body: String,
    /// The parsed message object (the inner one for an oslo v2 envelope).
    pub message: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// The message's `payload`, when there is one.
    pub fn payload(&self) -> Option<&serde_json::Value> {
        self.message.get("payload")
    }
}
