//! Crash reports, product versions and builds (issue: Socorro middleware):
//! re-derived from the batch's new `crash.*` and `product.*` events.

use sqlx::PgConnection;

use crate::event::Event;

/// Re-derives the crash and product rows the new events touch.
pub async fn rederive(_tx: &mut PgConnection, _new_events: &[&Event]) -> Result<(), sqlx::Error> {
    Ok(())
}
