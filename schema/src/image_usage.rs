//! Glance image usage as StackTach kept it (API.md §1 "Usage"): an
//! `image.activate` records the image's usage, an `image.delete` its
//! deletion, and an `image.exists` one audit row per listed image that has a
//! `created_at`.
//!
//! Unlike nova usage, every row is a function of one message alone (StackTach
//! wrote one row per such notification), so the rows of a batch's new events
//! are simply inserted: arrival order, batching and concurrent writers cannot
//! change them, and the key table already stores each message once.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::envelope::non_empty_text;
use crate::event::{Event, Family};
use crate::timestamp;

/// An image's usage, from its `image.activate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUsage {
    /// The image id.
    pub uuid: String,
    /// When the image was created.
    pub created_at: Option<DateTime<Utc>>,
    /// The project owning it.
    pub owner: Option<String>,
    /// Its size in bytes.
    pub size: Option<i64>,
}

/// An image's deletion, from its `image.delete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDelete {
    /// The image id.
    pub uuid: String,
    /// When it was deleted: the message's `deleted_at`, else the payload's.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// One image of an `image.exists` audit notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageExists {
    /// Position in `payload.images`; an image listed twice gives two rows,
    /// as it did in StackTach.
    pub position: i32,
    /// The image id.
    pub uuid: String,
    /// When the image was created (rows need one).
    pub created_at: DateTime<Utc>,
    /// When it was deleted, if it was.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Audit period start.
    pub audit_period_beginning: Option<DateTime<Utc>>,
    /// Audit period end.
    pub audit_period_ending: Option<DateTime<Utc>>,
    /// The project owning the images (`payload.owner`).
    pub owner: Option<String>,
    /// The image's size in bytes.
    pub size: Option<i64>,
}

/// The image rows one event gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRows {
    /// From an `image.activate`.
    pub usage: Option<ImageUsage>,
    /// From an `image.delete`.
    pub delete: Option<ImageDelete>,
    /// From an `image.exists`, in the order the payload lists them.
    pub exists: Vec<ImageExists>,
}

impl ImageRows {
    /// True when the event gives no row.
    pub fn is_empty(&self) -> bool {
        self.usage.is_none() && self.delete.is_none() && self.exists.is_empty()
    }
}

/// The image rows of `event`; none for events of other families or types,
/// or whose payload is not an object (glance's upload error sends a string).
pub fn rows_of(event: &Event) -> ImageRows {
    let mut rows = ImageRows::default();
    if event.family != Family::Glance {
        return rows;
    }
    let Some(payload) = event.payload().and_then(Value::as_object) else {
        return rows;
    };
    match event.event_type.as_str() {
        "image.activate" => {
            rows.usage = event.image_uuid.clone().map(|uuid| ImageUsage {
                uuid,
                created_at: time(payload, "created_at"),
                owner: event.image_owner.clone(),
                size: event.image_size,
            });
        }
        "image.delete" => {
            rows.delete = event.image_uuid.clone().map(|uuid| ImageDelete {
                uuid,
                deleted_at: time(&event.message, "deleted_at")
                    .or_else(|| time(payload, "deleted_at")),
            });
        }
        "image.exists" => rows.exists = exists_rows(payload),
        _ => {}
    }
    rows
}

fn exists_rows(payload: &Map<String, Value>) -> Vec<ImageExists> {
    let audit_period_beginning = time(payload, "audit_period_beginning");
    let audit_period_ending = time(payload, "audit_period_ending");
    let owner = text(payload, "owner");
    let images = payload.get("images").and_then(Value::as_array);
    images
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(position, image)| {
            let image = image.as_object()?;
            Some(ImageExists {
                position: i32::try_from(position).ok()?,
                uuid: text(image, "id")?,
                // StackTach skipped images without a creation time.
                created_at: time(image, "created_at")?,
                deleted_at: time(image, "deleted_at"),
                audit_period_beginning,
                audit_period_ending,
                owner: owner.clone(),
                size: image.get("size").and_then(Value::as_i64),
            })
        })
        .collect()
}

fn time(object: &Map<String, Value>, field: &str) -> Option<DateTime<Utc>> {
    object.get(field).and_then(timestamp::parse_value)
}

/// Text fit for a column (NUL removed, cut like the event's own columns).
fn text(object: &Map<String, Value>, field: &str) -> Option<String> {
    non_empty_text(object.get(field))
}

#[cfg(test)]
mod tests;
