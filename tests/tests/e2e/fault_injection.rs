//! The fault-injection suite (SPEC §4.1, §4.3). A generated stream of over
//! 20,000 mixed events, with 1 % poison (hostile envelopes and bodies) and
//! 5 % duplicates, is ingested by tach-ingest processes against a PostgreSQL
//! and a RabbitMQ of the suite's own (ports 56432–56435, never the
//! machine's), while one scenario at a time: tach-ingest is SIGKILLed at
//! random moments and restarted; the broker is stopped and started; the
//! database is restarted; its backends are terminated; two of four
//! processes are killed and restarted. Every scenario must end with exactly
//! the state of a fault-free reference ingest of the same stream and with
//! the counts the stream itself implies, and every process must exit 0 on
//! SIGTERM within its shutdown timeout. One line per scenario is printed:
//! published, stored, rejected, duplicates absorbed, time to drain, longest
//! stall.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::Row;
use tach_tests::gen::{Message, Rng};
use tach_tests::harness::python::{self, RawMessage};
use tach_tests::harness::state::{
    fault_stream, first_difference, longest_stall, sample_progress, stored_state, FaultStream,
};
use tach_tests::harness::{PrivateServices, TestBroker, TestDatabase};
use tach_tests::publish::Publisher;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// PostgreSQL on this port, RabbitMQ on the next three (AMQP, distribution, epmd).
const BASE_PORT: u16 = 56432;
/// tach-ingest's body limit in the suite, so bodies just under and over it stay small.
const MAX_BODY_BYTES: usize = 64 * 1024;
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;
/// Longest a scenario may take to store everything.
const DRAIN_DEADLINE: Duration = Duration::from_secs(300);

/// The time of every poison event: an event without one takes its time of
/// receipt, which differs from run to run.
const TIMESTAMP: &str = "2026-11-30 12:00:00.000000";

/// What tach must do with a poison message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stored,
    Rejected(&'static str),
}

/// A poison message: published with lapin when its envelope is UTF-8, with
/// py-amqp when it is not.
struct Poison {
    raw: RawMessage,
    utf8_envelope: bool,
    outcome: Outcome,
}

/// The stream every scenario publishes, in this order: `first`, the
/// poison, `second` (the rest of the events and the duplicates).
struct Stream {
    first: Vec<Message>,
    poison: Vec<Poison>,
    second: Vec<Message>,
    /// Distinct generated events.
    events: usize,
    duplicates: usize,
    /// Stored events per event type, as the stream implies.
    per_type: BTreeMap<String, i64>,
}

impl Stream {
    fn published(&self) -> usize {
        self.first.len() + self.poison.len() + self.second.len()
    }

    fn stored(&self) -> i64 {
        (self.events + self.poison_with(|o| o == Outcome::Stored)) as i64
    }

    fn rejected(&self) -> i64 {
        self.poison_with(|o| o != Outcome::Stored) as i64
    }

    fn poison_with(&self, keep: impl Fn(Outcome) -> bool) -> usize {
        self.poison.iter().filter(|p| keep(p.outcome)).count()
    }

    /// Distinct rejected deliveries per reason, as the stream implies.
    fn rejected_per_reason(&self) -> BTreeMap<String, i64> {
        let mut reasons = BTreeMap::new();
        for poison in &self.poison {
            if let Outcome::Rejected(reason) = poison.outcome {
                *reasons.entry(reason.to_owned()).or_default() += 1;
            }
        }
        reasons
    }
}

