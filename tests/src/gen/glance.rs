//! Glance image lifecycles as glance 33 publishes them (samples/glance):
//! create, prepare, upload, activate, update, sometimes a download
//! (`image.send`) or a delete; some uploads fail with the real error form (a
//! string payload on `notifications.error`); and a daily `image.exists` per
//! owner listing its images. Glance passes an empty request context, so its
//! messages carry no `_context_*` keys.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, TimeDelta, Utc};
use serde_json::{json, Map, Value};

use super::envelope::{
    day_start, iso_seconds, nova_time, oslo_message, Driver, Notification, Priority,
};
use super::payload::Payload;
use super::rng::Rng;
use super::{Scenario, Timed};

/// glance's default `publisher_id`.
const PUBLISHER: &str = "image.localhost";

/// Projects owning the images, so `image.exists` batches hold several.
const OWNERS: usize = 6;

/// A new image about every this many seconds.
const STAGGER_SECONDS: i64 = 45;

/// Image names and the `os_distro` property they carry.
const NAMES: [(&str, &str); 6] = [
    ("cirros-0.6.2", "cirros"),
    ("ubuntu-24.04-server-cloudimg", "ubuntu"),
    ("debian-12-genericcloud", "debian"),
    ("centos-stream-9", "centos"),
    ("rhel-9.4", "rhel"),
    ("windows-server-2022", "windows"),
];

/// What a failed upload says (glance sends the message as the payload).
const UPLOAD_ERRORS: [&str; 3] = [
    "Image storage media is full: disk full",
    "Failed to upload image data due to HTTP error",
    "Image exceeds the storage quota: 10737418240 bytes",
];

/// Every image's lifecycle, then the owners' daily `image.exists`.
pub(super) fn images(scenario: &Scenario, out: &mut Vec<Timed>) {
    let mut part = Rng::for_part(scenario.seed, "glance");
    let owners: Vec<String> = (0..OWNERS).map(|_| part.hex(32)).collect();
    let mut audit = Audit::default();
    for index in 0..scenario.images {
        let mut rng = part.fork();
        let start = scenario.start + stagger(&mut rng, index);
        let owner = rng.pick(&owners).clone();
        let mut image = Image::new(&mut rng, owner, start);
        image.live(&mut rng, index, out);
        audit.record(&image);
    }
    audit.publish(&mut part.fork(), out);
}

/// When image `index` is created; the first at the scenario's start.
fn stagger(rng: &mut Rng, index: usize) -> TimeDelta {
    if index == 0 {
        return TimeDelta::zero();
    }
    TimeDelta::seconds(index as i64 * STAGGER_SECONDS) + rng.seconds(0.0, 30.0)
}

/// One image: its payload as glance 33 serializes it, and the clock.
struct Image {
    payload: Map<String, Value>,
    when: DateTime<Utc>,
    created_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    /// True once it became active (only those are audited).
    active: bool,
}

