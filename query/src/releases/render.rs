//! The wire shapes of the release API: Orlo's release and package objects
//! (times `%Y-%m-%dT%H:%M:%SZ`), Observatory's tag objects and environments
//! (API.md §3).

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{json, Map, Value};
use tach_schema::release::TAG_FIELDS;

use super::queries::{Dated, GroupCounts, PackageRow, ReleaseRow};

/// Orlo's time format.
pub fn time(when: Option<DateTime<Utc>>) -> Value {
    match when {
        Some(when) => json!(when.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        None => Value::Null,
    }
}

/// A package as Orlo answers it.
pub fn package(row: &PackageRow) -> Value {
    json!({
        "id": row.id,
        "release_id": row.release_id,
        "name": row.name,
        "version": row.version,
        "rollback": row.rollback,
        "diff_url": row.diff_url,
        "status": row.status,
        "stime": time(row.stime),
        "ftime": time(row.ftime),
        "duration": row.duration,
    })
}

/// A release with its packages: Orlo's fields, then the tag fields of
/// `release.create` (null when absent).
pub fn release(row: &ReleaseRow, packages: &[PackageRow]) -> Value {
    let mut object = json!({
        "id": row.id,
        "user": row.user,
        "team": row.team,
        "platforms": row.platforms.0,
        "references": row.references.0,
        "notes": row.notes.0,
        "metadata": row.metadata.0,
        "stime": time(row.stime),
        "ftime": time(row.ftime),
        "duration": row.duration,
        "status": row.status,
        "packages": packages.iter().filter(|p| p.release_id == row.id).map(package).collect::<Vec<_>>(),
    });
    if let Some(fields) = object.as_object_mut() {
        for field in TAG_FIELDS {
            let value = row.tag_fields.0.get(field).cloned().unwrap_or(Value::Null);
            fields.insert(field.to_owned(), value);
        }
    }
    object
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

const SAMPLE_FIELDS: [&str; 8] = [
    "date_oldest_job_queued",
    "date_recently_completed",
    "processors_count",
    "avg_wait_sec",
    "waiting_job_count",
    "date_created",
    "id",
    "avg_process_sec",
];
const SERIES: [&str; 4] = [
    "waiting_job_count",
    "avg_wait_sec",
    "processors_count",
    "avg_process_sec",
];

/// One environment: `<component>Revision` for each revision of its latest
/// deploy, `data` (samples newest first) and `plotData`.
pub fn environment(revisions: &Value, samples: &[(DateTime<Utc>, Value)]) -> Value {
    let mut object = Map::new();
    if let Some(revisions) = revisions.as_object() {
        for (component, revision) in revisions {
            object.insert(format!("{component}Revision"), revision.clone());
        }
    }
    let data: Vec<Value> = samples
        .iter()
        .map(|(_, sample)| sample_json(sample))
        .collect();
    object.insert("data".into(), Value::Array(data));
    object.insert("plotData".into(), plot_data(samples));
    Value::Object(object)
}

fn sample_json(sample: &Value) -> Value {
    let mut object = Map::new();
    for field in SAMPLE_FIELDS {
        let value = sample.get(field).cloned().unwrap_or(Value::Null);
        let value = if field.starts_with("date_") {
            observatory_time(&value)
        } else {
            value
        };
        object.insert(field.to_owned(), value);
    }
    Value::Object(object)
}

/// x counts down from the newest sample (`len − 1`) to the oldest (0).
fn plot_data(samples: &[(DateTime<Utc>, Value)]) -> Value {
    let x_of = |index: usize| samples.len() - 1 - index;
    let mut plot = Map::new();
    for field in SERIES {
        let points: Vec<Value> = samples
            .iter()
            .enumerate()
            .map(|(index, (_, sample))| {
                json!([
                    x_of(index),
                    sample.get(field).cloned().unwrap_or(Value::Null)
                ])
            })
            .collect();
        plot.insert(field.to_owned(), Value::Array(points));
    }
    let ticks: Vec<Value> = samples
        .iter()
        .enumerate()
        .map(|(index, (created, _))| json!([x_of(index), created.format("%H:%M").to_string()]))
        .collect();
    plot.insert("xaxis_ticks".into(), Value::Array(ticks));
    Value::Object(plot)
}
