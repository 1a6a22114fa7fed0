//! Parsed, validated input of the release routes (API.md §3): Orlo's
//! filters, paging, ids. Past this module a handler never re-checks it.

use std::ops::Deref;

use chrono::{DateTime, Utc};
use tach_schema::release::Status;

use crate::error::ApiError;
use crate::params::{Page, QueryPairs};

/// Default and largest `limit` of `GET /releases` and `GET /packages`.
const DEFAULT_LIMIT: i64 = 100;
const HARD_LIMIT: i64 = 1000;

/// A release route's query string: the shared pairs plus Orlo's filters.
#[derive(Debug, Default)]
pub struct Params(QueryPairs);

impl Deref for Params {
    type Target = QueryPairs;

    fn deref(&self) -> &QueryPairs {
        &self.0
    }
}

impl Params {
    /// Parses a raw query string. orloclient does not URL-encode values, so
    /// a malformed escape is an error rather than a guess.
    pub fn parse(query: Option<&str>) -> Result<Params, ApiError> {
        QueryPairs::parse(query).map(Params)
    }

    /// `limit` (default 100, at most 1,000), `offset` and `asc`.
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let Page { limit, offset } = self.page(DEFAULT_LIMIT, HARD_LIMIT)?;
        let ascending = match self.get("asc") {
            None => false,
            Some(text) => boolean("asc", text)?,
        };
        Ok(Paging {
            limit,
            offset,
            ascending,
        })
    }

    /// The filters of `GET /releases`; an unknown field is a 400.
    pub fn release_filters(&self) -> Result<Vec<Filter>, ApiError> {
        self.filters(&RELEASE_FIELDS)
    }

    /// The filters of `GET /packages`; an unknown field is a 400.
    pub fn package_filters(&self) -> Result<Vec<Filter>, ApiError> {
        self.filters(&PACKAGE_FIELDS)
    }

    fn filters(&self, fields: &[(&'static str, Field)]) -> Result<Vec<Filter>, ApiError> {
        let mut filters = Vec::new();
        for (name, text) in self.pairs() {
            if PAGING.contains(&name) {
                continue;
            }
            let Some((_, field)) = fields.iter().find(|(known, _)| *known == name) else {
                let allowed: Vec<&str> = fields.iter().map(|(known, _)| *known).collect();
                return Err(ApiError::bad(format!(
                    "unknown filter field {name:?}; allowed: {}",
                    allowed.join(", ")
                )));
            };
            filters.push(Filter {
                field: *field,
                value: Value::parse(name, field.kind(), text)?,
            });
        }
        Ok(filters)
    }
}

const PAGING: [&str; 3] = ["limit", "offset", "asc"];

/// A field a filter may name: which column and how it compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Release `user`.
    User,
    /// Release `team`.
    Team,
    /// One of the release's platforms.
    Platform,
    /// Release status.
    Status,
    /// Release (or, for `GET /packages`, package) start before.
    StimeBefore,
    /// … start after.
    StimeAfter,
    /// … finish before.
    FtimeBefore,
    /// … finish after.
    FtimeAfter,
    /// … duration below, in seconds.
    DurationLt,
    /// … duration above, in seconds.
    DurationGt,
    /// A package's name.
    PackageName,
    /// A package's version.
    PackageVersion,
    /// A package's status.
    PackageStatus,
    /// A package's rollback flag.
    PackageRollback,
    /// The package's release id (`GET /packages`).
    ReleaseId,
}

/// How a filter's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Compared as text.
    Text,
    /// A status name.
    Status,
    /// A time.
    Time,
    /// Whole seconds.
    Seconds,
    /// true / false.
    Bool,
}

impl Field {
    fn kind(self) -> Kind {
        match self {
            Field::Status | Field::PackageStatus => Kind::Status,
            Field::StimeBefore | Field::StimeAfter | Field::FtimeBefore | Field::FtimeAfter => {
                Kind::Time
            }
            Field::DurationLt | Field::DurationGt => Kind::Seconds,
            Field::PackageRollback => Kind::Bool,
            _ => Kind::Text,
        }
    }
}

