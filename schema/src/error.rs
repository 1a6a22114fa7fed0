//! Why a message could not be turned into an event.

/// A permanent reason to reject a message: the same bytes will fail the same
/// way every time, so the message is stored in `rejected_messages` and
/// acknowledged rather than retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is larger than the configured limit.
    #[error("body is {body_bytes} bytes, over the limit of {limit_bytes}")]
    TooLarge {
        /// Size of the body.
        body_bytes: usize,
        /// The configured limit.
        limit_bytes: usize,
    },
    /// The body is not JSON.
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    /// The body is JSON but not an object.
    #[error("body is a JSON {0}, not an object")]
    NotAnObject(&'static str),
    /// An `oslo.message` envelope whose inner message is unusable.
    #[error("oslo.messaging envelope: {0}")]
    BadEnvelope(String),
    /// No usable `event_type`.
    #[error("message has no event_type string")]
    MissingEventType,
    /// A timestamp in no known form.
    #[error("{field} {value:?} is not a timestamp")]
    BadTimestamp {
        /// The field that held it.
        field: &'static str,
        /// What it held (cut to 100 characters).
        value: String,
    },
    /// A field that must be present for the event's family is missing.
    #[error("{event_type} needs payload.{field}")]
    MissingField {
        /// The event type.
        event_type: String,
        /// The missing field.
        field: &'static str,
    },
    /// A field whose value cannot be stored (too long, wrong type).
    #[error("{field}: {why}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

impl ParseError {
    /// A bounded code for metrics labels and the `reason` column; the full
    /// message goes in `rejected_messages.message`.
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::TooLarge { .. } => "too_large",
            ParseError::InvalidJson(_) => "invalid_json",
            ParseError::NotAnObject(_) => "not_an_object",
            ParseError::BadEnvelope(_) => "bad_envelope",
            ParseError::MissingEventType => "missing_event_type",
            ParseError::BadTimestamp { .. } => "bad_timestamp",
            ParseError::MissingField { .. } => "missing_field",
            ParseError::InvalidField { .. } => "invalid_field",
        }
    }

    /// Every code [`ParseError::code`] can return, plus `database_rejected`
    /// for a message PostgreSQL refused and [`DELIVERY_LIMIT`] for one the
    /// broker dead-lettered; used to export zeroes at startup.
    pub const CODES: [&'static str; 10] = [
        "too_large",
        "invalid_json",
        "not_an_object",
        "bad_envelope",
        "missing_event_type",
        "bad_timestamp",
        "missing_field",
        "invalid_field",
        "database_rejected",
        DELIVERY_LIMIT,
    ];
}

/// The reason of a message that RabbitMQ dead-lettered after more
/// deliveries than its quorum queue's `x-delivery-limit`, each without an
/// acknowledgement: tach stores it as it came, unparsed.
pub const DELIVERY_LIMIT: &str = "delivery_limit";
