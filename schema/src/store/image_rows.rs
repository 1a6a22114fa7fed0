//! Inserting the glance image rows ([`crate::image_usage`]) of a batch's new
//! events: one set-based insert per table. Each row belongs to one event
//! that this transaction stored for the first time, so nothing is locked,
//! re-read or updated.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::event::Event;
use crate::image_usage::{rows_of, ImageDelete, ImageExists, ImageUsage};

/// The rows of the batch's new events, column-wise for `unnest`.
#[derive(Default)]
struct Columns<'a> {
    usage: Vec<(i64, &'a str, ImageUsage)>,
    deletes: Vec<(i64, &'a str, ImageDelete)>,
    exists: Vec<(i64, &'a str, ImageExists)>,
}

/// Inserts the image usage, deletes and exists of `new_events`.
pub async fn insert(
    tx: &mut PgConnection,
    new_events: &[(i64, &Event)],
) -> Result<(), sqlx::Error> {
    let mut columns = Columns::default();
    for &(event_id, event) in new_events {
        let rows = rows_of(event);
        let message_id = event.message_id.as_str();
        if let Some(usage) = rows.usage {
            columns.usage.push((event_id, message_id, usage));
        }
        if let Some(delete) = rows.delete {
            columns.deletes.push((event_id, message_id, delete));
        }
        for exists in rows.exists {
            columns.exists.push((event_id, message_id, exists));
        }
    }
    insert_usage(tx, &columns.usage).await?;
    insert_deletes(tx, &columns.deletes).await?;
    insert_exists(tx, &columns.exists).await
}

async fn insert_usage(
    tx: &mut PgConnection,
    rows: &[(i64, &str, ImageUsage)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let event_ids: Vec<i64> = rows.iter().map(|row| row.0).collect();
    let message_ids: Vec<&str> = rows.iter().map(|row| row.1).collect();
    let uuids: Vec<&str> = rows.iter().map(|row| row.2.uuid.as_str()).collect();
    let created_at: Vec<Option<DateTime<Utc>>> = rows.iter().map(|row| row.2.created_at).collect();
    let owners: Vec<Option<&str>> = rows.iter().map(|row| row.2.owner.as_deref()).collect();
    let sizes: Vec<Option<i64>> = rows.iter().map(|row| row.2.size).collect();
    sqlx::query(
        "INSERT INTO image_usage (event_id, message_id, uuid, created_at, owner, size)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[],
                              $5::text[], $6::bigint[])",
    )
    .bind(&event_ids)
    .bind(&message_ids)
    .bind(&uuids)
    .bind(&created_at)
    .bind(&owners)
    .bind(&sizes)
    .execute(tx)
    .await?;
    Ok(())
}

async fn insert_deletes(
    tx: &mut PgConnection,
    rows: &[(i64, &str, ImageDelete)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let event_ids: Vec<i64> = rows.iter().map(|row| row.0).collect();
    let message_ids: Vec<&str> = rows.iter().map(|row| row.1).collect();
    let uuids: Vec<&str> = rows.iter().map(|row| row.2.uuid.as_str()).collect();
    let deleted_at: Vec<Option<DateTime<Utc>>> = rows.iter().map(|row| row.2.deleted_at).collect();
    sqlx::query(
        "INSERT INTO image_deletes (event_id, message_id, uuid, deleted_at)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[])",
    )
    .bind(&event_ids)
    .bind(&message_ids)
    .bind(&uuids)
    .bind(&deleted_at)
    .execute(tx)
    .await?;
    Ok(())
}

async fn insert_exists(
    tx: &mut PgConnection,
    rows: &[(i64, &str, ImageExists)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let event_ids: Vec<i64> = rows.iter().map(|row| row.0).collect();
    let positions: Vec<i32> = rows.iter().map(|row| row.2.position).collect();
    let message_ids: Vec<&str> = rows.iter().map(|row| row.1).collect();
    let uuids: Vec<&str> = rows.iter().map(|row| row.2.uuid.as_str()).collect();
    let created_at: Vec<DateTime<Utc>> = rows.iter().map(|row| row.2.created_at).collect();
    let deleted_at: Vec<Option<DateTime<Utc>>> = rows.iter().map(|row| row.2.deleted_at).collect();
    let beginnings: Vec<Option<DateTime<Utc>>> = rows
        .iter()
        .map(|row| row.2.audit_period_beginning)
        .collect();
    let endings: Vec<Option<DateTime<Utc>>> =
        rows.iter().map(|row| row.2.audit_period_ending).collect();
    let owners: Vec<Option<&str>> = rows.iter().map(|row| row.2.owner.as_deref()).collect();
    let sizes: Vec<Option<i64>> = rows.iter().map(|row| row.2.size).collect();
    sqlx::query(
        "INSERT INTO image_exists (event_id, position, message_id, uuid, created_at, deleted_at,
                                   audit_period_beginning, audit_period_ending, owner, size)
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[],
                              $5::timestamptz[], $6::timestamptz[], $7::timestamptz[],
                              $8::timestamptz[], $9::text[], $10::bigint[])",
    )
    .bind(&event_ids)
    .bind(&positions)
    .bind(&message_ids)
    .bind(&uuids)
    .bind(&created_at)
    .bind(&deleted_at)
    .bind(&beginnings)
    .bind(&endings)
    .bind(&owners)
    .bind(&sizes)
    .execute(tx)
    .await?;
    Ok(())
}
