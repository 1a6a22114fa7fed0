//! Crash reports and product rows derived from `crash.processed`,
//! `product.version` and `product.build` payloads (SPEC §3.3), and the
//! per-signature aggregate contribution of a report. Pure functions over
//! values: the store only moves what they return.
//!
//! Every derived row belongs to one key (a crash `uuid`, a product version,
//! a build) and is the newest message of that key, "newest" being the
//! largest (event time, message id). A maximum does not depend on the order
//! or batching of the messages, so keeping the current winner and replacing
//! it only by a newer message gives the same row as re-deriving from every
//! stored message of the key (DESIGN.md).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, DurationRound, NaiveDate, TimeDelta, Utc};
use serde_json::{Map, Value};

use crate::event::Event;
use crate::timestamp;

/// Most bytes of a signature kept: it is part of indexed keys, and
/// PostgreSQL refuses (with the whole batch) a btree row over ~2,700 bytes.
pub const MAX_SIGNATURE_BYTES: usize = 1000;
/// Most bytes of the other text parts of indexed keys (product, version,
/// OS name, platform, uuid, hang id), so a whole key stays under that limit.
pub const MAX_KEY_BYTES: usize = 200;

/// Which message of a key wins: the newest, ties broken by message id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    /// The message's event time.
    pub when: DateTime<Utc>,
    /// The message id (the tie-breaker).
    pub message_id: String,
}

impl Source {
    /// The source of `event`.
    pub fn of(event: &Event) -> Source {
        Source {
            when: event.when,
            message_id: event.message_id.clone(),
        }
    }
}

/// Keeps, per key, the item of the newest source.
pub fn newest_per_key<K: Ord, T>(
    items: impl IntoIterator<Item = (K, Source, T)>,
) -> BTreeMap<K, (Source, T)> {
    let mut newest: BTreeMap<K, (Source, T)> = BTreeMap::new();
    for (key, source, item) in items {
        match newest.get(&key) {
            Some((kept, _)) if *kept >= source => {}
            _ => {
                newest.insert(key, (source, item));
            }
        }
    }
    newest
}

/// How a report's process type counts in top crashers (API.md §2 `crash_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Process {
    /// `process_type` null or `browser`.
    Browser,
    /// `plugin`.
    Plugin,
    /// `content`.
    Content,
    /// Anything else.
    Other,
}

impl Process {
    /// Classifies a `process_type` value.
    pub fn of(process_type: Option<&str>) -> Process {
        match process_type {
            None | Some("") | Some("browser") => Process::Browser,
            Some("plugin") => Process::Plugin,
            Some("content") => Process::Content,
            Some(_) => Process::Other,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Process::Browser => "browser",
            Process::Plugin => "plugin",
            Process::Content => "content",
            Process::Other => "other",
        }
    }

    /// The class of a stored name.
    pub fn parse(name: &str) -> Process {
        match name {
            "browser" => Process::Browser,
            "plugin" => Process::Plugin,
            "content" => Process::Content,
            _ => Process::Other,
        }
    }
}

/// One materialized crash report.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashReport {
    /// The crash id.
    pub uuid: String,
    /// `date_processed`, else the message's time.
    pub date_processed: DateTime<Utc>,
    /// `client_crash_date`.
    pub client_crash_date: Option<DateTime<Utc>>,
    /// `product` ('' when absent).
    pub product: String,
    /// `version` ('' when absent).
    pub version: String,
    /// `build` as sent.
    pub build: Option<String>,
    /// `build` when it is an integer.
    pub build_id: Option<i64>,
    /// `release_channel` (else `ReleaseChannel`).
    pub release_channel: Option<String>,
    /// `os_name` ('' when absent).
    pub os_name: String,
    /// `os_version`.
    pub os_version: Option<String>,
    /// `cpu_name`.
    pub cpu_name: Option<String>,
    /// `signature` ('' when absent).
    pub signature: String,
    /// `reason`.
    pub reason: Option<String>,
    /// `address`.
    pub address: Option<String>,
    /// `hangid`, None when absent or empty.
    pub hangid: Option<String>,
    /// `process_type` as sent.
    pub process_type: Option<String>,
    /// `user_comments`.
    pub user_comments: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `url`.
    pub url: Option<String>,
    /// `PluginName`.
    pub plugin_name: Option<String>,
    /// `PluginVersion`.
    pub plugin_version: Option<String>,
    /// `PluginFilename`.
    pub plugin_filename: Option<String>,
    /// `uptime` in seconds.
    pub uptime: Option<i64>,
    /// `install_age` in seconds.
    pub install_age: Option<i64>,
    /// `addons`, in their order.
    pub addons: Vec<Addon>,
}

