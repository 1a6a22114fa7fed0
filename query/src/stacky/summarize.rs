//! Reads `stacky/summary`'s answer for a window: the queries that
//! [`super::summary`]'s decisions call for, folded into one summary per
//! operation.

use std::collections::BTreeMap;

use super::params::Window;
use super::queries;
use super::summary;
use crate::error::ApiError;
use crate::state::AppState;

/// Count, total, exact extremes and histogram of one operation's timings.
#[derive(Default)]
pub struct OperationSummary {
    pub count: i64,
    pub total_us: i64,
    pub buckets: Vec<(i16, i64)>,
    pub min_us: Option<i64>,
    pub max_us: Option<i64>,
    /// Per bucket, the whole days and the hours around them holding it.
    pub holders_by_bucket: BTreeMap<i16, summary::Holders>,
}

/// Per nova operation: the aggregates of the whole hours inside the window
/// (their whole days from the daily rollups; all time from the totals),
/// plus the timings of its partial edge hours, with the exact extremes of
/// both. Reads grow with the days and hours in the window, not with the
/// timings.
pub async fn summarize(
    state: &AppState,
    window: Window,
) -> Result<BTreeMap<String, OperationSummary>, ApiError> {
    let split = summary::split(window);
    let operations = queries::summary_operations(&state.pool).await?;
    let mut summaries: BTreeMap<String, OperationSummary> = BTreeMap::new();
    if let Some(hours) = split.hours {
        let all_time = hours == summary::Hours::default();
        let days = tach_schema::rollup::split_into_days(hours.from, hours.until);
        let totals = if all_time {
            queries::all_time_totals(&state.pool).await?
        } else {
            queries::bucket_totals(&state.pool, &operations, &days).await?
        };
        for total in totals {
            let summary = summaries.entry(total.operation).or_default();
            summary.count += total.count;
            summary.total_us += total.total_us;
            summary.buckets.push((total.bucket, total.count));
            summary
                .holders_by_bucket
                .insert(total.bucket, summary::Holders::new(total.days, total.hours));
        }
        let extremes = if all_time {
            queries::min_max(&state.pool, &operations).await?
        } else {
            queries::hours_min_max(&state.pool, hours, &days, &hour_seeks(&summaries)).await?
        };
        for (operation, min_us, max_us) in extremes {
            if let Some(summary) = summaries.get_mut(&operation) {
                summary.min_us = min_us;
                summary.max_us = max_us;
            }
        }
    }
    for (from, until) in split.edges {
        for (operation, micros) in
            queries::timings_ending_between(&state.pool, &operations, from, until).await?
        {
            let summary = summaries.entry(operation).or_default();
            summary.count += 1;
            summary.total_us += micros;
            summary
                .buckets
                .push((tach_schema::histogram::bucket_of(micros), 1));
            summary.min_us = summary::lesser(summary.min_us, Some(micros));
            summary.max_us = summary::greater(summary.max_us, Some(micros));
        }
    }
    summaries.retain(|_, summary| summary.count > 0);
    Ok(summaries)
}

/// Where to find each operation's exact extremes in the whole hours: its
/// lowest and highest bucket there, and how many days and hours hold each.
fn hour_seeks(summaries: &BTreeMap<String, OperationSummary>) -> Vec<queries::ExtremeSeek> {
    summaries
        .iter()
        .filter_map(|(operation, summary)| {
            let (&lowest, &low_holders) = summary.holders_by_bucket.first_key_value()?;
            let (&highest, &high_holders) = summary.holders_by_bucket.last_key_value()?;
            Some(queries::ExtremeSeek {
                operation: operation.clone(),
                lowest: summary::seek_lowest(lowest, low_holders),
                highest: summary::seek_highest(highest, high_holders),
            })
        })
        .collect()
}
