//! StackTach's "summary for region" report: for each request in a period,
//! its operation, image, OS, duration and failure; then per (operation,
//! image, OS) the min, max, median and a percentile of the durations, the
//! request count and the 4xx / 5xx / too-long / error-state failures. A pure
//! function of the period's events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::image_type::{BASE_IMAGE, LINUX_IMAGE, SNAPSHOT_IMAGE, WINDOWS_IMAGE};

/// The report's name prefix and format version (StackTach's was 4).
pub const NAME_PREFIX: &str = "summary for region: ";
/// Format version.
pub const VERSION: i32 = 4;

/// One stored nova event of a request in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestEvent {
    /// Request id.
    pub request_id: String,
    /// Publisher message id (tie-break).
    pub message_id: String,
    /// Event type.
    pub event_type: String,
    /// Event time.
    pub when: DateTime<Utc>,
    /// Came with an error routing key.
    pub is_error: bool,
    /// Nova state.
    pub state: Option<String>,
    /// Nova old state.
    pub old_state: Option<String>,
    /// Image type flags.
    pub image_type: Option<i32>,
    /// `payload.exception.kwargs.code` of an error event.
    pub error_code: Option<i64>,
}

/// Report options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Period start (inclusive).
    pub start: DateTime<Utc>,
    /// Period end (inclusive).
    pub end: DateTime<Utc>,
    /// The percentile column, e.g. 97.
    pub percentile: u32,
    /// A request longer than this many seconds, and not otherwise failed, fails as too long.
    pub too_long_seconds: i64,
    /// Region filter (None: all), as named in the metadata.
    pub region: Option<String>,
    /// Names of the deployments included.
    pub cells: Vec<String>,
}

const OPERATIONS: [&str; 5] = ["create", "rebuild", "rescue", "resize", "snapshot"];

/// One request's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    key: (String, &'static str, &'static str),
    duration_us: i64,
    failure: Option<String>,
}

fn outcome(events: &mut [&RequestEvent], too_long_seconds: i64) -> Option<Outcome> {
    events.sort_by(|a, b| (a.when, &a.message_id).cmp(&(b.when, &b.message_id)));
    let (first, last) = (events.first()?, events.last()?);
    let mut failure: Option<&str> = None;
    let mut error_code = None;
    let mut operation = "aux";
    let mut flags = 0;
    for event in events.iter() {
        if event.is_error {
            failure = Some("http");
            error_code = event.error_code.or(error_code);
        }
        let (state, old_state) = (event.state.as_deref(), event.old_state.as_deref());
        if failure != Some("state") && old_state != Some("error") && state == Some("error") {
            failure = Some("state");
        }
        if old_state == Some("error") && !matches!(state, Some("deleted" | "error")) {
            failure = None;
        }
        if let Some(found) = OPERATIONS.iter().find(|op| event.event_type.contains(*op)) {
            operation = found;
        }
        flags |= event.image_type.unwrap_or(0);
    }
    let duration_us = (last.when - first.when)
        .num_microseconds()
        .unwrap_or(i64::MAX);
    let too_long = format!("> {}", too_long_seconds / 60);
    let mut failure = failure.map(str::to_owned);
    if failure.is_none() && duration_us > too_long_seconds * 1_000_000 {
        failure = Some(too_long);
    }
    if failure.is_some() {
        match error_code {
            Some(code) if (400..500).contains(&code) => failure = Some("4xx".into()),
            Some(code) if (500..600).contains(&code) => failure = Some("5xx".into()),
            _ => {}
        }
    }
    let image = if flags & SNAPSHOT_IMAGE == SNAPSHOT_IMAGE {
        "snap"
    } else if flags & BASE_IMAGE != 0 {
        "base"
    } else {
        "?"
    };
    let os = if flags & WINDOWS_IMAGE != 0 {
        "windows"
    } else if flags & LINUX_IMAGE != 0 {
        "linux"
    } else {
        "?"
    };
    Some(Outcome {
        key: (operation.to_owned(), image, os),
        duration_us,
        failure,
    })
}

/// `1:05s` / `5s` / `2:03:04s`, as StackTach printed report durations.
fn seconds_text(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}:{seconds:02}s"),
        _ => format!("{hours}:{minutes:02}:{seconds:02}s"),
    }
}

/// The report: element 0 the metadata object, then the header, then one row per group.
pub fn build(events: &[RequestEvent], options: &Options) -> Value {
    let mut by_request: BTreeMap<&str, Vec<&RequestEvent>> = BTreeMap::new();
    for event in events {
        by_request.entry(&event.request_id).or_default().push(event);
    }
    let mut builder = Builder::new(options);
    for (_, request_events) in by_request {
        builder.add_request(request_events);
    }
    builder.finish()
}

/// A report built one request at a time, so a period's events never need to
/// be in memory at once: only each request's outcome is kept.
pub struct Builder<'a> {
    options: &'a Options,
    groups: BTreeMap<(String, &'static str, &'static str), Vec<Outcome>>,
}

