//! tach-bench: measures tach on this machine as an operator runs it — the
//! release binaries as processes, a realistic mixed stream, a database
//! that grows — and prints every figure as a table and as JSON.
//!
//! Rates on a shared 2-core machine drift ±20–30 % between runs (SPEC §7),
//! so each sub-command compares against a reference measured in the same
//! run: ingest against the machine's ceilings, reads against the cheapest
//! endpoint and against themselves at a tenth of the data.

mod ceiling;
mod footprint;
mod growth;
mod http;
mod ingest;
mod measure;
mod query;
mod report;
mod scratch;
mod services;
mod stream;
mod system;
mod workers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use crate::report::Report;
use crate::services::Binaries;

/// Benchmarks tach-ingest and tach-query (the release binaries in the same
/// directory as tach-bench) against ceilings and floors measured in the
/// same run, on scratch databases and broker names created and removed by
/// the run. Each sub-command prints a table and writes the same figures as
/// JSON (default target/bench/<sub-command>.json).
#[derive(Debug, Parser)]
#[command(name = "tach-bench")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Options every sub-command takes.
#[derive(Debug, Args)]
struct Common {
    /// PostgreSQL server the scratch databases are created on (any database URL of it).
    #[arg(
        long,
        global = true,
        env = "TACH_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// RabbitMQ; the run declares exchanges and queues of its own names and deletes them.
    #[arg(
        long,
        global = true,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Directory holding the release tach-ingest and tach-query (default: tach-bench's own).
    #[arg(long, global = true)]
    bin_dir: Option<PathBuf>,
    /// Where the figures go as JSON (default target/bench/<sub-command>.json).
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Keep the scratch database (its URL is printed) and the services' logs.
    #[arg(long, global = true)]
    keep: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// tach-ingest's rate on a mixed stream as a ratio of this machine's ceiling.
    ///
    /// The stream is tach-gen's (nova with hourly audits, glance, crash reports, releases,
    /// products, in tach-gen's default proportions). The ceilings, each measured in this run
    /// in processes of their own: (a) a consumer that only acknowledges (prefetch 2000,
    /// multiple-ack every 500); (b) the idempotent two-connection `unnest` load of the same
    /// raw rows into a copy of raw_events with all its indexes; (c) both at once. Then the
    /// release tach-ingest drains the same stream. Prints each one's rate and machine-wide
    /// CPU µs per message, and tach-ingest's rate as a ratio of (c).
    Ingest {
        #[command(flatten)]
        stream: stream::StreamArgs,
    },
    /// tach-ingest's rate, slice by slice, as its database grows to a million events.
    ///
    /// From empty to --target-events stored events (1,000,000; --full: 10,000,000, which
    /// needs 30 GB free), fed copies of the mixed stream (fresh ids, each 15 days before
    /// the previous one) while the broker backlog is kept near 60,000 messages. Prints
    /// events/s and CPU µs per event for each copy, and the ratio of the last copy's rate
    /// to the first's.
    Growth {
        #[command(flatten)]
        stream: stream::StreamArgs,
        #[command(flatten)]
        growth: growth::GrowthArgs,
    },
    /// Every read endpoint's latency under load, at 100,000 and at 1,000,000 events.
    ///
    /// Runs `growth` and, each time 100,000, 1,000,000 (and with --full 10,000,000) events
    /// are stored, starts the release tach-query and drives every read endpoint of every
    /// family with --connections for --seconds, with parameters picked from the data
    /// (frequent and rare values of every search field, windows on and off hour
    /// boundaries, 720-hour top crashers). Prints p50, p99, requests/s, rows and errors, the
    /// p99 against the floor (`/stacky/deployments/` in the same stage) and against the
    /// same endpoint at the previous stage, and whether the read targets hold. An
    /// endpoint whose first request alone takes a second is reported from that request.
    /// With --database-url it measures that existing database once, as it is.
    Query {
        #[command(flatten)]
        stream: stream::StreamArgs,
        #[command(flatten)]
        growth: growth::GrowthArgs,
        #[command(flatten)]
        load: query::LoadArgs,
        /// Measure this existing tach database as it is instead of growing one.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Peak RSS of both services, and tach-ingest's recovery from a SIGKILL.
    ///
    /// tach-ingest drains the mixed stream and is killed (SIGKILL) at 40 % and restarted
    /// at once: prints the time from the kill to the first 1-second window at >= 0.9 of the
    /// rate before it, and checks that every message is stored exactly once. Then one short
    /// pass over every endpoint gives tach-query's peak RSS (VmHWM).
    Footprint {
        #[command(flatten)]
        stream: stream::StreamArgs,
        /// Seconds per endpoint of the query pass.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
    },
    /// tach-ingest's rate with 1, 2 and 4 processes consuming the same queues.
    ///
    /// Each configuration drains the same mixed stream, published as a backlog into a
    /// fresh database and fresh broker names of one deployment, with every process started
    /// at once; timed from when all answer until their counters together reach the
    /// stream's length. --runs rounds, interleaved (1, 2, 4, 1, 2, 4, …), so drift hits
    /// every configuration alike. Prints each run's rate and machine-wide CPU µs per
    /// message, each configuration's median and its ratio to the first's, what the
    /// database's backends waited on (pg_stat_activity, sampled every 100 ms), and checks
    /// that every run stored each event once, rejected only the unparseable messages and
    /// left the first run's row count in every table but live_commits and reports, whose
    /// counts depend on timing (fails otherwise). Not part of `all`.
    Workers {
        #[command(flatten)]
        stream: stream::StreamArgs,
        #[command(flatten)]
        workers: workers::WorkersArgs,
    },
    /// ingest, query (which runs growth) and footprint, with every peak RSS seen.
    All {
        #[command(flatten)]
        stream: stream::StreamArgs,
        #[command(flatten)]
        growth: growth::GrowthArgs,
        #[command(flatten)]
        load: query::LoadArgs,
    },
    /// (internal) The drain ceiling's process.
    #[command(hide = true)]
    CeilingDrain {
        #[arg(long)]
        queue: String,
        #[arg(long)]
        messages: u64,
    },
    /// (internal) The load ceiling's process.
    #[command(hide = true)]
    CeilingLoad {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        instances: usize,
        #[arg(long)]
        start: DateTime<Utc>,
    },
}

impl Command {
    /// The sub-command's name, which is also its report's.
    fn name(&self) -> &'static str {
        match self {
            Command::Ingest { .. } => "ingest",
            Command::Growth { .. } => "growth",
            Command::Query { .. } => "query",
            Command::Footprint { .. } => "footprint",
            Command::Workers { .. } => "workers",
            Command::All { .. } => "all",
            Command::CeilingDrain { .. } => "ceiling-drain",
            Command::CeilingLoad { .. } => "ceiling-load",
        }
    }
}

/// What every sub-command works with.
pub struct Context {
    /// The PostgreSQL server.
    pub postgres_url: String,
    /// The broker.
    pub amqp_url: String,
    /// The services' binaries and logs.
    pub binaries: Binaries,
    /// Scratch files of this run (TACH_CONFIG files, logs).
    pub work_dir: PathBuf,
    /// Keep the scratch database.
    pub keep: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tach-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let common = cli.common;
    match cli.command {
        Command::CeilingDrain { queue, messages } => {
            return ceiling::drain_child(&common.amqp_url, &queue, messages).await;
        }
        Command::CeilingLoad {
            database_url,
            instances,
            start,
        } => {
            let spec = ceiling::StreamSpec { instances, start };
            return ceiling::load_child(&database_url, &spec).await;
        }
        _ => {}
    }
    let exe_dir = std::env::current_exe()?
        .parent()
        .context("tach-bench's directory")?
        .to_path_buf();
    let bench_dir = exe_dir.parent().unwrap_or(&exe_dir).join("bench");
    let work_dir = bench_dir.join(format!("run-{}", Utc::now().format("%Y%m%dT%H%M%S")));
    let context = Context {
        postgres_url: common.postgres_url,
        amqp_url: common.amqp_url,
        binaries: Binaries {
            directory: common.bin_dir.unwrap_or(exe_dir),
            logs: work_dir.join("logs"),
        },
        work_dir,
        keep: common.keep,
    };
    // --json names the file of the sub-command asked for (all.json for
    // `all`); the other reports a sub-command writes keep their defaults.
    let primary = cli.command.name();
    let json_path = |name: &str| match &common.json {
        Some(path) if name == primary => path.clone(),
        _ => bench_dir.join(format!("{name}.json")),
    };
    // On Ctrl-C or SIGTERM the run stops (dropping it kills the services
    // and ceiling processes it started) and what it created is removed.
    let outcome = tokio::select! {
        outcome = dispatch(&context, cli.command, &json_path) => Ok(outcome),
        signal = interrupted() => Err(signal),
    };
    // The run's future is dropped by now.
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(signal) => {
            scratch::remove_leftovers(context.keep).await;
            Err(anyhow::anyhow!("interrupted ({})", signal?))
        }
    };
    finish_work_dir(&context, outcome.is_ok());
    outcome
}

