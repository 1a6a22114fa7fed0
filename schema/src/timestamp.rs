//! Timestamps in every form publishers send them (SPEC §3.2): nova's
//! `str(datetime)` (`2014-01-14 15:39:22.574829`), ISO 8601 with `T`, with or
//! without a fraction, `Z` or an offset. Naive times are UTC.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// Parses a publisher timestamp; `None` when it is in no known form.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Some(with_offset.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(with_offset) = DateTime::parse_from_str(text, format) {
            return Some(with_offset.with_timezone(&Utc));
        }
    }
    let naive_text = text.strip_suffix('Z').unwrap_or(text);
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(naive_text, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    NaiveDate::parse_from_str(naive_text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| Utc.from_utc_datetime(&naive))
}

/// Parses a JSON timestamp value: a string in any form of [`parse`], or a
/// number of unix seconds (release tooling sends those).
pub fn parse_value(value: &serde_json::Value) -> Option<DateTime<Utc>> {
    match value {
        serde_json::Value::String(text) => parse(text),
        serde_json::Value::Number(number) => {
            let seconds = number.as_f64()?;
            if !seconds.is_finite() {
                return None;
            }
            let micros = (seconds * 1_000_000.0).round();
            if micros.abs() > 9.0e15 {
                return None;
            }
            DateTime::from_timestamp_micros(micros as i64)
        }
        _ => None,
    }
}

/// True for a time that `{:04}`-padded fields write as chrono's `%Y`, `%S`
/// and `%.6f` do: a year of four digits, and not a leap second (which chrono
/// keeps as second 59 with a nanosecond count past one second).
pub fn is_plain(when: DateTime<Utc>) -> bool {
    (0..=9999).contains(&when.year()) && when.nanosecond() < 1_000_000_000
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
    fn every_documented_form_parses() {
        let cases = [
            ("2014-01-14 15:39:22.574829", "2014-01-14T15:39:22.574829Z"),
            ("2014-01-14 15:39:22", "2014-01-14T15:39:22Z"),
            ("2014-01-14T15:39:22.574829", "2014-01-14T15:39:22.574829Z"),
            ("2014-01-14T15:39:22Z", "2014-01-14T15:39:22Z"),
            ("2014-01-14T15:39:22.5Z", "2014-01-14T15:39:22.5Z"),
            ("2014-01-14T17:39:22+02:00", "2014-01-14T15:39:22Z"),
            ("2014-01-14 17:39:22.1+02:00", "2014-01-14T15:39:22.1Z"),
            ("2014-01-14", "2014-01-14T00:00:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Some(utc(expected)), "{text}");
        }
    }

    #[test]
    fn garbage_is_none() {
        for text in ["", "yesterday", "2014-13-01 00:00:00", "14/01/2014"] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn unix_seconds_are_accepted_as_numbers() {
        let value = serde_json::json!(1389713962.5);
        assert_eq!(parse_value(&value), Some(utc("2014-01-14T15:39:22.5Z")));
        assert_eq!(parse_value(&serde_json::json!(1e300)), None);
        assert_eq!(parse_value(&serde_json::json!(true)), None);
    }
}
