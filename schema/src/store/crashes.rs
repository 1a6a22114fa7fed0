//! Crash reports, product versions and builds (API.md §2), kept from the
//! batch's new `crash.*` and `product.*` events inside the batch's
//! transaction.
//!
//! Each row is the newest message of its key ([`crate::crash`]): the key is
//! locked, the stored winner is replaced only by a newer message, and the
//! signature aggregates get the replaced report's contribution subtracted and
//! the new one's added, so they stay the sum over the stored reports
//! whatever the arrival order, batching or number of writers.

use serde_json::{json, Value};
use sqlx::{PgConnection, Row};

use crate::crash::{
    newest_per_key, CrashReport, Process, ProductBuild, ProductVersion, SignatureDeltas,
    SignatureFacts, Source,
};
use crate::event::{Event, Family};
use crate::text;

use super::locks::{lock_id, lock_sorted};

/// Re-derives the crash and product rows the new events (with their raw
/// event ids) touch.
pub async fn rederive(
    tx: &mut PgConnection,
    new_events: &[(i64, &Event)],
) -> Result<(), sqlx::Error> {
    let reports = newest_per_key(
        new_events
            .iter()
            .filter(|(_, event)| event.family == Family::Crash)
            .filter_map(|&(event_id, event)| {
                let report = CrashReport::from_event(event)?;
                Some((report.uuid.clone(), Source::of(event), (event_id, report)))
            }),
    );
    let new_events: Vec<&Event> = new_events.iter().map(|(_, event)| *event).collect();
    let new_events = new_events.as_slice();
    let deltas = replace_reports(tx, reports).await?;
    upsert_versions(tx, new_events).await?;
    upsert_builds(tx, new_events).await?;
    apply_signature_deltas(tx, &deltas).await
}

/// Locks the crash uuids, in sorted order so that workers never deadlock.
async fn lock_uuids(tx: &mut PgConnection, uuids: &[&str]) -> Result<(), sqlx::Error> {
    let ids = uuids.iter().map(|uuid| lock_id(&["crash", uuid])).collect();
    lock_sorted(tx, ids).await
}

/// A stored report's winning message and aggregate contribution.
struct StoredReport {
    source: Source,
    facts: SignatureFacts,
}

async fn stored_reports(
    tx: &mut PgConnection,
    uuids: &[&str],
) -> Result<std::collections::HashMap<String, StoredReport>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT uuid, source_when, source_message_id, product, version, signature,
                date_processed, os_name, hangid IS NOT NULL AS hang, process
         FROM crash_reports WHERE uuid = ANY($1)",
    )
    .bind(uuids)
    .fetch_all(&mut *tx)
    .await?;
    let mut stored = std::collections::HashMap::new();
    for row in rows {
        let process: String = row.try_get("process")?;
        let report = StoredReport {
            source: Source {
                when: row.try_get("source_when")?,
                message_id: row.try_get("source_message_id")?,
            },
            facts: SignatureFacts {
                product: row.try_get("product")?,
                version: row.try_get("version")?,
                signature: row.try_get("signature")?,
                date_processed: row.try_get("date_processed")?,
                os_name: row.try_get("os_name")?,
                hang: row.try_get("hang")?,
                process: Process::parse(&process),
            },
        };
        stored.insert(row.try_get("uuid")?, report);
    }
    Ok(stored)
}

/// Stores the candidates newer than what is stored; returns the aggregate changes.
async fn replace_reports(
    tx: &mut PgConnection,
    candidates: std::collections::BTreeMap<String, (Source, (i64, CrashReport))>,
) -> Result<SignatureDeltas, sqlx::Error> {
    let mut deltas = SignatureDeltas::default();
    if candidates.is_empty() {
        return Ok(deltas);
    }
    let uuids: Vec<&str> = candidates.keys().map(String::as_str).collect();
    lock_uuids(tx, &uuids).await?;
    let stored = stored_reports(tx, &uuids).await?;
    let mut replaced: Vec<&str> = Vec::new();
    let mut winners: Vec<(&Source, i64, &CrashReport)> = Vec::new();
    for (uuid, (source, (event_id, report))) in &candidates {
        match stored.get(uuid) {
            Some(old) if old.source >= *source => continue,
            Some(old) => {
                deltas.add(&old.facts, -1);
                replaced.push(uuid);
            }
            None => {}
        }
        deltas.add(&report.facts(), 1);
        winners.push((source, *event_id, report));
    }
    if !replaced.is_empty() {
        // Extensions go with their report (ON DELETE CASCADE).
        sqlx::query("DELETE FROM crash_reports WHERE uuid = ANY($1)")
            .bind(&replaced)
            .execute(&mut *tx)
            .await?;
    }
    insert_reports(tx, &winners).await?;
    Ok(deltas)
}