/// Waits for Ctrl-C or SIGTERM and names it.
async fn interrupted() -> anyhow::Result<&'static str> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.map(|()| "Ctrl-C").map_err(Into::into),
        _ = terminate.recv() => Ok("SIGTERM"),
    }
}

async fn dispatch(
    context: &Context,
    command: Command,
    json_path: &dyn Fn(&str) -> PathBuf,
) -> anyhow::Result<()> {
    let reports = match command {
        Command::Ingest { stream } => vec![ingest::run(context, &stream).await?.report],
        Command::Growth { stream, growth } => {
            vec![growth::run(context, &stream, &growth, None).await?.growth]
        }
        Command::Query {
            stream,
            growth,
            load,
            database_url: Some(url),
        } => {
            let _ = (stream, growth);
            vec![query::run_existing(context, &load, &url).await?]
        }
        Command::Query {
            stream,
            growth,
            load,
            database_url: None,
        } => {
            let grown = growth::run(context, &stream, &growth, Some(&load)).await?;
            [grown.growth].into_iter().chain(grown.query).collect()
        }
        Command::Footprint { stream, seconds } => {
            let load = query::LoadArgs {
                seconds,
                ..query::LoadArgs::default()
            };
            vec![footprint::run(context, &stream, &load, &[]).await?]
        }
        Command::Workers { stream, workers } => {
            let outcome = workers::run(context, &stream, &workers).await?;
            outcome.report.write(&json_path("workers"))?;
            if !outcome.exact {
                anyhow::bail!("workers: a run did not leave the exact state (see above)");
            }
            return Ok(());
        }
        Command::All {
            stream,
            growth,
            load,
        } => return all(context, &stream, &growth, &load, json_path).await,
        Command::CeilingDrain { .. } | Command::CeilingLoad { .. } => Vec::new(),
    };
    for report in &reports {
        report.write(&json_path(&report.name))?;
    }
    Ok(())
}

