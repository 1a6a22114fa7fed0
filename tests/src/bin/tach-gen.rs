//! tach-gen: publishes a deterministic, realistic event stream to RabbitMQ
//! (or writes it as JSON lines) — for the demo, the tests and load.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use clap::{Parser, Subcommand};
use tach_tests::bus::Publisher;
use tach_tests::gen::{generate, Message, Scenario};

/// Generates nova, glance, crash, product and release events. The same
/// options always give the same stream.
#[derive(Debug, Parser)]
#[command(name = "tach-gen", version, about)]
struct Cli {
    /// Seed of the stream.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Time of the first event (RFC 3339); now, cut to the second, by default.
    #[arg(long)]
    start: Option<DateTime<Utc>>,
    /// Nova instance lifecycles.
    #[arg(long, default_value_t = 20)]
    instances: usize,
    /// Glance image lifecycles.
    #[arg(long, default_value_t = 5)]
    images: usize,
    /// Crash reports.
    #[arg(long, default_value_t = 30)]
    crashes: usize,
    /// Release lifecycles.
    #[arg(long, default_value_t = 3)]
    releases: usize,
    /// Product versions.
    #[arg(long, default_value_t = 4)]
    products: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publish the stream to RabbitMQ with publisher confirms.
    Publish {
        /// Broker URL.
        #[arg(
            long,
            env = "AMQP_URL",
            default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
        )]
        amqp_url: String,
        /// Prefix of the exchange names (`<prefix>nova`, …).
        #[arg(long, default_value = "")]
        exchange_prefix: String,
        /// Messages per second; as fast as the broker confirms when omitted.
        #[arg(long)]
        rate: Option<f64>,
        /// Publish the stream this many times, each copy with fresh message ids, one stream length later.
        #[arg(long, default_value_t = 1)]
        repeat: u32,
    },
    /// Write the stream as JSON lines ({"exchange", "routing_key", "body"}), as `tach-ingest replay --file` reads.
    Jsonl {
        /// Output file; standard output when omitted.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Print how many messages the scenario makes, per exchange.
    Count,
}

impl Cli {
    fn scenario(&self, copy: u32) -> Scenario {
        let start = self.start.unwrap_or_else(|| Utc::now().trunc_subsecs(0));
        Scenario {
            // Each copy is its own stream: new ids, a later start.
            seed: self.seed.wrapping_add(u64::from(copy) * 1_000_003),
            start: start + TimeDelta::days(15) * copy as i32,
            instances: self.instances,
            images: self.images,
            crashes: self.crashes,
            releases: self.releases,
            products: self.products,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Publish {
            amqp_url,
            exchange_prefix,
            rate,
            repeat,
        } => {
            let publisher = Publisher::connect(amqp_url, exchange_prefix).await?;
            publisher.declare_exchanges().await?;
            let started = Instant::now();
            let mut sent = 0;
            for copy in 0..*repeat {
                let messages = generate(&cli.scenario(copy));
                let total = messages.len();
                sent += publisher
                    .publish_with_progress(&messages, *rate, |done| {
                        eprintln!(
                            "tach-gen: {}/{total} sent ({:.0} msg/s)",
                            sent + done,
                            (sent + done) as f64 / started.elapsed().as_secs_f64()
                        );
                    })
                    .await?;
            }
            publisher.close().await?;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "published {sent} messages in {seconds:.1} s ({:.0} msg/s)",
                sent as f64 / seconds.max(1e-9)
            );
        }
        Command::Jsonl { out } => {
            let messages = generate(&cli.scenario(0));
            let mut writer: Box<dyn Write> = match out {
                Some(path) => Box::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                ),
                None => Box::new(std::io::stdout().lock()),
            };
            for message in &messages {
                serde_json::to_writer(&mut writer, message)?;
                writer.write_all(b"\n")?;
            }
            writer.flush()?;
        }
        Command::Count => {
            let messages = generate(&cli.scenario(0));
            for exchange in ["nova", "glance", "tach"] {
                let count = messages
                    .iter()
                    .filter(|m: &&Message| m.exchange == exchange)
                    .count();
                println!("{exchange}: {count}");
            }
            println!("total: {}", messages.len());
        }
    }
    Ok(())
}
