//! Parsed, validated Socorro middleware parameters (API.md §2): the
//! `/<key>/<value>/` path form and the query string give the same values;
//! list values split on `+` (path: before percent-decoding, query: after
//! form-decoding). Past this module a handler never re-checks its input.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, TimeDelta, Utc};

use crate::error::ApiError;

/// Default and largest `result_number`.
const DEFAULT_RESULTS: i64 = 100;
const MAX_RESULTS: i64 = 1000;

/// One raw value, remembering which form it came in: the two forms split
/// lists at different stages.
#[derive(Debug, Clone)]
enum Raw {
    /// A path segment, still percent-encoded.
    Path(String),
    /// A query-string value, already form-decoded.
    Query(String),
}

/// A request's parameters, first value wins (repeats are ignored).
#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, Raw>,
}

impl Params {
    /// Parses `rest` (the path after the service, `key/value/…`) and the
    /// query string. With `positional`, an odd segment count makes the first
    /// segment that parameter's value (`/products/versions/<list>/`).
    pub fn parse(
        rest: &str,
        query: Option<&str>,
        positional: Option<&str>,
    ) -> Result<Params, ApiError> {
        let mut values = HashMap::new();
        let trimmed = rest.trim_matches('/');
        let mut segments: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        if let (Some(name), true) = (positional, segments.len() % 2 == 1) {
            values.insert(name.to_owned(), Raw::Path(segments.remove(0).to_owned()));
        }
        for pair in segments.chunks(2) {
            let key = percent_decode(pair[0]).ok_or_else(|| {
                ApiError::bad_parameter(
                    pair[0],
                    "the parameter name is not valid percent-encoded UTF-8",
                )
            })?;
            let value = pair.get(1).copied().unwrap_or_default();
            values
                .entry(key)
                .or_insert_with(|| Raw::Path(value.to_owned()));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|error| {
                ApiError::bad_parameter("", format!("malformed query string: {error}"))
            })?;
        for (key, value) in pairs {
            values.entry(key).or_insert(Raw::Query(value));
        }
        Ok(Params { values })
    }

    /// A single value, decoded; None when absent or empty.
    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        let value = match self.values.get(name) {
            None => return Ok(None),
            Some(Raw::Query(value)) => value.clone(),
            Some(Raw::Path(raw)) => percent_decode(raw)
                .ok_or_else(|| ApiError::bad_parameter(name, "not valid percent-encoded UTF-8"))?,
        };
        Ok(Some(value).filter(|value| !value.is_empty()))
    }

    /// A single value that must be given and not empty.
    pub fn required(&self, name: &str) -> Result<String, ApiError> {
        self.text(name)?.ok_or_else(|| {
            ApiError::bad_parameter(name, format!("missing mandatory parameter {name}"))
        })
    }

    /// A `+`-separated list; empty items are dropped.
    pub fn list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let items: Vec<String> = match self.values.get(name) {
            None => return Ok(Vec::new()),
            Some(Raw::Query(value)) => value.split('+').map(str::to_owned).collect(),
            Some(Raw::Path(raw)) => raw
                .split('+')
                .map(|item| {
                    percent_decode(item).ok_or_else(|| {
                        ApiError::bad_parameter(name, "not valid percent-encoded UTF-8")
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(items.into_iter().filter(|item| !item.is_empty()).collect())
    }

    /// A date in any of API.md §2's forms, UTC unless it carries an offset.
    pub fn date(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        let Some(text) = self.text(name)? else {
            return Ok(None);
        };
        parse_date(&text).map(Some).ok_or_else(|| {
            ApiError::bad_parameter(
                name,
                format!("{name} must be a date (YYYY-MM-DD, YYYY-MM-DD HH:MM:SS[.S] or ISO 8601), not {:?}", shorten(&text)),
            )
        })
    }

    /// An integer.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.text(name)? else {
            return Ok(None);
        };
        parse_integer(name, &text).map(Some)
    }

    /// A non-negative integer.
    pub fn count(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.integer(name)? {
            Some(number) if number < 0 => Err(ApiError::bad_parameter(
                name,
                format!("{name} must not be negative"),
            )),
            other => Ok(other),
        }
    }

    /// A list of integers.
    pub fn integers(&self, name: &str) -> Result<Vec<i64>, ApiError> {
        self.list(name)?
            .iter()
            .map(|item| parse_integer(name, item))
            .collect()
    }

    /// One of `allowed`, or `default` when absent.
    pub fn choice(
        &self,
        name: &str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str, ApiError> {
        let Some(text) = self.text(name)? else {
            return Ok(default);
        };
        allowed
            .iter()
            .find(|choice| **choice == text)
            .copied()
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    name,
                    format!(
                        "{name} must be one of {}, not {:?}",
                        allowed.join(", "),
                        shorten(&text)
                    ),
                )
            })
    }

    /// `result_number` (default 100, at most 1,000) and `result_offset`.
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let limit = self
            .count("result_number")?
            .unwrap_or(DEFAULT_RESULTS)
            .min(MAX_RESULTS);
        let offset = self.count("result_offset")?.unwrap_or(0);
        Ok(Paging { limit, offset })
    }

    /// `product:version` items of a list; an item without `:` is a 400.
    pub fn product_versions(&self, name: &str) -> Result<Vec<(String, String)>, ApiError> {
        self.list(name)?
            .iter()
            .map(|item| {
                item.split_once(':')
                    .filter(|(product, version)| !product.is_empty() && !version.is_empty())
                    .map(|(product, version)| (product.to_owned(), version.to_owned()))
                    .ok_or_else(|| {
                        ApiError::bad_parameter(
                            name,
                            format!(
                                "{name} items must be Product:Version, not {:?}",
                                shorten(item)
                            ),
                        )
                    })
            })
            .collect()
    }
}