/// Every sub-command in turn; footprint reuses the peaks the others saw.
async fn all(
    context: &Context,
    stream: &stream::StreamArgs,
    growth: &growth::GrowthArgs,
    load: &query::LoadArgs,
    json_path: &dyn Fn(&str) -> PathBuf,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let ingest = ingest::run(context, stream).await?;
    ingest.report.write(&json_path("ingest"))?;
    let grown = growth::run(context, stream, growth, Some(load)).await?;
    grown.growth.write(&json_path("growth"))?;
    if let Some(query) = &grown.query {
        query.write(&json_path("query"))?;
    }
    let mut peaks = ingest.peaks.clone();
    peaks.extend(grown.peaks.iter().cloned());
    let footprint = footprint::run(context, stream, load, &peaks).await?;
    footprint.write(&json_path("footprint"))?;
    let mut reports = vec![ingest.report, grown.growth];
    reports.extend(grown.query);
    reports.push(footprint);
    let combined: Vec<serde_json::Value> = reports.iter().map(Report::json).collect();
    let path = json_path("all");
    report::write_json(&path, &serde_json::Value::Array(combined))?;
    println!(
        "\ntach-bench all: done in {:.1} min; every figure also in {}",
        started.elapsed().as_secs_f64() / 60.0,
        path.display()
    );
    Ok(())
}

/// Removes the run's scratch files, unless --keep or the run failed (the
/// services' logs then say why).
fn finish_work_dir(context: &Context, succeeded: bool) {
    let path: &Path = &context.work_dir;
    if !path.exists() {
        return;
    }
    if succeeded && !context.keep {
        let _ = std::fs::remove_dir_all(path);
    } else {
        println!("services' logs: {}", context.binaries.logs.display());
    }
}
