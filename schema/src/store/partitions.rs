//! Monthly partitions of `raw_events`, created on demand for whatever time
//! an event carries (old captures included, SPEC §3.4), and dropped by
//! retention.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sqlx::PgPool;

/// A calendar month, the unit of partitioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month `when` falls in (UTC).
    pub fn of(when: DateTime<Utc>) -> Month {
        Month {
            year: when.year(),
            month: when.month(),
        }
    }

    fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The partition's table name, `raw_events_pYYYYMM`.
    pub fn table_name(self) -> String {
        format!("raw_events_p{:04}{:02}", self.year, self.month)
    }

    /// The statements that make this month's partition without taking an
    /// `ACCESS EXCLUSIVE` lock on `raw_events` (which `CREATE TABLE …
    /// PARTITION OF` takes, so ingest and reads would queue behind it): the
    /// table is created on its own, with the range as a check so that
    /// attaching needs no scan, then attached, which only takes `SHARE
    /// UPDATE EXCLUSIVE` on the parent. Only integers are formatted in.
    fn create_statements(self) -> [String; 3] {
        let table = self.table_name();
        let (from, to) = (self.first_day(), self.next().first_day());
        [
            format!(
                "CREATE TABLE IF NOT EXISTS {table} \
                 (LIKE raw_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION, \
                  CONSTRAINT {table}_range CHECK (\"when\" >= '{from} 00:00:00+00' AND \"when\" < '{to} 00:00:00+00'))"
            ),
            format!(
                "ALTER TABLE raw_events ATTACH PARTITION {table} \
                 FOR VALUES FROM ('{from} 00:00:00+00') TO ('{to} 00:00:00+00')"
            ),
            // The check has done its work; the partition bound now holds.
            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_range"),
        ]
    }
}

/// The months that should have a partition before any event needs them:
/// every month from this one to the one 38 days ahead — always the next,
/// and late in a month the one after it too, for publishers whose clocks
/// run ahead.
pub fn months_ahead(now: DateTime<Utc>) -> BTreeSet<Month> {
    let last = Month::of(now + chrono::Duration::days(38));
    let mut month = Month::of(now);
    let mut months = BTreeSet::from([month]);
    while month < last {
        month = month.next();
        months.insert(month);
    }
    months
}

/// Months known to have a partition, so a batch only talks to the catalog
/// when it carries a month seen for the first time by this process.
#[derive(Default)]
pub struct KnownPartitions {
    months: Mutex<BTreeSet<Month>>,
}

