//! How `stacky/summary` reads a window (SPEC §4.6): whole hours from the
//! `timing_buckets` aggregates, the partial hours at the window's edges from
//! the timings themselves, and the exact minimum and maximum from the timings
//! indexes. Pure decisions over values; `routes` runs the queries.

use tach_schema::histogram::{upper_bound_us, MAX_BUCKET};

use super::params::Window;
use crate::error::ApiError;

pub use crate::hours::{Hours, Split};

/// Splits an inclusive window into the whole hours inside it and its
/// partial edge hours.
pub fn split(window: Window) -> Split {
    crate::hours::split_inclusive(window.min, window.max)
}

/// At most this many hours holding an extreme bucket are probed one by one
/// (a whole day holding it counts its 24 hours); beyond, the bucket is
/// common in the window and a walk of the duration index from the bucket's
/// bound reaches a timing of the window quickly.
pub const PROBED_HOURS: i64 = 48;

/// The whole days, and the hours around them, of a window whose aggregates
/// hold a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Holders {
    days: i64,
    hours: i64,
}

impl Holders {
    /// `days` whole days and `hours` hours.
    pub fn new(days: i64, hours: i64) -> Holders {
        Holders { days, hours }
    }

    /// The hours a probe of them all would look up.
    fn probed_hours(self) -> i64 {
        self.days.saturating_mul(24).saturating_add(self.hours)
    }
}

/// How to find the exact minimum (or maximum) of an operation's timings in
/// the whole hours of a window, knowing the lowest (or highest) bucket there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seek {
    /// The extreme bucket.
    pub bucket: i16,
    /// Probe each hour holding the bucket (one index lookup per hour).
    pub probe_hours: bool,
    /// Else walk the durations from this bound (inclusive; the minimum walks
    /// up from it, the maximum down): no timing of the window lies beyond it.
    pub bound_us: i64,
}

/// The seek for the lowest bucket of a window, and where it is held.
pub fn seek_lowest(bucket: i16, holders: Holders) -> Seek {
    let bound_us = if bucket <= 0 {
        0
    } else {
        upper_bound_us(bucket - 1).floor() as i64
    };
    Seek {
        bucket,
        probe_hours: holders.probed_hours() <= PROBED_HOURS,
        bound_us,
    }
}

/// The seek for the highest bucket of a window, and where it is held.
pub fn seek_highest(bucket: i16, holders: Holders) -> Seek {
    let bound_us = if bucket >= MAX_BUCKET {
        i64::MAX
    } else {
        (upper_bound_us(bucket).ceil() as i64).saturating_add(1)
    };
    Seek {
        bucket,
        probe_hours: holders.probed_hours() <= PROBED_HOURS,
        bound_us,
    }
}

