//! One batch of deliveries: parsed into events and rejections, then committed
//! in one transaction, retrying transient failures and isolating a message
//! the database refuses so it cannot block the stream (SPEC §4.3).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tach_schema::{BatchOutcome, Delivery, Event, ExchangeFamily, Rejected, Store, StoreError};
use tokio_util::sync::CancellationToken;

/// A delivery taken off the bus, owned, with what parsing needs.
#[derive(Debug, Clone)]
pub struct Received {
    /// Exchange it came through.
    pub exchange: String,
    /// Its routing key.
    pub routing_key: String,
    /// The queue it was consumed from (None for replays).
    pub queue: Option<String>,
    /// Family rule of the exchange.
    pub family: ExchangeFamily,
    /// The body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// A batch after parsing.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Messages that parsed.
    pub events: Vec<Event>,
    /// Messages that did not, with their reason.
    pub rejected: Vec<Rejected>,
    /// The family label of each rejection, for metrics: the exchange's family,
    /// or `unknown` for tach's exchange, where only the event type tells.
    pub rejected_families: Vec<&'static str>,
}

fn family_label(family: ExchangeFamily) -> &'static str {
    match family {
        ExchangeFamily::Nova => "nova",
        ExchangeFamily::Glance => "glance",
        ExchangeFamily::Generic => "generic",
        ExchangeFamily::Tach => "unknown",
    }
}

/// Parses every delivery; nothing here fails, a bad message becomes a rejection.
pub fn prepare(deployment: &str, received: &[Received], max_body_bytes: usize) -> Prepared {
    let mut prepared = Prepared::default();
    for message in received {
        let delivery = Delivery {
            exchange: &message.exchange,
            routing_key: &message.routing_key,
            exchange_family: message.family,
            body: &message.body,
            received_at: message.received_at,
        };
        match tach_schema::parse(&delivery, max_body_bytes) {
            Ok(event) => prepared.events.push(event),
            Err(error) => prepared.push_rejected(
                family_label(message.family),
                Rejected {
                    deployment: deployment.to_owned(),
                    exchange: message.exchange.clone(),
                    routing_key: message.routing_key.clone(),
                    queue: message.queue.clone(),
                    reason: error.code(),
                    message: error.to_string(),
                    body: message.body.clone(),
                    received_at: message.received_at,
                },
            ),
        }
    }
    prepared
}

impl Prepared {
    fn push_rejected(&mut self, family: &'static str, rejected: Rejected) {
        self.rejected.push(rejected);
        self.rejected_families.push(family);
    }
}

/// The batch was given up because shutdown's deadline passed while the
/// database was unavailable; nothing was acknowledged, so it is redelivered.
#[derive(Debug, thiserror::Error)]
#[error("batch abandoned at shutdown while the database was unavailable")]
pub struct Abandoned;

/// Where a batch goes: a deployment's id and name.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The deployment's id in `deployments`.
    pub id: i32,
    /// Its name.
    pub name: String,
}

/// Commits a prepared batch, retrying transient failures with backoff until
/// it commits or `abandon` is cancelled. A batch the database refuses for its
/// data is written event by event, and the events it refuses are rejected.
/// On return the prepared batch holds exactly what was committed.
pub async fn commit(
    store: &Store,
    destination: &Destination,
    prepared: &mut Prepared,
    abandon: &CancellationToken,
) -> Result<BatchOutcome, Abandoned> {
    match write_retrying(
        store,
        destination.id,
        &prepared.events,
        &prepared.rejected,
        abandon,
    )
    .await?
    {
        Ok(outcome) => Ok(outcome),
        Err(error) => {
            tracing::warn!(error = %error, batch_size = prepared.events.len(), "database refused a batch, isolating the cause");
            commit_one_by_one(store, destination, prepared, abandon).await
        }
    }
}

/// Writes until success, a permanent error (returned inside Ok), or abandon.
async fn write_retrying(
    store: &Store,
    deployment_id: i32,
    events: &[Event],
    rejected: &[Rejected],
    abandon: &CancellationToken,
) -> Result<Result<BatchOutcome, StoreError>, Abandoned> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match store.write_batch(deployment_id, events, rejected).await {
            Ok(outcome) => return Ok(Ok(outcome)),
            Err(error) if !error.is_transient() => return Ok(Err(error)),
            Err(error) => {
                tracing::warn!(error = %error, retry_in_ms = backoff.as_millis() as u64, "batch not committed, retrying");
                tokio::select! {
                    _ = abandon.cancelled() => return Err(Abandoned),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn commit_one_by_one(
    store: &Store,
    destination: &Destination,
    prepared: &mut Prepared,
    abandon: &CancellationToken,
) -> Result<BatchOutcome, Abandoned> {
    let events = std::mem::take(&mut prepared.events);
    let mut outcome = BatchOutcome::default();
    for event in events {
        let single = std::slice::from_ref(&event);
        match write_retrying(store, destination.id, single, &[], abandon).await? {
            Ok(one) => {
                let index = prepared.events.len();
                if one.stored.is_empty() {
                    outcome.duplicates.push(index);
                } else {
                    outcome.stored.push(index);
                }
                prepared.events.push(event);
            }
            Err(error) => prepared.push_rejected(
                event.family.as_str(),
                refused(&destination.name, &event, &error),
            ),
        }
    }
    let rejected = std::mem::take(&mut prepared.rejected);
    loop {
        match write_retrying(store, destination.id, &[], &rejected, abandon).await? {
            Ok(_) => break,
            Err(error) => {
                // Rejected rows hold bytes and text without NUL: this would be a bug.
                tracing::error!(error = %error, "could not store rejected messages, retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
    prepared.rejected = rejected;
    Ok(outcome)
}

fn refused(deployment: &str, event: &Event, error: &StoreError) -> Rejected {
    Rejected {
        deployment: deployment.to_owned(),
        exchange: event.exchange.clone(),
        routing_key: event.routing_key.clone(),
        queue: None,
        reason: "database_rejected",
        message: error.to_string(),
        body: event.body.clone().into_bytes(),
        received_at: Utc::now(),
    }
}
