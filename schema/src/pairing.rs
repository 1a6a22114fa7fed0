//! Pairing `.start` and `.end` events into timings (SPEC §4.4), as a pure
//! function of the set of events of one key — (instance, operation, request
//! id) — so the result is the same whatever order they arrived in (DESIGN.md).

use chrono::{DateTime, Utc};

/// Which half of a timing an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// An `X.start`.
    Start,
    /// An `X.end`.
    End,
}

/// The operation and half of an event type: `compute.instance.create.start`
/// → (`compute.instance.create`, Start). None for any other event.
pub fn split_event_type(event_type: &str) -> Option<(&str, Half)> {
    if let Some(operation) = event_type.strip_suffix(".start") {
        return Some((operation, Half::Start));
    }
    event_type
        .strip_suffix(".end")
        .map(|operation| (operation, Half::End))
}

/// The key a timing belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimingKey {
    /// The instance.
    pub instance: String,
    /// The operation (event type without `.start`/`.end`).
    pub operation: String,
    /// The request id, or "" when the events carry none.
    pub request_id: String,
}

/// One stored event of a key, as pairing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingEvent {
    /// tach's event id.
    pub id: i64,
    /// The publisher's message id: a tie-break that, unlike `id`, does not
    /// depend on arrival order.
    pub message_id: String,
    /// Deployment of the event.
    pub deployment_id: i32,
    /// Event time.
    pub when: DateTime<Utc>,
    /// Start or end.
    pub half: Half,
}

/// One half of a timing as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingEnd {
    /// Event id.
    pub event_id: i64,
    /// Event time.
    pub when: DateTime<Utc>,
}

/// A derived timing row: a pair (`.`), a start alone (`S`) or an end alone (`E`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Position among the key's timings, from 0, in time order.
    pub seq: i32,
    /// Deployment of its first event.
    pub deployment_id: i32,
    /// The start, if any.
    pub start: Option<TimingEnd>,
    /// The end, if any.
    pub end: Option<TimingEnd>,
}

impl Timing {
    /// end − start in microseconds, for a pair.
    pub fn duration_us(&self) -> Option<i64> {
        let (start, end) = (self.start?, self.end?);
        (end.when - start.when).num_microseconds()
    }
}

/// Pairs the n-th start with the n-th end, both in time order (ties by
/// message id); surplus starts or ends stand alone. StackTach never paired an
/// `.end` that arrived before its `.start`; here arrival order does not matter.
pub fn pair(events: &[PairingEvent]) -> Vec<Timing> {
    let in_time_order = |half: Half| {
        let mut chosen: Vec<&PairingEvent> =
            events.iter().filter(|event| event.half == half).collect();
        chosen.sort_by(|a, b| (a.when, &a.message_id).cmp(&(b.when, &b.message_id)));
        chosen
    };
    let (starts, ends) = (in_time_order(Half::Start), in_time_order(Half::End));
    let count = starts.len().max(ends.len());
    (0..count)
        .map(|index| {
            let start = starts.get(index).copied();
            let end = ends.get(index).copied();
            let first = match (start, end) {
                (Some(start), Some(end)) if end.when < start.when => end,
                (Some(start), _) => start,
                (None, Some(end)) => end,
                (None, None) => unreachable!("index below the longer list's length"),
            };
            Timing {
                seq: index as i32,
                deployment_id: first.deployment_id,
                start: start.map(|event| TimingEnd {
                    event_id: event.id,
                    when: event.when,
                }),
                end: end.map(|event| TimingEnd {
                    event_id: event.id,
                    when: event.when,
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(id: i64, seconds: i64, half: Half) -> PairingEvent {
        PairingEvent {
            id,
            message_id: format!("m{id}"),
            deployment_id: 1,
            when: Utc.timestamp_opt(1_400_000_000 + seconds, 0).unwrap(),
            half,
        }
    }

    /// Every permutation of `items`.
    fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut all = Vec::new();
        for index in 0..items.len() {
            let mut rest = items.to_vec();
            let chosen = rest.remove(index);
            for mut tail in permutations(&rest) {
                tail.insert(0, chosen.clone());
                all.push(tail);
            }
        }
        all
    }

    #[test]
    fn every_arrival_order_pairs_the_same() {
        let events = vec![
            event(1, 0, Half::Start),
            event(2, 55, Half::End),
            event(3, 100, Half::Start),
            event(4, 160, Half::End),
            event(5, 200, Half::Start),
        ];
        let expected = pair(&events);
        assert_eq!(
            expected.iter().map(Timing::duration_us).collect::<Vec<_>>(),
            [Some(55_000_000), Some(60_000_000), None]
        );
        assert!(expected[2].end.is_none() && expected[2].start.is_some());
        for order in permutations(&events) {
            assert_eq!(pair(&order), expected);
        }
    }

    #[test]
    fn an_end_alone_stands_alone() {
        let timings = pair(&[event(9, 5, Half::End)]);
        assert_eq!(timings.len(), 1);
        assert_eq!(timings[0].start, None);
        assert_eq!(timings[0].duration_us(), None);
    }

    #[test]
    fn event_types_split_into_operation_and_half() {
        assert_eq!(
            split_event_type("compute.instance.create.start"),
            Some(("compute.instance.create", Half::Start))
        );
        assert_eq!(
            split_event_type("compute.instance.create.end"),
            Some(("compute.instance.create", Half::End))
        );
        assert_eq!(split_event_type("compute.instance.update"), None);
    }
}
