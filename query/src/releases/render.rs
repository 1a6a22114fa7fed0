//! The wire shapes of the release API: Orlo's release and package objects
//! (times `%Y-%m-%dT%H:%M:%SZ`), Observatory's tag objects and environments
//! (API.md §3).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use tach_schema::release::TAG_FIELDS;

use super::queries::{DatedCount, GroupCounts, PackageRow, ReleaseRow};

/// Orlo's time format (`%Y-%m-%dT%H:%M:%SZ`), for `#[serde(serialize_with)]`.
pub fn orlo_time<S: Serializer>(
    when: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match when {
        Some(when) => serializer.collect_str(&OrloTime(*when)),
        None => serializer.serialize_none(),
    }
}

/// Written field by field: chrono's `format` interprets its pattern anew for
/// every time, which was a tenth of a release page's cost.
struct OrloTime(DateTime<Utc>);

impl std::fmt::Display for OrloTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = self.0;
        if !tach_schema::timestamp::is_plain(when) {
            return write!(f, "{}", when.format("%Y-%m-%dT%H:%M:%SZ"));
        }
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            when.year(),
            when.month(),
            when.day(),
            when.hour(),
            when.minute(),
            when.second()
        )
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
        let tag_fields: BTreeMap<&str, &RawValue> = raw::<_, S::Error>(&row.tag_fields)?;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &row.id)?;
        map.serialize_entry("user", &row.user)?;
        map.serialize_entry("team", &row.team)?;
        map.serialize_entry("platforms", raw::<&RawValue, S::Error>(&row.platforms)?)?;
        map.serialize_entry("references", raw::<&RawValue, S::Error>(&row.references)?)?;
        map.serialize_entry("notes", raw::<&RawValue, S::Error>(&row.notes)?)?;
        map.serialize_entry("metadata", raw::<&RawValue, S::Error>(&row.metadata)?)?;
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
            match tag_fields.get(field) {
                Some(value) => map.serialize_entry(field, value)?,
                None => map.serialize_entry(field, &Value::Null)?,
            }
        }
        map.end()
    }
}

/// A JSON column's text, borrowed as `T` (PostgreSQL wrote it, so it parses).
fn raw<'a, T: Deserialize<'a>, E: serde::ser::Error>(text: &'a str) -> Result<T, E> {
    serde_json::from_str(text).map_err(E::custom)
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

/// Orlo's `/stats/by_date` tree: time parts, the package name for
/// packages, then normal/rollback and successful/failed, counted.
pub fn by_date(rows: &[DatedCount]) -> Value {
    let mut tree = Map::new();
    for row in rows {
        let mut path: Vec<String> = row.parts.iter().map(i32::to_string).collect();
        path.extend(row.name.clone());
        path.push(if row.rollback { "rollback" } else { "normal" }.to_owned());
        path.push(
            if row.successful {
                "successful"
            } else {
                "failed"
            }
            .to_owned(),
        );
        add_path(&mut tree, &path, row.count);
    }
    Value::Object(tree)
}

fn add_path(tree: &mut Map<String, Value>, path: &[String], count: i64) {
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
    let before = node.get(last).and_then(Value::as_i64).unwrap_or(0);
    node.insert(last.clone(), json!(before + count));
}

/// A sample's date field in Observatory's format (`Jan 13 2013 23:45:02`),
/// or as stored when it is not a time.
struct ObservatoryDate<'a>(&'a Value);

impl Serialize for ObservatoryDate<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match tach_schema::timestamp::parse_value(self.0) {
            Some(when) => serializer.collect_str(&ObservatoryTime(when)),
            None => self.0.serialize(serializer),
        }
    }
}

/// `%b %d %Y %H:%M:%S`, written field by field (see [`OrloTime`]).
struct ObservatoryTime(DateTime<Utc>);

