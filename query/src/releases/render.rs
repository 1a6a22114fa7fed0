//! The wire shapes of the release API: Orlo's release and package objects
//! (times `%Y-%m-%dT%H:%M:%SZ`), Observatory's tag objects and environments
//! (API.md §3).

use chrono::{DateTime, Datelike, Timelike, Utc};
use std::borrow::Cow;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tach_schema::release::TAG_FIELDS;

use super::queries::{Dated, GroupCounts, PackageRow, ReleaseRow};

/// Orlo's time format, for `#[serde(serialize_with)]`.
pub fn orlo_time<S: Serializer>(
    when: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match when {
        Some(when) => serializer.collect_str(&when.format("%Y-%m-%dT%H:%M:%SZ")),
        None => serializer.serialize_none(),
    }
}

/// A release with its packages: Orlo's fields, then the tag fields of
/// `release.create` (null when absent). Serialized from the rows themselves:
/// a page of 100 releases copied into `Value`s first cost more than the query.
pub struct Release<'a> {
    /// The release.
    pub row: &'a ReleaseRow,
    /// Packages of this and other releases: those of `row` are shown.
    pub packages: &'a [PackageRow],
}

impl Serialize for Release<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let row = self.row;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &row.id)?;
        map.serialize_entry("user", &row.user)?;
        map.serialize_entry("team", &row.team)?;
        map.serialize_entry("platforms", &row.platforms.0)?;
        map.serialize_entry("references", &row.references.0)?;
        map.serialize_entry("notes", &row.notes.0)?;
        map.serialize_entry("metadata", &row.metadata.0)?;
        map.serialize_entry("stime", &Time(row.stime))?;
        map.serialize_entry("ftime", &Time(row.ftime))?;
        map.serialize_entry("duration", &row.duration)?;
        map.serialize_entry("status", &row.status)?;
        let packages = Seq(|| {
            self.packages
                .iter()
                .filter(|package| package.release_id == row.id)
        });
        map.serialize_entry("packages", &packages)?;
        for field in TAG_FIELDS {
            let value = row.tag_fields.0.get(field).unwrap_or(&Value::Null);
            map.serialize_entry(field, value)?;
        }
        map.end()
    }
}

/// A time in Orlo's format, or null.
struct Time(Option<DateTime<Utc>>);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        orlo_time(&self.0, serializer)
    }
}

/// Orlo's release counts of one group.
pub fn counts(group: &GroupCounts) -> Value {
    json!({"releases": {
        "normal": {"successful": group.normal_successful, "failed": group.normal_failed},
        "rollback": {"successful": group.rollback_successful, "failed": group.rollback_failed},
        "total": {
            "successful": group.normal_successful + group.rollback_successful,
            "failed": group.normal_failed + group.rollback_failed,
        },
    }})
}

/// Orlo's `/stats/by_date` tree: time parts (by `unit`), the package name
/// for packages, then normal/rollback and successful/failed, counted.
pub fn by_date(rows: &[Dated], unit: &str) -> Option<Value> {
    // Checked before the rows, so an unknown unit is refused even with none.
    time_parts(DateTime::UNIX_EPOCH, unit)?;
    let mut tree = Map::new();
    for row in rows {
        let mut path = time_parts(row.stime, unit)?;
        path.extend(row.name.clone());
        path.push(if row.rollback { "rollback" } else { "normal" }.to_owned());
        path.push(
            if row.status == "SUCCESSFUL" {
                "successful"
            } else {
                "failed"
            }
            .to_owned(),
        );
        add_path(&mut tree, &path);
    }
    Some(Value::Object(tree))
}

fn time_parts(stime: DateTime<Utc>, unit: &str) -> Option<Vec<String>> {
    let parts = match unit {
        "year" => vec![stime.year().to_string()],
        "month" => vec![stime.year().to_string(), stime.month().to_string()],
        "week" => {
            let week = stime.iso_week();
            vec![week.year().to_string(), week.week().to_string()]
        }
        "iso" => {
            let week = stime.iso_week();
            let weekday = stime.weekday().number_from_monday();
            vec![
                week.year().to_string(),
                week.week().to_string(),
                weekday.to_string(),
            ]
        }
        "day" => vec![
            stime.year().to_string(),
            stime.month().to_string(),
            stime.day().to_string(),
        ],
        "hour" => vec![
            stime.year().to_string(),
            stime.month().to_string(),
            stime.day().to_string(),
            stime.hour().to_string(),
        ],
        _ => return None,
    };
    Some(parts)
}

fn add_path(tree: &mut Map<String, Value>, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = tree;
    for part in parents {
        let child = node
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !child.is_object() {
            *child = Value::Object(Map::new());
        }
        let Value::Object(child) = child else {
            return;
        };
        node = child;
    }
    let count = node.get(last).and_then(Value::as_i64).unwrap_or(0);
    node.insert(last.clone(), json!(count + 1));
}

