//! `tach-ingest report` and the report schedule: StackTach's "summary for
//! region" report of a period, stored for `stacky/reports` (hourly reports
//! of each past hour, and a daily one of each past day, missing ones made up).

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use sqlx::PgPool;
use tach_schema::store::{generate_summary, store_scheduled_summary};
use tach_schema::PoolSettings;
use tokio_util::sync::CancellationToken;

use crate::config::ReportArgs;

/// The percentile and too-long threshold StackTach's scheduled reports used.
const DEFAULT_PERCENTILE: u32 = 97;
const DEFAULT_TOO_LONG_SECONDS: i64 = 1800;

/// The subcommand: one report, stored, its id printed.
pub async fn report(database_url: &str, args: &ReportArgs) -> anyhow::Result<()> {
    let pool = super::connect_and_migrate(database_url, PoolSettings::default()).await?;
    let start = match &args.start {
        Some(text) => parse_start(text)?,
        None => (Utc::now() - TimeDelta::days(1)).duration_trunc(TimeDelta::days(1))?,
    };
    let end = period_end(start, args.hours);
    let id = generate_summary(
        &pool,
        start,
        end,
        args.percentile,
        args.too_long_secs,
        args.region.as_deref(),
    )
    .await
    .context("generating the report")?;
    match id {
        Some(id) => println!("stored report {id} for {start} .. {end} (see /stacky/report/{id})"),
        None => anyhow::bail!(
            "no deployment matches region {:?}",
            args.region.as_deref().unwrap_or("")
        ),
    }
    Ok(())
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
fn parse_start(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .with_context(|| format!("--start {text:?} is neither YYYY-MM-DD nor RFC 3339"))
}

/// The last second of a period of `hours` from `start`, as StackTach stored it.
fn period_end(start: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
    start + TimeDelta::hours(i64::from(hours)) - TimeDelta::seconds(1)
}

/// How far back the schedule makes up reports that are missing.
const HOURLY_CATCH_UP: i64 = 24;
const DAILY_CATCH_UP: i64 = 2;

/// At start and then every hour, a few minutes past: stores each missing
/// report of the past hours and days ([`catch_up`]), so an hour tach-ingest
/// was down, or a run that failed, is made up at the next run. Every
/// tach-ingest process runs it; each period's report is still stored once
/// ([`store_scheduled_summary`] locks the period and checks first).
pub async fn schedule(pool: PgPool, shutdown: CancellationToken) {
    loop {
        catch_up(&pool, Utc::now()).await;
        let now = Utc::now();
        let this_hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        let next_run = this_hour + TimeDelta::hours(1) + TimeDelta::minutes(5);
        let wait = (next_run - now).to_std().unwrap_or(Duration::from_secs(60));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Stores the hourly reports of the last day's complete hours and the daily
/// reports of the last two complete days that are not stored yet; returns
/// how many it stored (none that another process stored meanwhile).
pub async fn catch_up(pool: &PgPool, now: DateTime<Utc>) -> usize {
    let this_hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    let today = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now);
    let hourly = (1..=HOURLY_CATCH_UP).map(|back| (this_hour - TimeDelta::hours(back), 1));
    let daily = (1..=DAILY_CATCH_UP).map(|back| (today - TimeDelta::days(back), 24));
    let earliest = (this_hour - TimeDelta::hours(HOURLY_CATCH_UP))
        .min(today - TimeDelta::days(DAILY_CATCH_UP));
    let present = match stored_periods(pool, earliest).await {
        Ok(present) => present,
        Err(error) => {
            tracing::warn!(error = %error, "reading the stored reports failed");
            return 0;
        }
    };
    let mut stored = 0;
    for (start, hours) in hourly.chain(daily) {
        if !present.contains(&(start, period_end(start, hours))) {
            stored += usize::from(store_scheduled(pool, start, hours).await);
        }
    }
    stored
}

/// The periods of the scheduled reports stored that start at `earliest` or later.
async fn stored_periods(
    pool: &PgPool,
    earliest: DateTime<Utc>,
) -> Result<HashSet<(DateTime<Utc>, DateTime<Utc>)>, sqlx::Error> {
    let periods: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT period_start, period_end FROM reports WHERE name = $1 AND period_start >= $2",
    )
    .bind(format!("{}all", tach_schema::report::NAME_PREFIX))
    .bind(earliest)
    .fetch_all(pool)
    .await?;
    Ok(periods.into_iter().collect())
}

/// Stores one scheduled report unless it is stored; true when this call did.
async fn store_scheduled(pool: &PgPool, start: DateTime<Utc>, hours: u32) -> bool {
    let end = period_end(start, hours);
    match store_scheduled_summary(
        pool,
        start,
        end,
        DEFAULT_PERCENTILE,
        DEFAULT_TOO_LONG_SECONDS,
    )
    .await
    {
        Ok(Some(id)) => {
            tracing::info!(report_id = id, hours, start = %start, "stored scheduled report");
            true
        }
        Ok(None) => false,
        Err(error) => {
            tracing::warn!(error = %error, hours, start = %start, "scheduled report failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_end_a_second_before_the_next() {
        let start = parse_start("2014-01-14").unwrap();
        assert_eq!(
            period_end(start, 1).to_rfc3339(),
            "2014-01-14T00:59:59+00:00"
        );
        assert!(parse_start("14/01/2014").is_err());
    }
}
