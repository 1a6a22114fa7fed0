//! Releases, packages and environments (issue: releases API): re-derived
//! from the batch's new `release.*`, `package.*` and `environment.*` events.

use sqlx::PgConnection;

use crate::event::Event;

/// Re-derives the release and environment rows the new events touch.
pub async fn rederive(_tx: &mut PgConnection, _new_events: &[&Event]) -> Result<(), sqlx::Error> {
    Ok(())
}