/// Observatory's date format (`Jan 13 2013 23:45:02`).
fn observatory_time(value: &Value) -> Value {
    match tach_schema::timestamp::parse_value(value) {
        Some(when) => json!(when.format("%b %d %Y %H:%M:%S").to_string()),
        None => value.clone(),
    }
}

/// The fields of a status sample Observatory shows, in its order; the rest of
/// a stored sample is skipped unparsed. Absent fields read as null.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Sample {
    date_oldest_job_queued: Value,
    date_recently_completed: Value,
    processors_count: Value,
    avg_wait_sec: Value,
    waiting_job_count: Value,
    date_created: Value,
    id: Value,
    avg_process_sec: Value,
}

impl Sample {
    /// `data`'s object: the sample's fields, dates in Observatory's format.
    fn fields(&self) -> [(&'static str, Cow<'_, Value>); 8] {
        let date = |value: &Value| Cow::Owned(observatory_time(value));
        [
            ("date_oldest_job_queued", date(&self.date_oldest_job_queued)),
            (
                "date_recently_completed",
                date(&self.date_recently_completed),
            ),
            ("processors_count", Cow::Borrowed(&self.processors_count)),
            ("avg_wait_sec", Cow::Borrowed(&self.avg_wait_sec)),
            ("waiting_job_count", Cow::Borrowed(&self.waiting_job_count)),
            ("date_created", date(&self.date_created)),
            ("id", Cow::Borrowed(&self.id)),
            ("avg_process_sec", Cow::Borrowed(&self.avg_process_sec)),
        ]
    }

    /// The sample's value in each of [`SERIES`].
    fn series(&self) -> [&Value; 4] {
        [
            &self.waiting_job_count,
            &self.avg_wait_sec,
            &self.processors_count,
            &self.avg_process_sec,
        ]
    }
}

/// `plotData`'s series, in Observatory's order.
const SERIES: [&str; 4] = [
    "waiting_job_count",
    "avg_wait_sec",
    "processors_count",
    "avg_process_sec",
];

/// One environment: `<component>Revision` for each revision of its latest
/// deploy, `data` (samples newest first) and `plotData`. Serialized straight
/// from the rows: a week of samples is thousands of values, which a tree of
/// `Value`s would hold in memory a second time.
pub struct Environment {
    /// The revisions of the latest deploy (an object, or null without one).
    pub revisions: Value,
    /// Samples newest first, with their creation times.
    pub samples: Vec<(DateTime<Utc>, Sample)>,
}

impl Serialize for Environment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (component, revision) in self.revisions.as_object().into_iter().flatten() {
            map.serialize_entry(&format!("{component}Revision"), revision)?;
        }
        let data = Seq(|| {
            self.samples
                .iter()
                .map(|(_, sample)| Fields(sample.fields()))
        });
        map.serialize_entry("data", &data)?;
        map.serialize_entry("plotData", &PlotData(&self.samples))?;
        map.end()
    }
}

/// `{key: value}`, without copying `value` into a `Value` as `json!` would.
pub struct Keyed<T>(pub &'static str, pub T);

impl<T: Serialize> Serialize for Keyed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.0, &self.1)?;
        map.end()
    }
}

/// Objects keyed by name, in the given order (environments by name).
pub struct Named<T>(pub Vec<(String, T)>);

impl<T: Serialize> Serialize for Named<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

/// Each series as `[x, value]` points and the `[x, "HH:MM"]` ticks, where x
/// counts down from the newest sample (`len − 1`) to the oldest (0).
struct PlotData<'a>(&'a [(DateTime<Utc>, Sample)]);

impl Serialize for PlotData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let samples = self.0;
        let x_of = |index: usize| samples.len() - 1 - index;
        let mut map = serializer.serialize_map(Some(SERIES.len() + 1))?;
        for (position, name) in SERIES.into_iter().enumerate() {
            let points = Seq(|| {
                samples
                    .iter()
                    .enumerate()
                    .map(|(index, (_, sample))| (x_of(index), sample.series()[position]))
            });
            map.serialize_entry(name, &points)?;
        }
        let ticks = Seq(|| {
            samples
                .iter()
                .enumerate()
                .map(|(index, (created, _))| (x_of(index), Display(created.format("%H:%M"))))
        });
        map.serialize_entry("xaxis_ticks", &ticks)?;
        map.end()
    }
}

/// A sequence serialized from a fresh iterator, without collecting it.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: IntoIterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// Named fields serialized as an object, in their order.
struct Fields<'a, const N: usize>([(&'static str, Cow<'a, Value>); N]);

impl<const N: usize> Serialize for Fields<'_, N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

/// Anything `Display` serialized as a string, without building the string.
struct Display<T>(T);

impl<T: std::fmt::Display> Serialize for Display<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}
