//! `tach-bench workers`: tach-ingest's rate with 1, 2 and 4 processes
//! consuming the same queues of one deployment, as replicas do.
//!
//! Every measurement gets a fresh migrated database and fresh broker names,
//! into which the same mixed stream is published as a backlog before the
//! processes start; the clock runs from the moment all of them answer until
//! their counters together reach the stream's length. Configurations run in
//! interleaved rounds (1, 2, 4, 1, 2, 4, …), so the machine's drift hits
//! each alike, and each is reported by the median of its rounds against the
//! first configuration's median. Several processes must leave the state one
//! leaves: every event stored once, only the unparseable rejected, and the
//! same row count in every table as the first configuration's first round
//! (but the two whose count depends on timing: [`TIMING_TABLES`]).
//! While they drain, PostgreSQL's `pg_stat_activity` is sampled for what
//! the database's backends wait on, which is where contention between the
//! processes (advisory locks, key conflicts) shows.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use sqlx::PgPool;
use tach_tests::gen::{generate, Message};

use crate::ingest::publish_backlog;
use crate::measure::{Phase, Sample, STALL};
use crate::report::{rounded, thousands, Cell, Report, Table};
use crate::scratch::{Namespace, ScratchDatabase};
use crate::services::{IngestConfig, Service};
use crate::stream::{self, StreamArgs};
use crate::Context;

const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// The ratio of 2 processes to 1 that the target asks for.
const TARGET_TWO_OF_ONE: f64 = 0.95;
/// Tables whose row count depends on timing, not on the stream:
/// `live_commits` holds one row per batch transaction, and `reports` the
/// scheduled reports each process's start-up catch-up found data for (the
/// first event creates the deployment a report needs), so how many exist
/// depends on when each process started against the draining backlog.
const TIMING_TABLES: &[&str] = &["live_commits", "reports"];

/// What `tach-bench workers` compares.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkersArgs {
    /// Numbers of tach-ingest processes to compare; the first is the reference.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    pub processes: Vec<usize>,
    /// Rounds; each round measures every configuration once, in the order given.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// The report and whether every run left the exact state.
pub struct Outcome {
    /// The figures.
    pub report: Report,
    /// Every run stored each event once and rejected only the unparseable,
    /// with the reference's row count in every table.
    pub exact: bool,
}

/// What the stream must leave in the database.
struct Expected {
    messages: u64,
    events: i64,
    rejected: i64,
}

/// One configuration's drain in one round.
struct Run {
    round: usize,
    processes: usize,
    phase: Phase,
    state: State,
    waits: Waits,
}

/// Row counts after a drain.
#[derive(Debug, Clone, PartialEq)]
struct State {
    events: i64,
    rejected: i64,
    /// Every table's row count, by name (partitions counted in their parent).
    tables: BTreeMap<String, i64>,
}

/// How often the database's backends were seen in each wait state.
#[derive(Debug, Clone, Default)]
struct Waits {
    samples: u64,
    seen: BTreeMap<String, u64>,
}

