//! Releases, packages and environments (API.md §3), kept from a batch's new
//! `release.*`, `package.*` and `environment.*` events. A touched release is
//! locked and re-derived from all of its stored events ([`crate::release`]);
//! environment events are rows of their own, so "latest wins" is answered
//! when reading and needs no lock.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sqlx::{PgConnection, Row};

use crate::event::{Event, Family};
use crate::release::{self, Release, ReleaseEvent};
use crate::text;
use crate::timestamp;

use super::locks::{lock_id, lock_sorted};

/// Records the new release events, then re-derives the release and
/// environment rows they touch.
pub async fn rederive(
    tx: &mut PgConnection,
    new_events: &[(i64, &Event)],
) -> Result<(), sqlx::Error> {
    let release_events: Vec<(i64, &Event, &str)> = new_events
        .iter()
        .filter(|(_, event)| event.family == Family::Deploy)
        .filter(|(_, event)| !event.event_type.starts_with("environment."))
        .filter_map(|&(id, event)| Some((id, event, event.instance.as_deref()?)))
        .collect();
    let deploy: Vec<&Event> = new_events
        .iter()
        .map(|(_, event)| *event)
        .filter(|event| event.family == Family::Deploy)
        .collect();
    if deploy.is_empty() {
        return Ok(());
    }
    if !release_events.is_empty() {
        record(tx, &release_events).await?;
        let release_ids: BTreeSet<&str> = release_events.iter().map(|(_, _, id)| *id).collect();
        rederive_releases(tx, &release_ids).await?;
    }
    insert_deploys(tx, &deploy).await?;
    upsert_status_samples(tx, &deploy).await?;
    Ok(())
}

