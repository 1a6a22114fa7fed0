//! Release lifecycles as Socorro's release tooling reported them (Sponge /
//! Orlo and Observatory, samples/releases): a tagged release is created and
//! started, its packages deployed (some fail) with their results, the
//! release ends, the environment records the new revisions, and
//! Observatory's queue-status samples follow every five minutes.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::envelope::{iso_seconds, tach_message, Notification, Priority};
use super::payload::Payload;
use super::rng::Rng;
use super::{Scenario, Timed};

/// The release tooling's publisher (Orlo's server).
const RELEASE_PUBLISHER: &str = "orlo.deploy-01";

/// Observatory's publisher of environment status.
const STATUS_PUBLISHER: &str = "observatory.monitor-01";

/// A release every this many hours.
const RELEASE_EVERY_HOURS: i64 = 6;

/// The tag of the first release (`v40`); later ones count up.
const FIRST_TAG: usize = 40;

/// Status samples after each deploy, five minutes apart.
const STATUS_SAMPLES: i64 = 12;

/// What a release deploys, in order.
const PACKAGES: [&str; 3] = ["socorro", "breakpad", "crash-stats"];

/// The people who push releases.
const RELEASERS: [(&str, &str); 3] = [
    ("lonnen", "chris.lonnen@gmail.com"),
    ("Robert Helmer", "rhelmer@rhelmer.org"),
    ("Adrian Gaudebert", "adrian@gaudebert.fr"),
];

/// `scenario.releases` release lifecycles.
pub(super) fn releases(scenario: &Scenario, out: &mut Vec<Timed>) {
    let mut part = Rng::for_part(scenario.seed, "deploy");
    for index in 0..scenario.releases {
        let mut rng = part.fork();
        let mut when = scenario.start;
        if index > 0 {
            when += TimeDelta::hours(index as i64 * RELEASE_EVERY_HOURS) + rng.seconds(0.0, 1800.0);
        }
        let mut release = Release {
            rng: &mut rng,
            out,
            when,
            id: String::new(),
            number: FIRST_TAG + index,
        };
        release.run(index);
    }
}

/// One release being pushed: its clock and where its messages go.
struct Release<'a> {
    rng: &'a mut Rng,
    out: &'a mut Vec<Timed>,
    when: DateTime<Utc>,
    /// The release id (`release.create`'s `id`, every later event's `release_id`).
    id: String,
    /// The tag number (`v40` → 40).
    number: usize,
}

impl Release<'_> {
    fn run(&mut self, index: usize) {
        let environment = if self.rng.chance(35) { "stage" } else { "prod" };
        let commit = self.rng.hex(40);
        self.create(environment, &commit);
        self.wait(1.0, 60.0);
        let started = json!({"release_id": self.id});
        self.emit(RELEASE_PUBLISHER, "release.start", started);
        let packages = 1 + (index + self.rng.below(3) as usize) % PACKAGES.len();
        for name in PACKAGES.iter().take(packages) {
            self.wait(1.0, 30.0);
            self.package(name);
        }
        self.wait(1.0, 30.0);
        let ended = json!({"release_id": self.id});
        self.emit(RELEASE_PUBLISHER, "release.end", ended);
        self.wait(5.0, 60.0);
        let revisions = json!({"socorro": commit, "breakpad": (1094 + self.number).to_string()});
        let deployed = json!({"environment": environment, "revisions": revisions});
        self.emit(STATUS_PUBLISHER, "environment.deploy", deployed);
        self.statuses(environment);
    }

    /// `release.create`: Orlo's release fields and the git tag's.
    fn create(&mut self, environment: &str, commit: &str) {
        self.id = self.rng.uuid().to_string();
        let tag = format!("v{}", self.number);
        let tag_sha = self.rng.hex(40);
        let (name, email) = *self.rng.pick(&RELEASERS);
        let bug = self.rng.between(800_000, 1_200_000);
        let github = "https://api.github.com/repos/mozilla/socorro/git";
        let payload = json!({
            "id": self.id,
            "tag": tag,
            "ref": format!("refs/tags/{tag}"),
            "sha": tag_sha,
            "message": format!("bug {bug} - push Socorro {tag} release\n"),
            "tagger": {"name": name, "email": email, "date": iso_seconds(self.when)},
            "url": format!("{github}/tags/{tag_sha}"),
            "object": {"sha": commit, "type": "commit", "url": format!("{github}/commits/{commit}")},
            "user": name,
            "team": "Socorro",
            "platforms": [environment],
            "references": [format!("bug {bug}")],
            "notes": [],
            "metadata": {"env": environment, "pool": "web"},
        });
        self.emit(RELEASE_PUBLISHER, "release.create", payload);
    }

    /// One package: start, end (one in six fails), and its test results.
    fn package(&mut self, name: &str) {
        let package_id = self.rng.uuid().to_string();
        let version = match name {
            "breakpad" => (1094 + self.number).to_string(),
            _ => format!("{}.0", self.number),
        };
        let previous = self.number - 1;
        let mut fields = json!({
            "release_id": self.id,
            "package_id": package_id,
            "name": name,
            "version": version,
            "rollback": self.rng.chance(10),
            "diff_url": format!("https://github.com/mozilla/{name}/compare/v{previous}...v{}", self.number),
        });
        self.emit(RELEASE_PUBLISHER, "package.start", fields.clone());
        self.wait(30.0, 900.0);
        let success = !self.rng.chance(16);
        fields["success"] = json!(success);
        self.emit(RELEASE_PUBLISHER, "package.end", fields);
        self.wait(0.5, 10.0);
        let total = self.rng.between(200, 900);
        let passed = if success {
            total
        } else {
            total - self.rng.between(1, 20)
        };
        let result = json!({
            "release_id": self.id,
            "package_id": package_id,
            "content": format!("tests passed: {passed}/{total}"),
        });
        self.emit(RELEASE_PUBLISHER, "package.result", result);
    }

    /// Observatory's processing-queue samples after the deploy.
    fn statuses(&mut self, environment: &str) {
        let first_id = 441_488 + self.number as u64 * 100;
        let processors = self.rng.between(4, 12);
        for sample in 0..STATUS_SAMPLES {
            let at = self.when + TimeDelta::minutes(5 * (sample + 1));
            let waiting = self.rng.below(60);
            let payload = json!({
                "environment": environment,
                "id": first_id + sample as u64,
                "date_created": iso_seconds(at),
                "waiting_job_count": waiting,
                "processors_count": processors,
                "avg_wait_sec": self.rng.below(10_000_000) as f64 / 1e6,
                "avg_process_sec": self.rng.below(4_000_000) as f64 / 1e6,
                "date_oldest_job_queued": iso_seconds(at - self.rng.seconds(1.0, 60.0)),
                "date_recently_completed": iso_seconds(at - self.rng.seconds(0.0, 2.0)),
            });
            let notification = Notification {
                event_type: "environment.status",
                publisher_id: STATUS_PUBLISHER,
                priority: Priority::Info,
                when: at,
                payload: Payload::Whole(payload),
            };
            self.out.push(tach_message(self.rng, notification));
        }
    }

    fn emit(&mut self, publisher_id: &str, event_type: &str, payload: Value) {
        let notification = Notification {
            event_type,
            publisher_id,
            priority: Priority::Info,
            when: self.when,
            payload: Payload::Whole(payload),
        };
        self.out.push(tach_message(self.rng, notification));
    }

    fn wait(&mut self, low_seconds: f64, high_seconds: f64) {
        self.when += self.rng.seconds(low_seconds, high_seconds);
    }
}