impl CrashReport {
    /// The report a `crash.processed` event carries; None for other events or
    /// a payload without `uuid` (the envelope rejects those already).
    pub fn from_event(event: &Event) -> Option<CrashReport> {
        if event.event_type != "crash.processed" {
            return None;
        }
        let payload = event.payload()?.as_object()?;
        // The envelope already keyed the event by its uuid (the raw row's
        // `instance`); the same text keys the report.
        let uuid = event
            .instance
            .clone()
            .or_else(|| key_text(payload.get("uuid"), MAX_KEY_BYTES))
            .filter(|uuid| !uuid.is_empty())?;
        let date_processed = time(payload.get("date_processed")).unwrap_or(event.when);
        let build = text(payload.get("build"));
        Some(CrashReport {
            uuid,
            date_processed,
            client_crash_date: time(payload.get("client_crash_date")),
            product: key_text(payload.get("product"), MAX_KEY_BYTES).unwrap_or_default(),
            version: key_text(payload.get("version"), MAX_KEY_BYTES).unwrap_or_default(),
            build_id: build.as_deref().and_then(|build| build.trim().parse().ok()),
            build,
            release_channel: text(payload.get("release_channel"))
                .or_else(|| text(payload.get("ReleaseChannel"))),
            os_name: key_text(payload.get("os_name"), MAX_KEY_BYTES).unwrap_or_default(),
            os_version: text(payload.get("os_version")),
            cpu_name: text(payload.get("cpu_name")),
            signature: key_text(payload.get("signature"), MAX_SIGNATURE_BYTES).unwrap_or_default(),
            reason: text(payload.get("reason")),
            address: text(payload.get("address")),
            hangid: key_text(payload.get("hangid"), MAX_KEY_BYTES)
                .filter(|hangid| !hangid.is_empty()),
            process_type: text(payload.get("process_type")),
            user_comments: text(payload.get("user_comments")),
            email: text(payload.get("email")),
            url: text(payload.get("url")),
            plugin_name: text(payload.get("PluginName")),
            plugin_version: text(payload.get("PluginVersion")),
            plugin_filename: text(payload.get("PluginFilename")),
            uptime: integer(payload.get("uptime")),
            install_age: integer(payload.get("install_age")),
            addons: addons(payload),
        })
    }

    /// How the report counts in the signature aggregates.
    pub fn facts(&self) -> SignatureFacts {
        SignatureFacts {
            product: self.product.clone(),
            version: self.version.clone(),
            signature: self.signature.clone(),
            date_processed: self.date_processed,
            os_name: self.os_name.clone(),
            hang: self.hangid.is_some(),
            process: Process::of(self.process_type.as_deref()),
        }
    }
}

/// `addons`: `[[id, version], …]`; an entry that is a bare string is an id.
/// Each keeps its position in the list (`extension_key`); entries without
/// an id are skipped.
fn addons(payload: &Map<String, Value>) -> Vec<Addon> {
    let Some(Value::Array(items)) = payload.get("addons") else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(position, item)| {
            let (id, version) = match item {
                Value::Array(pair) => (text(pair.first())?, text(pair.get(1))),
                other => (text(Some(other))?, None),
            };
            Some(Addon {
                position: i32::try_from(position).ok()?,
                id,
                version,
            })
        })
        .collect()
}

