//! Parsed, validated `stacky/*` parameters (API.md §1). Past this module a
//! handler never re-checks its input.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::error::ApiError;

/// Largest `limit`; larger values are clamped to it.
pub const HARD_LIMIT: i64 = 1000;
const DEFAULT_LIMIT: i64 = 50;

/// The query string as first-value-wins pairs (repeats are ignored).
#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, String>,
}

impl Params {
    /// Parses a raw query string.
    pub fn parse(query: Option<&str>) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|error| ApiError::BadRequest(format!("malformed query string: {error}")))?;
        let mut values = HashMap::new();
        for (key, value) in pairs {
            values.entry(key).or_insert(value);
        }
        Ok(Params { values })
    }

    /// A parameter's value, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A parameter that must be given and not empty.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(ApiError::BadRequest(format!(
                "missing required parameter {name}"
            ))),
        }
    }

    /// The names given that are not in `allowed`.
    pub fn unknown<'a>(&'a self, allowed: &[&str]) -> Vec<&'a str> {
        let mut unknown: Vec<&str> = self
            .values
            .keys()
            .map(String::as_str)
            .filter(|key| !allowed.contains(key))
            .collect();
        unknown.sort_unstable();
        unknown
    }

    /// `limit` and `offset`.
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let limit = self
            .non_negative("limit")?
            .unwrap_or(DEFAULT_LIMIT)
            .min(HARD_LIMIT);
        let offset = self.non_negative("offset")?.unwrap_or(0);
        Ok(Paging { limit, offset })
    }

    fn non_negative(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        match text.parse::<i64>() {
            Ok(number) if number >= 0 => Ok(Some(number)),
            _ => Err(ApiError::BadRequest(format!(
                "{name} must be a non-negative integer, not {text:?}"
            ))),
        }
    }

    /// `service`, default nova.
    pub fn service(&self) -> Result<Service, ApiError> {
        match self.get("service") {
            None | Some("nova") => Ok(Service::Nova),
            Some("glance") => Ok(Service::Glance),
            Some("generic") => Ok(Service::Generic),
            Some(other) => Err(ApiError::BadRequest(format!(
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
            ApiError::BadRequest(format!("{name} must be decimal unix seconds, not {text:?}"))
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

/// `limit` and `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Rows at most.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// An inclusive time window; either bound may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// Lower bound.
    pub min: Option<DateTime<Utc>>,
    /// Upper bound.
    pub max: Option<DateTime<Utc>>,
}

/// Which events a stacky request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        _ => Err(ApiError::BadRequest(format!("{text:?} is not a UUID"))),
    }
}

/// A request id: `req-<uuid>`, or a bare UUID (given the `req-` prefix).
pub fn request_id(text: &str) -> Result<String, ApiError> {
    let bare = text.strip_prefix("req-").unwrap_or(text);
    uuid(bare)
        .map(|uuid| format!("req-{uuid}"))
        .map_err(|_| ApiError::BadRequest(format!("{text:?} is not a request id (req-<uuid>)")))
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
