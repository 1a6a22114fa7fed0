//! Generating and storing reports from a period's events. Generation reads
//! only the period (through the time index), streamed in request order so
//! that only one request's events are in memory at a time; readers get the
//! stored JSON.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::report::{self, Options, RequestEvent};
use crate::store::locks;

/// Builds the "summary for region" report of a period and stores it,
/// replacing an earlier one of the same name and period. Returns its id, or
/// None when no deployment matches the region.
pub async fn generate_summary(
    pool: &PgPool,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    percentile: u32,
    too_long_seconds: i64,
    region: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    let Some((ids, options)) = period_options(
        &mut connection,
        start,
        end,
        percentile,
        too_long_seconds,
        region,
    )
    .await?
    else {
        return Ok(None);
    };
    let body = build_from_period(&mut connection, &ids, &options).await?;
    let name = report_name(region);
    sqlx::query_scalar(
        "INSERT INTO reports (name, version, period_start, period_end, created, body)
         VALUES ($1, $2, $3, $4, now(), $5)
         ON CONFLICT (name, period_start, period_end)
         DO UPDATE SET body = EXCLUDED.body, created = EXCLUDED.created, version = EXCLUDED.version
         RETURNING id",
    )
    .bind(name)
    .bind(report::VERSION)
    .bind(start)
    .bind(end)
    .bind(sqlx::types::Json(body))
    .fetch_one(&mut *connection)
    .await
    .map(Some)
}

/// Builds and stores the scheduled "summary for region" report of every
/// deployment for a period unless it is stored already; returns its id when
/// this call stored it. However many tach-ingest processes run the schedule
/// at once, each period's report is built and stored once and never
/// replaced: the first takes a transaction-scoped advisory lock on (name,
/// period), the others wait on it, then find the report and do nothing.
pub async fn store_scheduled_summary(
    pool: &PgPool,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    percentile: u32,
    too_long_seconds: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let name = report_name(None);
    let (start_text, end_text) = (start.to_rfc3339(), end.to_rfc3339());
    let mut tx = pool.begin().await?;
    let lock = locks::lock_id(&["scheduled report", &name, &start_text, &end_text]);
    locks::lock_sorted(&mut tx, vec![lock]).await?;
    let stored: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM reports WHERE name = $1 AND period_start = $2 AND period_end = $3)",
    )
    .bind(&name)
    .bind(start)
    .bind(end)
    .fetch_one(&mut *tx)
    .await?;
    if stored {
        return Ok(None);
    }
    let Some((ids, options)) =
        period_options(&mut tx, start, end, percentile, too_long_seconds, None).await?
    else {
        return Ok(None);
    };
    let body = build_from_period(&mut tx, &ids, &options).await?;
    // DO NOTHING as well: `tach-ingest report` takes no lock and may have stored it.
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO reports (name, version, period_start, period_end, created, body)
         VALUES ($1, $2, $3, $4, now(), $5)
         ON CONFLICT (name, period_start, period_end) DO NOTHING
         RETURNING id",
    )
    .bind(name)
    .bind(report::VERSION)
    .bind(start)
    .bind(end)
    .bind(sqlx::types::Json(body))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// `summary_for_region_<region>`, `…all` for every deployment.
fn report_name(region: Option<&str>) -> String {
    format!("{}{}", report::NAME_PREFIX, region.unwrap_or("all"))
}

/// The deployments a report covers and its options; None when no
/// deployment matches the region.
async fn period_options(
    connection: &mut PgConnection,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    percentile: u32,
    too_long_seconds: i64,
    region: Option<&str>,
) -> Result<Option<(Vec<i32>, Options)>, sqlx::Error> {
    let deployments: Vec<(i32, String)> = sqlx::query_as(
        "SELECT id, name FROM deployments WHERE $1::text IS NULL OR upper(name) LIKE '%' || upper($1) || '%' ORDER BY name",
    )
    .bind(region)
    .fetch_all(&mut *connection)
    .await?;
    if deployments.is_empty() {
        return Ok(None);
    }
    let ids: Vec<i32> = deployments.iter().map(|(id, _)| *id).collect();
    let options = Options {
        start,
        end,
        percentile,
        too_long_seconds,
        region: region.map(str::to_uppercase),
        cells: deployments.into_iter().map(|(_, name)| name).collect(),
    };
    Ok(Some((ids, options)))
}

/// Builds the report of `options`' period from its events, read as a
/// stream sorted by request: the database sorts, tach holds one request.
async fn build_from_period(
    connection: &mut PgConnection,
    deployments: &[i32],
    options: &Options,
) -> Result<serde_json::Value, sqlx::Error> {
    let mut rows = sqlx::query(
        "SELECT request_id, message_id, event, \"when\", is_error, state, old_state, image_type,
                CASE WHEN is_error THEN body -> 'payload' -> 'exception' -> 'kwargs' ->> 'code' END AS code
         FROM raw_events
         WHERE family = 'nova' AND request_id IS NOT NULL AND event <> 'compute.instance.exists'
           AND \"when\" >= $1 AND \"when\" <= $2 AND deployment_id = ANY($3)
         ORDER BY request_id",
    )
    .bind(options.start)
    .bind(options.end)
    .bind(deployments)
    .fetch(&mut *connection);
    let mut builder = report::Builder::new(options);
    let mut request: Vec<RequestEvent> = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let event = request_event(&row)?;
        if request
            .first()
            .is_some_and(|first| first.request_id != event.request_id)
        {
            builder.add_request(request.iter().collect());
            request.clear();
        }
        request.push(event);
    }
    if !request.is_empty() {
        builder.add_request(request.iter().collect());
    }
    Ok(builder.finish())
}

fn request_event(row: &PgRow) -> Result<RequestEvent, sqlx::Error> {
    let code: Option<String> = row.try_get("code")?;
    Ok(RequestEvent {
        request_id: row.try_get("request_id")?,
        message_id: row.try_get("message_id")?,
        event_type: row.try_get("event")?,
        when: row.try_get("when")?,
        is_error: row.try_get("is_error")?,
        state: row.try_get("state")?,
        old_state: row.try_get("old_state")?,
        image_type: row.try_get("image_type")?,
        error_code: code.and_then(|code| code.trim().parse().ok()),
    })
}
