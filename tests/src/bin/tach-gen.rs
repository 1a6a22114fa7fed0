//! tach-gen: generates a deterministic, realistic event stream (nova,
//! glance, crash reports, products, releases) and publishes it to RabbitMQ
//! with publisher confirms, writes it as JSON lines, or counts it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use clap::{Parser, Subcommand};
use tach_tests::gen::{generate, AuditPeriod, Message, Scenario};
use tach_tests::publish::Publisher;

/// Generates nova, glance, crash, product and release events shaped like
/// their real publishers'. With `--start`, the same options always give the
/// same stream.
#[derive(Debug, Parser)]
#[command(name = "tach-gen", version)]
struct Cli {
    /// Seed of every random choice in the stream.
    #[arg(long, env = "TACH_GEN_SEED", default_value_t = 1)]
    seed: u64,
    /// Time of the first event (RFC 3339, e.g. 2026-01-01T00:00:00Z). By default the stream
    /// is placed so that it ends about now, so recent-window views show it at once.
    #[arg(long, env = "TACH_GEN_START")]
    start: Option<DateTime<Utc>>,
    /// Nova instance lifecycles (about 30 messages each).
    #[arg(long, default_value_t = 20)]
    instances: usize,
    /// Glance image lifecycles.
    #[arg(long, default_value_t = 5)]
    images: usize,
    /// Processed crash reports (a hang pair counts two).
    #[arg(long, default_value_t = 30)]
    crashes: usize,
    /// Release lifecycles (packages, environment deploy and status).
    #[arg(long, default_value_t = 3)]
    releases: usize,
    /// Product versions, each with its builds.
    #[arg(long, default_value_t = 4)]
    products: usize,
    /// How often nova audits usage (`compute.instance.exists`): daily, or hourly, where
    /// instances left running keep getting one until a day after the last was created.
    #[arg(long, value_enum, default_value_t = AuditPeriod::Daily)]
    audit_period: AuditPeriod,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publish the stream to RabbitMQ, waiting for the broker to confirm every message.
    Publish {
        /// RabbitMQ URL (or AMQP_URL_FILE, a file holding it).
        #[arg(
            long,
            env = "AMQP_URL",
            hide_env_values = true,
            default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
        )]
        amqp_url: String,
        /// Prefix of the exchange names (`<prefix>nova`, `<prefix>glance`, `<prefix>tach`).
        #[arg(long, env = "TACH_GEN_EXCHANGE_PREFIX", default_value = "")]
        exchange_prefix: String,
        /// Messages per second; as fast as the broker confirms when omitted.
        #[arg(long)]
        rate: Option<f64>,
        /// Publish the stream this many times, each copy with fresh ids and 15 days later (for load).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        repeat: u32,
    },
    /// Write the stream as JSON lines ({"exchange", "routing_key", "body"}), as `tach-ingest replay --file` reads.
    Jsonl {
        /// Output file; standard output when omitted.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print how many messages the scenario makes, per exchange.
    Count,
}

impl Cli {
    fn scenario(&self) -> Scenario {
        let now = Utc::now().trunc_subsecs(0);
        let mut scenario = Scenario {
            seed: self.seed,
            start: self.start.unwrap_or(now),
            instances: self.instances,
            images: self.images,
            crashes: self.crashes,
            releases: self.releases,
            products: self.products,
            audit_period: self.audit_period,
        };
        if self.start.is_none() {
            // Measure the stream's span from now and move the start back by
            // it. The span shifts a little with the start (daily audits
            // follow midnight), so the last event lands near now, not on it.
            let last = generate(&scenario).iter().filter_map(Message::when).max();
            if let Some(span) = last
                .map(|last| last - now)
                .filter(|span| *span > TimeDelta::zero())
            {
                scenario.start = (now - span).trunc_subsecs(0);
            }
        }
        scenario
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(why) = tach_schema::secrets::load_file_variants(&["AMQP_URL"]) {
        eprintln!("tach-gen: error: {why}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with every cause, without the backtrace a debug
            // environment (RUST_BACKTRACE) would add.
            eprintln!("tach-gen: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let scenario = cli.scenario();
    match cli.command {
        Command::Publish {
            amqp_url,
            exchange_prefix,
            rate,
            repeat,
        } => publish(&scenario, &amqp_url, &exchange_prefix, rate, repeat).await,
        Command::Jsonl { out } => write_jsonl(&generate(&scenario), out.as_ref()),
        Command::Count => {
            print_counts(&generate(&scenario));
            Ok(())
        }
    }
}

/// Publishes `repeat` copies of the scenario, reporting progress on stderr
/// every second and a summary on stdout.
async fn publish(
    scenario: &Scenario,
    amqp_url: &str,
    exchange_prefix: &str,
    rate: Option<f64>,
    repeat: u32,
) -> anyhow::Result<()> {
    let publisher = Publisher::connect(amqp_url, exchange_prefix).await?;
    publisher.declare_exchanges().await?;
    let started = Instant::now();
    let mut sent = 0;
    for copy in 0..repeat {
        let messages = generate(&scenario.copy(copy));
        let (already, total) = (sent, messages.len());
        sent += publisher
            .publish_with_progress(&messages, rate, |done| {
                let per_second = (already + done) as f64 / started.elapsed().as_secs_f64();
                eprintln!(
                    "tach-gen: copy {}/{repeat}: {done}/{total} sent ({per_second:.0} msg/s)",
                    copy + 1
                );
            })
            .await
            .with_context(|| format!("publishing copy {} of {repeat}", copy + 1))?;
    }
    publisher.close().await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "tach-gen: published and confirmed {sent} messages in {seconds:.1} s ({:.0} msg/s)",
        sent as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// Writes one `{"exchange", "routing_key", "body"}` object per line.
fn write_jsonl(messages: &[Message], out: Option<&PathBuf>) -> anyhow::Result<()> {
    let mut writer: Box<dyn Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    for message in messages {
        writeln!(writer, "{}", message.to_json_line()).context("writing a message")?;
    }
    writer.flush().context("flushing the output")?;
    Ok(())
}

/// Prints the message count of each exchange and the total.
fn print_counts(messages: &[Message]) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for message in messages {
        *counts.entry(message.exchange.as_str()).or_default() += 1;
    }
    for (exchange, count) in &counts {
        println!("{exchange}: {count}");
    }
    println!("total: {}", messages.len());
}
