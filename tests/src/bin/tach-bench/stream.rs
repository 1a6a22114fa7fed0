//! The streams the benchmark feeds: tach-gen's scenarios, mixed in
//! tach-gen's default proportions and with hourly nova audits, placed in
//! time so that they end about now (tach-query's "last 24 h" and "last 7
//! days" views then see the newest data, as they would in production).

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use tach_schema::{Delivery, Event, ExchangeFamily};
use tach_tests::gen::{generate, AuditPeriod, Message, Scenario};

/// The seed of every benchmark stream (copies derive theirs from it).
const SEED: u64 = 7;

/// tach-gen's default scenario scaled to `instances` nova instances: glance
/// images, crash reports, releases and product versions grow in the same
/// proportions, and nova audits usage hourly, so instances left running get
/// an `exists` every hour.
pub fn mixed(instances: usize, start: DateTime<Utc>) -> Scenario {
    let defaults = Scenario::default();
    let scale = |count: usize| (count * instances).div_ceil(defaults.instances.max(1));
    Scenario {
        seed: SEED,
        start,
        instances,
        images: scale(defaults.images),
        crashes: scale(defaults.crashes),
        releases: scale(defaults.releases),
        products: scale(defaults.products),
        audit_period: AuditPeriod::Hourly,
    }
}

/// A start for [`mixed`] that puts its last nova event about an hour before
/// now (crash reports and releases span longer and reach past it). Found by
/// generating the nova part alone once: each part draws from its own random
/// stream, so the nova part does not depend on the others.
pub fn start_ending_now(instances: usize) -> DateTime<Utc> {
    let probe_start = Scenario::default().start;
    let nova_only = Scenario {
        images: 0,
        crashes: 0,
        releases: 0,
        products: 0,
        ..mixed(instances, probe_start)
    };
    let span = generate(&nova_only)
        .iter()
        .filter_map(Message::when)
        .max()
        .map_or(TimeDelta::zero(), |last| last - probe_start);
    (Utc::now() - span - TimeDelta::hours(1)).trunc_subsecs(0)
}

/// Copy `copy` of `base` for growing a database: fresh ids, and placed
/// `copy` × [`Scenario::copy`]'s shift *before* the base, so the newest data
/// stays the same while history accumulates behind it.
pub fn history_copy(base: &Scenario, copy: u32) -> Scenario {
    let later = base.copy(copy);
    Scenario {
        start: base.start - (later.start - base.start),
        ..later
    }
}

/// Parses every message the way tach-ingest does (the exchange decides the
/// family); messages that do not parse are left out.
pub fn events(messages: &[Message]) -> Vec<Event> {
    let received_at = Utc::now();
    messages
        .iter()
        .filter_map(|message| {
            let body = message.body_bytes();
            let delivery = Delivery {
                exchange: &message.exchange,
                routing_key: &message.routing_key,
                exchange_family: exchange_family(&message.exchange),
                body: &body,
                received_at,
            };
            tach_schema::parse(&delivery, usize::MAX).ok()
        })
        .collect()
}

/// The family of a logical tach-gen exchange.
fn exchange_family(exchange: &str) -> ExchangeFamily {
    match exchange {
        "nova" => ExchangeFamily::Nova,
        "glance" => ExchangeFamily::Glance,
        "tach" => ExchangeFamily::Tach,
        _ => ExchangeFamily::Generic,
    }
}

/// How many messages of each logical exchange, and their mean body size.
pub fn describe(messages: &[Message]) -> String {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let mut bytes = 0;
    for message in messages {
        *counts.entry(message.exchange.as_str()).or_default() += 1;
        bytes += message.body.to_string().len();
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(exchange, count)| format!("{exchange} {count}"))
        .collect();
    format!(
        "{} messages ({}), {} bytes on average",
        messages.len(),
        parts.join(", "),
        bytes / messages.len().max(1)
    )
}

/// The size of the benchmark's streams.
#[derive(Debug, Clone, clap::Args)]
pub struct StreamArgs {
    /// Nova instances per copy of the mixed stream (about 40 messages each with hourly
    /// audits), with glance images, crash reports, releases and product versions in
    /// tach-gen's default proportions (3,000 instances: about 140,000 messages).
    #[arg(long, default_value_t = 3_000)]
    pub instances: usize,
}
