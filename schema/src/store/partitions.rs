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

    /// `CREATE TABLE … PARTITION OF` for this month. Only integers are
    /// formatted into it.
    fn create_statement(self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF raw_events \
             FOR VALUES FROM ('{} 00:00:00+00') TO ('{} 00:00:00+00')",
            self.table_name(),
            self.first_day(),
            self.next().first_day()
        )
    }
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

/// Creates the partitions, serialized by an advisory lock: two workers
/// creating the same partition at once would otherwise collide in the
/// catalog even with IF NOT EXISTS.
async fn create(pool: &PgPool, months: &BTreeSet<Month>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tach.raw_events.partitions'))")
        .execute(&mut *tx)
        .await?;
    for month in months {
        sqlx::query(sqlx::AssertSqlSafe(month.create_statement()))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// A partition dropped by [`drop_older_than`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedPartition {
    /// Its table name.
    pub table: String,
    /// Rows it held.
    pub rows: i64,
}

/// Drops every raw partition whose whole month ends at or before `cutoff`.
/// Aggregates and the key table are untouched (SPEC §4.7).
pub async fn drop_older_than(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
) -> Result<Vec<DroppedPartition>, sqlx::Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT child.relname::text
         FROM pg_inherits
         JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
         JOIN pg_class child ON child.oid = pg_inherits.inhrelid
         WHERE parent.relname = 'raw_events'
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    let mut dropped = Vec::new();
    for table in tables {
        let Some(month) = month_of_table(&table) else {
            continue;
        };
        if month.next().first_day() > cutoff.date_naive() {
            continue;
        }
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            month.table_name()
        )))
        .fetch_one(pool)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS {}",
            month.table_name()
        )))
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
        assert_eq!(
            month.create_statement(),
            "CREATE TABLE IF NOT EXISTS raw_events_p201312 PARTITION OF raw_events \
             FOR VALUES FROM ('2013-12-01 00:00:00+00') TO ('2014-01-01 00:00:00+00')"
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