/// How a term matches (`search_mode`, `plugin_search_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Equal to the term.
    IsExactly,
    /// Contains the term (`%`, `_` and `\` literal).
    Contains,
    /// Starts with the term; Socorro's PostgreSQL `default` meant this.
    StartsWith,
}

impl Mode {
    fn parse(params: &Params, name: &str) -> Result<Mode, ApiError> {
        let mode = params.choice(
            name,
            &["default", "is_exactly", "contains", "starts_with"],
            "default",
        )?;
        Ok(match mode {
            "is_exactly" => Mode::IsExactly,
            "contains" => Mode::Contains,
            _ => Mode::StartsWith,
        })
    }
}

/// Columns `in` may name (a fixed whitelist: they become SQL identifiers).
const SEARCH_FIELDS: [(&str, &str); 10] = [
    ("signature", "signature"),
    ("user_comments", "user_comments"),
    ("reason", "reason"),
    ("url", "url"),
    ("email", "email"),
    ("address", "address"),
    ("os_name", "os_name"),
    ("cpu_name", "cpu_name"),
    ("product", "product"),
    ("version", "version"),
];

/// Columns `plugin_in` may name.
const PLUGIN_FIELDS: [(&str, &str); 3] = [
    ("name", "plugin_name"),
    ("filename", "plugin_filename"),
    ("version", "plugin_version"),
];

/// Terms searched in some columns.
#[derive(Debug, Clone)]
pub struct TermFilter {
    /// The terms, joined by spaces (Socorro never searched a list on PostgreSQL).
    pub terms: String,
    /// Whitelisted column names.
    pub columns: Vec<&'static str>,
    /// How they match.
    pub mode: Mode,
}

/// Which reports: `any`, `crash` (no hang id) or `hang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportType {
    /// Every report.
    Any,
    /// Reports without a hang id.
    Crash,
    /// Reports with a hang id.
    Hang,
}

/// The filters `/search/*`, `/report/list` and `/crashes/comments` share.
#[derive(Debug, Clone)]
pub struct Search {
    /// `for` in `in`.
    pub terms: Option<TermFilter>,
    /// Products (default the default product).
    pub products: Vec<String>,
    /// `from`, inclusive.
    pub from: DateTime<Utc>,
    /// `to`, exclusive.
    pub to: DateTime<Utc>,
    /// `versions` items `Product:Version`.
    pub product_versions: Vec<(String, String)>,
    /// `versions` items without a product.
    pub bare_versions: Vec<String>,
    /// `os`: prefixes of `os_name`.
    pub os: Vec<String>,
    /// `branches`: release channels.
    pub branches: Vec<String>,
    /// `reasons`.
    pub reasons: Vec<String>,
    /// `build_ids`.
    pub build_ids: Vec<i64>,
    /// `build_from`, inclusive.
    pub build_from: Option<i64>,
    /// `build_to`, inclusive.
    pub build_to: Option<i64>,
    /// `report_process` other than `any`: the stored process class.
    pub process: Option<&'static str>,
    /// `report_type`.
    pub report_type: ReportType,
    /// Plugin terms (only with `report_process=plugin`).
    pub plugin: Option<TermFilter>,
    /// An exact signature (`/report/list`, `/crashes/comments`).
    pub signature: Option<String>,
}