/// One poison message of each kind per round, `rounds` rounds.
fn poison(rounds: usize) -> Vec<Poison> {
    let mut poison = Vec::new();
    for i in 0..rounds {
        let id = format!("poison-{i}");
        let stored = |extra: Value| {
            let mut body = json!({"event_type": "poison.stored", "message_id": id,
                                  "timestamp": TIMESTAMP, "payload": {"i": i}});
            if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
                body.extend(extra);
            }
            body.to_string().into_bytes()
        };
        let utf8 = |exchange: &str, routing_key: &str, body: Vec<u8>, outcome| Poison {
            raw: RawMessage {
                exchange: exchange.to_owned(),
                routing_key: routing_key.as_bytes().to_vec(),
                message_id: Vec::new(),
                body,
            },
            utf8_envelope: true,
            outcome,
        };
        let info = "notifications.info";
        let long_key = format!("poison.{i}.{}", "k".repeat(255));
        let padded = |size: usize| {
            let head = format!("{{\"event_type\": \"poison.stored\", \"message_id\": \"{id}-{size}\", \"timestamp\": \"{TIMESTAMP}\", \"pad\": \"");
            let pad = "p".repeat(size - head.len() - 2);
            format!("{head}{pad}\"}}").into_bytes()
        };
        poison.extend([
            utf8("tach", &format!("poison.{i}\0tail"), stored(json!({})), Outcome::Stored),
            utf8(
                "nova",
                info,
                json!({"event_type": "poison.x", "message_id": format!("{id}\u{0}")}).to_string().into_bytes(),
                Outcome::Rejected("invalid_field"),
            ),
            utf8(
                "nova",
                info,
                json!({"event_type": format!("poison.\u{0}{i}"), "message_id": id}).to_string().into_bytes(),
                Outcome::Rejected("invalid_field"),
            ),
            utf8(
                "nova",
                info,
                stored(json!({"message_id": format!("{id}-publisher"), "publisher_id": format!("svc.host\u{0}{i}")})),
                Outcome::Stored,
            ),
            utf8("tach", &long_key[..255], stored(json!({"message_id": format!("{id}-long-key")})), Outcome::Stored),
            utf8(
                "nova",
                info,
                format!("{{\"event_type\": \"poison.deep\", \"i\": {i}, \"payload\": {}{}}}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
                Outcome::Rejected("invalid_json"),
            ),
            utf8(
                "nova",
                info,
                format!("{{\"event_type\": \"poison.stored\", \"event_type\": \"poison.stored\", \"message_id\": \"{id}-dup-keys\", \"message_id\": \"{id}-dup-keys\", \"timestamp\": \"{TIMESTAMP}\"}}").into_bytes(),
                Outcome::Stored,
            ),
            utf8(
                "nova",
                info,
                format!("{{\"event_type\": \"poison.range\", \"message_id\": \"{id}-range\", \"payload\": {{\"n\": 1e400}}}}").into_bytes(),
                Outcome::Rejected("invalid_json"),
            ),
            utf8("nova", info, padded(MAX_BODY_BYTES), Outcome::Stored),
            utf8("nova", info, padded(MAX_BODY_BYTES + 1), Outcome::Rejected("too_large")),
            utf8(
                "nova",
                info,
                [format!("{{\"event_type\": \"poison.stored\", \"i\": {i}, \"x\": \"").as_bytes(), b"\xff\"}"].concat(),
                Outcome::Rejected("invalid_json"),
            ),
            Poison {
                raw: RawMessage {
                    exchange: "tach".into(),
                    routing_key: [format!("poison.{i}.").as_bytes(), b"\xff"].concat(),
                    message_id: Vec::new(),
                    body: stored(json!({"message_id": format!("{id}-bad-key")})),
                },
                utf8_envelope: false,
                outcome: Outcome::Stored,
            },
            Poison {
                raw: RawMessage {
                    exchange: "nova".into(),
                    routing_key: info.as_bytes().to_vec(),
                    message_id: [b"\xfe".as_slice(), id.as_bytes()].concat(),
                    body: stored(json!({"message_id": format!("{id}-bad-property")})),
                },
                utf8_envelope: false,
                outcome: Outcome::Stored,
            },
        ]);
    }
    poison
}

