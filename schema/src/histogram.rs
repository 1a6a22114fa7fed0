//! Fixed log-spaced duration buckets, the unit of the summary aggregates:
//! counts per bucket add and subtract exactly, merge across time buckets and
//! replicas, and give percentiles within a bucket's width (about 9 %).

/// Buckets per doubling of the duration.
const BUCKETS_PER_DOUBLING: f64 = 8.0;
/// Durations at or below one millisecond share bucket 0.
const FLOOR_US: f64 = 1000.0;
/// The last bucket holds everything longer (about 1 000 days).
pub const MAX_BUCKET: i16 = 288;

/// The bucket of a non-negative duration.
pub fn bucket_of(duration_us: i64) -> i16 {
    let micros = duration_us as f64;
    if micros <= FLOOR_US {
        return 0;
    }
    // The epsilon keeps a bucket's own upper bound inside it despite rounding.
    let bucket = ((micros / FLOOR_US).log2() * BUCKETS_PER_DOUBLING - 1e-9).ceil();
    (bucket as i64).clamp(0, i64::from(MAX_BUCKET)) as i16
}

/// The upper bound of a bucket, in microseconds.
pub fn upper_bound_us(bucket: i16) -> f64 {
    FLOOR_US * (f64::from(bucket) / BUCKETS_PER_DOUBLING).exp2()
}

/// The `percentile` (0–100) of a histogram given as (bucket, count) pairs in
/// any order, as the upper bound of the bucket where it falls, clamped to the
/// exact minimum and maximum. None when the histogram is empty.
pub fn percentile_us(
    counts: &[(i16, i64)],
    percentile: f64,
    min_us: i64,
    max_us: i64,
) -> Option<i64> {
    let total: i64 = counts.iter().map(|(_, count)| count).sum();
    if total <= 0 {
        return None;
    }
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    // The rank of the value, nearest-rank method: ceil(p/100 · N), at least 1.
    let rank = ((percentile / 100.0) * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (bucket, count) in sorted {
        seen += count;
        if seen >= rank {
            let estimate = upper_bound_us(bucket).floor() as i64;
            return Some(estimate.clamp(min_us, max_us));
        }
    }
    Some(max_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounded() {
        let mut previous = 0;
        for micros in [
            0,
            1000,
            1001,
            5_000,
            1_000_000,
            55_500_000,
            3_600_000_000,
            i64::MAX,
        ] {
            let bucket = bucket_of(micros);
            assert!(bucket >= previous, "{micros}");
            assert!(micros as f64 <= upper_bound_us(bucket) || bucket == MAX_BUCKET);
            previous = bucket;
        }
    }

    #[test]
    fn a_bucket_is_within_nine_percent() {
        let micros = 55_500_000;
        let upper = upper_bound_us(bucket_of(micros));
        assert!(
            upper >= micros as f64 && upper <= micros as f64 * 1.0906,
            "{upper}"
        );
    }

    #[test]
    fn percentiles_use_nearest_rank_and_clamp_to_min_and_max() {
        let counts = [(bucket_of(10_000_000), 9), (bucket_of(100_000_000), 1)];
        let p50 = percentile_us(&counts, 50.0, 9_000_000, 100_000_000).unwrap();
        assert_eq!(bucket_of(p50), bucket_of(10_000_000));
        assert_eq!(
            percentile_us(&counts, 100.0, 9_000_000, 100_000_000),
            Some(100_000_000)
        );
        assert_eq!(percentile_us(&[], 50.0, 0, 0), None);
    }
}
