//! Dedup: claiming (deployment, message_id) in the key table. Only the claims
//! that succeed are new events; everything else is a duplicate. The table
//! holds the MD5 of each message id, not the id (migration 0009 says why).

use std::collections::HashMap;

use sqlx::{PgConnection, Row};

use crate::event::Event;

/// Claims the batch's message ids and returns, per event, the new event id
/// or None for a duplicate. Keys are inserted in index order, so two
/// workers with overlapping batches wait on each other in the same order and
/// never deadlock; the loser of a race sees the winner's row and claims
/// nothing.
pub async fn claim(
    tx: &mut PgConnection,
    deployment_id: i32,
    events: &[Event],
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    let mut message_ids: Vec<&str> = events
        .iter()
        .map(|event| event.message_id.as_str())
        .collect();
    message_ids.sort_unstable();
    message_ids.dedup();
    let rows = sqlx::query(
        "WITH batch AS (
             SELECT message_id, md5(message_id)::uuid AS key
             FROM unnest($2::text[]) AS batch (message_id)
         ), claimed AS (
             INSERT INTO event_keys (deployment_id, key, event_id)
             SELECT $1, key, nextval('raw_events_id_seq') FROM batch
             ORDER BY key
             ON CONFLICT DO NOTHING
             RETURNING key, event_id
         )
         SELECT batch.message_id, claimed.event_id FROM claimed JOIN batch USING (key)",
    )
    .bind(deployment_id)
    .bind(&message_ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut claimed: HashMap<String, i64> = HashMap::with_capacity(rows.len());
    for row in rows {
        claimed.insert(row.try_get("message_id")?, row.try_get("event_id")?);
    }
    // The first event carrying a claimed id takes it; later copies are duplicates.
    Ok(events
        .iter()
        .map(|event| claimed.remove(&event.message_id))
        .collect())
}
