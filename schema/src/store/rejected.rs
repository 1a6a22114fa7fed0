//! `rejected_messages`: every delivery that could not become an event, kept
//! with its bytes and reason so an operator can list and replay it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::text::escape_nul;

/// A rejected delivery, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Deployment name.
    pub deployment: String,
    /// Exchange it came through.
    pub exchange: String,
    /// Its routing key.
    pub routing_key: String,
    /// The queue tach consumed it from (None for replays from a file).
    pub queue: Option<String>,
    /// Bounded reason code (`ParseError::code`).
    pub reason: &'static str,
    /// The full explanation.
    pub message: String,
    /// The body exactly as received.
    pub body: Vec<u8>,
    /// The delivery's AMQP properties (None for replays from a file).
    pub properties: Option<serde_json::Value>,
    /// When tach received it.
    pub received_at: DateTime<Utc>,
}

/// A stored rejected message awaiting replay.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingRejected {
    /// Row id.
    pub id: i64,
    /// Deployment name.
    pub deployment: String,
    /// Exchange it came through.
    pub exchange: String,
    /// Its routing key.
    pub routing_key: String,
    /// Reason code it was rejected with.
    pub reason: String,
    /// Its bytes.
    pub body: Vec<u8>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

/// Inserts rejected deliveries in one statement. Whatever a delivery
/// carries, PostgreSQL accepts its row: the body is `bytea`, the properties
/// `json`, and every text has its NUL escaped ([`crate::text`]).
pub async fn insert(tx: &mut PgConnection, rejected: &[Rejected]) -> Result<(), sqlx::Error> {
    if rejected.is_empty() {
        return Ok(());
    }
    let text = |field: fn(&Rejected) -> &str| -> Vec<String> {
        rejected
            .iter()
            .map(|r| escape_nul(field(r)).into_owned())
            .collect()
    };
    let deployment = text(|r| &r.deployment);
    let exchange = text(|r| &r.exchange);
    let routing_key = text(|r| &r.routing_key);
    let reason = text(|r| r.reason);
    let message = text(|r| &r.message);
    let queue: Vec<Option<String>> = rejected
        .iter()
        .map(|r| {
            r.queue
                .as_deref()
                .map(|queue| escape_nul(queue).into_owned())
        })
        .collect();
    let properties: Vec<Option<String>> = rejected
        .iter()
        .map(|r| r.properties.as_ref().map(serde_json::Value::to_string))
        .collect();
    let body: Vec<&[u8]> = rejected.iter().map(|r| r.body.as_slice()).collect();
    let received_at: Vec<DateTime<Utc>> = rejected.iter().map(|r| r.received_at).collect();
    sqlx::query(
        "INSERT INTO rejected_messages
             (deployment, exchange, routing_key, queue, reason, message, body, properties, received_at)
         SELECT deployment, exchange, routing_key, queue, reason, message, body, properties::json, received_at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::text[], $7::bytea[], $8::text[], $9::timestamptz[])
              AS batch (deployment, exchange, routing_key, queue, reason, message, body, properties, received_at)",
    )
    .bind(&deployment)
    .bind(&exchange)
    .bind(&routing_key)
    .bind(&queue)
    .bind(&reason)
    .bind(&message)
    .bind(&body)
    .bind(&properties)
    .bind(&received_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Pending rejected messages after `after`, oldest first.
pub async fn pending(
    pool: &PgPool,
    after: i64,
    reason: Option<&str>,
    limit: i64,
) -> Result<Vec<PendingRejected>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, deployment, exchange, routing_key, reason, body, received_at
         FROM rejected_messages
         WHERE replayed_at IS NULL AND id > $1 AND ($2::text IS NULL OR reason = $2)
         ORDER BY id
         LIMIT $3",
    )
    .bind(after)
    .bind(reason)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Marks rows as replayed.
pub async fn mark_replayed(pool: &PgPool, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE rejected_messages SET replayed_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .execute(pool)
        .await?;
    Ok(())
}
