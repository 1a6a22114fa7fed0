//! Re-deriving the timings of touched keys and keeping `timing_buckets` (the
//! summary aggregates per hour) and its rollups `timing_buckets_daily` and
//! `timing_buckets_total` equal to the sums over all complete timings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::{PgConnection, Row};

use crate::histogram;
use crate::pairing::{self, PairingEvent, Timing, TimingKey};

/// Re-derives the timings of `keys`; returns complete pairs added minus
/// removed, and the changes to apply to the summary aggregates.
pub async fn rederive(
    tx: &mut PgConnection,
    keys: &BTreeSet<TimingKey>,
) -> Result<(i64, BucketDeltas), sqlx::Error> {
    if keys.is_empty() {
        return Ok((0, BucketDeltas::default()));
    }
    let keys: Vec<&TimingKey> = keys.iter().collect();
    let instances: Vec<&str> = keys.iter().map(|key| key.instance.as_str()).collect();
    let operations: Vec<&str> = keys.iter().map(|key| key.operation.as_str()).collect();
    let requests: Vec<&str> = keys.iter().map(|key| key.request_id.as_str()).collect();
    let events = fetch_events(tx, &keys).await?;
    let derived: Vec<(&TimingKey, Timing)> = keys
        .iter()
        .zip(&events)
        .flat_map(|(key, events)| {
            pairing::pair(events)
                .into_iter()
                .map(move |timing| (*key, timing))
        })
        .collect();

    let removed: Vec<(String, Option<DateTime<Utc>>, Option<i64>)> = sqlx::query_as(
        "DELETE FROM timings
         WHERE (instance, operation, request_id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
         RETURNING operation, end_when, duration_us",
    )
    .bind(&instances)
    .bind(&operations)
    .bind(&requests)
    .fetch_all(&mut *tx)
    .await?;
    insert(tx, &derived).await?;

    let mut deltas = BucketDeltas::default();
    for (operation, end_when, duration_us) in &removed {
        deltas.add(operation, *end_when, *duration_us, -1);
    }
    for (key, timing) in &derived {
        deltas.add(
            &key.operation,
            timing.end.map(|end| end.when),
            timing.duration_us(),
            1,
        );
    }
    let complete = |duration: Option<i64>| duration.is_some();
    let added = derived
        .iter()
        .filter(|(_, timing)| complete(timing.duration_us()))
        .count() as i64;
    let removed = removed
        .iter()
        .filter(|(_, _, duration)| complete(*duration))
        .count() as i64;
    Ok((added - removed, deltas))
}

/// The `.start`/`.end` events of each key, in the keys' order.
///
/// Read by instance from `pairing_events` (one index probe each, never a
/// raw partition) and sorted to their keys here: joining the keys in SQL
/// let the planner scan far more than the keys need.
async fn fetch_events(
    tx: &mut PgConnection,
    keys: &[&TimingKey],
) -> Result<Vec<Vec<PairingEvent>>, sqlx::Error> {
    let index_of: HashMap<(&str, &str, &str), usize> = keys
        .iter()
        .enumerate()
        .map(|(index, key)| {
            let key = (
                key.instance.as_str(),
                key.operation.as_str(),
                key.request_id.as_str(),
            );
            (key, index)
        })
        .collect();
    let instances: Vec<&str> = keys
        .iter()
        .map(|key| key.instance.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows = sqlx::query(
        "SELECT instance, coalesce(request_id, '') AS request_id, event_id AS id, message_id, deployment_id, \"when\", event
         FROM pairing_events
         WHERE instance = ANY($1)",
    )
    .bind(&instances)
    .fetch_all(&mut *tx)
    .await?;
    let mut events = vec![Vec::new(); keys.len()];
    for row in rows {
        let event: String = row.try_get("event")?;
        let Some((operation, half)) = pairing::split_event_type(&event) else {
            continue;
        };
        let instance: String = row.try_get("instance")?;
        let request_id: String = row.try_get("request_id")?;
        let Some(&index) = index_of.get(&(instance.as_str(), operation, request_id.as_str()))
        else {
            // Another operation or request of a touched instance.
            continue;
        };
        events[index].push(PairingEvent {
            id: row.try_get("id")?,
            message_id: row.try_get("message_id")?,
            deployment_id: row.try_get("deployment_id")?,
            when: row.try_get("when")?,
            half,
        });
    }
    Ok(events)
}

async fn insert(
    tx: &mut PgConnection,
    derived: &[(&TimingKey, Timing)],
) -> Result<(), sqlx::Error> {
    if derived.is_empty() {
        return Ok(());
    }
    let column =
        |f: fn(&(&TimingKey, Timing)) -> Option<i64>| derived.iter().map(f).collect::<Vec<_>>();
    let instances: Vec<&str> = derived
        .iter()
        .map(|(key, _)| key.instance.as_str())
        .collect();
    let operations: Vec<&str> = derived
        .iter()
        .map(|(key, _)| key.operation.as_str())
        .collect();
    let requests: Vec<&str> = derived
        .iter()
        .map(|(key, _)| key.request_id.as_str())
        .collect();
    let seqs: Vec<i32> = derived.iter().map(|(_, timing)| timing.seq).collect();
    let deployments: Vec<i32> = derived
        .iter()
        .map(|(_, timing)| timing.deployment_id)
        .collect();
    let start_whens: Vec<Option<DateTime<Utc>>> = derived
        .iter()
        .map(|(_, t)| t.start.map(|s| s.when))
        .collect();
    let end_whens: Vec<Option<DateTime<Utc>>> =
        derived.iter().map(|(_, t)| t.end.map(|e| e.when)).collect();
    sqlx::query(
        "INSERT INTO timings (instance, operation, request_id, seq, deployment_id,
                              start_event_id, start_when, end_event_id, end_when, duration_us)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[],
                              $6::bigint[], $7::timestamptz[], $8::bigint[], $9::timestamptz[], $10::bigint[])",
    )
    .bind(&instances)
    .bind(&operations)
    .bind(&requests)
    .bind(&seqs)
    .bind(&deployments)
    .bind(column(|(_, t)| t.start.map(|s| s.event_id)))
    .bind(&start_whens)
    .bind(column(|(_, t)| t.end.map(|e| e.event_id)))
    .bind(&end_whens)
    .bind(column(|(_, t)| t.duration_us()))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Changes to `timing_buckets`, keyed (and so applied) in sorted order.
#[derive(Default)]
pub struct BucketDeltas {
    deltas: BTreeMap<(String, DateTime<Utc>, i16), (i64, i64)>,
}

impl BucketDeltas {
    /// Counts a complete, non-negative timing with `sign` +1 (added) or −1 (removed).
    fn add(
        &mut self,
        operation: &str,
        end_when: Option<DateTime<Utc>>,
        duration_us: Option<i64>,
        sign: i64,
    ) {
        let (Some(end_when), Some(duration_us)) = (end_when, duration_us) else {
            return;
        };
        if duration_us < 0 {
            return;
        }
        let hour = end_when
            .duration_trunc(TimeDelta::hours(1))
            .unwrap_or(end_when);
        let entry = self
            .deltas
            .entry((
                operation.to_owned(),
                hour,
                histogram::bucket_of(duration_us),
            ))
            .or_default();
        entry.0 += sign;
        entry.1 += sign * duration_us;
    }

    /// Upserts the changes. Every worker adds to the same few hot rows (the
    /// current hour of each operation), and an upserted row stays locked
    /// until commit: so this runs last, just before the commit, or writers
    /// would queue behind each other for the whole transaction.
    pub async fn apply(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let changed: Vec<_> = self
            .deltas
            .into_iter()
            .filter(|(_, (n, total))| *n != 0 || *total != 0)
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let operations: Vec<&str> = changed
            .iter()
            .map(|((operation, _, _), _)| operation.as_str())
            .collect();
        let hours: Vec<DateTime<Utc>> = changed.iter().map(|((_, hour, _), _)| *hour).collect();
        let buckets: Vec<i16> = changed.iter().map(|((_, _, bucket), _)| *bucket).collect();
        let counts: Vec<i64> = changed.iter().map(|(_, (n, _))| *n).collect();
        let totals: Vec<i64> = changed.iter().map(|(_, (_, total))| *total).collect();
        for level in LEVELS {
            sqlx::query(sqlx::AssertSqlSafe(level.upsert()))
                .bind(&operations)
                .bind(&hours)
                .bind(&buckets)
                .bind(&counts)
                .bind(&totals)
                .execute(&mut *tx)
                .await?;
        }
        // A bucket emptied by a re-pairing leaves no row, so the stored state
        // is the same whatever the arrival order. Only a subtraction can
        // empty one: most batches only add, and skip these deletes.
        let subtracted: Vec<usize> = (0..changed.len())
            .filter(|&index| counts[index] < 0)
            .collect();
        if subtracted.is_empty() {
            return Ok(());
        }
        let operations: Vec<&str> = subtracted.iter().map(|&i| operations[i]).collect();
        let hours: Vec<DateTime<Utc>> = subtracted.iter().map(|&i| hours[i]).collect();
        let buckets: Vec<i16> = subtracted.iter().map(|&i| buckets[i]).collect();
        for level in LEVELS {
            sqlx::query(sqlx::AssertSqlSafe(level.delete_emptied()))
                .bind(&operations)
                .bind(&hours)
                .bind(&buckets)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

/// One table of summary aggregates: the hourly rows, or a rollup of them.
/// Every level takes the same hourly changes, summed to its own key (so no
/// statement updates a row twice), in key order.
struct Level {
    table: &'static str,
    /// The table's key columns.
    key: &'static str,
    /// The key of an hourly change (columns `operation`, `hour`, `bucket`) at this level.
    key_of_change: &'static str,
    /// `1, 2, …` over the key's columns, for GROUP BY and ORDER BY.
    key_positions: &'static str,
}

const LEVELS: [Level; 3] = [
    Level {
        table: "timing_buckets",
        key: "operation, hour, bucket",
        key_of_change: "operation, hour, bucket",
        key_positions: "1, 2, 3",
    },
    Level {
        table: "timing_buckets_daily",
        key: "operation, day, bucket",
        key_of_change:
            "operation, date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', bucket",
        key_positions: "1, 2, 3",
    },
    Level {
        table: "timing_buckets_total",
        key: "operation, bucket",
        key_of_change: "operation, bucket",
        key_positions: "1, 2",
    },
];

impl Level {
    /// Adds the changes ($1–$5: operations, hours, buckets, counts, totals).
    fn upsert(&self) -> String {
        let Level {
            table,
            key,
            key_of_change,
            key_positions,
        } = self;
        format!(
            "INSERT INTO {table} AS b ({key}, n, total_us)
             SELECT {key_of_change}, sum(n), sum(total_us)
             FROM unnest($1::text[], $2::timestamptz[], $3::smallint[], $4::bigint[], $5::bigint[])
                  AS change (operation, hour, bucket, n, total_us)
             GROUP BY {key_positions}
             ORDER BY {key_positions}
             ON CONFLICT ({key})
             DO UPDATE SET n = b.n + EXCLUDED.n, total_us = b.total_us + EXCLUDED.total_us"
        )
    }

    /// Deletes the rows of the changed keys ($1–$3) that are now empty.
    fn delete_emptied(&self) -> String {
        let Level {
            table,
            key,
            key_of_change,
            ..
        } = self;
        format!(
            "DELETE FROM {table}
             WHERE n = 0 AND ({key}) IN
                   (SELECT {key_of_change}
                    FROM unnest($1::text[], $2::timestamptz[], $3::smallint[])
                         AS change (operation, hour, bucket))"
        )
    }
}
