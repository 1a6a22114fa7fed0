//! The write path both binaries share (DESIGN.md): a batch of parsed events
//! and rejected deliveries goes to PostgreSQL in one transaction — dedup on
//! the key table, set-based insert of the new raw rows, the catalogs, the
//! rejected rows — and the caller acknowledges only after it commits.

mod catalog;
mod crashes;
mod derive;
mod image_rows;
mod keys;
mod kpi_trackers;
pub mod live;
mod locks;
mod pairing_events;
mod partitions;
mod raw;
mod rejected;
mod releases;
mod reports;
mod timings;
mod usage_rows;

use std::sync::Arc;

use sqlx::PgPool;

use crate::event::Event;

pub use partitions::{drop_older_than, DroppedPartition};
pub use rejected::{PendingRejected, Rejected};
pub use reports::{generate_summary, store_scheduled_summary};

/// Why a batch did not commit.
#[derive(Debug, thiserror::Error)]
#[error("writing a batch of {batch_size} events failed at {step}: {source}")]
pub struct StoreError {
    /// The step that failed.
    pub step: &'static str,
    /// How many events the batch held.
    pub batch_size: usize,
    /// The database error.
    #[source]
    pub source: sqlx::Error,
}

/// SQLSTATE of an insert into a partitioned table with no partition for the row.
const NO_PARTITION_FOR_ROW: &str = "23514";

impl StoreError {
    fn at(step: &'static str, batch_size: usize) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError {
            step,
            batch_size,
            source,
        }
    }

    /// True when retrying the same batch later can succeed (the database is
    /// down, restarting, or a connection was killed). Otherwise the data
    /// itself was refused, and retrying would block the stream forever.
    pub fn is_transient(&self) -> bool {
        match &self.source {
            sqlx::Error::Database(error) => {
                let code = error.code().unwrap_or_default();
                // 23514 here means "no partition of relation raw_events found
                // for row": another process pruned a month this one thought it
                // had. The partition is recreated on the retry.
                if code == NO_PARTITION_FOR_ROW {
                    return true;
                }
                // 22: data exception, 23: integrity violation, 54: program limit
                // exceeded (e.g. an index row too large): the input's fault.
                !(code.starts_with("22") || code.starts_with("23") || code.starts_with("54"))
            }
            _ => true,
        }
    }
}

/// What committing a batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Indexes (into the batch's events) of the events stored for the first time.
    pub stored: Vec<usize>,
    /// Indexes of events already stored earlier (or twice in this batch).
    pub duplicates: Vec<usize>,
    /// Complete `.start`/`.end` pairs the batch added (minus any it undid).
    pub pairs_completed: i64,
}

/// Handle on the database for writing batches. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    partitions: Arc<partitions::KnownPartitions>,
    catalog: Arc<catalog::KnownNames>,
}

impl Store {
    /// A store writing through `pool`.
    pub fn new(pool: PgPool) -> Store {
        Store {
            pool,
            partitions: Arc::default(),
            catalog: Arc::default(),
        }
    }