fn stream() -> Stream {
    let FaultStream {
        events,
        duplicates,
        mut per_type,
    } = fault_stream(1414);
    // At least 1 % of the published messages: 13 kinds per round.
    let poison = poison(events.len() / 100 / 13 + 2);
    let stored_poison = poison
        .iter()
        .filter(|p| p.outcome == Outcome::Stored)
        .count();
    per_type.insert("poison.stored".into(), stored_poison as i64);
    let (first, rest) = events.split_at(events.len() / 2);
    let mut second = rest.to_vec();
    second.extend(duplicates.iter().cloned());
    Stream {
        first: first.to_vec(),
        poison,
        second,
        events: events.len(),
        duplicates: duplicates.len(),
        per_type,
    }
}

/// The faults of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    KillIngest,
    RestartBroker,
    RestartDatabase,
    TerminateBackends,
    KillTwoOfFour,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::None => "reference (no fault)",
            Fault::KillIngest => "tach-ingest SIGKILLed 5 times",
            Fault::RestartBroker => "broker stopped and started",
            Fault::RestartDatabase => "PostgreSQL restarted",
            Fault::TerminateBackends => "PostgreSQL backends terminated",
            Fault::KillTwoOfFour => "2 of 4 tach-ingest killed",
        }
    }

    fn processes(self) -> usize {
        if self == Fault::KillTwoOfFour {
            4
        } else {
            1
        }
    }
}

fn log_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("tach-fault-injection-logs");
    std::fs::create_dir_all(&dir).expect("log directory");
    dir
}

fn spawn_ingest(database_url: &str, amqp_url: &str, log_name: &str) -> Child {
    let log = std::fs::File::create(log_dir().join(log_name)).expect("log file");
    Command::new(crate::INGEST)
        .env("DATABASE_URL", database_url)
        .env("AMQP_URL", amqp_url)
        .env("TACH_DEPLOYMENT", "faults")
        .env("TACH_INGEST_METRICS_ADDR", "127.0.0.1:0")
        .env("TACH_MAX_BODY_BYTES", MAX_BODY_BYTES.to_string())
        .env(
            "TACH_SHUTDOWN_TIMEOUT_SECS",
            SHUTDOWN_TIMEOUT_SECS.to_string(),
        )
        .env("TACH_PRUNE_INTERVAL_HOURS", "0")
        .env("RUST_LOG", "warn,lapin::channel=off")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("starting tach-ingest")
}

/// SIGTERM, then the exit status, which must come within the shutdown timeout.
async fn terminate(mut child: Child, what: &str) {
    let pid = child.id().expect("a running process").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -TERM {pid}");
    let exited = tokio::time::timeout(Duration::from_secs(SHUTDOWN_TIMEOUT_SECS + 5), child.wait())
        .await
        .unwrap_or_else(|_| {
            panic!("{what}: tach-ingest did not exit within its shutdown timeout after SIGTERM")
        })
        .expect("waiting for tach-ingest");
    assert!(
        exited.success(),
        "{what}: tach-ingest exited with {exited} after SIGTERM"
    );
}

/// One scenario's figures.
struct Report {
    published: usize,
    stored: i64,
    rejected: i64,
    drain: Duration,
    longest_stall: Duration,
    state: Value,
}

