//! Processed crash reports (`crash.processed`) as Socorro's processor wrote
//! them (samples/socorro): over two weeks from the start, signatures drawn
//! from a Zipf-like distribution so top crashers have stable ranks, some
//! plugin and content crashes, and browser/plugin hang pairs sharing a
//! `hangid`.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::envelope::{iso_micros, iso_seconds, tach_message, Notification, Priority};
use super::payload::Payload;
use super::product::{ProductVersion, CATALOG};
use super::rng::Rng;
use super::{Scenario, Timed};

/// Reports are processed over this long after the start (two of
/// `crashes/signatures`' default one-week periods).
const SPAN_SECONDS: f64 = 14.0 * 86_400.0;

/// Crash signatures by rank; report counts fall off as 1/rank.
const SIGNATURES: [&str; 16] = [
    "OOM | small",
    "js::GCMarker::processMarkStackTop",
    "shutdownhang | WaitForSingleObjectEx | WaitForSingleObject | PR_Wait | nsThread::ProcessNextEvent",
    "mozalloc_abort | NS_DebugBreak | mozilla::layers::PImageBridgeChild::Write",
    "nvwgf2um.dll@0xe2294",
    "mozilla::CycleCollectedJSRuntime::DeferredFinalize",
    "shutdownhang | KiIntSystemCall",
    "fsdomnodefirefox.dll@0x67e7",
    "OOM | large | mozalloc_abort | mozalloc_handle_oom | moz_xmalloc",
    "libdispatch.dylib@0x216b",
    "js_compare_strings",
    "BaseThreadInitThunk",
    "shutdownhang | je_free | nsStringBuffer::Release",
    "mozilla::ipc::MessageChannel::Call",
    "EnterBaseline",
    "shutdownhang | libpthread-2.21.so@0xcda0",
];

/// Plugin crash signatures.
const PLUGIN_SIGNATURES: [&str; 3] = [
    "F_1152915508________________________________",
    "libflashplayer.so@0x798f4d",
    "NPSWF32_19_0_0_245.dll@0x4c2a1c",
];

/// Add-ons besides the default theme, `[id, version]`.
const ADDONS: [(&str, &str); 8] = [
    ("https-everywhere@eff.org", "5.1.0"),
    ("firefox@ghostery.com", "5.4.9"),
    ("uBlock0@raymondhill.net", "1.4.0"),
    ("mozilla_cc2@internetdownloadmanager.com", "6.25.3"),
    ("{73a6fe31-595d-460b-a920-fcc0f8843232}", "2.7"),
    ("appbar@alot.com", "1.1.9600"),
    (
        "light_plugin_D772DC8D6FAF43A29B25C4EBAA5AD1DE@kaspersky.com",
        "4.6.2.21",
    ),
    ("netvideohunter@netvideohunter.com", "1.20"),
];

/// The default theme every Firefox profile lists.
const DEFAULT_THEME: &str = "{972ce4c6-7e08-4474-a285-3208198ce6fd}";

/// Comments users leave on some reports.
const COMMENTS: [&str; 4] = [
    "It crashed when I opened a new tab",
    "Firefox froze while playing a video, then crashed",
    "crashed on startup again",
    "Happens every time I print",
];

/// `scenario.crashes` reports; the second (and about one in twelve after)
/// starts a hang pair, two reports counted as two.
pub(super) fn reports(scenario: &Scenario, out: &mut Vec<Timed>) {
    let mut part = Rng::for_part(scenario.seed, "crash");
    let mut made = 0;
    while made < scenario.crashes {
        let mut rng = part.fork();
        let mut when = scenario.start;
        if made > 0 {
            when += rng.seconds(0.0, SPAN_SECONDS);
        }
        let client = Client::new(&mut rng, scenario.start);
        let pair_fits = made + 2 <= scenario.crashes;
        if pair_fits && (made == 1 || rng.chance(8)) {
            hang_pair(&mut rng, &client, when, out);
            made += 2;
        } else {
            let report = single_report(&mut rng, &client, when);
            out.push(publish(&mut rng, when, report));
            made += 1;
        }
    }
}

