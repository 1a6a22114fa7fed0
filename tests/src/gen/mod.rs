//! A deterministic generator of realistic event streams (`tach-gen`): nova
//! instance lifecycles, glance images, processed crash reports, product
//! versions and builds, and release lifecycles, each shaped like the real
//! payloads in `tests/samples/`. The same [`Scenario`] always gives
//! byte-identical messages, so tests, the demo and the benchmarks reproduce.
//!
//! Each part of a scenario draws from its own random stream, and each
//! instance, image or release from a stream of its own within it, so asking
//! for more crashes does not change a single nova message.

mod context;
mod crash;
mod deploy;
mod envelope;
mod glance;
mod instance;
mod nova;
mod payload;
mod product;
mod rng;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use envelope::nova_time;
pub use rng::Rng;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Seed of every random choice.
    pub seed: u64,
    /// Time of the first event.
    pub start: DateTime<Utc>,
    /// Nova instance lifecycles (about 30 messages each).
    pub instances: usize,
    /// Glance image lifecycles.
    pub images: usize,
    /// `crash.processed` reports (a hang pair counts two).
    pub crashes: usize,
    /// Release lifecycles (release, packages, environment deploy and status).
    pub releases: usize,
    /// `product.version` events, each with its `product.build`s.
    pub products: usize,
    /// How often nova audits usage (`compute.instance.exists`).
    pub audit_period: AuditPeriod,
}

/// Nova's `instance_usage_audit_period`: every launched instance gets a
/// `compute.instance.exists` for each period it lives through, and updates
/// carry the current period's bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditPeriod {
    /// One audit per day (nova's default), at most two per pause between
    /// requests; instances that are never deleted stop being audited when
    /// their last request ends, which keeps small test streams small.
    #[default]
    Daily,
    /// One audit per hour, as clouds that bill by the hour run it; an
    /// instance left running keeps getting one until a day after the last
    /// instance was created, so long-lived instances pile up many.
    Hourly,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: 1,
            // 2026-01-01T00:00:00Z.
            start: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
            instances: 20,
            images: 5,
            crashes: 30,
            releases: 3,
            products: 4,
            audit_period: AuditPeriod::Daily,
        }
    }
}

/// How far apart [`Scenario::copy`] places copies: past the crash reports'
/// two weeks, so copies follow one another.
const COPY_SHIFT: TimeDelta = TimeDelta::days(15);

impl Scenario {
    /// Copy `copy` of this scenario for load (`tach-gen publish --repeat`):
    /// the same sizes, but its own seed (so every id is fresh) and a start
    /// `copy` × 15 days later. Copy 0 is the scenario itself.
    pub fn copy(&self, copy: u32) -> Scenario {
        if copy == 0 {
            return self.clone();
        }
        Scenario {
            seed: Rng::for_part(self.seed, &format!("copy {copy}")).next_u64(),
            start: self.start + COPY_SHIFT * copy as i32,
            ..self.clone()
        }
    }
}

/// One message as a publisher sends it; its JSON form (one per line) is
/// also what `tach-gen jsonl` writes and `tach-ingest replay --file` reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// Logical exchange: `nova`, `glance` or `tach` (publishers add a prefix).
    pub exchange: String,
    /// `notifications.info` / `notifications.error` on nova and glance; the
    /// event type on tach.
    pub routing_key: String,
    /// The exact JSON body published; for oslo's v2 driver the envelope,
    /// whose `oslo.message` is the inner message as a string.
    pub body: Value,
}

impl Message {
    /// The notification object: the body, or for an oslo v2 envelope the
    /// object its `oslo.message` string holds (None when that is not JSON).
    pub fn inner(&self) -> Option<Value> {
        match self.body.get("oslo.message") {
            Some(Value::String(text)) => serde_json::from_str(text).ok(),
            _ => Some(self.body.clone()),
        }
    }

    /// The message's JSON line (`{"exchange":…,"routing_key":…,"body":…}`),
    /// exactly what `serde_json::to_string` makes of it, through serde_json's
    /// compiled Display instead of a serializer instantiated here: several
    /// times faster in debug builds.
    pub fn to_json_line(&self) -> String {
        format!(
            "{{\"exchange\":{},\"routing_key\":{},\"body\":{}}}",
            Value::from(self.exchange.as_str()),
            Value::from(self.routing_key.as_str()),
            self.body
        )
    }

    /// The exact bytes a publisher sends: the body's compact JSON.
    pub fn body_bytes(&self) -> Vec<u8> {
        // serde_json's Display, for the reason given at `to_json_line`.
        self.body.to_string().into_bytes()
    }

    /// The event time: the notification's `timestamp` (nova's
    /// `2026-01-01 00:00:01.254607` form, naive UTC), if it has one.
    pub fn when(&self) -> Option<DateTime<Utc>> {
        let inner = self.inner()?;
        let text = inner.get("timestamp")?.as_str()?;
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()?;
        Some(naive.and_utc())
    }
}

/// A message and the event time the stream is sorted by.
struct Timed {
    when: DateTime<Utc>,
    message: Message,
}

/// The scenario's messages, sorted by event time (ties keep generation order).
pub fn generate(scenario: &Scenario) -> Vec<Message> {
    let mut stream: Vec<Timed> = Vec::with_capacity(estimated_len(scenario));
    nova::instances(scenario, &mut stream);
    glance::images(scenario, &mut stream);
    crash::reports(scenario, &mut stream);
    product::versions(scenario, &mut stream);
    deploy::releases(scenario, &mut stream);
    in_time_order(stream)
}

/// The messages by event time; ties keep generation order (a request's
/// events that share a timestamp stay in order).
fn in_time_order(stream: Vec<Timed>) -> Vec<Message> {
    // Sorting small keys and moving each message once is several times
    // faster than sorting the messages themselves in a debug build.
    let mut order: Vec<(i64, usize)> = stream
        .iter()
        .enumerate()
        .map(|(index, timed)| (timed.when.timestamp_micros(), index))
        .collect();
    order.sort_unstable();
    let mut slots: Vec<Option<Message>> = stream.into_iter().map(|t| Some(t.message)).collect();
    order
        .iter()
        .filter_map(|(_, index)| slots[*index].take())
        .collect()
}

/// Roughly how many messages a scenario makes, to allocate once.
fn estimated_len(scenario: &Scenario) -> usize {
    scenario.instances * 32
        + scenario.images * 8
        + scenario.crashes
        + scenario.products * 3
        + scenario.releases * 24
}

#[cfg(test)]
mod tests;