/// Runs every configuration `--runs` times, interleaved.
pub async fn run(
    context: &Context,
    stream_args: &StreamArgs,
    options: &WorkersArgs,
) -> anyhow::Result<Outcome> {
    if options.processes.is_empty() || options.processes.contains(&0) || options.runs == 0 {
        bail!("--processes needs counts of at least 1 and --runs at least 1");
    }
    let scenario = stream::mixed(
        stream_args.instances,
        stream::start_ending_now(stream_args.instances),
    );
    let started = Instant::now();
    let messages = generate(&scenario);
    let expected = expected(&messages);
    println!(
        "tach-bench workers: {} processes, {} rounds, each on {}",
        options
            .processes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        options.runs,
        stream::describe(&messages)
    );
    let mut runs = Vec::new();
    for round in 1..=options.runs {
        for &processes in &options.processes {
            println!("round {round}, {processes} process(es):");
            let (phase, state, waits) = measure(context, &messages, processes).await?;
            println!(
                "  {:.0} msg/s, {:.0} CPU µs/msg; {} events stored, {} rejected",
                phase.rate(),
                phase.cpu_per_message(),
                state.events,
                state.rejected
            );
            runs.push(Run {
                round,
                processes,
                phase,
                state,
                waits,
            });
        }
    }
    let outcome = report(&messages, &expected, &options.processes, &runs);
    println!(
        "\ntach-bench workers: done in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );
    Ok(outcome)
}

/// The events the stream holds once each, and the messages tach-ingest
/// cannot parse (which it rejects).
fn expected(messages: &[Message]) -> Expected {
    let parsed = stream::events(messages);
    let distinct: HashSet<&str> = parsed
        .iter()
        .map(|event| event.message_id.as_str())
        .collect();
    Expected {
        messages: messages.len() as u64,
        events: distinct.len() as i64,
        rejected: (messages.len() - parsed.len()) as i64,
    }
}

/// One drain by `processes` tach-ingest processes of a fresh backlog in a
/// fresh database.
async fn measure(
    context: &Context,
    messages: &[Message],
    processes: usize,
) -> anyhow::Result<(Phase, State, Waits)> {
    let database = ScratchDatabase::create(&context.postgres_url, &context.binaries).await?;
    let namespace = Namespace::create(&context.amqp_url, &context.work_dir)?;
    let outcome = async {
        publish_backlog(&namespace, messages).await?;
        let services = start(context, &database, &namespace, processes).await?;
        let drained = drain(&services, &database.pool, messages.len() as u64).await;
        for service in services {
            service.stop().await?;
        }
        let (phase, waits) = drained?;
        let state = State::read(&database.pool).await?;
        anyhow::Ok((phase, state, waits))
    }
    .await;
    namespace.finish().await;
    database.finish(context.keep).await?;
    outcome
}

/// Starts `processes` tach-ingest processes on one database and one
/// deployment's queues, all at once, and waits until every one answers.
async fn start(
    context: &Context,
    database: &ScratchDatabase,
    namespace: &Namespace,
    processes: usize,
) -> anyhow::Result<Vec<Service>> {
    let configs = (0..processes)
        .map(|_| IngestConfig::new(&database.url, namespace))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let starting = configs
        .iter()
        .map(|config| Service::ingest(&context.binaries, config));
    futures::future::try_join_all(starting).await
}

/// Samples the processes' summed counters and the database's wait states
/// until `target` messages are finished; the phase runs from the first
/// sample, taken once every process answers.
async fn drain(services: &[Service], pool: &PgPool, target: u64) -> anyhow::Result<(Phase, Waits)> {
    let first = Sample::now(finished(services).await?)?;
    let mut last = first;
    let mut progress_at = Instant::now();
    let mut waits = Waits::default();
    while last.finished < target {
        tokio::time::sleep(SAMPLE_EVERY).await;
        waits.sample(pool).await?;
        let sample = Sample::now(finished(services).await?)?;
        if sample.finished > last.finished {
            progress_at = sample.at;
        } else if progress_at.elapsed() > STALL {
            bail!(
                "{} tach-ingest processes made no progress for {} s at {} of {target} messages; {}",
                services.len(),
                STALL.as_secs(),
                sample.finished,
                services[0].log_tail(5)
            );
        }
        last = sample;
    }
    Ok((Phase::between(&first, &last), waits))
}

/// Messages finished by all the processes together.
async fn finished(services: &[Service]) -> anyhow::Result<u64> {
    let counts = futures::future::try_join_all(services.iter().map(Service::finished_messages));
    Ok(counts.await?.iter().sum())
}

impl State {
    /// Counts the stored events, the rejected messages and every table's rows.
    async fn read(pool: &PgPool) -> anyhow::Result<State> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT relname::text FROM pg_class \
             WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') \
             AND NOT relispartition ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .context("listing the tables")?;
        let mut tables = BTreeMap::new();
        for name in names {
            // The name comes from pg_class, quoted as an identifier.
            let statement = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
                .fetch_one(pool)
                .await
                .with_context(|| format!("counting the rows of {name}"))?;
            tables.insert(name, count);
        }
        let count = |table: &str| tables.get(table).copied().unwrap_or(0);
        Ok(State {
            events: count("raw_events"),
            rejected: count("rejected_messages"),
            tables,
        })
    }

    /// The tables whose row count differs from `reference`'s, timing-dependent
    /// ones left out.
    fn differences(&self, reference: &State) -> Vec<String> {
        let names: HashSet<&String> = self.tables.keys().chain(reference.tables.keys()).collect();
        let mut differing: Vec<String> = names
            .into_iter()
            .filter(|name| !TIMING_TABLES.contains(&name.as_str()))
            .filter(|name| self.tables.get(*name) != reference.tables.get(*name))
            .map(|name| {
                let shown = |state: &State| {
                    state
                        .tables
                        .get(name)
                        .map_or("-".into(), |count| thousands(*count as u64))
                };
                format!("{name} {} (reference {})", shown(self), shown(reference))
            })
            .collect();
        differing.sort();
        differing
    }
}

