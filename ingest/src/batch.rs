//! One batch of deliveries: parsed into events and rejections, then committed
//! in one transaction, retrying transient failures and isolating a message
//! the database refuses so it cannot block the stream (SPEC §4.3).

use std::ops::Range;

use chrono::{DateTime, Utc};
use tach_schema::{BatchOutcome, Delivery, Event, ExchangeFamily, Rejected, Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::retry::{self, Backoff, Persistent, Stopped};

/// Failures in a row, while PostgreSQL answers other queries, after which a
/// transient-looking error is blamed on the batch's data and the batch is
/// split. Three keeps a terminated backend or a failover from splitting
/// batches, and bounds how long a poison message delays the stream.
const PERSISTENT_AFTER_FAILURES: u32 = 3;

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
    /// Its AMQP properties (None for replays).
    pub properties: Option<lapin::BasicProperties>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Set when it came from the dead-letter queue: the broker gave up
    /// delivering it, so it is stored as rejected with reason
    /// `delivery_limit` and this explanation, never parsed.
    pub dead_lettered: Option<String>,
}

impl Received {
    /// This delivery as a rejection with `reason`, keeping its bytes and envelope.
    fn rejected(&self, deployment: &str, reason: &'static str, message: String) -> Rejected {
        Rejected {
            deployment: deployment.to_owned(),
            exchange: self.exchange.clone(),
            routing_key: self.routing_key.clone(),
            queue: self.queue.clone(),
            reason,
            message,
            body: self.body.clone(),
            properties: self
                .properties
                .as_ref()
                .and_then(|properties| serde_json::to_value(properties).ok()),
            received_at: self.received_at,
        }
    }
}

/// A batch after parsing.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Messages that parsed.
    pub events: Vec<Event>,
    /// For each event, the index of its delivery in the batch.
    pub sources: Vec<usize>,
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
    for (index, message) in received.iter().enumerate() {
        if let Some(why) = &message.dead_lettered {
            prepared.push_rejected(
                family_label(message.family),
                message.rejected(deployment, tach_schema::error::DELIVERY_LIMIT, why.clone()),
            );
            continue;
        }
        let delivery = Delivery {
            exchange: &message.exchange,
            routing_key: &message.routing_key,
            exchange_family: message.family,
            body: &message.body,
            received_at: message.received_at,
        };
        match tach_schema::parse(&delivery, max_body_bytes) {
            Ok(event) => {
                prepared.events.push(event);
                prepared.sources.push(index);
            }
            Err(error) => prepared.push_rejected(
                family_label(message.family),
                message.rejected(deployment, error.code(), error.to_string()),
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

/// Commits a prepared batch of `received`, retrying transient failures
/// until it commits or `abandon` is cancelled. A batch the database refuses
/// — at once, or by failing again and again while it answers otherwise — is
/// split in halves until each refused message stands alone; those are
/// rejected as `database_rejected` and the rest stored. On return the
/// prepared batch holds exactly what was committed.
pub async fn commit(
    store: &Store,
    destination: &Destination,
    received: &[Received],
    prepared: &mut Prepared,
    abandon: &CancellationToken,
) -> Result<BatchOutcome, Abandoned> {
    match write(
        store,
        destination.id,
        &prepared.events,
        &prepared.rejected,
        abandon,
    )
    .await
    {
        Ok(outcome) => Ok(outcome),
        Err(Stopped::Cancelled) => Err(Abandoned),
        Err(Stopped::GaveUp(error)) => {
            tracing::warn!(error = %error, batch_size = prepared.events.len(), "database refused a batch, isolating the cause");
            isolate(store, destination, received, prepared, abandon).await
        }
    }
}

/// One write of events and rejections, through the retry helper.
async fn write(
    store: &Store,
    deployment_id: i32,
    events: &[Event],
    rejected: &[Rejected],
    abandon: &CancellationToken,
) -> Result<BatchOutcome, Stopped<StoreError>> {
    let persistent = Persistent {
        after_failures: PERSISTENT_AFTER_FAILURES,
        server_answers: || store.answers(),
    };
    retry::retry(
        "committing a batch",
        Backoff::COMMIT,
        abandon,
        Some(persistent),
        || store.write_batch(deployment_id, events, rejected),
    )
    .await
}

/// Bisects the batch's events (rejections aside): each half is written on
/// its own, a refused half is split again, and a refused single event is
/// rejected. Halves are written in order, so the stored events keep it.
async fn isolate(
    store: &Store,
    destination: &Destination,
    received: &[Received],
    prepared: &mut Prepared,
    abandon: &CancellationToken,
) -> Result<BatchOutcome, Abandoned> {
    let events = std::mem::take(&mut prepared.events);
    let sources = std::mem::take(&mut prepared.sources);
    let mut outcome = BatchOutcome::default();
    let mut pending: Vec<Range<usize>> = Vec::new();
    pending.push(0..events.len());
    while let Some(range) = pending.pop() {
        let chunk = &events[range.clone()];
        match write(store, destination.id, chunk, &[], abandon).await {
            Ok(written) => {
                let offset = prepared.events.len();
                outcome
                    .stored
                    .extend(written.stored.iter().map(|i| i + offset));
                outcome
                    .duplicates
                    .extend(written.duplicates.iter().map(|i| i + offset));
                outcome.pairs_completed += written.pairs_completed;
                prepared.events.extend_from_slice(chunk);
                prepared.sources.extend_from_slice(&sources[range]);
            }
            Err(Stopped::Cancelled) => return Err(Abandoned),
            Err(Stopped::GaveUp(error)) if range.len() == 1 => {
                let event = &events[range.start];
                tracing::warn!(error = %error, message_id = %event.message_id, "database refused a message, rejecting it");
                let delivery = &received[sources[range.start]];
                prepared.push_rejected(
                    event.family.as_str(),
                    delivery.rejected(&destination.name, "database_rejected", error.to_string()),
                );
            }
            Err(Stopped::GaveUp(_)) => {
                let middle = range.start + range.len() / 2;
                // Popped last-in first-out: the first half goes first.
                pending.push(middle..range.end);
                pending.push(range.start..middle);
            }
        }
    }
    match write(store, destination.id, &[], &prepared.rejected, abandon).await {
        Ok(_) => Ok(outcome),
        Err(Stopped::Cancelled) => Err(Abandoned),
        Err(Stopped::GaveUp(error)) => {
            // Rejected rows hold bytes, JSON and escaped text only
            // (tach_schema::text): PostgreSQL refusing them is a bug. The
            // batch is not acknowledged, so nothing is lost.
            tracing::error!(error = %error, "could not store rejected messages; the batch will be redelivered");
            Err(Abandoned)
        }
    }
}

#[cfg(test)]
mod proptests;
