//! Hour arithmetic both families read their aggregates by: a window splits
//! into the whole hours inside it (read from hourly aggregates) and the
//! partial hours at its edges (read from the rows themselves); top crashers
//! compare a period with the one before it. Pure functions over times.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Whole hours `[from, until)`; a side is open when None.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hours {
    /// First whole hour, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// End of the last whole hour, exclusive.
    pub until: Option<DateTime<Utc>>,
}

/// A window split into whole hours and the partial hours around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The whole hours, or None when the window holds none.
    pub hours: Option<Hours>,
    /// Ranges `[from, until)` read row by row, at most two, each inside one
    /// hour, none empty.
    pub edges: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

fn hour() -> TimeDelta {
    TimeDelta::hours(1)
}

/// The hour a time is counted in, as the hourly aggregates count it.
pub fn floor_hour(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(hour()).unwrap_or(time)
}

/// The first hour boundary at or after `time`.
pub fn ceil_hour(time: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_hour(time);
    if floor == time {
        floor
    } else {
        floor + hour()
    }
}

/// Splits the half-open window `[from, until)` (a side open when None) into
/// the whole hours inside it and its partial edge hours.
pub fn split(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Split {
    let first_whole = from.map(ceil_hour);
    let after_whole = until.map(floor_hour);
    let no_whole_hour =
        matches!((first_whole, after_whole), (Some(first), Some(after)) if first >= after);
    let edges = match (from, until) {
        (None, None) => vec![],
        (Some(from), None) => vec![(from, first_whole.unwrap_or(from))],
        (None, Some(until)) => vec![(after_whole.unwrap_or(until), until)],
        (Some(from), Some(until)) if no_whole_hour => vec![(from, until)],
        (Some(from), Some(until)) => vec![
            (from, first_whole.unwrap_or(from)),
            (after_whole.unwrap_or(until), until),
        ],
    };
    Split {
        hours: (!no_whole_hour).then_some(Hours {
            from: first_whole,
            until: after_whole,
        }),
        edges: edges
            .into_iter()
            .filter(|(from, until)| from < until)
            .collect(),
    }
}

/// Splits the inclusive window `[min, max]` (stacky's `when_min`/`when_max`):
/// `max` is inclusive, so its edge ends 1 µs later.
pub fn split_inclusive(min: Option<DateTime<Utc>>, max: Option<DateTime<Utc>>) -> Split {
    split(min, max.map(|max| max + TimeDelta::microseconds(1)))
}

/// A top-crasher request's period `[end − duration, end)` and the one before
/// it, which its ranks are compared with.
pub fn top_crasher_periods(
    end: DateTime<Utc>,
    duration: TimeDelta,
) -> [(DateTime<Utc>, DateTime<Utc>); 2] {
    let start = end - duration;
    [(start, end), (start - duration, start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        tach_schema::timestamp::parse(text).unwrap()
    }

    fn whole(from: &str, until: &str) -> Option<Hours> {
        Some(Hours {
            from: Some(at(from)),
            until: Some(at(until)),
        })
    }

    #[test]
    fn hours_round_down_and_up_to_boundaries() {
        assert_eq!(
            floor_hour(at("2015-01-22 10:59:59.999999")),
            at("2015-01-22 10:00:00")
        );
        assert_eq!(
            floor_hour(at("2015-01-22 11:00:00")),
            at("2015-01-22 11:00:00")
        );
        assert_eq!(
            ceil_hour(at("2015-01-22 10:00:00.000001")),
            at("2015-01-22 11:00:00")
        );
        assert_eq!(
            ceil_hour(at("2015-01-22 11:00:00")),
            at("2015-01-22 11:00:00")
        );
        assert_eq!(
            ceil_hour(at("2015-12-31 23:30:00")),
            at("2016-01-01 00:00:00")
        );
    }

    #[test]
    fn a_window_is_whole_hours_and_two_edges() {
        let split = split(
            Some(at("2015-01-22 10:17:00")),
            Some(at("2015-01-22 13:41:07.5")),
        );
        assert_eq!(
            split.hours,
            whole("2015-01-22 11:00:00", "2015-01-22 13:00:00")
        );
        assert_eq!(
            split.edges,
            [
                (at("2015-01-22 10:17:00"), at("2015-01-22 11:00:00")),
                (at("2015-01-22 13:00:00"), at("2015-01-22 13:41:07.5")),
            ]
        );
    }

    #[test]
    fn a_window_on_hour_boundaries_has_no_edges() {
        let split = split(
            Some(at("2015-01-22 10:00:00")),
            Some(at("2015-01-22 13:00:00")),
        );
        assert_eq!(
            split.hours,
            whole("2015-01-22 10:00:00", "2015-01-22 13:00:00")
        );
        assert!(split.edges.is_empty());
    }

    #[test]
    fn an_inclusive_end_one_microsecond_before_the_hour_closes_it() {
        let split = split_inclusive(
            Some(at("2015-01-22 10:00:00")),
            Some(at("2015-01-22 12:59:59.999999")),
        );
        assert_eq!(
            split.hours,
            whole("2015-01-22 10:00:00", "2015-01-22 13:00:00")
        );
        assert!(split.edges.is_empty());
        let split = split_inclusive(None, Some(at("2015-01-22 13:00:00")));
        assert_eq!(
            split.edges,
            [(at("2015-01-22 13:00:00"), at("2015-01-22 13:00:00.000001"))]
        );
    }

    #[test]
    fn a_window_inside_one_hour_reads_only_rows() {
        let inside = split(
            Some(at("2015-01-22 10:17:00")),
            Some(at("2015-01-22 10:41:00")),
        );
        assert_eq!(inside.hours, None);
        assert_eq!(
            inside.edges,
            [(at("2015-01-22 10:17:00"), at("2015-01-22 10:41:00"))]
        );
        let empty = split(
            Some(at("2015-01-22 10:00:00")),
            Some(at("2015-01-22 10:00:00")),
        );
        assert_eq!(empty.hours, None);
        assert!(empty.edges.is_empty());
    }

    #[test]
    fn open_sides_stay_open() {
        assert_eq!(
            split(None, None),
            Split {
                hours: Some(Hours::default()),
                edges: vec![]
            }
        );
        let from = split(Some(at("2015-01-22 10:17:00")), None);
        assert_eq!(
            from.hours,
            Some(Hours {
                from: Some(at("2015-01-22 11:00:00")),
                until: None
            })
        );
        assert_eq!(
            from.edges,
            [(at("2015-01-22 10:17:00"), at("2015-01-22 11:00:00"))]
        );
    }

    #[test]
    fn top_crashers_compare_a_period_with_the_one_before() {
        assert_eq!(
            top_crasher_periods(at("2015-11-30 12:10:00"), TimeDelta::hours(24)),
            [
                (at("2015-11-29 12:10:00"), at("2015-11-30 12:10:00")),
                (at("2015-11-28 12:10:00"), at("2015-11-29 12:10:00")),
            ]
        );
    }
}