impl Waits {
    /// Adds what every backend on the database (but this one) is doing now:
    /// its wait event while active, `CPU` when active without one, and
    /// `idle in transaction` while its client (tach-ingest) holds an open
    /// transaction between statements.
    async fn sample(&mut self, pool: &PgPool) -> anyhow::Result<()> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT CASE WHEN state = 'active' \
                 THEN coalesce(wait_event_type || ':' || wait_event, 'CPU') \
                 ELSE state END, count(*) \
             FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND state IN ('active', 'idle in transaction') \
             GROUP BY 1",
        )
        .fetch_all(pool)
        .await
        .context("sampling pg_stat_activity")?;
        self.samples += 1;
        for (wait, count) in rows {
            *self.seen.entry(wait).or_default() += count as u64;
        }
        Ok(())
    }

    fn add(&mut self, other: &Waits) {
        self.samples += other.samples;
        for (wait, count) in &other.seen {
            *self.seen.entry(wait.clone()).or_default() += count;
        }
    }

    /// The busy backends on average, and each wait state's share of them,
    /// largest first.
    fn shares(&self) -> (f64, Vec<(String, f64)>) {
        let total: u64 = self.seen.values().sum();
        let mut shares: Vec<(String, f64)> = self
            .seen
            .iter()
            .map(|(wait, count)| (wait.clone(), *count as f64 / total.max(1) as f64))
            .collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1));
        (total as f64 / self.samples.max(1) as f64, shares)
    }
}

/// The median of `values` (the mean of the middle two when even).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

/// Whether a run left the exact state, and what differs if not.
fn check(run: &Run, expected: &Expected, reference: &State) -> Vec<String> {
    let mut problems = Vec::new();
    if run.state.events != expected.events {
        problems.push(format!(
            "{} events stored of {}",
            run.state.events, expected.events
        ));
    }
    if run.state.rejected != expected.rejected {
        problems.push(format!(
            "{} rejected, {} expected",
            run.state.rejected, expected.rejected
        ));
    }
    problems.extend(run.state.differences(reference));
    problems
}