impl std::fmt::Display for ObservatoryTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let when = self.0;
        if !tach_schema::timestamp::is_plain(when) {
            return write!(f, "{}", when.format("%b %d %Y %H:%M:%S"));
        }
        write!(
            f,
            "{} {:02} {:04} {:02}:{:02}:{:02}",
            MONTHS[when.month0() as usize],
            when.day(),
            when.year(),
            when.hour(),
            when.minute(),
            when.second()
        )
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
    fn fields(&self) -> [(&'static str, Shown<'_>); 8] {
        [
            (
                "date_oldest_job_queued",
                Shown::Date(&self.date_oldest_job_queued),
            ),
            (
                "date_recently_completed",
                Shown::Date(&self.date_recently_completed),
            ),
            ("processors_count", Shown::Plain(&self.processors_count)),
            ("avg_wait_sec", Shown::Plain(&self.avg_wait_sec)),
            ("waiting_job_count", Shown::Plain(&self.waiting_job_count)),
            ("date_created", Shown::Date(&self.date_created)),
            ("id", Shown::Plain(&self.id)),
            ("avg_process_sec", Shown::Plain(&self.avg_process_sec)),
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
                .map(|(index, (created, _))| (x_of(index), Text(HourMinute(*created))))
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

/// A sample field as `data` shows it.
enum Shown<'a> {
    /// As stored.
    Plain(&'a Value),
    /// A time, in Observatory's format.
    Date(&'a Value),
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Plain(value) => value.serialize(serializer),
            Shown::Date(value) => ObservatoryDate(value).serialize(serializer),
        }
    }
}

/// Named fields serialized as an object, in their order.
struct Fields<'a, const N: usize>([(&'static str, Shown<'a>); N]);

impl<const N: usize> Serialize for Fields<'_, N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

/// `%H:%M`.
struct HourMinute(DateTime<Utc>);

impl std::fmt::Display for HourMinute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

/// Anything `Display` serialized as a string, without building the string.
struct Text<T>(T);

impl<T: std::fmt::Display> Serialize for Text<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn times_are_written_as_chrono_formats_them() {
        for text in [
            "2027-03-28T01:04:05Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T12:00:00.999Z",
            "2016-12-31T23:59:60.5Z",
        ] {
            let when = utc(text);
            assert_eq!(
                OrloTime(when).to_string(),
                when.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            );
            assert_eq!(
                ObservatoryTime(when).to_string(),
                when.format("%b %d %Y %H:%M:%S").to_string()
            );
            assert_eq!(
                HourMinute(when).to_string(),
                when.format("%H:%M").to_string()
            );
        }
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            OrloTime(far).to_string(),
            far.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        );
        assert_eq!(
            ObservatoryTime(far).to_string(),
            far.format("%b %d %Y %H:%M:%S").to_string()
        );
    }

    #[test]
    fn a_sample_shows_its_fields_in_observatorys_order_and_format() {
        let sample: Sample = serde_json::from_value(serde_json::json!({
            "id": 7, "date_created": "2027-03-28T12:52:19Z", "avg_wait_sec": 1.5,
            "date_oldest_job_queued": "not a time", "extra": {"ignored": true},
        }))
        .unwrap();
        let created = utc("2027-03-28T12:52:19Z");
        let environment = Environment {
            revisions: serde_json::json!({"socorro": "abc"}),
            samples: vec![(created, sample)],
        };
        assert_eq!(
            serde_json::to_string(&environment).unwrap(),
            concat!(
                r#"{"socorroRevision":"abc","data":[{"date_oldest_job_queued":"not a time","#,
                r#""date_recently_completed":null,"processors_count":null,"avg_wait_sec":1.5,"#,
                r#""waiting_job_count":null,"date_created":"Mar 28 2027 12:52:19","id":7,"#,
                r#""avg_process_sec":null}],"plotData":{"waiting_job_count":[[0,null]],"#,
                r#""avg_wait_sec":[[0,1.5]],"processors_count":[[0,null]],"#,
                r#""avg_process_sec":[[0,null]],"xaxis_ticks":[[0,"12:52"]]}}"#
            )
        );
    }
}
