//! Raw partitions made ahead of the events (SPEC §4.7): at start and then
//! daily, this month's, the next month's and those clock skew may need, so
//! that a batch only creates a partition for an event from the past. Daily
//! too, the statistics of `raw_events` as a whole, which autovacuum never
//! gathers for a partitioned table.

use std::time::Duration;

use tach_schema::Store;
use tokio_util::sync::CancellationToken;

use crate::retry::{self, Backoff};

/// How often the partitions ahead are checked.
const EVERY: Duration = Duration::from_secs(24 * 3600);

/// Creates the partitions ahead now and every day until `shutdown`; from
/// the first day on, analyzes `raw_events` first.
pub async fn schedule(store: Store, shutdown: CancellationToken) {
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(EVERY) => {}
            }
            if let Err(error) = store.analyze_raw_events().await {
                tracing::warn!(%error, "ANALYZE raw_events failed, will try again tomorrow");
            }
        }
        first = false;
        let created = retry::retry(
            "creating raw partitions ahead",
            Backoff::CONNECT,
            &shutdown,
            retry::never_persistent(),
            || store.create_partitions_ahead(chrono::Utc::now()),
        )
        .await;
        if created.is_err() {
            return;
        }
    }
}