fn report(messages: &[Message], expected: &Expected, order: &[usize], runs: &[Run]) -> Outcome {
    let reference_state = &runs[0].state;
    let mut each = Table::new(
        format!("workers: each run, {}", stream::describe(messages)),
        &[
            "round",
            "processes",
            "messages timed",
            "seconds",
            "msg/s",
            "CPU µs/msg",
            "events stored",
            "rejected",
            "state",
        ],
    );
    let mut exact = true;
    for run in runs {
        let problems = check(run, expected, reference_state);
        if !problems.is_empty() {
            exact = false;
            println!(
                "  round {}, {} process(es): state differs: {}",
                run.round,
                run.processes,
                problems.join("; ")
            );
        }
        each.row(vec![
            Cell::Count(run.round as u64),
            Cell::Count(run.processes as u64),
            Cell::Count(run.phase.messages),
            Cell::number(run.phase.seconds, 1),
            Cell::number(run.phase.rate(), 0),
            Cell::number(run.phase.cpu_per_message(), 0),
            Cell::Count(run.state.events.max(0) as u64),
            Cell::Count(run.state.rejected.max(0) as u64),
            Cell::text(if problems.is_empty() {
                "exact"
            } else {
                "differs"
            }),
        ]);
    }
    let mut report = Report::new("workers");
    let (summary, medians) = summary(order, runs);
    report.table(each);
    report.table(summary);
    report.table(waits_table(order, runs));
    let reference = medians[0].1;
    for (processes, rate) in &medians {
        report.figure(&format!("median_msg_per_s_{processes}"), rounded(*rate, 0));
        report.figure(
            &format!("ratio_{processes}_to_{}", order[0]),
            rounded(rate / reference, 3),
        );
    }
    report.figure("messages", expected.messages);
    report.figure("expected_events", expected.events);
    report.figure("expected_rejected", expected.rejected);
    report.figure("state_exact", exact);
    let rate_of = |count: usize| medians.iter().find(|(p, _)| *p == count).map(|m| m.1);
    if let (Some(one), Some(two)) = (rate_of(1), rate_of(2)) {
        let ratio = two / one;
        let met = ratio >= TARGET_TWO_OF_ONE;
        println!(
            "\n  2 processes / 1 (medians): {ratio:.2}; target ≥ {TARGET_TWO_OF_ONE}: {}",
            if met { "met" } else { "missed" }
        );
        report.figure("target_2_of_1_met", met);
    }
    println!(
        "  final state: {}",
        if exact {
            "exact in every run"
        } else {
            "NOT exact (see above)"
        }
    );
    Outcome { report, exact }
}

/// Per configuration: the median rate, every round's rate, the median CPU
/// per message and the ratio to the first configuration.
fn summary(order: &[usize], runs: &[Run]) -> (Table, Vec<(usize, f64)>) {
    let mut table = Table::new(
        format!(
            "workers: median of {} interleaved rounds, against {} process(es)",
            runs.iter().map(|run| run.round).max().unwrap_or(0),
            order[0]
        ),
        &[
            "processes",
            "median msg/s",
            "each round msg/s",
            "median CPU µs/msg",
            "of first",
        ],
    );
    let rounds: Vec<(usize, Vec<f64>, Vec<f64>)> = order
        .iter()
        .map(|&processes| {
            let mine = runs.iter().filter(|run| run.processes == processes);
            let rates = mine.clone().map(|run| run.phase.rate()).collect();
            let cpu = mine.map(|run| run.phase.cpu_per_message()).collect();
            (processes, rates, cpu)
        })
        .collect();
    let medians: Vec<(usize, f64)> = rounds
        .iter()
        .map(|(processes, rates, _)| (*processes, median(rates)))
        .collect();
    let reference = medians[0].1;
    for ((processes, rates, cpu), (_, rate)) in rounds.iter().zip(&medians) {
        let each: Vec<String> = rates
            .iter()
            .map(|rate| thousands(rate.round() as u64))
            .collect();
        table.row(vec![
            Cell::Count(*processes as u64),
            Cell::number(*rate, 0),
            Cell::text(each.join(" / ")),
            Cell::number(median(cpu), 0),
            Cell::number(rate / reference, 2),
        ]);
    }
    (table, medians)
}

/// Per configuration: the database's busy backends on average while
/// draining, and the five commonest wait states among them.
fn waits_table(order: &[usize], runs: &[Run]) -> Table {
    let mut table = Table::new(
        "workers: what the database's busy backends did while draining (pg_stat_activity)",
        &["processes", "busy backends", "wait state", "share"],
    );
    for &processes in order {
        let mut waits = Waits::default();
        for run in runs.iter().filter(|run| run.processes == processes) {
            waits.add(&run.waits);
        }
        let (busy, shares) = waits.shares();
        for (index, (wait, share)) in shares.iter().take(5).enumerate() {
            table.row(vec![
                Cell::Count(processes as u64),
                if index == 0 {
                    Cell::number(busy, 2)
                } else {
                    Cell::Missing
                },
                Cell::text(wait),
                Cell::number(*share, 2),
            ]);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_takes_the_middle_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