impl<'a> Builder<'a> {
    /// An empty report of `options`' period.
    pub fn new(options: &'a Options) -> Builder<'a> {
        Builder {
            options,
            groups: BTreeMap::new(),
        }
    }

    /// Adds one request: all of its events in the period, in any order.
    pub fn add_request(&mut self, mut events: Vec<&RequestEvent>) {
        if let Some(outcome) = outcome(&mut events, self.options.too_long_seconds) {
            self.groups
                .entry(outcome.key.clone())
                .or_default()
                .push(outcome);
        }
    }

    /// The report's JSON, as `stacky/report/<id>` serves it.
    pub fn finish(self) -> Value {
        render(&self.groups, self.options)
    }
}

fn render(
    groups: &BTreeMap<(String, &'static str, &'static str), Vec<Outcome>>,
    options: &Options,
) -> Value {
    let too_long = format!("> {}", options.too_long_seconds / 60);
    let failure_types = [
        "4xx".to_owned(),
        "5xx".to_owned(),
        too_long.clone(),
        "state".to_owned(),
    ];
    let mut header = vec![
        json!("Operation"),
        json!("Image"),
        json!("OS Type"),
        json!("Min"),
        json!("Max"),
        json!("Med"),
        json!(format!("{}%", options.percentile)),
        json!("Requests"),
    ];
    for failure in &failure_types {
        header.push(json!(failure));
        header.push(json!(format!("% {failure}")));
    }
    let mut rows = vec![Value::Array(header)];
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    let mut total = 0;
    for ((operation, image, os), outcomes) in groups {
        let mut durations: Vec<i64> = outcomes.iter().map(|o| o.duration_us).collect();
        durations.sort_unstable();
        let count = durations.len();
        total += count as i64;
        let percentile_index = ((f64::from(options.percentile) / 100.0) * count as f64) as usize;
        let mut row = vec![
            json!(operation),
            json!(image),
            json!(os),
            json!(seconds_text(durations[0])),
            json!(seconds_text(durations[count - 1])),
            json!(seconds_text(durations[count / 2])),
            json!(seconds_text(durations[percentile_index.min(count - 1)])),
            json!(count),
        ];
        for failure in &failure_types {
            let failed = outcomes
                .iter()
                .filter(|o| o.failure.as_deref() == Some(failure))
                .count() as i64;
            *totals.entry(failure).or_default() += failed;
            row.push(json!(failed));
            row.push(json!(failed as f64 / count as f64));
        }
        rows.push(Value::Array(row));
    }
    let mut metadata = Map::new();
    metadata.insert("percentile".into(), json!(options.percentile));
    metadata.insert(
        "pct".into(),
        json!((100.0 - f64::from(options.percentile)) / 2.0 / 100.0),
    );
    metadata.insert(
        "hours".into(),
        json!(((options.end - options.start).num_seconds() + 1) / 3600),
    );
    metadata.insert("start".into(), json!(options.start.timestamp() as f64));
    metadata.insert("end".into(), json!(options.end.timestamp() as f64));
    metadata.insert("region".into(), json!(options.region));
    metadata.insert("cells".into(), json!(options.cells));
    metadata.insert("total".into(), json!(total));
    let rate = |count: i64| {
        if total == 0 {
            0.0
        } else {
            count as f64 / total as f64 * 100.0
        }
    };
    let mut grand_total = 0;
    for failure in &failure_types {
        let count = totals.get(failure.as_str()).copied().unwrap_or(0);
        grand_total += count;
        metadata.insert(format!("{failure} failure count"), json!(count));
        metadata.insert(format!("{failure} failure percentage"), json!(rate(count)));
    }
    metadata.insert("failure_grand_total".into(), json!(grand_total));
    metadata.insert("failure_grand_rate".into(), json!(rate(grand_total)));
    let mut report = vec![Value::Object(metadata)];
    report.extend(rows);
    Value::Array(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(
        request: &str,
        event_type: &str,
        seconds: i64,
        is_error: bool,
        state: &str,
        code: Option<i64>,
    ) -> RequestEvent {
        RequestEvent {
            request_id: request.into(),
            message_id: format!("{request}-{seconds}"),
            event_type: event_type.into(),
            when: Utc.timestamp_opt(1_389_726_000 + seconds, 0).unwrap(),
            is_error,
            state: Some(state.into()),
            old_state: None,
            image_type: Some(BASE_IMAGE | LINUX_IMAGE),
            error_code: code,
        }
    }

    #[test]
    fn groups_requests_and_classifies_failures() {
        let events = vec![
            event("r1", "compute.instance.update", 0, false, "building", None),
            event(
                "r1",
                "compute.instance.create.end",
                65,
                false,
                "active",
                None,
            ),
            event(
                "r2",
                "compute.instance.create.start",
                0,
                false,
                "building",
                None,
            ),
            event(
                "r2",
                "compute.instance.create.error",
                5,
                true,
                "error",
                Some(500),
            ),
            event(
                "r3",
                "compute.instance.resize.start",
                0,
                false,
                "active",
                None,
            ),
            event(
                "r3",
                "compute.instance.resize.end",
                2000,
                false,
                "active",
                None,
            ),
        ];
        let start = Utc.timestamp_opt(1_389_726_000, 0).unwrap();
        let options = Options {
            start,
            end: start + chrono::TimeDelta::seconds(3599),
            percentile: 97,
            too_long_seconds: 1800,
            region: None,
            cells: vec!["region-1".into()],
        };
        let report = build(&events, &options);
        assert_eq!(
            report[1],
            json!([
                "Operation",
                "Image",
                "OS Type",
                "Min",
                "Max",
                "Med",
                "97%",
                "Requests",
                "4xx",
                "% 4xx",
                "5xx",
                "% 5xx",
                "> 30",
                "% > 30",
                "state",
                "% state"
            ])
        );
        assert_eq!(
            report[2],
            json!([
                "create", "base", "linux", "5s", "1:05s", "1:05s", "1:05s", 2, 0, 0.0, 1, 0.5, 0,
                0.0, 0, 0.0
            ])
        );
        assert_eq!(
            report[3],
            json!([
                "resize", "base", "linux", "33:20s", "33:20s", "33:20s", "33:20s", 1, 0, 0.0, 0,
                0.0, 1, 1.0, 0, 0.0
            ])
        );
        assert_eq!(report[0]["total"], json!(3));
        assert_eq!(report[0]["failure_grand_total"], json!(2));
        assert_eq!(report[0]["hours"], json!(1));
    }
}
