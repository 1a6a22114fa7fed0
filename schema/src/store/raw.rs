//! The set-based insert of new raw events: one `INSERT … SELECT FROM unnest`
//! per batch, whatever its size (SPEC §7: a statement per row caps ingest at
//! a few thousand events per second).

use sqlx::PgConnection;

use crate::event::Event;

/// Column-wise copy of a batch, the shape `unnest` takes.
#[derive(Default)]
struct Columns<'a> {
    id: Vec<i64>,
    message_id: Vec<&'a str>,
    family: Vec<&'static str>,
    exchange: Vec<&'a str>,
    routing_key: Vec<&'a str>,
    is_error: Vec<bool>,
    event: Vec<&'a str>,
    when: Vec<chrono::DateTime<chrono::Utc>>,
    publisher: Vec<Option<&'a str>>,
    service: Vec<Option<&'a str>>,
    host: Vec<Option<&'a str>>,
    instance: Vec<Option<&'a str>>,
    request_id: Vec<Option<&'a str>>,
    tenant: Vec<Option<&'a str>>,
    state: Vec<Option<&'a str>>,
    old_state: Vec<Option<&'a str>>,
    old_task: Vec<Option<&'a str>>,
    task: Vec<Option<&'a str>>,
    image_type: Vec<Option<i32>>,
    image_uuid: Vec<Option<&'a str>>,
    image_status: Vec<Option<&'a str>>,
    image_owner: Vec<Option<&'a str>>,
    image_size: Vec<Option<i64>>,
    body: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, id: i64, event: &'a Event) {
        self.id.push(id);
        self.message_id.push(&event.message_id);
        self.family.push(event.family.as_str());
        self.exchange.push(&event.exchange);
        self.routing_key.push(&event.routing_key);
        self.is_error.push(event.is_error);
        self.event.push(&event.event_type);
        self.when.push(event.when);
        self.publisher.push(event.publisher.as_deref());
        self.service.push(event.service.as_deref());
        self.host.push(event.host.as_deref());
        self.instance.push(event.instance.as_deref());
        self.request_id.push(event.request_id.as_deref());
        self.tenant.push(event.tenant.as_deref());
        self.state.push(event.state.as_deref());
        self.old_state.push(event.old_state.as_deref());
        self.old_task.push(event.old_task.as_deref());
        self.task.push(event.task.as_deref());
        self.image_type.push(event.image_type);
        self.image_uuid.push(event.image_uuid.as_deref());
        self.image_status.push(event.image_status.as_deref());
        self.image_owner.push(event.image_owner.as_deref());
        self.image_size.push(event.image_size);
        self.body.push(&event.body);
    }
}

/// Inserts the new events (with the ids their keys claimed).
pub async fn insert(
    tx: &mut PgConnection,
    deployment_id: i32,
    events: &[(i64, &Event)],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let mut columns = Columns::default();
    for (id, event) in events {
        columns.push(*id, event);
    }
    sqlx::query(include_str!("raw_insert.sql"))
        .bind(deployment_id)
        .bind(&columns.id)
        .bind(&columns.message_id)
        .bind(&columns.family)
        .bind(&columns.exchange)
        .bind(&columns.routing_key)
        .bind(&columns.is_error)
        .bind(&columns.event)
        .bind(&columns.when)
        .bind(&columns.publisher)
        .bind(&columns.service)
        .bind(&columns.host)
        .bind(&columns.instance)
        .bind(&columns.request_id)
        .bind(&columns.tenant)
        .bind(&columns.state)
        .bind(&columns.old_state)
        .bind(&columns.old_task)
        .bind(&columns.task)
        .bind(&columns.image_type)
        .bind(&columns.image_uuid)
        .bind(&columns.image_status)
        .bind(&columns.image_owner)
        .bind(&columns.image_size)
        .bind(&columns.body)
        .execute(tx)
        .await?;
    Ok(())
}
