//! Nova usage as StackTach kept it (API.md §1 "Usage"): launches per
//! (instance, request) and deletes — a pure function of an instance's
//! lifecycle events, applied in time order, so the result does not depend on
//! the order they arrived in — and exists records, each a function of its
//! own `compute.instance.exists` alone.
//!
//! The split keeps re-derivation bounded (DESIGN.md, "Bounded keys"): nova
//! audits every instance each period, so an instance's exists events grow
//! with its age, while its lifecycle events grow only with what is done to it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::timestamp;

/// The audit notification: one exists record each, written once.
pub const EXISTS_EVENT: &str = "compute.instance.exists";

/// Event types an instance's launches and deletes are derived from.
pub const LIFECYCLE_EVENTS: [&str; 12] = [
    "compute.instance.create.start",
    "compute.instance.create.end",
    "compute.instance.rebuild.start",
    "compute.instance.rebuild.end",
    "compute.instance.rescue.start",
    "compute.instance.rescue.end",
    "compute.instance.resize.prep.start",
    "compute.instance.resize.revert.start",
    "compute.instance.resize.revert.end",
    "compute.instance.finish_resize.start",
    "compute.instance.finish_resize.end",
    "compute.instance.delete.end",
];

/// True for an event whose arrival can change an instance's launches or deletes.
pub fn is_lifecycle(event_type: &str) -> bool {
    LIFECYCLE_EVENTS.contains(&event_type)
}

/// The payload fields usage reads; only these are kept for it.
pub const USAGE_PAYLOAD_FIELDS: [&str; 9] = [
    "instance_type_id",
    "instance_flavor_id",
    "launched_at",
    "terminated_at",
    "deleted_at",
    "message",
    "audit_period_beginning",
    "audit_period_ending",
    "bandwidth",
];

/// The fields of `payload` usage reads (none when it is not an object).
pub fn usage_payload(payload: Option<&Value>) -> Map<String, Value> {
    let Some(payload) = payload.and_then(Value::as_object) else {
        return Map::new();
    };
    USAGE_PAYLOAD_FIELDS
        .iter()
        .filter_map(|field| Some(((*field).to_owned(), payload.get(*field)?.clone())))
        .collect()
}

/// One lifecycle event of an instance, with the payload fields usage reads.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleEvent {
    /// Publisher message id (order-independent tie-break and exists' key).
    pub message_id: String,
    /// Event type.
    pub event_type: String,
    /// Event time.
    pub when: DateTime<Utc>,
    /// Request id, "" when none.
    pub request_id: String,
    /// Tenant.
    pub tenant: Option<String>,
    /// The payload object (empty when the payload was not an object).
    pub payload: Map<String, Value>,
}

impl LifecycleEvent {
    fn time(&self, field: &str) -> Option<DateTime<Utc>> {
        self.payload.get(field).and_then(timestamp::parse_value)
    }

    fn text(&self, field: &str) -> Option<String> {
        match self.payload.get(field)? {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

/// A launch: one per (instance, request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The request that launched it ("" when none).
    pub request_id: String,
    /// When it was launched, if known.
    pub launched_at: Option<DateTime<Utc>>,
    /// Instance type id.
    pub instance_type_id: Option<String>,
    /// Instance flavor id.
    pub instance_flavor_id: Option<String>,
    /// Tenant.
    pub tenant: Option<String>,
}

/// A delete of a launched instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// When it was launched.
    pub launched_at: DateTime<Utc>,
    /// When it was deleted (`terminated_at`, else `deleted_at`).
    pub deleted_at: Option<DateTime<Utc>>,
}

/// An exists record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exists {
    /// The exists notification's message id.
    pub message_id: String,
    /// When the instance was launched.
    pub launched_at: DateTime<Utc>,
    /// When it was deleted, if it was.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Instance type id.
    pub instance_type_id: Option<String>,
    /// Instance flavor id.
    pub instance_flavor_id: Option<String>,
    /// Audit period start.
    pub audit_period_beginning: Option<DateTime<Utc>>,
    /// Audit period end.
    pub audit_period_ending: Option<DateTime<Utc>>,
    /// Tenant.
    pub tenant: Option<String>,
    /// Public bandwidth out, bytes (0 when absent or null).
    pub bandwidth_public_out: i64,
}