    /// The pool this store writes through.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Drops raw partitions entirely older than `cutoff` (SPEC §4.7).
    pub async fn prune_older_than(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<DroppedPartition>, sqlx::Error> {
        let dropped = drop_older_than(&self.pool, cutoff).await;
        self.partitions.forget();
        dropped
    }

    /// Deletes the live feed's batches older than [`live::KEPT_FOR`].
    pub async fn prune_live_feed(&self) -> Result<u64, sqlx::Error> {
        live::prune(&self.pool).await
    }

    /// True when PostgreSQL answers a trivial query within two seconds: tells
    /// a real outage from an error that only one batch keeps meeting.
    pub async fn answers(&self) -> bool {
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(2), ping).await,
            Ok(Ok(_))
        )
    }

    /// Creates the raw partitions that should exist ahead of `now`'s events.
    pub async fn create_partitions_ahead(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        partitions::create_ahead(&self.pool, now)
            .await
            .map_err(StoreError::at("creating partitions ahead", 0))
    }

    /// Gathers `raw_events`' statistics across its partitions.
    pub async fn analyze_raw_events(&self) -> Result<(), StoreError> {
        partitions::analyze(&self.pool)
            .await
            .map_err(StoreError::at("analyzing raw_events", 0))
    }

    /// The id of deployment `name`, created on first use.
    pub async fn deployment_id(&self, name: &str) -> Result<i32, sqlx::Error> {
        sqlx::query_scalar(
            "INSERT INTO deployments (name) VALUES ($1)
             ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
             RETURNING id",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await
    }

    /// Writes one batch of one deployment in a single transaction: nothing of
    /// it is visible, and nothing may be acknowledged, until this returns Ok.
    pub async fn write_batch(
        &self,
        deployment_id: i32,
        events: &[Event],
        rejected: &[Rejected],
    ) -> Result<BatchOutcome, StoreError> {
        let written = self.write_batch_once(deployment_id, events, rejected).await;
        if let Err(error) = &written {
            if let sqlx::Error::Database(database_error) = &error.source {
                if database_error.code().as_deref() == Some(NO_PARTITION_FOR_ROW) {
                    self.partitions.forget();
                }
            }
        }
        written
    }

    async fn write_batch_once(
        &self,
        deployment_id: i32,
        events: &[Event],
        rejected: &[Rejected],
    ) -> Result<BatchOutcome, StoreError> {
        let batch_size = events.len();
        self.partitions
            .ensure(&self.pool, events.iter().map(|event| event.when))
            .await
            .map_err(StoreError::at("creating partitions", batch_size))?;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::at("begin", batch_size))?;
        let new_ids = keys::claim(&mut tx, deployment_id, events)
            .await
            .map_err(StoreError::at("dedup", batch_size))?;
        let mut outcome = outcome_of(events, &new_ids);
        let new_events: Vec<(i64, &Event)> = outcome
            .stored
            .iter()
            .map(|&index| (new_ids[index].unwrap_or_default(), &events[index]))
            .collect();
        raw::insert(&mut tx, deployment_id, &new_events)
            .await
            .map_err(StoreError::at("inserting raw events", batch_size))?;
        live::record(&mut tx, deployment_id, &new_events)
            .await
            .map_err(StoreError::at("recording the live feed", batch_size))?;
        pairing_events::record(&mut tx, deployment_id, &new_events)
            .await
            .map_err(StoreError::at("recording pairing events", batch_size))?;
        usage_rows::record(&mut tx, &new_events)
            .await
            .map_err(StoreError::at("recording usage events", batch_size))?;
        usage_rows::insert_exists(&mut tx, deployment_id, &new_events)
            .await
            .map_err(StoreError::at("writing exists records", batch_size))?;
        let touched = derive::Touched::of(new_events.iter().map(|(_, event)| *event));
        let derived = derive::rederive(&mut tx, &touched)
            .await
            .map_err(StoreError::at(
                "deriving timings, KPIs and usage",
                batch_size,
            ))?;
        derive::rederive_families(&mut tx, &new_events)
            .await
            .map_err(StoreError::at(
                "deriving crash and release data",
                batch_size,
            ))?;
        image_rows::insert(&mut tx, &new_events)
            .await
            .map_err(StoreError::at("deriving glance image usage", batch_size))?;
        let pending_names = self
            .catalog
            .unknown(new_events.iter().map(|(_, event)| *event));
        catalog::insert(&mut tx, &pending_names)
            .await
            .map_err(StoreError::at("updating catalogs", batch_size))?;
        rejected::insert(&mut tx, rejected)
            .await
            .map_err(StoreError::at("storing rejected messages", batch_size))?;
        let pairs_completed = derived.pairs_completed;
        derived
            .bucket_deltas
            .apply(&mut tx)
            .await
            .map_err(StoreError::at("updating summary aggregates", batch_size))?;
        tx.commit()
            .await
            .map_err(StoreError::at("commit", batch_size))?;
        self.catalog.remember(pending_names);
        outcome.pairs_completed = pairs_completed;
        Ok(outcome)
    }

    /// Rejected messages not yet replayed, oldest first, at most `limit`,
    /// after id `after`; optionally only those of one reason.
    pub async fn pending_rejected(
        &self,
        after: i64,
        reason: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PendingRejected>, sqlx::Error> {
        rejected::pending(&self.pool, after, reason, limit).await
    }

    /// Marks rejected messages as replayed (they were stored or rejected anew).
    pub async fn mark_replayed(&self, ids: &[i64]) -> Result<(), sqlx::Error> {
        rejected::mark_replayed(&self.pool, ids).await
    }
}

/// Splits a batch into first-time and duplicate events. `new_ids[i]` is the
/// event id claimed for event `i`, or None when its message id was known;
/// a message id repeated inside one batch claims once.
fn outcome_of(events: &[Event], new_ids: &[Option<i64>]) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    for (index, _) in events.iter().enumerate() {
        match new_ids[index] {
            Some(_) => outcome.stored.push(index),
            None => outcome.duplicates.push(index),
        }
    }
    outcome
}