/// A plugin hang: the plugin's report and the browser's, sharing a `hangid`.
fn hang_pair(rng: &mut Rng, client: &Client, when: DateTime<Utc>, out: &mut Vec<Timed>) {
    let hangid = rng.uuid().to_string();
    let signature = *rng.pick(&PLUGIN_SIGNATURES);
    let mut plugin = client.report(rng, when, signature);
    add_plugin(&mut plugin);
    plugin.insert("hangid".into(), json!(hangid));
    plugin.insert("hang_type".into(), json!(1));
    plugin.insert("process_type".into(), json!("plugin"));
    let browser_when = when + rng.seconds(0.2, 5.0);
    let mut browser = client.report(rng, browser_when, "hang | WaitForSingleObjectEx");
    browser.insert("hangid".into(), json!(hangid));
    browser.insert("hang_type".into(), json!(1));
    out.push(publish(rng, when, plugin));
    out.push(publish(rng, browser_when, browser));
}

/// A report of the browser, a plugin or a content process.
fn single_report(rng: &mut Rng, client: &Client, when: DateTime<Utc>) -> Map<String, Value> {
    match rng.below(100) {
        0..=6 => {
            let signature = *rng.pick(&PLUGIN_SIGNATURES);
            let mut report = client.report(rng, when, signature);
            add_plugin(&mut report);
            report.insert("process_type".into(), json!("plugin"));
            report
        }
        7..=14 => {
            let signature = zipf_signature(rng);
            let mut report = client.report(rng, when, signature);
            report.insert("process_type".into(), json!("content"));
            report
        }
        _ => {
            let signature = zipf_signature(rng);
            client.report(rng, when, signature)
        }
    }
}

/// A signature; rank r is drawn about 1/(r+1) as often as rank 0.
fn zipf_signature(rng: &mut Rng) -> &'static str {
    let weights: u64 = (1..=SIGNATURES.len() as u64)
        .map(|rank| 720_720 / rank)
        .sum();
    let mut ticket = rng.below(weights);
    for (index, signature) in SIGNATURES.iter().enumerate() {
        let weight = 720_720 / (index as u64 + 1);
        if ticket < weight {
            return signature;
        }
        ticket -= weight;
    }
    SIGNATURES[0]
}

/// The Flash plugin's fields of a plugin crash.
fn add_plugin(report: &mut Map<String, Value>) {
    report.insert("PluginFilename".into(), json!("NPSWF32_19_0_0_245.dll"));
    report.insert("PluginName".into(), json!("Shockwave Flash"));
    report.insert("PluginVersion".into(), json!("19.0.0.245"));
}

/// The machine and installation a report comes from (both reports of a hang
/// pair come from one).
struct Client {
    entry: &'static ProductVersion,
    build: u64,
    os_name: &'static str,
    os_version: &'static str,
    cpu_name: &'static str,
    reason: &'static str,
    addons: Value,
    install_age: u64,
}

impl Client {
    fn new(rng: &mut Rng, start: DateTime<Utc>) -> Client {
        let weighted: Vec<(u64, usize)> = CATALOG
            .iter()
            .enumerate()
            .map(|(index, entry)| (entry.crash_weight, index))
            .collect();
        let entry = &CATALOG[*rng.weighted(&weighted)];
        let (os_name, os_version, cpu_name, reason) = operating_system(rng, entry.product);
        Client {
            entry,
            build: entry.build_id(start, 0),
            os_name,
            os_version,
            cpu_name,
            reason,
            addons: addons(rng, entry),
            install_age: rng.between(600, 100_000_000),
        }
    }

