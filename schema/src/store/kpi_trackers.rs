//! Re-deriving the KPI trackers of touched requests.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use crate::kpi::{self, RequestEvent, Tracker};

/// Replaces the trackers of `requests` with those derived from their events
/// (their `.end`s and api updates in `pairing_events`).
pub async fn rederive(
    tx: &mut PgConnection,
    requests: &BTreeSet<String>,
) -> Result<(), sqlx::Error> {
    if requests.is_empty() {
        return Ok(());
    }
    let request_ids: Vec<&str> = requests.iter().map(String::as_str).collect();
    let rows = sqlx::query(
        "SELECT request_id, event_id AS id, message_id, deployment_id, event, \"when\", service, instance, tenant
         FROM pairing_events
         WHERE request_id = ANY($1) AND right(event, 6) <> '.start'",
    )
    .bind(&request_ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut by_request: BTreeMap<String, Vec<RequestEvent>> = BTreeMap::new();
    for row in rows {
        by_request
            .entry(row.try_get("request_id")?)
            .or_default()
            .push(RequestEvent {
                id: row.try_get("id")?,
                message_id: row.try_get("message_id")?,
                deployment_id: row.try_get("deployment_id")?,
                event_type: row.try_get("event")?,
                when: row.try_get("when")?,
                service: row.try_get("service")?,
                instance: row.try_get("instance")?,
                tenant: row.try_get("tenant")?,
            });
    }
    let derived: Vec<(&str, Tracker)> = by_request
        .iter()
        .flat_map(|(request, events)| {
            kpi::trackers(events)
                .into_iter()
                .map(move |tracker| (request.as_str(), tracker))
        })
        .collect();
    sqlx::query("DELETE FROM kpi_trackers WHERE request_id = ANY($1)")
        .bind(&request_ids)
        .execute(&mut *tx)
        .await?;
    insert(tx, &derived).await
}

async fn insert(tx: &mut PgConnection, derived: &[(&str, Tracker)]) -> Result<(), sqlx::Error> {
    if derived.is_empty() {
        return Ok(());
    }
    let requests: Vec<&str> = derived.iter().map(|(request, _)| *request).collect();
    let start_ids: Vec<i64> = derived.iter().map(|(_, t)| t.start_event_id).collect();
    let deployments: Vec<i32> = derived.iter().map(|(_, t)| t.deployment_id).collect();
    let instances: Vec<Option<&str>> = derived.iter().map(|(_, t)| t.instance.as_deref()).collect();
    let start_whens: Vec<DateTime<Utc>> = derived.iter().map(|(_, t)| t.start_when).collect();
    let end_ids: Vec<Option<i64>> = derived
        .iter()
        .map(|(_, t)| t.end.as_ref().map(|e| e.event_id))
        .collect();
    let end_whens: Vec<Option<DateTime<Utc>>> = derived
        .iter()
        .map(|(_, t)| t.end.as_ref().map(|e| e.when))
        .collect();
    let operations: Vec<Option<&str>> = derived
        .iter()
        .map(|(_, t)| t.end.as_ref().map(|e| e.operation.as_str()))
        .collect();
    let tenants: Vec<Option<&str>> = derived
        .iter()
        .map(|(_, t)| t.end.as_ref().and_then(|e| e.tenant.as_deref()))
        .collect();
    let durations: Vec<Option<i64>> = derived
        .iter()
        .map(|(_, t)| t.end.as_ref().map(|e| e.duration_us))
        .collect();
    sqlx::query(
        "INSERT INTO kpi_trackers (request_id, start_event_id, deployment_id, instance, start_when,
                                   end_event_id, end_when, operation, tenant, duration_us)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::timestamptz[],
                              $6::bigint[], $7::timestamptz[], $8::text[], $9::text[], $10::bigint[])",
    )
    .bind(&requests)
    .bind(&start_ids)
    .bind(&deployments)
    .bind(&instances)
    .bind(&start_whens)
    .bind(&end_ids)
    .bind(&end_whens)
    .bind(&operations)
    .bind(&tenants)
    .bind(&durations)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