fn report_row(source: &Source, report: &CrashReport, event_id: i64) -> Value {
    json!({
        "uuid": report.uuid, "event_id": event_id,
        "source_when": source.when, "source_message_id": source.message_id,
        "date_processed": report.date_processed, "client_crash_date": report.client_crash_date,
        "product": report.product, "version": report.version, "build": report.build,
        "build_id": report.build_id, "release_channel": report.release_channel,
        "os_name": report.os_name, "os_version": report.os_version, "cpu_name": report.cpu_name,
        "signature": report.signature, "reason": report.reason, "address": report.address,
        "hangid": report.hangid, "process_type": report.process_type,
        "process": Process::of(report.process_type.as_deref()).as_str(),
        "user_comments": report.user_comments, "email": report.email, "url": report.url,
        "plugin_name": report.plugin_name, "plugin_version": report.plugin_version,
        "plugin_filename": report.plugin_filename, "uptime": report.uptime,
        "install_age": report.install_age,
    })
}

/// Inserts the winning reports. A winner is always a message of this batch
/// (a stored message never beats itself), so its raw event id — the
/// `report_id` of `/extensions` — is the one the batch just claimed.
async fn insert_reports(
    tx: &mut PgConnection,
    winners: &[(&Source, i64, &CrashReport)],
) -> Result<(), sqlx::Error> {
    if winners.is_empty() {
        return Ok(());
    }
    let rows: Vec<Value> = winners
        .iter()
        .map(|(source, event_id, report)| report_row(source, report, *event_id))
        .collect();
    let extensions: Vec<Value> = winners
        .iter()
        .flat_map(|(_, _, report)| {
            report.addons.iter().map(|addon| {
                json!({"uuid": report.uuid, "extension_key": addon.position,
                       "extension_id": addon.id, "extension_version": addon.version})
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO crash_reports SELECT * FROM jsonb_populate_recordset(NULL::crash_reports, $1)",
    )
    .bind(text::jsonb_rows(rows))
    .execute(&mut *tx)
    .await?;
    if !extensions.is_empty() {
        sqlx::query("INSERT INTO crash_extensions SELECT * FROM jsonb_populate_recordset(NULL::crash_extensions, $1)")
            .bind(text::jsonb_rows(extensions))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Adds the changes to `crash_signature_hours` and its daily rollup
/// `crash_signature_days`, in key order, and removes
/// rows emptied by a replacement, so the stored state does not depend on
/// the arrival order. Runs last: the current hour's rows are hot.
async fn apply_signature_deltas(
    tx: &mut PgConnection,
    deltas: &SignatureDeltas,
) -> Result<(), sqlx::Error> {
    let changed = deltas.changed();
    if changed.is_empty() {
        return Ok(());
    }
    let rows: Vec<Value> = changed
        .iter()
        .map(|(key, counts)| {
            let [total, win, mac, linux, other, hang, plugin, content, browser] = counts.0;
            json!({
                "product": key.product, "version": key.version, "signature": key.signature,
                "hour": key.hour, "os_name": key.os_name, "process": key.process.as_str(),
                "total": total, "win_count": win, "mac_count": mac, "linux_count": linux,
                "other_count": other, "hang_count": hang, "plugin_count": plugin,
                "content_count": content, "browser_count": browser,
            })
        })
        .collect();
    // Only a subtraction can empty a row; a batch of new reports has none,
    // and skips the two deletes below.
    let subtracted: Vec<Value> = changed
        .iter()
        .zip(&rows)
        .filter(|((_, counts), _)| counts.0[0] < 0)
        .map(|(_, row)| row.clone())
        .collect();
    let rows = text::jsonb_rows(rows);
    sqlx::query(include_str!("crash_signature_upsert.sql"))
        .bind(&rows)
        .execute(&mut *tx)
        .await?;
    sqlx::query(include_str!("crash_signature_days_upsert.sql"))
        .bind(&rows)
        .execute(&mut *tx)
        .await?;
    if subtracted.is_empty() {
        return Ok(());
    }
    let subtracted = text::jsonb_rows(subtracted);
    // A row emptied by a replacement leaves nothing behind, so the stored
    // state is the same whatever the arrival order.
    sqlx::query(
        "DELETE FROM crash_signature_hours AS t
         USING jsonb_populate_recordset(NULL::crash_signature_hours, $1) AS c
         WHERE t.total = 0
           AND (t.product, t.version, t.hour, t.signature, t.os_name, t.process)
             = (c.product, c.version, c.hour, c.signature, c.os_name, c.process)",
    )
    .bind(&subtracted)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM crash_signature_days AS t
         USING jsonb_populate_recordset(NULL::crash_signature_hours, $1) AS c
         WHERE t.total = 0
           AND (t.product, t.version, t.day, t.signature, t.os_name, t.process)
             = (c.product, c.version, date_trunc('day', c.hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                c.signature, c.os_name, c.process)",
    )
    .bind(&subtracted)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Keeps the newest `product.version` message of each (product, version).
async fn upsert_versions(tx: &mut PgConnection, new_events: &[&Event]) -> Result<(), sqlx::Error> {
    let newest = newest_per_key(product_events(new_events).filter_map(|event| {
        let row = ProductVersion::from_event(event)?;
        Some((
            (row.product.clone(), row.version.clone()),
            Source::of(event),
            row,
        ))
    }));
    if newest.is_empty() {
        return Ok(());
    }
    let rows: Vec<Value> = newest
        .values()
        .map(|(source, row)| {
            json!({
                "product": row.product, "version": row.version,
                "source_when": source.when, "source_message_id": source.message_id,
                "build_type": row.build_type, "release_channel": row.release_channel,
                "major_version": row.major_version, "start_date": row.start_date,
                "end_date": row.end_date, "throttle": row.throttle, "is_featured": row.is_featured,
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO product_versions AS t
         SELECT * FROM jsonb_populate_recordset(NULL::product_versions, $1)
         ON CONFLICT (product, version) DO UPDATE SET
             source_when = EXCLUDED.source_when, source_message_id = EXCLUDED.source_message_id,
             build_type = EXCLUDED.build_type, release_channel = EXCLUDED.release_channel,
             major_version = EXCLUDED.major_version, start_date = EXCLUDED.start_date,
             end_date = EXCLUDED.end_date, throttle = EXCLUDED.throttle,
             is_featured = EXCLUDED.is_featured
         WHERE (EXCLUDED.source_when, EXCLUDED.source_message_id) > (t.source_when, t.source_message_id)",
    )
    .bind(text::jsonb_rows(rows))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Keeps the newest `product.build` message of each build.
async fn upsert_builds(tx: &mut PgConnection, new_events: &[&Event]) -> Result<(), sqlx::Error> {
    let newest = newest_per_key(product_events(new_events).filter_map(|event| {
        let row = ProductBuild::from_event(event)?;
        let key = (
            row.product.clone(),
            row.version.clone(),
            row.platform.clone(),
            row.buildid,
        );
        Some((key, Source::of(event), row))
    }));
    if newest.is_empty() {
        return Ok(());
    }
    let rows: Vec<Value> = newest
        .values()
        .map(|(source, row)| {
            json!({
                "product": row.product, "version": row.version, "platform": row.platform,
                "buildid": row.buildid, "source_when": source.when,
                "source_message_id": source.message_id, "build_type": row.build_type,
                "beta_number": row.beta_number, "repository": row.repository, "date": row.date,
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO product_builds AS t
         SELECT * FROM jsonb_populate_recordset(NULL::product_builds, $1)
         ON CONFLICT (product, version, platform, buildid) DO UPDATE SET
             source_when = EXCLUDED.source_when, source_message_id = EXCLUDED.source_message_id,
             build_type = EXCLUDED.build_type, beta_number = EXCLUDED.beta_number,
             repository = EXCLUDED.repository, date = EXCLUDED.date
         WHERE (EXCLUDED.source_when, EXCLUDED.source_message_id) > (t.source_when, t.source_message_id)",
    )
    .bind(text::jsonb_rows(rows))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn product_events<'a>(new_events: &'a [&'a Event]) -> impl Iterator<Item = &'a Event> + 'a {
    new_events
        .iter()
        .copied()
        .filter(|event| event.family == Family::Product)
}