impl Search {
    /// Parses the shared filters.
    pub fn parse(
        params: &Params,
        now: DateTime<Utc>,
        default_product: &str,
    ) -> Result<Search, ApiError> {
        let mut products = params.list("products")?;
        if products.is_empty() {
            products.push(default_product.to_owned());
        }
        let (product_versions, bare_versions) = versions(params)?;
        let process = match params.choice(
            "report_process",
            &["any", "browser", "plugin", "content"],
            "any",
        )? {
            "any" => None,
            other => Some(other),
        };
        let report_type = match params.choice("report_type", &["any", "crash", "hang"], "any")? {
            "crash" => ReportType::Crash,
            "hang" => ReportType::Hang,
            _ => ReportType::Any,
        };
        Ok(Search {
            terms: terms(
                params,
                "for",
                "in",
                "search_mode",
                &SEARCH_FIELDS,
                "signature",
            )?,
            products,
            from: params.date("from")?.unwrap_or(days_before(now, 7)),
            to: params.date("to")?.unwrap_or(now),
            product_versions,
            bare_versions,
            os: params.list("os")?,
            branches: params.list("branches")?,
            reasons: params.list("reasons")?,
            build_ids: params.integers("build_ids")?,
            build_from: params.integers("build_from")?.first().copied(),
            build_to: params.integers("build_to")?.first().copied(),
            process,
            report_type,
            plugin: match process {
                Some("plugin") => terms(
                    params,
                    "plugin_terms",
                    "plugin_in",
                    "plugin_search_mode",
                    &PLUGIN_FIELDS,
                    "name",
                )?,
                _ => None,
            },
            signature: None,
        })
    }
}

impl Search {
    /// True when `crash_signature_hours` can answer the search: every
    /// condition is on a column the aggregates keep (product, version,
    /// signature, os_name, process). Release channels, reasons, builds, hang
    /// or crash alone, plugin terms, and terms in other columns need the
    /// reports.
    pub fn answers_from_aggregates(&self) -> bool {
        let aggregated =
            |column: &&str| matches!(*column, "signature" | "product" | "version" | "os_name");
        self.branches.is_empty()
            && self.reasons.is_empty()
            && self.build_ids.is_empty()
            && self.build_from.is_none()
            && self.build_to.is_none()
            && self.report_type == ReportType::Any
            && self.plugin.is_none()
            && self
                .terms
                .as_ref()
                .is_none_or(|terms| terms.columns.iter().all(aggregated))
    }
}

/// `Product:Version` pairs and bare versions.
type SplitVersions = (Vec<(String, String)>, Vec<String>);

/// `versions` split into `Product:Version` pairs and bare versions.
fn versions(params: &Params) -> Result<SplitVersions, ApiError> {
    let mut pairs = Vec::new();
    let mut bare = Vec::new();
    for item in params.list("versions")? {
        match item.split_once(':') {
            Some((product, version)) => pairs.push((product.to_owned(), version.to_owned())),
            None => bare.push(item),
        }
    }
    Ok((pairs, bare))
}