const RELEASE_FIELDS: [(&str, Field); 14] = [
    ("user", Field::User),
    ("team", Field::Team),
    ("platform", Field::Platform),
    ("status", Field::Status),
    ("stime_before", Field::StimeBefore),
    ("stime_after", Field::StimeAfter),
    ("ftime_before", Field::FtimeBefore),
    ("ftime_after", Field::FtimeAfter),
    ("duration_lt", Field::DurationLt),
    ("duration_gt", Field::DurationGt),
    ("package_name", Field::PackageName),
    ("package_version", Field::PackageVersion),
    ("package_status", Field::PackageStatus),
    ("package_rollback", Field::PackageRollback),
];

const PACKAGE_FIELDS: [(&str, Field); 11] = [
    ("name", Field::PackageName),
    ("version", Field::PackageVersion),
    ("status", Field::PackageStatus),
    ("rollback", Field::PackageRollback),
    ("release_id", Field::ReleaseId),
    ("stime_before", Field::StimeBefore),
    ("stime_after", Field::StimeAfter),
    ("ftime_before", Field::FtimeBefore),
    ("ftime_after", Field::FtimeAfter),
    ("duration_lt", Field::DurationLt),
    ("duration_gt", Field::DurationGt),
];

/// One parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// What it compares.
    pub field: Field,
    /// With what.
    pub value: Value,
}

/// A filter's value; `Null` is Orlo's literal `null` ("is null").
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// Text.
    Text(String),
    /// A time.
    Time(DateTime<Utc>),
    /// Seconds.
    Seconds(i64),
    /// A flag.
    Bool(bool),
}

impl Value {
    fn parse(name: &str, kind: Kind, text: &str) -> Result<Value, ApiError> {
        if text == "null" {
            return Ok(Value::Null);
        }
        match kind {
            Kind::Text => Ok(Value::Text(text.to_owned())),
            Kind::Status => Status::parse(text)
                .map(|status| Value::Text(status.as_str().to_owned()))
                .ok_or_else(|| {
                    ApiError::bad(format!(
                        "{name} must be one of NOT_STARTED, IN_PROGRESS, SUCCESSFUL, FAILED, not {text:?}"
                    ))
                }),
            Kind::Time => time(name, text).map(Value::Time),
            Kind::Seconds => text.parse().map(Value::Seconds).map_err(|_| {
                ApiError::bad(format!("{name} must be whole seconds, not {text:?}"))
            }),
            Kind::Bool => boolean(name, text).map(Value::Bool),
        }
    }
}

/// Paging and order of a list.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// At most this many.
    pub limit: i64,
    /// Skip this many.
    pub offset: i64,
    /// Oldest first when true.
    pub ascending: bool,
}

/// A time in any form publishers use (ISO 8601, with or without `T`, `Z`).
pub fn time(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    // An unencoded `+` offset arrives as a space.
    let repaired = text.trim().replace(' ', "+");
    tach_schema::timestamp::parse(text)
        .or_else(|| tach_schema::timestamp::parse(&repaired))
        .ok_or_else(|| ApiError::bad(format!("{name} is not a valid time: {text:?}")))
}

fn boolean(name: &str, text: &str) -> Result<bool, ApiError> {
    match text {
        "true" | "True" | "1" => Ok(true),
        "false" | "False" | "0" => Ok(false),
        _ => Err(ApiError::bad(format!(
            "{name} must be true or false, not {text:?}"
        ))),
    }
}

/// A release or package id: a UUID, canonical (lowercase, hyphens) or as
/// 32 hex digits; answered in canonical form.
pub fn uuid(what: &str, text: &str) -> Result<String, ApiError> {
    uuid::Uuid::try_parse(text)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| ApiError::bad(format!("{what} is not a valid UUID: {text:?}")))
}

#[cfg(test)]
mod proptests;