/// One entry of a report's `addons`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addon {
    /// Its position in `addons`.
    pub position: i32,
    /// The extension id.
    pub id: String,
    /// Its version.
    pub version: Option<String>,
}

/// What a report adds to `crash_signature_hours` (read back from a stored
/// report to subtract it again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFacts {
    /// Product ('' when none).
    pub product: String,
    /// Version ('' when none).
    pub version: String,
    /// Signature ('' when none).
    pub signature: String,
    /// When it was processed.
    pub date_processed: DateTime<Utc>,
    /// OS name ('' when none).
    pub os_name: String,
    /// True when the report has a hang id.
    pub hang: bool,
    /// Its process class.
    pub process: Process,
}

/// The key of one aggregate row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SignatureKey {
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// The hour of `date_processed`.
    pub hour: DateTime<Utc>,
    /// Signature.
    pub signature: String,
    /// OS name.
    pub os_name: String,
    /// Process class.
    pub process: Process,
}

/// The counts of one aggregate row, in the order of the table's columns:
/// total, win, mac, linux, other, hang, plugin, content, browser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignatureCounts(pub [i64; 9]);

impl SignatureCounts {
    /// The counts one report adds.
    pub fn of(facts: &SignatureFacts) -> SignatureCounts {
        let os = os_class(&facts.os_name);
        let flag = |on: bool| i64::from(on);
        SignatureCounts([
            1,
            flag(os == OsClass::Windows),
            flag(os == OsClass::Mac),
            flag(os == OsClass::Linux),
            flag(os == OsClass::Other),
            flag(facts.hang),
            flag(facts.process == Process::Plugin),
            flag(facts.process == Process::Content),
            flag(facts.process == Process::Browser),
        ])
    }

    fn add(&mut self, other: SignatureCounts, sign: i64) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += sign * theirs;
        }
    }

    /// True when every count is zero.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|count| *count == 0)
    }
}

/// Operating system families of the per-OS counts. Socorro told them apart
/// by the start of `os_name` (`Windows NT`, `Mac OS X`, `Linux`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsClass {
    /// `Win…`.
    Windows,
    /// `Mac…`.
    Mac,
    /// `Lin…`.
    Linux,
    /// Anything else.
    Other,
}

/// The family of an `os_name`.
pub fn os_class(os_name: &str) -> OsClass {
    if os_name.starts_with("Win") {
        OsClass::Windows
    } else if os_name.starts_with("Mac") {
        OsClass::Mac
    } else if os_name.starts_with("Lin") {
        OsClass::Linux
    } else {
        OsClass::Other
    }
}

/// Changes to `crash_signature_hours`, sorted by key so that concurrent
/// writers upsert in one order.
#[derive(Debug, Default)]
pub struct SignatureDeltas {
    deltas: BTreeMap<SignatureKey, SignatureCounts>,
}

impl SignatureDeltas {
    /// Adds (`sign` = 1) or subtracts (−1) one report's contribution.
    pub fn add(&mut self, facts: &SignatureFacts, sign: i64) {
        let hour = facts
            .date_processed
            .duration_trunc(TimeDelta::hours(1))
            .unwrap_or(facts.date_processed);
        let key = SignatureKey {
            product: facts.product.clone(),
            version: facts.version.clone(),
            hour,
            signature: facts.signature.clone(),
            os_name: facts.os_name.clone(),
            process: facts.process,
        };
        self.deltas
            .entry(key)
            .or_default()
            .add(SignatureCounts::of(facts), sign);
    }

    /// The non-zero changes, in key order.
    pub fn changed(&self) -> Vec<(&SignatureKey, &SignatureCounts)> {
        self.deltas
            .iter()
            .filter(|(_, counts)| !counts.is_zero())
            .collect()
    }
}

/// A `product.version` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductVersion {
    /// Product name.
    pub product: String,
    /// Version string.
    pub version: String,
    /// `build_type` (else `release_channel`).
    pub build_type: Option<String>,
    /// `release_channel` (else `build_type`).
    pub release_channel: Option<String>,
    /// `major_version`, as text.
    pub major_version: Option<String>,
    /// `start_date`.
    pub start_date: Option<NaiveDate>,
    /// `end_date`.
    pub end_date: Option<NaiveDate>,
    /// `throttle` (percent of crashes processed).
    pub throttle: Option<f64>,
    /// `is_featured`.
    pub is_featured: Option<bool>,
}

