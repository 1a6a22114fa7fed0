//! `pairing_events`: the narrow, never-pruned copy of the events timings and
//! KPI trackers are derived from, recorded with the batch so that each
//! re-derivation reads its key's events through one index probe (migration
//! 0009 says why not from `raw_events`).

use sqlx::PgConnection;

use crate::event::{Event, Family};
use crate::kpi;
use crate::pairing::split_event_type;

/// True for an event a timing or a KPI tracker is derived from: a nova
/// `.start` or `.end`, or the api `compute.instance.update` that starts a
/// tracker.
fn feeds_pairing(family: Family, event_type: &str, service: Option<&str>) -> bool {
    family == Family::Nova
        && (split_event_type(event_type).is_some() || kpi::starts_tracker(event_type, service))
}

/// Records the batch's new events that feed pairing (with their raw event ids).
pub async fn record(
    tx: &mut PgConnection,
    deployment_id: i32,
    new_events: &[(i64, &Event)],
) -> Result<(), sqlx::Error> {
    let feeding: Vec<(i64, &Event)> = new_events
        .iter()
        .copied()
        .filter(|(_, e)| feeds_pairing(e.family, &e.event_type, e.service.as_deref()))
        .collect();
    if feeding.is_empty() {
        return Ok(());
    }
    let event_ids: Vec<i64> = feeding.iter().map(|(id, _)| *id).collect();
    let message_ids: Vec<&str> = feeding.iter().map(|(_, e)| e.message_id.as_str()).collect();
    let event_types: Vec<&str> = feeding.iter().map(|(_, e)| e.event_type.as_str()).collect();
    let whens: Vec<chrono::DateTime<chrono::Utc>> = feeding.iter().map(|(_, e)| e.when).collect();
    let services: Vec<Option<&str>> = feeding.iter().map(|(_, e)| e.service.as_deref()).collect();
    let instances: Vec<Option<&str>> = feeding.iter().map(|(_, e)| e.instance.as_deref()).collect();
    let request_ids: Vec<Option<&str>> = feeding
        .iter()
        .map(|(_, e)| e.request_id.as_deref())
        .collect();
    let tenants: Vec<Option<&str>> = feeding.iter().map(|(_, e)| e.tenant.as_deref()).collect();
    sqlx::query(
        "INSERT INTO pairing_events (event_id, deployment_id, message_id, event, \"when\", service,
                                     instance, request_id, tenant)
         SELECT event_id, $1, message_id, event, \"when\", service, instance, request_id, tenant
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
                     $7::text[], $8::text[], $9::text[])
              AS batch (event_id, message_id, event, \"when\", service, instance, request_id, tenant)",
    )
    .bind(deployment_id)
    .bind(&event_ids)
    .bind(&message_ids)
    .bind(&event_types)
    .bind(&whens)
    .bind(&services)
    .bind(&instances)
    .bind(&request_ids)
    .bind(&tenants)
    .execute(tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_ends_and_api_updates_of_nova_feed_pairing() {
        let nova = |event_type, service| feeds_pairing(Family::Nova, event_type, service);
        assert!(nova("compute.instance.create.start", Some("compute")));
        assert!(nova("compute.instance.create.end", None));
        assert!(nova("scheduler.run_instance.end", Some("scheduler")));
        assert!(nova("compute.instance.update", Some("nova-api")));
        assert!(!nova("compute.instance.update", Some("compute")));
        assert!(!nova("compute.instance.exists", Some("compute")));
        assert!(!nova("compute.instance.create.error", Some("compute")));
        assert!(!feeds_pairing(
            Family::Deploy,
            "release.start",
            Some("orlo")
        ));
        assert!(!feeds_pairing(Family::Glance, "image.upload.end", None));
    }
}