impl KnownPartitions {
    /// Makes sure every month of `times` has a partition.
    pub async fn ensure(
        &self,
        pool: &PgPool,
        times: impl Iterator<Item = DateTime<Utc>>,
    ) -> Result<(), sqlx::Error> {
        let missing: BTreeSet<Month> = {
            let known = self
                .months
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            times
                .map(Month::of)
                .filter(|month| !known.contains(month))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        create(pool, &missing).await?;
        let mut known = self
            .months
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known.extend(missing);
        Ok(())
    }

    /// Forgets every month, after prune dropped partitions.
    pub fn forget(&self) {
        self.months
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}

/// How long partition maintenance waits for a lock before giving up (and
/// retrying later), so that it never queues ingest and reads behind it.
const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '5s'";

/// Creates the missing partitions among `months`, serialized by an advisory
/// lock: two workers creating the same partition at once would otherwise
/// collide in the catalog even with IF NOT EXISTS.
async fn create(pool: &PgPool, months: &BTreeSet<Month>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(LOCK_TIMEOUT).execute(&mut *tx).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tach.raw_events.partitions'))")
        .execute(&mut *tx)
        .await?;
    let existing: Vec<(String, bool)> = sqlx::query_as(PARTITIONS).fetch_all(&mut *tx).await?;
    for month in months {
        if existing
            .iter()
            .any(|(table, _)| *table == month.table_name())
        {
            continue;
        }
        for statement in month.create_statements() {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

/// Makes the partitions of [`months_ahead`] of `now`; run at start and daily.
pub async fn create_ahead(pool: &PgPool, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    create(pool, &months_ahead(now)).await
}

/// Gathers the statistics of `raw_events` as a whole. Autovacuum analyzes
/// each partition but never a partitioned parent, whose statistics the
/// planner uses for what spans partitions; run daily with the partitions.
pub async fn analyze(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("ANALYZE raw_events").execute(pool).await?;
    Ok(())
}

/// `raw_events`' partitions: each name, and whether a detach of it is pending.
const PARTITIONS: &str = "SELECT child.relname::text, pg_inherits.inhdetachpending
     FROM pg_inherits
     JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
     JOIN pg_class child ON child.oid = pg_inherits.inhrelid
     WHERE parent.relname = 'raw_events'
     ORDER BY 1";

/// A partition dropped by [`drop_older_than`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedPartition {
    /// Its table name.
    pub table: String,
    /// Rows it held.
    pub rows: i64,
}

/// Drops every raw partition whose whole month ends at or before `cutoff`.
/// Aggregates and the key table are untouched (SPEC §4.7). Each partition is
/// first detached `CONCURRENTLY`, which waits for the queries using it but
/// blocks none, then dropped; a detach interrupted earlier is finished.
pub async fn drop_older_than(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
) -> Result<Vec<DroppedPartition>, sqlx::Error> {
    let attached: Vec<(String, bool)> = sqlx::query_as(PARTITIONS).fetch_all(pool).await?;
    let mut dropped = Vec::new();
    for (table, detach_pending) in attached {
        let Some(month) = month_of_table(&table) else {
            continue;
        };
        if month.next().first_day() > cutoff.date_naive() {
            continue;
        }
        let name = month.table_name();
        let detach = if detach_pending {
            format!("ALTER TABLE raw_events DETACH PARTITION {name} FINALIZE")
        } else {
            format!("ALTER TABLE raw_events DETACH PARTITION {name} CONCURRENTLY")
        };
        sqlx::query(sqlx::AssertSqlSafe(detach))
            .execute(pool)
            .await?;
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {name}")))
                .fetch_one(pool)
                .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
            .execute(pool)
            .await?;
        dropped.push(DroppedPartition { table, rows });
    }
    Ok(dropped)
}

fn month_of_table(table: &str) -> Option<Month> {
    let digits = table.strip_prefix("raw_events_p")?;
    if digits.len() != 6 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let year = digits[..4].parse().ok()?;
    let month = digits[4..].parse().ok()?;
    (1..=12).contains(&month).then_some(Month { year, month })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn december_rolls_over_into_the_next_year() {
        let month = Month {
            year: 2013,
            month: 12,
        };
        let [create, attach, _] = month.create_statements();
        assert!(create.contains(
            "CHECK (\"when\" >= '2013-12-01 00:00:00+00' AND \"when\" < '2014-01-01 00:00:00+00')"
        ));
        assert_eq!(
            attach,
            "ALTER TABLE raw_events ATTACH PARTITION raw_events_p201312 \
             FOR VALUES FROM ('2013-12-01 00:00:00+00') TO ('2014-01-01 00:00:00+00')"
        );
    }

    #[test]
    fn partitions_are_made_for_this_month_the_next_and_clock_skew() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        let names = |now| -> Vec<String> {
            months_ahead(at(now))
                .into_iter()
                .map(Month::table_name)
                .collect()
        };
        assert_eq!(
            names("2026-12-01T00:00:00Z"),
            ["raw_events_p202612", "raw_events_p202701"]
        );
        assert_eq!(
            names("2026-12-25T00:00:00Z"),
            [
                "raw_events_p202612",
                "raw_events_p202701",
                "raw_events_p202702"
            ]
        );
    }

    #[test]
    fn table_names_round_trip() {
        let month = Month {
            year: 2026,
            month: 11,
        };
        assert_eq!(month_of_table(&month.table_name()), Some(month));
        assert_eq!(month_of_table("raw_events_p2026xx"), None);
        assert_eq!(month_of_table("raw_events_p202613"), None);
    }
}
