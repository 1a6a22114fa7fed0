//! Socorro's product versions and builds (`product.version`,
//! `product.build`), as its crontabber jobs learned them from the FTP
//! scraper, and the catalog of versions crash reports are filed against.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::envelope::{day_start, tach_message, Notification, Priority};
use super::payload::Payload;
use super::rng::Rng;
use super::{Scenario, Timed};

/// The service publishing product data.
const PUBLISHER: &str = "crontabber.socorro-admin-01";

/// One version of a product, as Socorro's `product_versions` knew it.
#[derive(Debug)]
pub struct ProductVersion {
    /// `product`.
    pub product: &'static str,
    /// Major version number.
    pub major: u32,
    /// What follows the major number in the version string (`.0`, `.0b9`, `.0a1`).
    pub suffix: &'static str,
    /// `build_type` and `release_channel`.
    pub channel: &'static str,
    /// Where it was built from.
    pub repository: &'static str,
    /// The beta number of a beta.
    pub beta_number: Option<&'static str>,
    /// Days before the scenario's start it was built.
    pub age_days: u32,
    /// Time of day of the build (part of the build id).
    pub build_time: (u32, u32, u32),
    /// Share of crash reports filed against it.
    pub crash_weight: u64,
}

impl ProductVersion {
    /// The version string; `generation` > 0 makes later versions of the
    /// same line for scenarios with more products than the catalog has.
    pub fn version(&self, generation: u32) -> String {
        format!("{}{}", self.major + 10 * generation, self.suffix)
    }

    /// The 14-digit build id: the build's date and time, `YYYYMMDDhhmmss`.
    pub fn build_id(&self, start: DateTime<Utc>, generation: u32) -> u64 {
        let built = self.built_at(start, generation);
        built
            .format("%Y%m%d%H%M%S")
            .to_string()
            .parse()
            .unwrap_or(0)
    }

    fn built_at(&self, start: DateTime<Utc>, generation: u32) -> DateTime<Utc> {
        let (hours, minutes, seconds) = self.build_time;
        let time_of_day = TimeDelta::seconds(i64::from(hours * 3600 + minutes * 60 + seconds));
        let age = TimeDelta::days(i64::from(self.age_days + generation));
        day_start(start) - age + time_of_day
    }

    /// The platforms it is built for.
    fn platforms(&self) -> &'static [&'static str] {
        if self.product == "Fennec" {
            &["android-arm", "android-api-11", "android-x86"]
        } else {
            &["win32", "win64", "macosx64", "linux-i686", "linux-x86_64"]
        }
    }
}

/// Shorthand for the catalog's rows.
#[allow(clippy::too_many_arguments)]
const fn row(
    product: &'static str,
    major: u32,
    suffix: &'static str,
    channel: &'static str,
    repository: &'static str,
    beta_number: Option<&'static str>,
    age_days: u32,
    build_time: (u32, u32, u32),
    crash_weight: u64,
) -> ProductVersion {
    ProductVersion {
        product,
        major,
        suffix,
        channel,
        repository,
        beta_number,
        age_days,
        build_time,
        crash_weight,
    }
}