/// Terms, the whitelisted columns they are searched in, and the mode.
fn terms(
    params: &Params,
    terms_name: &str,
    in_name: &str,
    mode_name: &str,
    whitelist: &[(&str, &'static str)],
    default_field: &str,
) -> Result<Option<TermFilter>, ApiError> {
    let mode = Mode::parse(params, mode_name)?;
    let mut fields = params.list(in_name)?;
    if fields.is_empty() {
        fields.push(default_field.to_owned());
    }
    let columns = fields
        .iter()
        .map(|field| {
            whitelist
                .iter()
                .find(|(name, _)| name == field)
                .map(|(_, column)| *column)
                .ok_or_else(|| {
                    let names: Vec<&str> = whitelist.iter().map(|(name, _)| *name).collect();
                    ApiError::bad_parameter(
                        in_name,
                        format!(
                            "{in_name} must name fields among {}, not {:?}",
                            names.join(", "),
                            shorten(field)
                        ),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let terms = params.list(terms_name)?;
    if terms.is_empty() {
        return Ok(None);
    }
    Ok(Some(TermFilter {
        terms: terms.join(" "),
        columns,
        mode,
    }))
}

/// A page of hits (`result_number`, `result_offset`).
pub type Paging = crate::params::Page;

/// At most 100 characters of a value, for error messages.
fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

fn parse_integer(name: &str, text: &str) -> Result<i64, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::bad_parameter(
            name,
            format!("{name} must be an integer, not {:?}", shorten(text)),
        )
    })
}

/// Parses a date; a query-string `+HH:MM` offset arrives form-decoded as a
/// space, so a trailing ` HH:MM` after an ISO time is read as `+HH:MM`.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let repaired;
    let text = match text.rsplit_once(' ') {
        Some((time, offset))
            if time.contains('T') && offset.len() == 5 && offset.as_bytes()[2] == b':' =>
        {
            repaired = format!("{time}+{offset}");
            repaired.as_str()
        }
        _ => text,
    };
    tach_schema::timestamp::parse(text).filter(|when| (1..=9999).contains(&when.year()))
}

/// `now − days`, the seed's default start of a search.
pub fn days_before(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now - TimeDelta::days(days)
}

/// Decodes `%XX` escapes (a `+` stays a `+`: in a path it is a literal).
/// None when an escape is malformed or the result is not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3)?;
            // Digits only: from_str_radix would also take a sign (`%+1`).
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lists_split_before_decoding_and_query_lists_after() {
        let params = Params::parse("versions/Firefox:1%2B2+Fennec:3/", None, None).unwrap();
        assert_eq!(
            params.list("versions").unwrap(),
            ["Firefox:1+2", "Fennec:3"]
        );
        let params = Params::parse("", Some("versions=Firefox:1%2BFennec:3+x"), None).unwrap();
        assert_eq!(
            params.list("versions").unwrap(),
            ["Firefox:1", "Fennec:3 x"]
        );
    }

    #[test]
    fn dates_take_every_documented_form() {
        for text in [
            "2012-02-29",
            "2012-02-29 01:23:45",
            "2012-02-29 01:23:45.5",
            "2012-02-29T01:23:45+00:00",
            "2012-02-29T02:23:45 01:00",
        ] {
            assert!(parse_date(text).is_some(), "{text}");
        }
        assert_eq!(parse_date("2012-02-30"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn a_positional_value_is_the_named_parameter() {
        let params = Params::parse("/Firefox:9.0a1+Fennec:7.0/", None, Some("versions")).unwrap();
        assert_eq!(params.list("versions").unwrap().len(), 2);
        let params = Params::parse("versions/Firefox:9.0a1/", None, Some("versions")).unwrap();
        assert_eq!(params.list("versions").unwrap(), ["Firefox:9.0a1"]);
    }

    fn search(query: &str) -> Search {
        let params = Params::parse("", Some(query), None).unwrap();
        Search::parse(&params, parse_date("2015-11-30").unwrap(), "Firefox").unwrap()
    }

    #[test]
    fn only_searches_on_aggregated_columns_read_the_aggregates() {
        for query in [
            "",
            "products=Firefox%2BFennec&versions=Firefox:42.0%2B43.0&os=Win%2BMac",
            "for=OOM&in=signature%2Bproduct&search_mode=contains",
            "report_process=plugin",
            "report_process=browser&report_type=any",
        ] {
            assert!(search(query).answers_from_aggregates(), "{query}");
        }
        for query in [
            "branches=release",
            "reasons=EXCEPTION_ACCESS_VIOLATION",
            "build_ids=20151126",
            "build_from=1",
            "build_to=1",
            "report_type=hang",
            "report_type=crash",
            "for=x&in=user_comments",
            "for=x&in=signature%2Burl",
            "report_process=plugin&plugin_terms=flash",
        ] {
            assert!(!search(query).answers_from_aggregates(), "{query}");
        }
    }

    #[test]
    fn malformed_escapes_are_refused() {
        let params = Params::parse("signature/%zz/", None, None).unwrap();
        assert!(params.text("signature").is_err());
        // A sign is not a hex digit, though u8::from_str_radix takes one.
        assert_eq!(percent_decode("%+1"), None);
    }
}