async fn rederive_releases(
    tx: &mut PgConnection,
    release_ids: &BTreeSet<&str>,
) -> Result<(), sqlx::Error> {
    let ids: Vec<&str> = release_ids.iter().copied().collect();
    lock_sorted(tx, ids.iter().map(|id| lock_id(&["release", id])).collect()).await?;
    let events = fetch_events(tx, &ids).await?;
    let releases: Vec<Release> = events
        .iter()
        .filter_map(|(id, events)| release::derive(id, events))
        .collect();
    count_releases(tx, &ids, -1).await?;
    sqlx::query("DELETE FROM release_packages WHERE release_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM releases WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    insert_releases(tx, &releases).await?;
    count_releases(tx, &ids, 1).await
}

/// Adds `sign` × the stored releases `ids` to `release_counts` (migration
/// 0013): −1 before they are re-derived, +1 after, so the running totals
/// always equal counting the table. The groups are upserted in key order, the
/// one order every writer takes their row locks in.
async fn count_releases(tx: &mut PgConnection, ids: &[&str], sign: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO release_counts AS c
         SELECT g.kind, g.key, $2 * count(*),
                $2 * count(*) FILTER (WHERE r.status = 'SUCCESSFUL' AND NOT r.rollback),
                $2 * count(*) FILTER (WHERE r.status = 'FAILED' AND NOT r.rollback),
                $2 * count(*) FILTER (WHERE r.status = 'SUCCESSFUL' AND r.rollback),
                $2 * count(*) FILTER (WHERE r.status = 'FAILED' AND r.rollback)
         FROM releases r CROSS JOIN LATERAL (
                  SELECT 'global', 'global'
                  UNION ALL SELECT 'user', r.\"user\" WHERE r.\"user\" IS NOT NULL
                  UNION ALL SELECT 'team', r.team WHERE r.team IS NOT NULL
                  UNION ALL SELECT 'platform', jsonb_array_elements_text(r.platforms)
                  UNION ALL SELECT DISTINCT 'package', p.name FROM release_packages p
                            WHERE p.release_id = r.id AND p.name IS NOT NULL
              ) AS g (kind, key)
         WHERE r.id = ANY($1) AND g.key IS NOT NULL
         GROUP BY g.kind, g.key
         ORDER BY g.kind, g.key
         ON CONFLICT (kind, key) DO UPDATE SET
             releases = c.releases + EXCLUDED.releases,
             normal_successful = c.normal_successful + EXCLUDED.normal_successful,
             normal_failed = c.normal_failed + EXCLUDED.normal_failed,
             rollback_successful = c.rollback_successful + EXCLUDED.rollback_successful,
             rollback_failed = c.rollback_failed + EXCLUDED.rollback_failed",
    )
    .bind(ids)
    .bind(sign)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Keeps the new release events in `release_events` (migration 0012 says why).
async fn record(tx: &mut PgConnection, events: &[(i64, &Event, &str)]) -> Result<(), sqlx::Error> {
    let event_ids: Vec<i64> = events.iter().map(|(id, _, _)| *id).collect();
    let release_ids: Vec<&str> = events.iter().map(|(_, _, release)| *release).collect();
    let message_ids: Vec<&str> = events
        .iter()
        .map(|(_, e, _)| e.message_id.as_str())
        .collect();
    let event_types: Vec<&str> = events
        .iter()
        .map(|(_, e, _)| e.event_type.as_str())
        .collect();
    let whens: Vec<DateTime<Utc>> = events.iter().map(|(_, e, _)| e.when).collect();
    let payloads: Vec<String> = events
        .iter()
        .map(|(_, e, _)| e.payload().unwrap_or(&Value::Null).to_string())
        .collect();
    sqlx::query(
        "INSERT INTO release_events (event_id, release_id, message_id, event, \"when\", payload)
         SELECT event_id, release_id, message_id, event, \"when\", payload::json
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
              AS batch (event_id, release_id, message_id, event, \"when\", payload)",
    )
    .bind(&event_ids)
    .bind(&release_ids)
    .bind(&message_ids)
    .bind(&event_types)
    .bind(&whens)
    .bind(&payloads)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Every stored event of the releases, by release id.
async fn fetch_events(
    tx: &mut PgConnection,
    ids: &[&str],
) -> Result<BTreeMap<String, Vec<ReleaseEvent>>, sqlx::Error> {
    let rows = sqlx::query(
        // A message stored under two deployments (a mirrored stream) is one
        // event of its release.
        "SELECT DISTINCT ON (release_id, message_id)
                release_id AS instance, event, \"when\", message_id, payload
         FROM release_events
         WHERE release_id = ANY($1)
         ORDER BY release_id, message_id, event_id",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut events: BTreeMap<String, Vec<ReleaseEvent>> = BTreeMap::new();
    for row in rows {
        let payload: Option<sqlx::types::Json<Value>> = row.try_get("payload")?;
        let payload = match payload.map(|json| json.0) {
            Some(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        events
            .entry(row.try_get("instance")?)
            .or_default()
            .push(ReleaseEvent {
                event_type: row.try_get("event")?,
                when: row.try_get("when")?,
                message_id: row.try_get("message_id")?,
                payload,
            });
    }
    Ok(events)
}

/// Inserts releases and their packages, one statement each: the rows travel
/// as one bound JSON array that PostgreSQL expands into the table's columns.
async fn insert_releases(tx: &mut PgConnection, releases: &[Release]) -> Result<(), sqlx::Error> {
    if releases.is_empty() {
        return Ok(());
    }
    let release_rows: Vec<Value> = releases.iter().map(release_row).collect();
    sqlx::query("INSERT INTO releases SELECT * FROM jsonb_populate_recordset(NULL::releases, $1)")
        .bind(sqlx::types::Json(text::jsonb_rows(release_rows)))
        .execute(&mut *tx)
        .await?;
    let package_rows: Vec<Value> = releases.iter().flat_map(package_rows).collect();
    if package_rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO release_packages
         SELECT * FROM jsonb_populate_recordset(NULL::release_packages, $1)",
    )
    .bind(sqlx::types::Json(text::jsonb_rows(package_rows)))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn release_row(release: &Release) -> Value {
    json!({
        "id": release.id,
        "tag": release.tag(),
        "tag_fields": release.tag_fields,
        "user": release.user,
        "team": release.team,
        "platforms": release.platforms,
        "references": release.references,
        "notes": release.notes,
        "metadata": release.metadata,
        "stime": release.stime,
        "ftime": release.ftime,
        "duration": release.duration,
        "status": release.status.as_str(),
        "rollback": release.rollback,
        "first_seen": release.first_seen,
    })
}

fn package_rows(release: &Release) -> impl Iterator<Item = Value> + '_ {
    release
        .packages
        .iter()
        .enumerate()
        .map(move |(position, package)| {
            json!({
                "release_id": release.id,
                "id": package.id,
                "position": position,
                "name": package.name,
                "version": package.version,
                "rollback": package.rollback,
                "diff_url": package.diff_url,
                "status": package.status.as_str(),
                "stime": package.stime,
                "ftime": package.ftime,
                "duration": package.duration,
                "results": package.results,
            })
        })
}

/// One row per `environment.deploy`; duplicates never reach here.
async fn insert_deploys(tx: &mut PgConnection, deploy: &[&Event]) -> Result<(), sqlx::Error> {
    let rows: Vec<Value> = deploy
        .iter()
        .filter(|event| event.event_type == "environment.deploy")
        .filter_map(|event| {
            let payload = event.payload()?.as_object()?;
            let environment = payload.get("environment")?.as_str()?;
            Some(json!({
                "environment": environment,
                "deployed_at": event.when,
                "message_id": event.message_id,
                "revisions": payload.get("revisions").cloned().unwrap_or_else(|| json!({})),
            }))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO environment_deploys (environment, deployed_at, deployment_id, message_id, revisions)
         SELECT r.environment, r.deployed_at, 0, r.message_id, r.revisions
         FROM jsonb_to_recordset($1) AS r (environment text, deployed_at timestamptz, message_id text, revisions jsonb)
         ON CONFLICT DO NOTHING",
    )
    .bind(sqlx::types::Json(text::jsonb_rows(rows)))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One row per sample id; a re-sent sample wins only when it is newer (by
/// event time, then message id), so arrival order does not matter.
async fn upsert_status_samples(
    tx: &mut PgConnection,
    deploy: &[&Event],
) -> Result<(), sqlx::Error> {
    let rows = newest_samples(deploy);
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO environment_status AS s (environment, sample_key, date_created, \"when\", message_id, sample)
         SELECT * FROM jsonb_to_recordset($1)
              AS r (environment text, sample_key text, date_created timestamptz, \"when\" timestamptz, message_id text, sample jsonb)
         ON CONFLICT (environment, sample_key) DO UPDATE
         SET date_created = EXCLUDED.date_created, \"when\" = EXCLUDED.\"when\",
             message_id = EXCLUDED.message_id, sample = EXCLUDED.sample
         WHERE (EXCLUDED.\"when\", EXCLUDED.message_id) > (s.\"when\", s.message_id)",
    )
    .bind(sqlx::types::Json(text::jsonb_rows(rows)))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The batch's status rows, the newest of each (environment, sample id),
/// sorted by that key so concurrent writers lock rows in one order.
fn newest_samples(deploy: &[&Event]) -> Vec<Value> {
    let mut rows: BTreeMap<(String, String), Value> = BTreeMap::new();
    let samples = deploy
        .iter()
        .filter(|event| event.event_type == "environment.status");
    for row in samples.filter_map(|event| status_row(event)) {
        let key = (
            row["environment"].as_str().unwrap_or_default().to_owned(),
            row["sample_key"].as_str().unwrap_or_default().to_owned(),
        );
        let newer = rows
            .get(&key)
            .is_none_or(|kept| order_key(&row) > order_key(kept));
        if newer {
            rows.insert(key, row);
        }
    }
    rows.into_values().collect()
}

fn order_key(row: &Value) -> (Option<DateTime<Utc>>, String) {
    (
        timestamp::parse_value(&row["when"]),
        row["message_id"].as_str().unwrap_or_default().to_owned(),
    )
}

fn status_row(event: &Event) -> Option<Value> {
    let payload = event.payload()?.as_object()?;
    let environment = payload.get("environment")?.as_str()?;
    let sample_key = match payload.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => event.message_id.clone(),
    };
    let date_created = payload
        .get("date_created")
        .and_then(timestamp::parse_value)
        .unwrap_or(event.when);
    Some(json!({
        "environment": environment,
        "sample_key": sample_key,
        "date_created": date_created,
        "when": event.when,
        "message_id": event.message_id,
        "sample": payload,
    }))
}
