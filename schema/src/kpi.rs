//! StackTach's KPI request trackers (SPEC §4.5): a request's clock starts at
//! a `compute.instance.update` from an api service and stops at the latest
//! `.end` of the request. Derived from the set of a request's events, so
//! arrival order does not matter.

use chrono::{DateTime, Utc};

/// One stored nova event of a request, as the KPI needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEvent {
    /// tach's event id.
    pub id: i64,
    /// Publisher's message id (order-independent tie-break).
    pub message_id: String,
    /// Deployment.
    pub deployment_id: i32,
    /// Event type.
    pub event_type: String,
    /// Event time.
    pub when: DateTime<Utc>,
    /// Publisher service (text before the first `.` of publisher_id).
    pub service: Option<String>,
    /// Instance.
    pub instance: Option<String>,
    /// Tenant.
    pub tenant: Option<String>,
}

/// A derived tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    /// The api update that started it.
    pub start_event_id: i64,
    /// Its deployment.
    pub deployment_id: i32,
    /// When the clock started.
    pub start_when: DateTime<Utc>,
    /// The instance.
    pub instance: Option<String>,
    /// The latest `.end` of the request, if any yet.
    pub end: Option<TrackerEnd>,
}

/// How a tracker ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerEnd {
    /// The end event.
    pub event_id: i64,
    /// Its time.
    pub when: DateTime<Utc>,
    /// The operation: the end event's type without `.end`.
    pub operation: String,
    /// The end event's tenant.
    pub tenant: Option<String>,
    /// end − start, microseconds.
    pub duration_us: i64,
}

/// True for an event that starts a tracker.
pub fn starts_tracker(event_type: &str, service: Option<&str>) -> bool {
    event_type == "compute.instance.update"
        && service.is_some_and(|service| service.contains("api"))
}

/// The trackers of one request's events.
pub fn trackers(events: &[RequestEvent]) -> Vec<Tracker> {
    let latest_end = events
        .iter()
        .filter(|event| event.event_type.ends_with(".end"))
        .max_by(|a, b| (a.when, &a.message_id).cmp(&(b.when, &b.message_id)));
    let mut starts: Vec<&RequestEvent> = events
        .iter()
        .filter(|event| starts_tracker(&event.event_type, event.service.as_deref()))
        .collect();
    starts.sort_by(|a, b| (a.when, &a.message_id).cmp(&(b.when, &b.message_id)));
    starts
        .into_iter()
        .map(|start| Tracker {
            start_event_id: start.id,
            deployment_id: start.deployment_id,
            start_when: start.when,
            instance: start.instance.clone(),
            end: latest_end.map(|end| TrackerEnd {
                event_id: end.id,
                when: end.when,
                operation: end.event_type.trim_end_matches(".end").to_owned(),
                tenant: end.tenant.clone(),
                duration_us: (end.when - start.when)
                    .num_microseconds()
                    .unwrap_or(i64::MAX),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(id: i64, event_type: &str, seconds: i64, service: &str) -> RequestEvent {
        RequestEvent {
            id,
            message_id: format!("m{id}"),
            deployment_id: 1,
            event_type: event_type.into(),
            when: Utc.timestamp_opt(1_400_000_000 + seconds, 0).unwrap(),
            service: Some(service.into()),
            instance: Some("i-1".into()),
            tenant: Some("t-1".into()),
        }
    }

    #[test]
    fn the_clock_runs_from_the_api_update_to_the_latest_end() {
        let events = vec![
            event(1, "compute.instance.update", 0, "api"),
            event(2, "compute.instance.create.start", 5, "compute"),
            event(3, "compute.instance.update", 6, "compute"),
            event(4, "compute.instance.create.end", 65, "compute"),
            event(5, "compute.instance.snapshot.end", 30, "compute"),
        ];
        let mut reversed = events.clone();
        reversed.reverse();
        let derived = trackers(&events);
        assert_eq!(derived, trackers(&reversed));
        assert_eq!(derived.len(), 1);
        let end = derived[0].end.as_ref().unwrap();
        assert_eq!(
            (end.operation.as_str(), end.duration_us),
            ("compute.instance.create", 65_000_000)
        );
    }

    #[test]
    fn a_request_without_an_end_has_an_open_tracker() {
        let derived = trackers(&[event(1, "compute.instance.update", 0, "nova-api")]);
        assert_eq!(derived[0].end, None);
        assert!(trackers(&[event(1, "compute.instance.update", 0, "compute")]).is_empty());
    }
}