/// An instance's launch and delete rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Launches, by request id.
    pub launches: Vec<Launch>,
    /// Deletes, by launched_at.
    pub deletes: Vec<Delete>,
}

/// Derives an instance's launches and deletes from its lifecycle events
/// (any order; other event types are ignored).
pub fn derive(events: &[LifecycleEvent]) -> Usage {
    let mut ordered: Vec<&LifecycleEvent> = events.iter().collect();
    ordered.sort_by(|a, b| (a.when, &a.message_id).cmp(&(b.when, &b.message_id)));
    let mut usage = Usage::default();
    for event in ordered {
        let short = event.event_type.trim_start_matches("compute.instance.");
        match short {
            "delete.end" => add_delete(&mut usage, event),
            _ => apply_launch_rule(&mut usage, short, event),
        }
    }
    usage
        .launches
        .sort_by(|a, b| a.request_id.cmp(&b.request_id));
    usage.deletes.sort_by_key(|delete| delete.launched_at);
    usage
}

fn launch_of<'a>(usage: &'a mut Usage, event: &LifecycleEvent) -> &'a mut Launch {
    let position = usage
        .launches
        .iter()
        .position(|launch| launch.request_id == event.request_id);
    let index = position.unwrap_or_else(|| {
        usage.launches.push(Launch {
            request_id: event.request_id.clone(),
            launched_at: None,
            instance_type_id: None,
            instance_flavor_id: None,
            tenant: event.tenant.clone(),
        });
        usage.launches.len() - 1
    });
    &mut usage.launches[index]
}

fn apply_launch_rule(usage: &mut Usage, short: &str, event: &LifecycleEvent) {
    let sets_flavor = matches!(short, "create.start" | "rebuild.start" | "rescue.start");
    let sets_launched_if_unset = matches!(
        short,
        "rebuild.start" | "resize.prep.start" | "resize.revert.start" | "rescue.start"
    );
    let ends_launch = matches!(
        short,
        "create.end" | "rebuild.end" | "finish_resize.end" | "resize.revert.end" | "rescue.end"
    );
    let overwrites_flavor = matches!(
        short,
        "finish_resize.start" | "finish_resize.end" | "resize.revert.end"
    );
    if !(sets_flavor || sets_launched_if_unset || ends_launch || overwrites_flavor) {
        return;
    }
    // A create.end reporting a failure changes nothing.
    if short == "create.end"
        && event
            .text("message")
            .is_some_and(|message| message != "Success")
    {
        return;
    }
    let (type_id, flavor_id, launched_at) = (
        event.text("instance_type_id"),
        event.text("instance_flavor_id"),
        event.time("launched_at"),
    );
    let launch = launch_of(usage, event);
    if sets_flavor || overwrites_flavor {
        launch.instance_type_id = type_id.clone().or(launch.instance_type_id.take());
        launch.instance_flavor_id = flavor_id.clone().or(launch.instance_flavor_id.take());
    }
    if sets_launched_if_unset && launch.launched_at.is_none() {
        launch.launched_at = launched_at;
    }
    if ends_launch {
        launch.launched_at = launch.launched_at.max(launched_at);
        launch.instance_type_id = launch.instance_type_id.take().or(type_id);
        launch.instance_flavor_id = launch.instance_flavor_id.take().or(flavor_id);
    }
    if launch.tenant.is_none() {
        launch.tenant = event.tenant.clone();
    }
}

fn add_delete(usage: &mut Usage, event: &LifecycleEvent) {
    let Some(launched_at) = event.time("launched_at") else {
        return;
    };
    let deleted_at = event
        .time("terminated_at")
        .or_else(|| event.time("deleted_at"));
    if !usage
        .deletes
        .iter()
        .any(|delete| delete.launched_at == launched_at)
    {
        usage.deletes.push(Delete {
            launched_at,
            deleted_at,
        });
    }
}

