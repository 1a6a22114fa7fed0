//! The middleware's wire format: `{"hits": [...], "total": n}` lists, its
//! date formats, and the top-crasher rows with ranks and percentages.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::queries::{ReportRow, TopCrasherRow};
use crate::auth::ReadAccess;

/// `{"hits": hits, "total": total}`, serialized from the rows themselves
/// (`json!` would copy every hit into a new tree first).
#[derive(Debug, Serialize)]
pub struct Hits {
    /// The rows.
    pub hits: Vec<Value>,
    /// Their number, or the number matched when paged.
    pub total: i64,
}

/// `{"hits": hits, "total": total}`.
pub fn hits(hits: Vec<Value>, total: i64) -> Hits {
    Hits { hits, total }
}

/// Socorro's report dates: `2011-03-16 06:54:56.385843`.
pub fn report_time(when: DateTime<Utc>) -> String {
    if !tach_schema::timestamp::is_plain(when) {
        return when.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    }
    // Field by field: chrono's `format` interprets its pattern anew for every
    // time, and a page of reports has two hundred of them.
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        when.year(),
        when.month(),
        when.day(),
        when.hour(),
        when.minute(),
        when.second(),
        when.timestamp_subsec_micros()
    )
}

/// ISO 8601 with `+00:00` (`/extensions`).
pub fn iso_time(when: DateTime<Utc>) -> String {
    when.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// `YYYY-MM-DD HH:MM:SS` (top crashers' period).
pub fn period_time(when: DateTime<Utc>) -> String {
    when.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `YYYY-MM-DD` (chrono's `Display` of a date, which `%Y-%m-%d` equals).
pub fn day(date: Option<NaiveDate>) -> Value {
    json!(date.map(|date| date.to_string()))
}

/// Fields crash-stats shows only to those allowed to see personal data.
pub const PROTECTED_FIELDS: [&str; 3] = ["email", "url", "user_comments"];

/// Drops [`PROTECTED_FIELDS`] from `hit` unless `access` allows them.
pub fn without_protected_fields(hit: &mut Value, access: ReadAccess) {
    if access.protected_fields {
        return;
    }
    if let Value::Object(fields) = hit {
        for name in PROTECTED_FIELDS {
            fields.shift_remove(name);
        }
    }
}

/// A report as `/search/crashes` and `/report/list` return it.
pub fn report(row: &ReportRow, access: ReadAccess) -> Value {
    let mut hit = json!({
        "uuid": row.uuid,
        "date_processed": report_time(row.date_processed),
        "client_crash_date": row.client_crash_date.map(report_time),
        "product": row.product,
        "version": row.version,
        "build": row.build,
        "release_channel": row.release_channel,
        "os_name": row.os_name,
        "os_version": row.os_version,
        "cpu_name": row.cpu_name,
        "signature": row.signature,
        "reason": row.reason,
        "address": row.address,
        "hangid": row.hangid,
        "process_type": row.process_type,
        "user_comments": row.user_comments,
        "email": row.email,
        "url": row.url,
        "uptime": row.uptime,
        "install_age": row.install_age,
        "PluginName": row.plugin_name,
        "PluginVersion": row.plugin_version,
        "PluginFilename": row.plugin_filename,
    });
    without_protected_fields(&mut hit, access);
    hit
}

/// Sorts a period's signatures by count descending, ties by signature
/// (byte order, whatever the database's collation): the rank is the index.
pub fn ranked(mut rows: Vec<TopCrasherRow>) -> Vec<TopCrasherRow> {
    rows.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.signature.cmp(&b.signature))
    });
    rows
}

/// A signature's place in the previous period: its rank and share.
type PreviousPlace = Option<(usize, f64)>;

fn share(count: i64, of: i64) -> f64 {
    if of == 0 {
        0.0
    } else {
        count as f64 / of as f64
    }
}

/// One top-crasher row; `percent` is its share of the current period.
fn crasher(row: &TopCrasherRow, rank: usize, percent: f64, previous: PreviousPlace) -> Value {
    let (previous_rank, previous_percent, change_in_rank, change_in_percent) = match previous {
        Some((previous_rank, previous_percent)) => (
            json!(previous_rank),
            json!(previous_percent),
            json!(previous_rank as i64 - rank as i64),
            json!(percent - previous_percent),
        ),
        // Socorro sent these strings for a signature new in the period.
        None => (json!("null"), json!("null"), json!("new"), json!("new")),
    };
    json!({
        "signature": row.signature,
        "count": row.count,
        "currentRank": rank,
        "previousRank": previous_rank,
        "changeInRank": change_in_rank,
        "percentOfTotal": percent,
        "previousPercentOfTotal": previous_percent,
        "changeInPercentOfTotal": change_in_percent,
        "win_count": row.win_count,
        "mac_count": row.mac_count,
        "linux_count": row.linux_count,
        "hang_count": row.hang_count,
        "plugin_count": row.plugin_count,
        "content_count": row.content_count,
    })
}

/// The body of `/crashes/signatures` from the two ranked periods.
pub fn top_crashers(
    current: &[TopCrasherRow],
    previous: &[TopCrasherRow],
    limit: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Value {
    let total: i64 = current.iter().map(|row| row.count).sum();
    let previous_total: i64 = previous.iter().map(|row| row.count).sum();
    let previous_places: HashMap<&str, (usize, f64)> = previous
        .iter()
        .enumerate()
        .map(|(rank, row)| {
            let place = (rank, share(row.count, previous_total));
            (row.signature.as_str(), place)
        })
        .collect();
    let mut total_percentage = 0.0;
    let crashes: Vec<Value> = current
        .iter()
        .take(limit)
        .enumerate()
        .map(|(rank, row)| {
            let percent = share(row.count, total);
            total_percentage += percent;
            let previous = previous_places.get(row.signature.as_str()).copied();
            crasher(row, rank, percent, previous)
        })
        .collect();
    json!({
        "crashes": crashes,
        "totalNumberOfCrashes": total,
        "totalPercentage": total_percentage,
        "start_date": period_time(start),
        "end_date": period_time(end),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_chrono_formats_them() {
        for text in [
            "2011-03-16T06:54:56.385843Z",
            "2011-03-16T06:54:56Z",
            "0001-01-01T00:00:00.000001Z",
            "9999-12-31T23:59:59.999999Z",
            "2016-12-31T23:59:60.5Z",
        ] {
            let when = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(
                report_time(when),
                when.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
            );
            let date = when.date_naive();
            assert_eq!(day(Some(date)), json!(date.format("%Y-%m-%d").to_string()));
        }
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            report_time(far),
            far.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
        );
        assert_eq!(
            day(Some(far.date_naive())),
            json!(far.format("%Y-%m-%d").to_string())
        );
        assert_eq!(day(None), Value::Null);
    }

    #[test]
    fn hits_serialize_as_the_middleware_lists_them() {
        let body = serde_json::to_string(&hits(vec![json!({"a": 1})], 7)).unwrap();
        assert_eq!(body, r#"{"hits":[{"a":1}],"total":7}"#);
    }
}
