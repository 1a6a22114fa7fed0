//! `tach-ingest report` and the report schedule: StackTach's "summary for
//! region" report of a period, stored for `stacky/reports` (hourly reports
//! of each past hour, and a daily one of each past day).

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use sqlx::PgPool;
use tach_schema::store::generate_summary;
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

/// Every hour, a few minutes past, reports the hour before; after midnight
/// also the day before. Failures are logged and retried next time.
pub async fn schedule(pool: PgPool, shutdown: CancellationToken) {
    loop {
        let now = Utc::now();
        let this_hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        let next_run = this_hour + TimeDelta::hours(1) + TimeDelta::minutes(5);
        let wait = (next_run - now).to_std().unwrap_or(Duration::from_secs(60));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let hour = next_run
            .duration_trunc(TimeDelta::hours(1))
            .unwrap_or(next_run)
            - TimeDelta::hours(1);
        store_scheduled(&pool, hour, 1).await;
        if hour.format("%H").to_string() == "23" {
            store_scheduled(&pool, hour - TimeDelta::hours(23), 24).await;
        }
    }
}

async fn store_scheduled(pool: &PgPool, start: DateTime<Utc>, hours: u32) {
    let end = period_end(start, hours);
    match generate_summary(
        pool,
        start,
        end,
        DEFAULT_PERCENTILE,
        DEFAULT_TOO_LONG_SECONDS,
        None,
    )
    .await
    {
        Ok(Some(id)) => {
            tracing::info!(report_id = id, hours, start = %start, "stored scheduled report")
        }
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(error = %error, hours, start = %start, "scheduled report failed")
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