/// The versions of samples/socorro's era: release lines carry most crashes.
pub const CATALOG: [ProductVersion; 11] = [
    row(
        "Firefox",
        42,
        ".0",
        "release",
        "mozilla-release",
        None,
        30,
        (15, 14, 21),
        40,
    ),
    row(
        "Firefox",
        41,
        ".0.2",
        "release",
        "mozilla-release",
        None,
        50,
        (14, 37, 21),
        15,
    ),
    row(
        "Firefox",
        43,
        ".0b9",
        "beta",
        "mozilla-beta",
        Some("9"),
        7,
        (17, 25, 21),
        10,
    ),
    row(
        "Firefox",
        44,
        ".0a2",
        "aurora",
        "mozilla-aurora",
        None,
        2,
        (0, 40, 18),
        4,
    ),
    row(
        "Firefox",
        45,
        ".0a1",
        "nightly",
        "mozilla-central",
        None,
        1,
        (3, 2, 35),
        3,
    ),
    row(
        "Thunderbird",
        38,
        ".4.0",
        "release",
        "comm-esr38",
        None,
        14,
        (13, 2, 8),
        6,
    ),
    row(
        "Thunderbird",
        38,
        ".3.0",
        "release",
        "comm-esr38",
        None,
        60,
        (5, 14, 27),
        3,
    ),
    row(
        "Thunderbird",
        43,
        ".0b1",
        "beta",
        "comm-beta",
        Some("1"),
        20,
        (12, 12, 18),
        1,
    ),
    row(
        "Fennec",
        42,
        ".0",
        "release",
        "mozilla-release",
        None,
        30,
        (12, 45, 23),
        8,
    ),
    row(
        "Fennec",
        43,
        ".0b8",
        "beta",
        "mozilla-beta",
        Some("8"),
        9,
        (12, 10, 8),
        2,
    ),
    row(
        "Fennec",
        45,
        ".0a1",
        "nightly",
        "mozilla-central",
        None,
        1,
        (3, 2, 35),
        1,
    ),
];

/// `scenario.products` product versions, each with one to three builds.
pub(super) fn versions(scenario: &Scenario, out: &mut Vec<Timed>) {
    let mut part = Rng::for_part(scenario.seed, "product");
    for index in 0..scenario.products {
        let mut rng = part.fork();
        let entry = &CATALOG[index % CATALOG.len()];
        let generation = (index / CATALOG.len()) as u32;
        let mut when = scenario.start;
        if index > 0 {
            when += TimeDelta::minutes(index as i64 * 2) + rng.seconds(0.0, 60.0);
        }
        out.push(version_event(
            &mut rng,
            scenario.start,
            entry,
            generation,
            when,
        ));
        let builds = rng.between(1, 3) as usize;
        for platform in entry.platforms().iter().take(builds) {
            when += rng.seconds(1.0, 60.0);
            let build = build_event(&mut rng, scenario.start, entry, generation, platform, when);
            out.push(build);
        }
    }
}

/// `product.version`: the version's channel, support window and throttle.
fn version_event(
    rng: &mut Rng,
    start: DateTime<Utc>,
    entry: &ProductVersion,
    generation: u32,
    when: DateTime<Utc>,
) -> Timed {
    let start_date = entry.built_at(start, generation);
    let end_date = start_date + TimeDelta::days(180);
    let release = entry.channel == "release";
    let payload = json!({
        "product": entry.product,
        "version": entry.version(generation),
        "build_type": entry.channel,
        "release_channel": entry.channel,
        "major_version": format!("{}.0", entry.major + 10 * generation),
        "start_date": start_date.format("%Y-%m-%d").to_string(),
        "end_date": end_date.format("%Y-%m-%d").to_string(),
        "throttle": if release { 10.0 } else { 100.0 },
        "is_featured": entry.channel != "nightly" && entry.product != "Thunderbird",
    });
    publish(rng, "product.version", when, payload)
}

/// `product.build`: one platform's build of a version.
fn build_event(
    rng: &mut Rng,
    start: DateTime<Utc>,
    entry: &ProductVersion,
    generation: u32,
    platform: &str,
    when: DateTime<Utc>,
) -> Timed {
    let payload = json!({
        "product": entry.product,
        "version": entry.version(generation),
        "platform": platform,
        "buildid": entry.build_id(start, generation),
        "build_type": entry.channel,
        "beta_number": entry.beta_number,
        "repository": entry.repository,
        "date": entry.built_at(start, generation).format("%Y-%m-%d").to_string(),
    });
    publish(rng, "product.build", when, payload)
}

fn publish(
    rng: &mut Rng,
    event_type: &str,
    when: DateTime<Utc>,
    payload: serde_json::Value,
) -> Timed {
    let notification = Notification {
        event_type,
        publisher_id: PUBLISHER,
        priority: Priority::Info,
        when,
        payload: Payload::Whole(payload),
    };
    tach_message(rng, notification)
}
