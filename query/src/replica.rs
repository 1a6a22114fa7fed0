//! Where the read pool stands in streaming replication: whether it is a hot
//! standby and how far its replay trails the primary, for `/readyz` and the
//! `tach_query_replica_*` metrics.
//!
//! A standby's only clock is the commit time of the last transaction it
//! replayed. On a primary that has been idle for an hour that time is an hour
//! old although nothing is missing, so the age alone would call a current
//! standby an hour behind. The standby also knows how much WAL it has
//! received and how much of that it has replayed: while its WAL receiver
//! streams and everything received is replayed, it is as current as the
//! stream (lag 0). Otherwise the age of the last replayed commit is the
//! figure: the standby shows the primary as it was at that commit or later,
//! so the age bounds the staleness from above (it overstates it when the
//! primary was idle since).

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How often the sampler measures the read pool for the metrics.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// What the read pool's server says about its replication, as read.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct ReplicationSample {
    /// `pg_is_in_recovery()`: a standby (or a server restoring a backup).
    pub in_recovery: bool,
    /// A WAL receiver process runs (`pg_stat_wal_receiver` has a row; its
    /// pid is visible to every role, its details only to privileged ones).
    pub receiving: bool,
    /// WAL received but not yet replayed, in bytes (0 on a primary).
    pub unreplayed_bytes: f64,
    /// Seconds since the commit time of the last replayed transaction; None
    /// on a primary or before the standby replayed one.
    pub replayed_commit_age_seconds: Option<f64>,
}

/// The read pool's replication state, decided from a [`ReplicationSample`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Replication {
    /// The read pool is a primary: nothing to lag behind.
    Primary,
    /// The read pool is a standby.
    Standby {
        /// How far its data trails the primary, in seconds; None when
        /// nothing tells (not streaming, and no commit replayed since start).
        lag_seconds: Option<f64>,
        /// WAL received but not yet replayed.
        unreplayed_bytes: f64,
    },
}

impl Replication {
    /// Decides the state of a sample (see the module's comment).
    pub fn of(sample: ReplicationSample) -> Replication {
        if !sample.in_recovery {
            return Replication::Primary;
        }
        let unreplayed_bytes = sample.unreplayed_bytes.max(0.0);
        let lag_seconds = if sample.receiving && unreplayed_bytes == 0.0 {
            Some(0.0)
        } else {
            sample
                .replayed_commit_age_seconds
                .map(|seconds| seconds.max(0.0))
        };
        Replication::Standby {
            lag_seconds,
            unreplayed_bytes,
        }
    }

    /// Why the read pool may not serve with `max_lag`, or None when it may.
    pub fn unready_reason(&self, max_lag: Duration) -> Option<&'static str> {
        match self {
            Replication::Primary => None,
            Replication::Standby {
                lag_seconds: None, ..
            } => Some("replica lag unknown"),
            Replication::Standby {
                lag_seconds: Some(lag),
                ..
            } if *lag > max_lag.as_secs_f64() => Some("replica lag over the bound"),
            Replication::Standby { .. } => None,
        }
    }
}

/// Reads the replication state of the server behind `pool`.
pub async fn measure(pool: &PgPool) -> Result<Replication, sqlx::Error> {
    // The LSN functions are NULL on a primary (and the receive LSN on a
    // standby that has not streamed yet); a replay ahead of the receive LSN
    // (WAL replayed from pg_wal after a restart) counts as nothing unreplayed.
    let sample: ReplicationSample = sqlx::query_as(
        "SELECT pg_is_in_recovery() AS in_recovery,
                EXISTS (SELECT 1 FROM pg_stat_wal_receiver) AS receiving,
                coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(),
                                         pg_last_wal_replay_lsn()), 0)::float8 AS unreplayed_bytes,
                extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
                    AS replayed_commit_age_seconds",
    )
    .fetch_one(pool)
    .await?;
    Ok(Replication::of(sample))
}

/// Measures the read pool every [`SAMPLE_INTERVAL`] into the metrics, with
/// the connections of both pools (`write_pool` is None when it is the read
/// pool), until `shutdown`; a failed measurement is logged when it starts
/// failing.
pub async fn sample_periodically(
    pool: PgPool,
    write_pool: Option<PgPool>,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(SAMPLE_INTERVAL);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        match measure(&pool).await {
            Ok(replication) => {
                failing = false;
                crate::metrics::replication(&replication);
            }
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(error = %error, "cannot measure the read pool's replication");
            }
            Err(_) => {}
        }
        crate::metrics::pool_connections("read", &pool);
        if let Some(write_pool) = &write_pool {
            crate::metrics::pool_connections("write", write_pool);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standby(receiving: bool, unreplayed_bytes: f64, age: Option<f64>) -> ReplicationSample {
        ReplicationSample {
            in_recovery: true,
            receiving,
            unreplayed_bytes,
            replayed_commit_age_seconds: age,
        }
    }

    #[test]
    fn a_primary_has_no_lag_whatever_its_timestamps() {
        let primary = ReplicationSample {
            in_recovery: false,
            receiving: false,
            unreplayed_bytes: 0.0,
            replayed_commit_age_seconds: None,
        };
        assert_eq!(Replication::of(primary), Replication::Primary);
        assert_eq!(
            Replication::Primary.unready_reason(Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn lag_follows_what_the_standby_received_and_replayed() {
        let cases = [
            // Streaming, all replayed: current, however old the last commit
            // (an idle primary).
            (standby(true, 0.0, Some(3600.0)), Some(0.0), 0.0),
            // Replayed past what this receiver got (WAL from pg_wal at start).
            (standby(true, -4096.0, Some(50.0)), Some(0.0), 0.0),
            // Received, not replayed (replay paused or slow): the commit's age.
            (standby(true, 8192.0, Some(42.5)), Some(42.5), 8192.0),
            // Not streaming: the commit's age bounds the staleness.
            (standby(false, 0.0, Some(7.0)), Some(7.0), 0.0),
            // Not streaming, nothing replayed since start: unknown.
            (standby(false, 0.0, None), None, 0.0),
            // Clock skew between the servers never makes a negative lag.
            (standby(true, 10.0, Some(-0.3)), Some(0.0), 10.0),
        ];
        for (sample, lag_seconds, unreplayed_bytes) in cases {
            assert_eq!(
                Replication::of(sample),
                Replication::Standby {
                    lag_seconds,
                    unreplayed_bytes
                },
                "{sample:?}"
            );
        }
    }

    #[test]
    fn a_standby_is_unready_over_the_bound_or_when_its_lag_is_unknown() {
        let bound = Duration::from_secs(30);
        let lagging = |lag_seconds| Replication::Standby {
            lag_seconds,
            unreplayed_bytes: 0.0,
        };
        assert_eq!(lagging(Some(0.0)).unready_reason(bound), None);
        assert_eq!(lagging(Some(30.0)).unready_reason(bound), None);
        assert_eq!(
            lagging(Some(30.5)).unready_reason(bound),
            Some("replica lag over the bound")
        );
        assert_eq!(
            lagging(None).unready_reason(bound),
            Some("replica lag unknown")
        );
    }
}