async fn run_scenario(
    services: &PrivateServices,
    python: &std::path::Path,
    stream: &Stream,
    fault: Fault,
    run_id: &str,
) -> Report {
    let what = fault.name();
    let vhost = format!("faults-{run_id}-{:?}", fault).to_lowercase();
    services
        .add_vhost(&vhost)
        .expect("a vhost for the scenario");
    let amqp_url = services.amqp_url(&vhost);
    let db = TestDatabase::create_on(&services.database_server_url()).await;
    let log_name = |process: usize, start: usize| format!("{vhost}-{process}-{start}.log");
    let mut processes: Vec<Option<Child>> = (0..fault.processes())
        .map(|process| Some(spawn_ingest(&db.url, &amqp_url, &log_name(process, 0))))
        .collect();
    let broker = TestBroker {
        prefix: String::new(),
        amqp_url: amqp_url.clone(),
    };
    broker.wait_for_consumer("tach.events").await;

    let started = Instant::now();
    let stop_sampling = CancellationToken::new();
    let sampler = sample_progress(db.pool.clone(), started, stop_sampling.clone());
    let publisher = Publisher::connect(&amqp_url, "")
        .await
        .expect("publisher connects");
    let publish = async {
        publisher
            .publish(&stream.first, None)
            .await
            .expect("first part published");
        let (utf8, bytes): (Vec<&Poison>, Vec<&Poison>) =
            stream.poison.iter().partition(|p| p.utf8_envelope);
        for poison in utf8 {
            let routing_key = std::str::from_utf8(&poison.raw.routing_key).expect("UTF-8 key");
            publisher
                .publish_raw(&poison.raw.exchange, routing_key, &poison.raw.body)
                .await
                .expect("poison published");
        }
        let raw: Vec<RawMessage> = bytes.iter().map(|p| p.raw.clone()).collect();
        let (python, url) = (python.to_owned(), amqp_url.clone());
        tokio::task::spawn_blocking(move || python::publish_raw(&python, &url, &raw))
            .await
            .unwrap()
            .expect("py-amqp publishes the byte poison");
        publisher
            .publish(&stream.second, None)
            .await
            .expect("second part published");
    };

    let expected = stream.stored() + stream.rejected();
    let mut restarts = 0;
    // How long a stopped server was away (its own downtime, not tach's).
    let mut fault_lasted = Duration::ZERO;
    if fault == Fault::RestartBroker {
        // The publisher does not survive a broker restart: the whole stream
        // is queued (persistent, confirmed) while tach-ingest is stopped,
        // and the broker goes away while tach-ingest drains it.
        terminate(processes[0].take().expect("running"), what).await;
        publish.await;
        processes[0] = Some(spawn_ingest(&db.url, &amqp_url, &log_name(0, 1)));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let outage = Instant::now();
        services.stop_rabbitmq().expect("broker stops");
        tokio::time::sleep(Duration::from_secs(1)).await;
        services.start_rabbitmq().expect("broker starts");
        fault_lasted = outage.elapsed();
    } else {
        let inject = async {
            let mut rng = Rng::new(7);
            match fault {
                Fault::None | Fault::RestartBroker => {}
                Fault::KillIngest => {
                    for kill in 1..=5 {
                        tokio::time::sleep(Duration::from_millis(400 + rng.below(1200))).await;
                        let mut child = processes[0].take().expect("running");
                        child.kill().await.expect("SIGKILL");
                        processes[0] = Some(spawn_ingest(&db.url, &amqp_url, &log_name(0, kill)));
                        restarts += 1;
                    }
                }
                Fault::RestartDatabase => {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    let outage = Instant::now();
                    services.stop_postgres().expect("PostgreSQL stops");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    services.start_postgres().expect("PostgreSQL starts");
                    fault_lasted = outage.elapsed();
                }
                Fault::TerminateBackends => {
                    for _ in 0..8 {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        db.terminate_connections().await;
                    }
                }
                Fault::KillTwoOfFour => {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    for slot in &mut processes[..2] {
                        let mut child = slot.take().expect("running");
                        child.kill().await.expect("SIGKILL");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    for (process, slot) in processes[..2].iter_mut().enumerate() {
                        *slot = Some(spawn_ingest(&db.url, &amqp_url, &log_name(process, 1)));
                    }
                    restarts += 2;
                }
            }
        };
        tokio::join!(publish, inject);
    }

    // Drained when every event is stored and every poison rejected.
    let drained = loop {
        let now = started.elapsed();
        let counts = stored_and_rejected_distinct(&db).await;
        if counts == (stream.stored(), stream.rejected()) {
            break now;
        }
        assert!(
            now < DRAIN_DEADLINE,
            "{what}: not drained after {DRAIN_DEADLINE:?} ({counts:?} of {expected}); logs in {}",
            log_dir().display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop_sampling.cancel();
    let longest_stall = longest_stall(&sampler.await.expect("sampler"));
    // Nothing more arrives: nothing was doubled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        stored_and_rejected_distinct(&db).await,
        (stream.stored(), stream.rejected()),
        "{what}"
    );
    assert_eq!(
        db.count("event_keys").await,
        stream.stored(),
        "{what}: one key per stored event"
    );
    for process in processes.into_iter().flatten() {
        terminate(process, what).await;
    }
    let _ = publisher.close().await;

    let per_type: BTreeMap<String, i64> =
        sqlx::query("SELECT event, count(*) AS n FROM raw_events GROUP BY event")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.get("event"), row.get("n")))
            .collect();
    assert_eq!(per_type, stream.per_type, "{what}: events per type");
    let reasons: BTreeMap<String, i64> = sqlx::query(
        "SELECT reason, count(*) AS n FROM (SELECT DISTINCT reason, exchange, routing_key, body FROM rejected_messages) d GROUP BY reason",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|row| (row.get("reason"), row.get("n")))
    .collect();
    assert_eq!(
        reasons,
        stream.rejected_per_reason(),
        "{what}: rejections per reason"
    );
    let rejected_rows = db.count("rejected_messages").await;
    let report = Report {
        published: stream.published(),
        stored: stream.stored(),
        rejected: rejected_rows,
        drain: drained,
        longest_stall,
        state: stored_state(&db).await,
    };
    println!(
        "fault injection: {what:<32} published {:>6}  stored {:>6}  rejected {:>4} ({} rows)  duplicates absorbed {:>5} (published twice: {})  drained in {:>5.1} s  longest stall {:>4.1} s  (server away {:.1} s)  restarts {restarts}",
        report.published,
        report.stored,
        stream.rejected(),
        report.rejected,
        report.published as i64 - report.stored - stream.rejected(),
        stream.duplicates,
        report.drain.as_secs_f64(),
        report.longest_stall.as_secs_f64(),
        fault_lasted.as_secs_f64(),
    );
    db.drop_database().await;
    services
        .delete_vhost(&vhost)
        .expect("deleting the scenario's vhost");
    report
}

