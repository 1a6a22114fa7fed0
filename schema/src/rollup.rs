//! Which aggregate rows a window of whole hours reads: the whole UTC days
//! inside it from the daily rollups (`timing_buckets_daily`,
//! `crash_signature_days`), the hours around them from the hourly rows. A
//! long window then costs one row per day and group instead of one per hour.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Whole UTC days `[from, until)`; a side is open when None.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    /// First day (midnight), inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Midnight after the last day, exclusive.
    pub until: Option<DateTime<Utc>>,
}

/// A window of whole hours `[from, until)` as rollup reads: `days` from the
/// daily rows, `hours` (at most two ranges, each shorter than a day) from the
/// hourly rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySplit {
    /// The whole days, or None when the window holds none.
    pub days: Option<Days>,
    /// The hour ranges `[from, until)` before and after the days.
    pub hours: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

fn floor_day(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(TimeDelta::days(1)).unwrap_or(time)
}

fn ceil_day(time: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_day(time);
    if floor == time {
        floor
    } else {
        floor + TimeDelta::days(1)
    }
}

/// Splits the whole hours `[from, until)` (both on hour boundaries; None is
/// open) into whole days and the hours around them.
pub fn split_into_days(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> DaySplit {
    let first_day = from.map(ceil_day);
    let after_days = until.map(floor_day);
    let has_days = match (first_day, after_days) {
        (Some(first), Some(after)) => first < after,
        _ => true,
    };
    if !has_days {
        let hours = match (from, until) {
            (Some(from), Some(until)) if from < until => vec![(from, until)],
            _ => vec![],
        };
        return DaySplit { days: None, hours };
    }
    let mut hours = Vec::new();
    if let (Some(from), Some(first)) = (from, first_day) {
        if from < first {
            hours.push((from, first));
        }
    }
    if let (Some(after), Some(until)) = (after_days, until) {
        if after < until {
            hours.push((after, until));
        }
    }
    DaySplit {
        days: Some(Days {
            from: first_day,
            until: after_days,
        }),
        hours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_window_inside_one_day_reads_hours_only() {
        let split = split_into_days(
            Some(at("2026-03-01T05:00:00Z")),
            Some(at("2026-03-01T09:00:00Z")),
        );
        assert_eq!(
            split,
            DaySplit {
                days: None,
                hours: vec![(at("2026-03-01T05:00:00Z"), at("2026-03-01T09:00:00Z"))],
            }
        );
    }

    #[test]
    fn an_empty_window_reads_nothing() {
        let same = Some(at("2026-03-01T05:00:00Z"));
        assert_eq!(
            split_into_days(same, same),
            DaySplit {
                days: None,
                hours: vec![]
            }
        );
    }

    #[test]
    fn a_window_across_midnight_without_a_whole_day_reads_hours_only() {
        let split = split_into_days(
            Some(at("2026-03-01T20:00:00Z")),
            Some(at("2026-03-02T04:00:00Z")),
        );
        assert_eq!(split.days, None);
        assert_eq!(
            split.hours,
            vec![(at("2026-03-01T20:00:00Z"), at("2026-03-02T04:00:00Z"))]
        );
    }

    #[test]
    fn thirty_days_off_midnight_read_twenty_nine_days_and_two_hour_ranges() {
        let split = split_into_days(
            Some(at("2026-03-01T13:00:00Z")),
            Some(at("2026-03-31T13:00:00Z")),
        );
        assert_eq!(
            split.days,
            Some(Days {
                from: Some(at("2026-03-02T00:00:00Z")),
                until: Some(at("2026-03-31T00:00:00Z"))
            })
        );
        assert_eq!(
            split.hours,
            vec![
                (at("2026-03-01T13:00:00Z"), at("2026-03-02T00:00:00Z")),
                (at("2026-03-31T00:00:00Z"), at("2026-03-31T13:00:00Z")),
            ]
        );
    }

    #[test]
    fn windows_on_midnight_read_days_only() {
        let split = split_into_days(
            Some(at("2026-03-01T00:00:00Z")),
            Some(at("2026-03-03T00:00:00Z")),
        );
        assert_eq!(
            split,
            DaySplit {
                days: Some(Days {
                    from: Some(at("2026-03-01T00:00:00Z")),
                    until: Some(at("2026-03-03T00:00:00Z"))
                }),
                hours: vec![],
            }
        );
    }

    #[test]
    fn open_sides_stay_open() {
        assert_eq!(
            split_into_days(None, None),
            DaySplit {
                days: Some(Days {
                    from: None,
                    until: None
                }),
                hours: vec![]
            }
        );
        let split = split_into_days(Some(at("2026-03-01T13:00:00Z")), None);
        assert_eq!(
            split.days,
            Some(Days {
                from: Some(at("2026-03-02T00:00:00Z")),
                until: None
            })
        );
        assert_eq!(
            split.hours,
            vec![(at("2026-03-01T13:00:00Z"), at("2026-03-02T00:00:00Z"))]
        );
        let split = split_into_days(None, Some(at("2026-03-01T13:00:00Z")));
        assert_eq!(
            split.days,
            Some(Days {
                from: None,
                until: Some(at("2026-03-01T00:00:00Z"))
            })
        );
        assert_eq!(
            split.hours,
            vec![(at("2026-03-01T00:00:00Z"), at("2026-03-01T13:00:00Z"))]
        );
    }
}
