//! The StackTach wire format: tables as JSON lists whose row 0 is the
//! header, and values printed as StackTach printed them (API.md §1).

use axum::Json;
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{json, Value};

use super::params::Service;
use super::queries::EventRow;

/// `YYYY-MM-DD HH:MM:SS.ffffff`, without the fraction when it is zero.
pub fn when(time: DateTime<Utc>) -> String {
    if !tach_schema::timestamp::is_plain(time) {
        return chrono_when(time, "%Y-%m-%d %H:%M:%S");
    }
    // Field by field: chrono's `format` interprets its pattern anew for every
    // time, and a page of events has one or two per row.
    let date = format!("{:04}-{:02}-{:02} ", time.year(), time.month(), time.day());
    date + &time_of_day(time)
}

/// One row of `watch` (and of its stream): `[id, "E" or " ", "YYYY-MM-DD",
/// "HH:MM:SS.ffffff", deployment, event, uuid or "-"]`.
pub fn watch_row(
    id: i64,
    is_error: bool,
    when: DateTime<Utc>,
    deployment: &str,
    event: &str,
    uuid: Option<&str>,
) -> serde_json::Value {
    serde_json::json!([
        id,
        if is_error { "E" } else { " " },
        when.date_naive().to_string(),
        time_of_day(when),
        deployment,
        event,
        uuid.unwrap_or("-"),
    ])
}

/// `%H:%M:%S.ffffff` (the fraction omitted when zero), as Python's `str(time)`.
pub fn time_of_day(time: DateTime<Utc>) -> String {
    if !tach_schema::timestamp::is_plain(time) {
        return chrono_when(time, "%H:%M:%S");
    }
    let clock = format!(
        "{:02}:{:02}:{:02}",
        time.hour(),
        time.minute(),
        time.second()
    );
    match time.nanosecond() / 1000 {
        0 => clock,
        micros => format!("{clock}.{micros:06}"),
    }
}

/// `pattern`, and `.ffffff` when the fraction is not zero, by chrono.
fn chrono_when(time: DateTime<Utc>, pattern: &str) -> String {
    if time.nanosecond() / 1000 == 0 {
        time.format(pattern).to_string()
    } else {
        time.format(&format!("{pattern}%.6f")).to_string()
    }
}

/// `0d 00:00:55.50`: days, hours, minutes, seconds and the first two digits
/// of the fraction, truncated.
pub fn duration(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    let (seconds, fraction) = (micros / 1_000_000, micros % 1_000_000);
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    format!(
        "{sign}{days}d {:02}:{:02}:{:02}.{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        fraction / 10_000
    )
}

/// `0d 00:08:26`: like [`duration`], truncated to whole seconds (summary's Avg).
pub fn whole_seconds(micros: i64) -> String {
    let full = duration(micros);
    full[..full.len() - 3].to_owned()
}

/// Decimal unix seconds as a JSON number.
pub fn unix_seconds(time: DateTime<Utc>) -> Value {
    json!(time.timestamp_micros() as f64 / 1_000_000.0)
}

/// `E` for an event that came with an error routing key, else a space.
pub fn error_mark(is_error: bool) -> &'static str {
    if is_error {
        "E"
    } else {
        " "
    }
}

/// The header of a service's event table.
pub fn event_header(service: Service) -> Value {
    match service {
        Service::Nova => json!([
            "#",
            "?",
            "When",
            "Deployment",
            "Event",
            "Host",
            "State",
            "State'",
            "Task'"
        ]),
        Service::Glance => json!(["#", "?", "When", "Deployment", "Event", "Host", "Status"]),
        Service::Generic => json!([
            "#",
            "?",
            "When",
            "Deployment",
            "Event",
            "Host",
            "Instance",
            "Request id"
        ]),
    }
}

/// A table: `header`, then `rows`.
pub fn table(header: Value, rows: impl IntoIterator<Item = Value>) -> Json<Value> {
    let mut table = vec![header];
    table.extend(rows);
    Json(Value::Array(table))
}

/// A table that is `[]`, not a lone header, when empty (uuid, search).
pub fn table_or_empty(header: Value, rows: Vec<Value>) -> Json<Value> {
    if rows.is_empty() {
        return Json(json!([]));
    }
    table(header, rows)
}

pub fn event_row(service: Service, row: &EventRow) -> Value {
    let head = json!([
        row.id,
        error_mark(row.is_error),
        when(row.when),
        row.deployment,
        row.event,
        row.host
    ]);
    let mut cells = head.as_array().cloned().unwrap_or_default();
    match service {
        Service::Nova => {
            cells.extend([json!(row.state), json!(row.old_state), json!(row.old_task)])
        }
        Service::Glance => cells.push(json!(row.image_status)),
        Service::Generic => cells.extend([json!(row.instance), json!(row.request_id)]),
    }
    Value::Array(cells)
}

/// A time, or null.
pub fn optional_when(time: Option<chrono::DateTime<Utc>>) -> Value {
    time.map(|time| json!(when(time))).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_written_as_chrono_formats_them() {
        let old_when = |time: DateTime<Utc>| {
            if time.nanosecond() / 1000 == 0 {
                time.format("%Y-%m-%d %H:%M:%S").to_string()
            } else {
                time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
            }
        };
        let old_time_of_day = |time: DateTime<Utc>| {
            if time.nanosecond() / 1000 == 0 {
                time.format("%H:%M:%S").to_string()
            } else {
                time.format("%H:%M:%S%.6f").to_string()
            }
        };
        let times = [
            "2011-03-16T06:54:56.385843Z",
            "2011-03-16T06:54:56Z",
            "2011-03-16T06:54:56.000000999Z",
            "0001-01-01T00:00:00.000001Z",
            "9999-12-31T23:59:59.999999Z",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
        ]
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        });
        for time in times.into_iter().chain([DateTime::<Utc>::MAX_UTC]) {
            assert_eq!(when(time), old_when(time), "{time:?}");
            assert_eq!(time_of_day(time), old_time_of_day(time), "{time:?}");
        }
    }

    #[test]
    fn durations_print_like_stacktach() {
        assert_eq!(duration(55_500_000), "0d 00:00:55.50");
        assert_eq!(
            duration(((26 * 3600 + 3 * 60 + 4) * 1_000_000) + 79_999),
            "1d 02:03:04.07"
        );
        assert_eq!(whole_seconds(506_999_999), "0d 00:08:26");
        assert_eq!(duration(-1_500_000), "-0d 00:00:01.50");
    }

    #[test]
    fn times_drop_a_zero_fraction() {
        let time = Utc.with_ymd_and_hms(2014, 1, 14, 15, 39, 22).unwrap();
        assert_eq!(when(time), "2014-01-14 15:39:22");
        let time = time.with_nanosecond(574_829_000).unwrap();
        assert_eq!(when(time), "2014-01-14 15:39:22.574829");
        assert_eq!(time_of_day(time), "15:39:22.574829");
    }
}
