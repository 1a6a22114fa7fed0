//! Nova usage. An exists record depends on its own audit event alone, so it
//! is written once, with the batch; an instance's launches and deletes are
//! re-derived from all its lifecycle events, which the batch records in
//! `usage_events` first.
//!
//! `usage_events` keeps only what usage reads and is never pruned: an
//! instance outlives raw retention, and re-deriving it from the raw events
//! still stored would drop its launch once the create events were pruned.
//! Audits are not kept there: an instance's audits grow with its age, and
//! re-reading them on every lifecycle event made ingest slower as instances
//! aged.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::{PgConnection, Row};

use crate::event::{Event, Family};
use crate::usage::{self, LifecycleEvent, Usage};

/// Records the new lifecycle events (with their raw event ids).
pub async fn record(
    tx: &mut PgConnection,
    new_events: &[(i64, &Event)],
) -> Result<(), sqlx::Error> {
    let mut event_ids = Vec::new();
    let mut instances = Vec::new();
    let mut message_ids = Vec::new();
    let mut event_types = Vec::new();
    let mut whens = Vec::new();
    let mut request_ids = Vec::new();
    let mut tenants = Vec::new();
    let mut payloads = Vec::new();
    for &(event_id, event) in new_events {
        let Some(instance) = event.instance.as_deref() else {
            continue;
        };
        if event.family != Family::Nova || !usage::is_lifecycle(&event.event_type) {
            continue;
        }
        event_ids.push(event_id);
        instances.push(instance);
        message_ids.push(event.message_id.as_str());
        event_types.push(event.event_type.as_str());
        whens.push(event.when);
        request_ids.push(event.request_id.as_deref().unwrap_or_default());
        tenants.push(event.tenant.as_deref());
        payloads.push(Value::Object(usage::usage_payload(event.payload())).to_string());
    }
    if event_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO usage_events (event_id, instance, message_id, event, \"when\", request_id, tenant, payload)
         SELECT event_id, instance, message_id, event, \"when\", request_id, tenant, payload::json
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::text[], $7::text[], $8::text[])
              AS batch (event_id, instance, message_id, event, \"when\", request_id, tenant, payload)",
    )
    .bind(&event_ids)
    .bind(&instances)
    .bind(&message_ids)
    .bind(&event_types)
    .bind(&whens)
    .bind(&request_ids)
    .bind(&tenants)
    .bind(&payloads)
    .execute(tx)
    .await?;
    Ok(())
}

/// Replaces the launches and deletes of `instances` with those derived from
/// their lifecycle events.
pub async fn rederive(
    tx: &mut PgConnection,
    instances: &BTreeSet<String>,
) -> Result<(), sqlx::Error> {
    if instances.is_empty() {
        return Ok(());
    }
    let instance_ids: Vec<&str> = instances.iter().map(String::as_str).collect();
    let rows = sqlx::query(
        "SELECT instance, message_id, event, \"when\", request_id, tenant, payload::text AS payload
         FROM usage_events
         WHERE instance = ANY($1)",
    )
    .bind(&instance_ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut by_instance: BTreeMap<String, Vec<LifecycleEvent>> = BTreeMap::new();
    for row in rows {
        let payload: String = row.try_get("payload")?;
        by_instance
            .entry(row.try_get("instance")?)
            .or_default()
            .push(LifecycleEvent {
                message_id: row.try_get("message_id")?,
                event_type: row.try_get("event")?,
                when: row.try_get("when")?,
                request_id: row.try_get("request_id")?,
                tenant: row.try_get("tenant")?,
                payload: serde_json::from_str::<Map<String, Value>>(&payload).unwrap_or_default(),
            });
    }
    let derived: Vec<(&str, Usage)> = by_instance
        .iter()
        .map(|(instance, events)| (instance.as_str(), usage::derive(events)))
        .collect();
    for table in ["usage_launches", "usage_deletes"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE instance = ANY($1)"
        )))
        .bind(&instance_ids)
        .execute(&mut *tx)
        .await?;
    }
    insert_launches(tx, &derived).await?;
    insert_deletes(tx, &derived).await
}