impl ProductVersion {
    /// The row a `product.version` event carries; None without product and version.
    pub fn from_event(event: &Event) -> Option<ProductVersion> {
        if event.event_type != "product.version" {
            return None;
        }
        let payload = event.payload()?.as_object()?;
        let build_type = text(payload.get("build_type"));
        let release_channel = text(payload.get("release_channel"));
        Some(ProductVersion {
            product: key_text(payload.get("product"), MAX_KEY_BYTES).filter(|p| !p.is_empty())?,
            version: key_text(payload.get("version"), MAX_KEY_BYTES).filter(|v| !v.is_empty())?,
            build_type: build_type.clone().or_else(|| release_channel.clone()),
            release_channel: release_channel.or(build_type),
            major_version: text(payload.get("major_version")),
            start_date: date(payload.get("start_date")),
            end_date: date(payload.get("end_date")),
            throttle: number(payload.get("throttle")),
            is_featured: boolean(payload.get("is_featured")),
        })
    }
}

/// A `product.build` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductBuild {
    /// Product name.
    pub product: String,
    /// Version string.
    pub version: String,
    /// Platform ('' when none).
    pub platform: String,
    /// The numeric build id.
    pub buildid: i64,
    /// `build_type`.
    pub build_type: Option<String>,
    /// `beta_number`, as text.
    pub beta_number: Option<String>,
    /// `repository`.
    pub repository: Option<String>,
    /// `date` of the build.
    pub date: Option<NaiveDate>,
}

impl ProductBuild {
    /// The row a `product.build` event carries; None without product,
    /// version or a numeric `buildid`.
    pub fn from_event(event: &Event) -> Option<ProductBuild> {
        if event.event_type != "product.build" {
            return None;
        }
        let payload = event.payload()?.as_object()?;
        Some(ProductBuild {
            product: key_text(payload.get("product"), MAX_KEY_BYTES).filter(|p| !p.is_empty())?,
            version: key_text(payload.get("version"), MAX_KEY_BYTES).filter(|v| !v.is_empty())?,
            platform: key_text(payload.get("platform"), MAX_KEY_BYTES).unwrap_or_default(),
            buildid: integer(payload.get("buildid"))?,
            build_type: text(payload.get("build_type")),
            beta_number: text(payload.get("beta_number")),
            repository: text(payload.get("repository")),
            date: date(payload.get("date")),
        })
    }
}

/// A scalar as text, NUL escaped ([`crate::text`]; not cut: a signature
/// may be long).
fn text(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(text) => crate::text::escape_nul(text).into_owned(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => return None,
    };
    Some(text)
}

/// Like [`text`], cut to at most `max_bytes` (at a character boundary) for
/// indexed columns.
fn key_text(value: Option<&Value>, max_bytes: usize) -> Option<String> {
    let mut text = text(value)?;
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    Some(text)
}

/// An integer, given as a number or as decimal text.
fn integer(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                .map(|f| f as i64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    }
}

fn boolean(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => number.as_i64().map(|n| n != 0),
        Value::String(text) => match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" => Some(true),
            "false" | "f" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A time in a year PostgreSQL and every client can hold.
fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    timestamp::parse_value(value?).filter(|when| (1..=9999).contains(&when.year()))
}

fn date(value: Option<&Value>) -> Option<NaiveDate> {
    match value? {
        Value::String(text) => {
            NaiveDate::parse_from_str(text.get(..10).unwrap_or(text), "%Y-%m-%d")
                .ok()
                .or_else(|| time(value).map(|when| when.date_naive()))
        }
        other => time(Some(other)).map(|when| when.date_naive()),
    }
    .filter(|day| (1..=9999).contains(&day.year()))
}

#[cfg(test)]
mod tests;