/// The exists record of one `compute.instance.exists` (none without a
/// readable `launched_at`, as StackTach kept none).
pub fn exists_of(event: &LifecycleEvent) -> Option<Exists> {
    let launched_at = event.time("launched_at")?;
    let bandwidth_public_out = event
        .payload
        .get("bandwidth")
        .and_then(|bandwidth| bandwidth.get("public"))
        .and_then(|public| public.get("bw_out"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    Some(Exists {
        message_id: event.message_id.clone(),
        launched_at,
        deleted_at: event.time("deleted_at"),
        instance_type_id: event.text("instance_type_id"),
        instance_flavor_id: event.text("instance_flavor_id"),
        audit_period_beginning: event.time("audit_period_beginning"),
        audit_period_ending: event.time("audit_period_ending"),
        tenant: event.tenant.clone(),
        bandwidth_public_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn event(id: u32, event_type: &str, seconds: i64, payload: Value) -> LifecycleEvent {
        LifecycleEvent {
            message_id: format!("m{id:02}"),
            event_type: format!("compute.instance.{event_type}"),
            when: Utc.timestamp_opt(1_400_000_000 + seconds, 0).unwrap(),
            request_id: "req-1".into(),
            tenant: Some("t".into()),
            payload: payload.as_object().cloned().unwrap_or_default(),
        }
    }

    fn lifecycle() -> Vec<LifecycleEvent> {
        vec![
            event(
                1,
                "create.start",
                0,
                json!({"instance_type_id": 2, "instance_flavor_id": "2", "launched_at": ""}),
            ),
            event(
                2,
                "create.end",
                60,
                json!({"launched_at": "2014-05-13 16:54:20", "message": "Success"}),
            ),
            event(
                3,
                "exists",
                90,
                json!({"launched_at": "2014-05-13 16:54:20", "deleted_at": "", "instance_type_id": 2, "bandwidth": null}),
            ),
            event(
                4,
                "delete.end",
                120,
                json!({"launched_at": "2014-05-13 16:54:20", "terminated_at": "2014-05-13 16:55:20", "deleted_at": "2014-05-13 16:55:30"}),
            ),
        ]
    }

    #[test]
    fn every_arrival_order_gives_the_same_usage() {
        let events = lifecycle();
        let expected = derive(&events);
        let launched = Utc.with_ymd_and_hms(2014, 5, 13, 16, 54, 20).unwrap();
        assert_eq!(
            expected.launches,
            [Launch {
                request_id: "req-1".into(),
                launched_at: Some(launched),
                instance_type_id: Some("2".into()),
                instance_flavor_id: Some("2".into()),
                tenant: Some("t".into()),
            }]
        );
        assert_eq!(
            expected.deletes,
            [Delete {
                launched_at: launched,
                deleted_at: Some(launched + chrono::TimeDelta::seconds(60))
            }]
        );
        for rotation in 0..events.len() {
            let mut order = events.clone();
            order.rotate_left(rotation);
            order.reverse();
            assert_eq!(derive(&order), expected);
        }
    }

    #[test]
    fn an_exists_record_comes_from_its_own_event() {
        let events = lifecycle();
        let launched = Utc.with_ymd_and_hms(2014, 5, 13, 16, 54, 20).unwrap();
        assert_eq!(
            exists_of(&events[2]),
            Some(Exists {
                message_id: "m03".into(),
                launched_at: launched,
                deleted_at: None,
                instance_type_id: Some("2".into()),
                instance_flavor_id: None,
                audit_period_beginning: None,
                audit_period_ending: None,
                tenant: Some("t".into()),
                bandwidth_public_out: 0,
            })
        );
        let with_bandwidth = event(
            5,
            "exists",
            100,
            json!({"launched_at": "2014-05-13 16:54:20", "bandwidth": {"public": {"bw_in": 1, "bw_out": 42}}}),
        );
        assert_eq!(
            exists_of(&with_bandwidth).map(|e| e.bandwidth_public_out),
            Some(42)
        );
        let unlaunched = event(6, "exists", 100, json!({"launched_at": ""}));
        assert_eq!(exists_of(&unlaunched), None);
    }

    #[test]
    fn exists_events_change_no_launch_or_delete() {
        let events = lifecycle();
        let without_exists: Vec<LifecycleEvent> = events
            .iter()
            .filter(|event| event.event_type != EXISTS_EVENT)
            .cloned()
            .collect();
        assert_eq!(derive(&events), derive(&without_exists));
    }

    #[test]
    fn a_failed_create_end_changes_nothing() {
        let events = vec![
            event(1, "create.start", 0, json!({"instance_type_id": 2})),
            event(
                2,
                "create.end",
                60,
                json!({"launched_at": "2014-05-13 16:54:20", "message": "Error: no host"}),
            ),
        ];
        assert_eq!(derive(&events).launches[0].launched_at, None);
    }
}