/// Stored events, and distinct rejected deliveries (a delivery rejected,
/// redelivered after a crash and rejected again is kept twice, SPEC §3.2).
async fn stored_and_rejected_distinct(db: &TestDatabase) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM raw_events),
                (SELECT count(*) FROM (SELECT DISTINCT exchange, routing_key, body FROM rejected_messages) d)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap_or((-1, -1))
}

#[tokio::test]
async fn every_fault_ends_with_the_reference_state_and_nothing_lost_or_doubled() {
    let python = tokio::task::spawn_blocking(python::amqp_python)
        .await
        .unwrap()
        .unwrap_or_else(|why| panic!("pip must provide py-amqp (PyPI): {why}"));
    let services = tokio::task::spawn_blocking(|| PrivateServices::start("tach-faults", BASE_PORT))
        .await
        .unwrap()
        .unwrap_or_else(|why| panic!("the suite's own PostgreSQL and RabbitMQ: {why}"));
    let stream = stream();
    let run_id = tach_tests::harness::unique_suffix();
    let reference = run_scenario(&services, &python, &stream, Fault::None, &run_id).await;
    for fault in [
        Fault::KillIngest,
        Fault::RestartBroker,
        Fault::RestartDatabase,
        Fault::TerminateBackends,
        Fault::KillTwoOfFour,
    ] {
        let report = run_scenario(&services, &python, &stream, fault, &run_id).await;
        if let Some(difference) = first_difference(&reference.state, &report.state) {
            panic!(
                "{}: state differs from the reference: {difference}",
                fault.name()
            );
        }
    }
    tokio::task::spawn_blocking(move || drop(services))
        .await
        .unwrap();
}