    /// A report of this client processed at `when`, with `signature`.
    fn report(&self, rng: &mut Rng, when: DateTime<Utc>, signature: &str) -> Map<String, Value> {
        let uuid = crash_uuid(rng, when);
        let crashed_at = when - rng.seconds(5.0, 3600.0);
        let uptime = rng.between(2, 600_000);
        let report = json!({
            "addons": self.addons,
            "address": format!("0x{:x}", rng.below(1 << 32)),
            "build": self.build.to_string(),
            "client_crash_date": iso_seconds(crashed_at).replace('Z', "+00:00"),
            "cpu_name": self.cpu_name,
            "crash_id": uuid,
            "date_processed": iso_micros(when),
            "email": if rng.chance(10) { json!("redacted@example.com") } else { Value::Null },
            "hang_type": 0,
            "hangid": null,
            "install_age": self.install_age + uptime,
            "os_name": self.os_name,
            "os_version": self.os_version,
            "process_type": null,
            "product": self.entry.product,
            "reason": self.reason,
            "release_channel": self.entry.channel,
            "signature": signature,
            "uptime": uptime,
            "url": if rng.chance(30) { "about:blank" } else { "" },
            "user_comments": if rng.chance(15) { json!(*rng.pick(&COMMENTS)) } else { Value::Null },
            "uuid": uuid,
            "version": self.entry.version(0),
        });
        match report {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// `os_name`, `os_version`, `cpu_name` and a crash `reason` typical of it.
fn operating_system(
    rng: &mut Rng,
    product: &str,
) -> (&'static str, &'static str, &'static str, &'static str) {
    if product == "Fennec" {
        return (
            "Linux",
            "0.0.0 Linux 3.0.8-svn544 #11 SMP PREEMPT armv7l",
            "arm",
            "SIGSEGV",
        );
    }
    *rng.weighted(&[
        (
            35,
            (
                "Windows NT",
                "6.1.7601 Service Pack 1",
                "x86",
                "EXCEPTION_ACCESS_VIOLATION_READ",
            ),
        ),
        (
            15,
            ("Windows NT", "10.0.10240", "x86", "EXCEPTION_BREAKPOINT"),
        ),
        (
            10,
            (
                "Windows NT",
                "6.3.9600",
                "amd64",
                "EXCEPTION_ACCESS_VIOLATION_WRITE",
            ),
        ),
        (
            8,
            (
                "Windows NT",
                "5.1.2600 Service Pack 3",
                "x86",
                "EXCEPTION_ACCESS_VIOLATION_READ",
            ),
        ),
        (
            10,
            (
                "Mac OS X",
                "10.11.1 15B42",
                "amd64",
                "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS",
            ),
        ),
        (
            6,
            (
                "Mac OS X",
                "10.9.5 13F1134",
                "amd64",
                "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS",
            ),
        ),
        (
            8,
            (
                "Linux",
                "0.0.0 Linux 4.2.0-18-generic #22-Ubuntu SMP x86_64",
                "amd64",
                "SIGSEGV",
            ),
        ),
        (
            3,
            (
                "Linux",
                "0.0.0 Linux 3.2.0-38-generic-pae #61-Ubuntu SMP i686",
                "x86",
                "SIGABRT",
            ),
        ),
    ])
}

/// `[[id, version], …]`: the default theme, then up to three others.
fn addons(rng: &mut Rng, entry: &ProductVersion) -> Value {
    let theme_version = entry.version(0);
    let mut addons = vec![json!([DEFAULT_THEME, theme_version])];
    for _ in 0..rng.below(4) {
        let (id, version) = *rng.pick(&ADDONS);
        addons.push(json!([id, version]));
    }
    Value::Array(addons)
}

/// A Socorro crash id: a random uuid whose last seven characters are the
/// storage depth (`2`) and the `yymmdd` it was submitted.
fn crash_uuid(rng: &mut Rng, when: DateTime<Utc>) -> String {
    let random = rng.uuid().to_string();
    format!("{}2{}", &random[..29], when.format("%y%m%d"))
}

fn publish(rng: &mut Rng, when: DateTime<Utc>, report: Map<String, Value>) -> Timed {
    let publisher_id = format!("processor.proc-{:02}", rng.between(1, 4));
    let notification = Notification {
        event_type: "crash.processed",
        publisher_id: &publisher_id,
        priority: Priority::Info,
        when,
        payload: Payload::Whole(Value::Object(report)),
    };
    tach_message(rng, notification)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_ids_end_with_depth_and_date() {
        let when = DateTime::parse_from_rfc3339("2015-11-30T00:00:04Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = crash_uuid(&mut Rng::new(3), when);
        assert_eq!(id.len(), 36);
        assert!(id.ends_with("2151130"), "{id}");
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }

    #[test]
    fn top_signatures_outnumber_the_tail() {
        let mut rng = Rng::new(5);
        let draws: Vec<&str> = (0..5000).map(|_| zipf_signature(&mut rng)).collect();
        let count = |signature: &str| draws.iter().filter(|s| **s == signature).count();
        assert!(count(SIGNATURES[0]) > count(SIGNATURES[3]));
        assert!(count(SIGNATURES[3]) > count(SIGNATURES[15]));
    }
}
