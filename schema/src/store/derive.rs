//! Steps 2–5 of DESIGN.md for a batch's new events: collect the keys whose
//! derived rows may change, lock them in sorted order, re-derive each from
//! all its stored events, and apply the difference to the aggregates.

use std::collections::BTreeSet;

use sqlx::PgConnection;

use crate::event::{Event, Family};
use crate::kpi;
use crate::pairing::{split_event_type, TimingKey};

use super::locks::{lock_id, lock_sorted};
use super::timings::BucketDeltas;
use super::{kpi_trackers, timings, usage_rows};
use crate::usage;

/// Keys a batch touches.
#[derive(Debug, Default)]
pub struct Touched {
    /// Timing keys.
    pub timing_keys: BTreeSet<TimingKey>,
    /// Request ids whose KPI trackers may change.
    pub requests: BTreeSet<String>,
    /// Instances whose usage may change.
    pub usage_instances: BTreeSet<String>,
}

impl Touched {
    /// The keys of the new events (duplicates touch nothing).
    pub fn of<'a>(events: impl Iterator<Item = &'a Event>) -> Touched {
        let mut touched = Touched::default();
        for event in events.filter(|event| event.family == Family::Nova) {
            if let (Some(instance), Some((operation, _))) =
                (&event.instance, split_event_type(&event.event_type))
            {
                touched.timing_keys.insert(TimingKey {
                    instance: instance.clone(),
                    operation: operation.to_owned(),
                    request_id: event.request_id.clone().unwrap_or_default(),
                });
            }
            if let (true, Some(instance)) =
                (usage::is_lifecycle(&event.event_type), &event.instance)
            {
                touched.usage_instances.insert(instance.clone());
            }
            let ends_or_starts_tracker = event.event_type.ends_with(".end")
                || kpi::starts_tracker(&event.event_type, event.service.as_deref());
            if let (true, Some(request_id)) = (ends_or_starts_tracker, &event.request_id) {
                touched.requests.insert(request_id.clone());
            }
        }
        touched
    }

    fn lock_ids(&self) -> Vec<i64> {
        let timing_locks = self
            .timing_keys
            .iter()
            .map(|key| lock_id(&["timing", &key.instance, &key.operation, &key.request_id]));
        let request_locks = self
            .requests
            .iter()
            .map(|request| lock_id(&["request", request]));
        let usage_locks = self
            .usage_instances
            .iter()
            .map(|instance| lock_id(&["usage", instance]));
        timing_locks
            .chain(request_locks)
            .chain(usage_locks)
            .collect()
    }
}

/// What re-deriving did.
#[derive(Default)]
pub struct Derived {
    /// Complete pairs added minus complete pairs removed (a metric).
    pub pairs_completed: i64,
    /// Summary aggregate changes, applied last (see [`BucketDeltas::apply`]).
    pub bucket_deltas: BucketDeltas,
}

/// Locks and re-derives everything `touched` names, inside the batch's transaction.
pub async fn rederive(tx: &mut PgConnection, touched: &Touched) -> Result<Derived, sqlx::Error> {
    let lock_ids = touched.lock_ids();
    if lock_ids.is_empty() {
        return Ok(Derived::default());
    }
    lock_sorted(tx, lock_ids).await?;
    let (pairs_completed, bucket_deltas) = timings::rederive(tx, &touched.timing_keys).await?;
    kpi_trackers::rederive(tx, &touched.requests).await?;
    usage_rows::rederive(tx, &touched.usage_instances).await?;
    Ok(Derived {
        pairs_completed,
        bucket_deltas,
    })
}

/// Re-derives what the tach families (crash, product, deploy) keep, from a
/// batch's new events. Each family locks its own keys, sorted, after the nova
/// keys above: one global lock order, so workers never deadlock.
pub async fn rederive_families(
    tx: &mut PgConnection,
    new_events: &[(i64, &Event)],
) -> Result<(), sqlx::Error> {
    super::crashes::rederive(tx, new_events).await?;
    super::releases::rederive(tx, new_events).await?;
    Ok(())
}
