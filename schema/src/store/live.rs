//! The live feed: one `live_commits` row per batch, written in the batch's
//! transaction and keyed by its transaction id (migration 0015 says why),
//! holding a [`LiveRow`] per stored event. tach-query's stream reads it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use crate::event::Event;

/// How long the feed keeps a batch: long enough for a reconnect, no longer.
pub const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(3600);

/// One stored event as the stream needs it; a JSON array in the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveRow(
    /// The event's id (`#`).
    pub i64,
    /// Whether it is an error event.
    pub bool,
    /// Its family's name.
    pub String,
    /// Its time, microseconds since the Unix epoch.
    pub i64,
    /// Its event type.
    pub String,
    /// Its instance.
    pub Option<String>,
    /// Its image (glance).
    pub Option<String>,
);

impl LiveRow {
    /// The event's time.
    pub fn when(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.3).unwrap_or_default()
    }
}

/// Writes the batch's row (nothing for a batch that stored nothing new).
pub async fn record(
    tx: &mut PgConnection,
    deployment_id: i32,
    events: &[(i64, &Event)],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    // Borrowed tuples serialize as the same arrays [`LiveRow`] reads back,
    // without copying the batch's strings.
    let rows: Vec<_> = events
        .iter()
        .map(|(id, event)| {
            (
                *id,
                event.is_error,
                event.family.as_str(),
                event.when.timestamp_micros(),
                event.event_type.as_str(),
                event.instance.as_deref(),
                event.image_uuid.as_deref(),
            )
        })
        .collect();
    sqlx::query(
        "INSERT INTO live_commits (xact, deployment_id, events) \
         VALUES (pg_current_xact_id(), $1, $2)",
    )
    .bind(deployment_id)
    .bind(Json(rows))
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes the batches committed longer than [`KEPT_FOR`] ago.
pub async fn prune(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let kept_secs = KEPT_FOR.as_secs_f64();
    let deleted = sqlx::query(
        "DELETE FROM live_commits WHERE committed_at < now() - make_interval(secs => $1)",
    )
    .bind(kept_secs)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}