/// The smaller of two optional values.
pub fn lesser(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The larger of two optional values.
pub fn greater(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// `percentiles=50,95,99`: each in (0, 100].
pub fn percentiles(text: Option<&str>) -> Result<Vec<f64>, ApiError> {
    let Some(text) = text.filter(|text| !text.is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|item| match item.trim().parse::<f64>() {
            Ok(value) if (0.0..=100.0).contains(&value) && value > 0.0 => Ok(value),
            _ => Err(ApiError::bad(format!(
                "percentiles must be numbers in (0, 100], not {item:?}"
            ))),
        })
        .collect()
}

/// A percentile as its column names it: `p50`, `p99.9`.
pub fn format_percentile(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use tach_schema::histogram::bucket_of;

    fn at(text: &str) -> DateTime<Utc> {
        tach_schema::timestamp::parse(text).unwrap()
    }

    fn window(min: Option<&str>, max: Option<&str>) -> Window {
        Window {
            min: min.map(at),
            max: max.map(at),
        }
    }

    #[test]
    fn percentiles_are_numbers_in_zero_to_a_hundred() {
        assert_eq!(
            percentiles(Some("50, 95,99.9")).unwrap(),
            [50.0, 95.0, 99.9]
        );
        assert!(percentiles(None).unwrap().is_empty());
        assert!(percentiles(Some("")).unwrap().is_empty());
        for bad in ["0", "100.5", "abc", "50,", "-1", "NaN"] {
            assert!(percentiles(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(format_percentile(99.0), "99");
        assert_eq!(format_percentile(99.9), "99.9");
    }

    #[test]
    fn a_window_is_whole_hours_and_two_edges() {
        let split = split(window(
            Some("2015-01-22 10:17:00"),
            Some("2015-01-22 13:41:07.5"),
        ));
        assert_eq!(
            split.hours,
            Some(Hours {
                from: Some(at("2015-01-22 11:00:00")),
                until: Some(at("2015-01-22 13:00:00")),
            })
        );
        assert_eq!(
            split.edges,
            [
                (at("2015-01-22 10:17:00"), at("2015-01-22 11:00:00")),
                (at("2015-01-22 13:00:00"), at("2015-01-22 13:41:07.500001")),
            ]
        );
    }

    #[test]
    fn an_aligned_window_has_no_edges() {
        let split = split(window(
            Some("2015-01-22 10:00:00"),
            Some("2015-01-22 12:59:59.999999"),
        ));
        assert_eq!(
            split.hours,
            Some(Hours {
                from: Some(at("2015-01-22 10:00:00")),
                until: Some(at("2015-01-22 13:00:00")),
            })
        );
        assert!(split.edges.is_empty());
    }

    #[test]
    fn a_window_inside_one_hour_reads_only_timings() {
        let split = split(window(
            Some("2015-01-22 10:17:00"),
            Some("2015-01-22 10:41:00"),
        ));
        assert_eq!(split.hours, None);
        assert_eq!(
            split.edges,
            [(at("2015-01-22 10:17:00"), at("2015-01-22 10:41:00.000001"))]
        );
    }

    #[test]
    fn open_sides_stay_open() {
        assert_eq!(
            split(Window::default()),
            Split {
                hours: Some(Hours::default()),
                edges: vec![]
            }
        );
        let from = split(window(Some("2015-01-22 10:17:00"), None));
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
        let until = split(window(None, Some("2015-01-22 10:17:00")));
        assert_eq!(
            until.hours,
            Some(Hours {
                from: None,
                until: Some(at("2015-01-22 10:00:00"))
            })
        );
        assert_eq!(
            until.edges,
            [(at("2015-01-22 10:00:00"), at("2015-01-22 10:17:00.000001"))]
        );
    }

    #[test]
    fn seek_bounds_hold_every_duration_of_their_bucket() {
        let mut micros: i64 = 0;
        while micros < 400_000_000_000 {
            let bucket = bucket_of(micros);
            let one_hour = Holders::new(0, 1);
            assert!(seek_lowest(bucket, one_hour).bound_us <= micros, "{micros}");
            assert!(
                seek_highest(bucket, one_hour).bound_us >= micros,
                "{micros}"
            );
            micros = micros * 21 / 20 + 7;
        }
        assert_eq!(
            seek_highest(MAX_BUCKET, Holders::new(0, 1)).bound_us,
            i64::MAX
        );
        assert_eq!(seek_lowest(0, Holders::new(0, 1)).bound_us, 0);
    }

    #[test]
    fn few_hours_are_probed_many_are_walked() {
        assert!(seek_lowest(90, Holders::new(0, PROBED_HOURS)).probe_hours);
        assert!(!seek_lowest(90, Holders::new(0, PROBED_HOURS + 1)).probe_hours);
        assert!(seek_highest(90, Holders::new(2, 0)).probe_hours);
        assert!(!seek_highest(90, Holders::new(2, 1)).probe_hours);
    }

    #[test]
    fn extremes_of_optional_values() {
        assert_eq!(lesser(Some(3), Some(2)), Some(2));
        assert_eq!(lesser(None, Some(2)), Some(2));
        assert_eq!(greater(Some(3), None), Some(3));
        assert_eq!(greater(None, None), None);
    }
}