impl Image {
    fn new(rng: &mut Rng, owner: String, created_at: DateTime<Utc>) -> Image {
        let (name, os_distro) = *rng.pick(&NAMES);
        let snapshot = rng.chance(25);
        let mut properties = json!({"os_distro": os_distro, "image_type": "base"});
        if snapshot {
            properties["image_type"] = json!("snapshot");
            properties["instance_uuid"] = json!(rng.uuid().to_string());
        }
        let created = iso_seconds(created_at);
        let payload = json!({
            "id": rng.uuid().to_string(),
            "name": if snapshot { format!("snapshot-of-{name}") } else { name.to_owned() },
            "status": "queued",
            "created_at": created,
            "updated_at": created,
            "min_disk": 0,
            "min_ram": 0,
            "protected": false,
            "checksum": null,
            "owner": owner,
            "disk_format": "qcow2",
            "container_format": "bare",
            "size": null,
            "virtual_size": null,
            "is_public": false,
            "visibility": if rng.chance(30) { "public" } else { "private" },
            "properties": properties,
            "tags": [],
            "deleted": false,
            "deleted_at": null,
        });
        Image {
            payload: match payload {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            when: created_at,
            created_at,
            deleted_at: None,
            active: false,
        }
    }

    /// Create → prepare → upload → activate → update, with the failures and
    /// deletes that every fifth image (and some others) has.
    fn live(&mut self, rng: &mut Rng, index: usize, out: &mut Vec<Timed>) {
        self.emit(rng, out, "image.create", self.payload.clone());
        self.wait(rng, 0.01, 2.0);
        self.emit(rng, out, "image.prepare", self.importing());
        self.wait(rng, 2.0, 300.0);
        if index % 5 == 2 || rng.chance(5) {
            self.fail_upload(rng, out);
        } else {
            self.upload(rng, out);
        }
        if index % 5 == 4 || rng.chance(20) {
            self.wait(rng, 600.0, 10_800.0);
            self.delete(rng, out);
        }
    }

    /// The error form: priority ERROR and the message as a string payload.
    fn fail_upload(&mut self, rng: &mut Rng, out: &mut Vec<Timed>) {
        let message = json!(*rng.pick(&UPLOAD_ERRORS));
        self.emit_as(rng, out, "image.upload", Priority::Error, message);
    }

    fn upload(&mut self, rng: &mut Rng, out: &mut Vec<Timed>) {
        let size = rng.between(12_000_000, 4_000_000_000);
        self.payload.insert("status".into(), json!("active"));
        self.payload.insert("checksum".into(), json!(rng.hex(32)));
        self.payload.insert("size".into(), json!(size));
        self.payload
            .insert("virtual_size".into(), json!(size * rng.between(2, 8)));
        self.emit(rng, out, "image.upload", self.importing());
        self.wait(rng, 0.005, 0.05);
        self.emit(rng, out, "image.activate", self.payload.clone());
        self.active = true;
        self.wait(rng, 1.0, 120.0);
        self.payload.insert("tags".into(), json!(["cloud-init"]));
        self.emit(rng, out, "image.update", self.payload.clone());
        if rng.chance(40) {
            self.wait(rng, 30.0, 1800.0);
            self.send(rng, out, size);
        }
    }

    /// A download: `image.send` with the bytes sent and who received them.
    fn send(&mut self, rng: &mut Rng, out: &mut Vec<Timed>, size: u64) {
        let payload = json!({
            "bytes_sent": size,
            "image_id": self.payload["id"],
            "owner_id": self.payload["owner"],
            "receiver_tenant_id": rng.hex(32),
            "receiver_user_id": rng.hex(32),
        });
        self.emit_as(rng, out, "image.send", Priority::Info, payload);
    }

    fn delete(&mut self, rng: &mut Rng, out: &mut Vec<Timed>) {
        self.deleted_at = Some(self.when);
        self.payload.insert("status".into(), json!("deleted"));
        self.payload.insert("deleted".into(), json!(true));
        self.payload
            .insert("deleted_at".into(), json!(iso_seconds(self.when)));
        self.emit(rng, out, "image.delete", self.payload.clone());
    }

    /// The payload with the import fields `image.prepare` and `image.upload` add.
    fn importing(&self) -> Map<String, Value> {
        let mut payload = self.payload.clone();
        payload.insert("os_glance_importing_to_stores".into(), json!([]));
        payload.insert("os_glance_failed_import".into(), json!([]));
        payload
    }

    fn emit(
        &mut self,
        rng: &mut Rng,
        out: &mut Vec<Timed>,
        event_type: &str,
        payload: Map<String, Value>,
    ) {
        self.emit_as(rng, out, event_type, Priority::Info, Value::Object(payload));
    }

    fn emit_as(
        &mut self,
        rng: &mut Rng,
        out: &mut Vec<Timed>,
        event_type: &str,
        priority: Priority,
        payload: Value,
    ) {
        let notification = Notification {
            event_type,
            publisher_id: PUBLISHER,
            priority,
            when: self.when,
            payload: Payload::Whole(payload),
        };
        out.push(oslo_message(rng, "glance", Driver::V2, notification, None));
    }

    /// Advances the clock; glance stamps `updated_at` on every change.
    fn wait(&mut self, rng: &mut Rng, low_seconds: f64, high_seconds: f64) {
        self.when += rng.seconds(low_seconds, high_seconds);
        let updated_at = iso_seconds(self.when);
        self.payload
            .insert("updated_at".into(), Value::String(updated_at));
    }

    /// The image as `image.exists` lists it.
    fn summary(&self) -> Value {
        json!({
            "created_at": nova_time(self.created_at),
            "deleted_at": self.deleted_at.map(nova_time),
            "id": self.payload["id"],
            "name": self.payload["name"],
            "properties": self.payload["properties"],
            "size": self.payload["size"],
            "status": if self.deleted_at.is_some() { "deleted" } else { "active" },
        })
    }
}

/// The images each owner had on each day, for the daily `image.exists`.
#[derive(Default)]
struct Audit {
    /// (day, owner) → image summaries; ordered, so the output is stable.
    days: BTreeMap<(DateTime<Utc>, String), Vec<Value>>,
}

impl Audit {
    fn record(&mut self, image: &Image) {
        if !image.active {
            return;
        }
        let owner = image.payload["owner"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let day = day_start(image.created_at);
        self.days
            .entry((day, owner))
            .or_default()
            .push(image.summary());
    }

    /// One `image.exists` per owner and day, sent some minutes after the day ends.
    fn publish(&self, rng: &mut Rng, out: &mut Vec<Timed>) {
        for ((day, owner), images) in &self.days {
            let ending = day.checked_add_days(Days::new(1)).unwrap_or(*day);
            let payload = json!({
                "audit_period_beginning": nova_time(*day),
                "audit_period_ending": nova_time(ending),
                "images": images,
                "owner": owner,
            });
            let notification = Notification {
                event_type: "image.exists",
                publisher_id: PUBLISHER,
                priority: Priority::Info,
                when: ending + rng.seconds(60.0, 1800.0),
                payload: Payload::Whole(payload),
            };
            out.push(oslo_message(rng, "glance", Driver::V2, notification, None));
        }
    }
}
