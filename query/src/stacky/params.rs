//! Parsed, validated `stacky/*` parameters (API.md §1). Past this module a
//! handler never re-checks its input.

use std::ops::Deref;

use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::params::{Page, QueryPairs};

/// Largest `limit`; larger values are clamped to it.
pub const HARD_LIMIT: i64 = 1000;
const DEFAULT_LIMIT: i64 = 50;

/// A `stacky/*` query string: the shared pairs plus stacky's own parameters.
#[derive(Debug, Default)]
pub struct Params(QueryPairs);

impl Deref for Params {
    type Target = QueryPairs;

    fn deref(&self) -> &QueryPairs {
        &self.0
    }
}

impl Params {
    /// Parses a raw query string.
    pub fn parse(query: Option<&str>) -> Result<Params, ApiError> {
        QueryPairs::parse(query).map(Params)
    }

    /// `limit` (default 50, at most 1,000) and `offset`.
    pub fn paging(&self) -> Result<Paging, ApiError> {
        self.page(DEFAULT_LIMIT, HARD_LIMIT)
    }

    /// `service`, default nova.
    pub fn service(&self) -> Result<Service, ApiError> {
        match self.get("service") {
            None | Some("nova") => Ok(Service::Nova),
            Some("glance") => Ok(Service::Glance),
            Some("generic") => Ok(Service::Generic),
            Some(other) => Err(ApiError::bad(format!(
                "service must be nova, glance or generic, not {other:?}"
            ))),
        }
    }

    /// A time given as decimal unix seconds.
    pub fn unix_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        parse_unix_time(text).map(Some).ok_or_else(|| {
            ApiError::bad(format!("{name} must be decimal unix seconds, not {text:?}"))
        })
    }

    /// `when_min` and `when_max`, both inclusive.
    pub fn window(&self, min: &str, max: &str) -> Result<Window, ApiError> {
        Ok(Window {
            min: self.unix_time(min)?,
            max: self.unix_time(max)?,
        })
    }
}

/// Decimal unix seconds → time.
pub fn parse_unix_time(text: &str) -> Option<DateTime<Utc>> {
    let seconds: f64 = text.trim().parse().ok()?;
    if !seconds.is_finite() || seconds.abs() > 1.0e11 {
        return None;
    }
    DateTime::from_timestamp_micros((seconds * 1_000_000.0).round() as i64)
}

/// A page of a table.
pub type Paging = Page;

/// An inclusive time window; either bound may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// Lower bound.
    pub min: Option<DateTime<Utc>>,
    /// Upper bound.
    pub max: Option<DateTime<Utc>>,
}

/// Which events a stacky request is about (`service`, lowercase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Service {
    /// Nova notifications.
    Nova,
    /// Glance notifications.
    Glance,
    /// Everything else.
    Generic,
}

impl Service {
    /// The raw-event families of the service.
    pub fn families(self) -> &'static [&'static str] {
        match self {
            Service::Nova => &["nova"],
            Service::Glance => &["glance"],
            Service::Generic => &["generic", "crash", "product", "deploy"],
        }
    }

    /// The fields `stacky/search` accepts for the service, and their columns.
    pub fn search_fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Service::Nova | Service::Generic => &[
                ("instance", "instance"),
                ("request_id", "request_id"),
                ("tenant", "tenant"),
                ("event", "event"),
                ("host", "host"),
                ("service", "service"),
                ("publisher", "publisher"),
                ("state", "state"),
                ("old_state", "old_state"),
                ("old_task", "old_task"),
                ("task", "task"),
                ("routing_key", "routing_key"),
                ("message_id", "message_id"),
            ],
            Service::Glance => &[
                ("uuid", "image_uuid"),
                ("request_id", "request_id"),
                ("event", "event"),
                ("host", "host"),
                ("service", "service"),
                ("publisher", "publisher"),
                ("status", "image_status"),
                ("owner", "image_owner"),
                ("routing_key", "routing_key"),
                ("message_id", "message_id"),
            ],
        }
    }
}

/// A UUID in canonical form (lowercase, hyphens) or as 32 hex digits,
/// returned canonical.
pub fn uuid(text: &str) -> Result<String, ApiError> {
    let canonical = text.len() == 36
        && text
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c));
    let bare = text.len() == 32 && text.chars().all(|c| c.is_ascii_hexdigit());
    match uuid::Uuid::parse_str(text) {
        Ok(parsed) if canonical || bare => Ok(parsed.hyphenated().to_string()),
        _ => Err(ApiError::bad(format!("{text:?} is not a UUID"))),
    }
}

/// A request id: `req-<uuid>`, or a bare UUID (given the `req-` prefix).
pub fn request_id(text: &str) -> Result<String, ApiError> {
    let bare = text.strip_prefix("req-").unwrap_or(text);
    uuid(bare)
        .map(|uuid| format!("req-{uuid}"))
        .map_err(|_| ApiError::bad(format!("{text:?} is not a request id (req-<uuid>)")))
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_clamp_and_reject() {
        let params = Params::parse(Some("limit=5000&offset=3&limit=1")).unwrap();
        assert_eq!(
            params.paging().unwrap(),
            Paging {
                limit: 1000,
                offset: 3
            }
        );
        for bad in ["limit=-1", "limit=ten", "offset=1.5"] {
            assert!(Params::parse(Some(bad)).unwrap().paging().is_err(), "{bad}");
        }
    }

    #[test]
    fn uuids_and_request_ids() {
        let canonical = "77e0f192-00a2-4f14-ad56-7467897828ea";
        assert_eq!(uuid(canonical).unwrap(), canonical);
        assert_eq!(uuid("77e0f19200a24f14ad567467897828ea").unwrap(), canonical);
        assert!(uuid("77E0F192-00A2-4F14-AD56-7467897828EA").is_err());
        assert!(uuid("x' OR 1=1 --").is_err());
        assert_eq!(request_id(canonical).unwrap(), format!("req-{canonical}"));
        assert!(request_id("req-nope").is_err());
    }

    #[test]
    fn unix_times() {
        assert_eq!(
            parse_unix_time("1389726000.5").unwrap().timestamp_micros(),
            1_389_726_000_500_000
        );
        assert!(parse_unix_time("NaN").is_none());
        assert!(parse_unix_time("yesterday").is_none());
    }
}