async fn insert_launches(
    tx: &mut PgConnection,
    derived: &[(&str, Usage)],
) -> Result<(), sqlx::Error> {
    let rows: Vec<(&str, &usage::Launch)> = derived
        .iter()
        .flat_map(|(i, u)| u.launches.iter().map(move |l| (*i, l)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let instances: Vec<&str> = rows.iter().map(|(i, _)| *i).collect();
    let requests: Vec<&str> = rows.iter().map(|(_, l)| l.request_id.as_str()).collect();
    let launched: Vec<Option<DateTime<Utc>>> = rows.iter().map(|(_, l)| l.launched_at).collect();
    let types: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, l)| l.instance_type_id.as_deref())
        .collect();
    let flavors: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, l)| l.instance_flavor_id.as_deref())
        .collect();
    let tenants: Vec<Option<&str>> = rows.iter().map(|(_, l)| l.tenant.as_deref()).collect();
    sqlx::query(
        "INSERT INTO usage_launches (instance, request_id, launched_at, instance_type_id, instance_flavor_id, tenant)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[])",
    )
    .bind(&instances)
    .bind(&requests)
    .bind(&launched)
    .bind(&types)
    .bind(&flavors)
    .bind(&tenants)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn insert_deletes(
    tx: &mut PgConnection,
    derived: &[(&str, Usage)],
) -> Result<(), sqlx::Error> {
    let rows: Vec<(&str, &usage::Delete)> = derived
        .iter()
        .flat_map(|(i, u)| u.deletes.iter().map(move |d| (*i, d)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let instances: Vec<&str> = rows.iter().map(|(i, _)| *i).collect();
    let launched: Vec<DateTime<Utc>> = rows.iter().map(|(_, d)| d.launched_at).collect();
    let deleted: Vec<Option<DateTime<Utc>>> = rows.iter().map(|(_, d)| d.deleted_at).collect();
    sqlx::query(
        "INSERT INTO usage_deletes (instance, launched_at, deleted_at)
         SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[])",
    )
    .bind(&instances)
    .bind(&launched)
    .bind(&deleted)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes the exists record of each new audit event of deployment
/// `deployment_id`. Each depends on its own event only, so it is written
/// once; the same message stored under another deployment (a mirrored
/// stream) has a record of its own there.
pub async fn insert_exists(
    tx: &mut PgConnection,
    deployment_id: i32,
    new_events: &[(i64, &Event)],
) -> Result<(), sqlx::Error> {
    let rows: Vec<(&str, usage::Exists)> = new_events
        .iter()
        .filter(|(_, event)| {
            event.family == Family::Nova && event.event_type == usage::EXISTS_EVENT
        })
        .filter_map(|(_, event)| {
            let instance = event.instance.as_deref()?;
            let exists = usage::exists_of(&lifecycle_event(event))?;
            Some((instance, exists))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let instances: Vec<&str> = rows.iter().map(|(i, _)| *i).collect();
    let message_ids: Vec<&str> = rows.iter().map(|(_, e)| e.message_id.as_str()).collect();
    let launched: Vec<DateTime<Utc>> = rows.iter().map(|(_, e)| e.launched_at).collect();
    let deleted: Vec<Option<DateTime<Utc>>> = rows.iter().map(|(_, e)| e.deleted_at).collect();
    let types: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, e)| e.instance_type_id.as_deref())
        .collect();
    let flavors: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, e)| e.instance_flavor_id.as_deref())
        .collect();
    let beginnings: Vec<Option<DateTime<Utc>>> =
        rows.iter().map(|(_, e)| e.audit_period_beginning).collect();
    let endings: Vec<Option<DateTime<Utc>>> =
        rows.iter().map(|(_, e)| e.audit_period_ending).collect();
    let tenants: Vec<Option<&str>> = rows.iter().map(|(_, e)| e.tenant.as_deref()).collect();
    let bandwidth: Vec<i64> = rows.iter().map(|(_, e)| e.bandwidth_public_out).collect();
    sqlx::query(
        "INSERT INTO usage_exists (instance, message_id, launched_at, deleted_at, instance_type_id, instance_flavor_id,
                                   audit_period_beginning, audit_period_ending, tenant, bandwidth_public_out,
                                   deployment_id)
         SELECT *, $11 FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[],
                                   $7::timestamptz[], $8::timestamptz[], $9::text[], $10::bigint[])
         ORDER BY 1, 2
         ON CONFLICT (instance, message_id, deployment_id) DO NOTHING",
    )
    .bind(&instances)
    .bind(&message_ids)
    .bind(&launched)
    .bind(&deleted)
    .bind(&types)
    .bind(&flavors)
    .bind(&beginnings)
    .bind(&endings)
    .bind(&tenants)
    .bind(&bandwidth)
    .bind(deployment_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// An event as usage reads it: the fields it uses, and only those of the payload.
fn lifecycle_event(event: &Event) -> LifecycleEvent {
    LifecycleEvent {
        message_id: event.message_id.clone(),
        event_type: event.event_type.clone(),
        when: event.when,
        request_id: event.request_id.clone().unwrap_or_default(),
        tenant: event.tenant.clone(),
        payload: usage::usage_payload(event.payload()),
    }
}
