//! `tach-bench growth`: tach-ingest's rate, slice by slice, while its
//! database grows from empty to millions of events.
//!
//! Copies of the mixed stream (fresh ids, each placed 15 days before the
//! previous one, so the newest data stays put while history piles up) are
//! published while tach-ingest consumes, topping the broker backlog up to a
//! bound: the broker never holds the whole stream, and the publisher's cost
//! is the same in every slice. A slice is one copy: a copy starts with
//! creates and ends with the hourly audits of the instances left running,
//! so slices of a fixed count would differ in what they hold, while whole
//! copies differ only in how much is stored before them. At each stage —
//! the first copy boundary at or past 100,000, 1,000,000 and, with --full,
//! 10,000,000 stored events — publishing pauses until tach-ingest has
//! caught up; `query` measures the reads there, and the slice clock
//! restarts when publishing resumes.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tach_tests::gen::{generate, Message, Scenario};
use tach_tests::publish::Publisher;

use crate::measure::{Phase, Sample, STALL};
use crate::query::{self, LoadArgs};
use crate::report::{rounded, thousands, Cell, Report, Table};
use crate::scratch::{Namespace, ScratchDatabase};
use crate::services::{IngestConfig, PeakRss, Service};
use crate::stream::{self, StreamArgs};
use crate::{system, Context};

/// The default and `--full` sizes.
const DEFAULT_TARGET: u64 = 1_000_000;
const FULL_TARGET: u64 = 10_000_000;
/// Free space `--full` needs: about 28 GB of database, and some room.
const FULL_FREE_BYTES: u64 = 30_000_000_000;
/// Messages waiting in the broker are topped up to this many.
const BACKLOG: u64 = 60_000;
/// Messages published between two looks at tach-ingest's progress.
const CHUNK: u64 = 1_000;
/// How often tach-ingest's counters are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// How far to grow.
#[derive(Debug, Clone, clap::Args)]
pub struct GrowthArgs {
    /// Stored events to grow to (default 1,000,000; 10,000,000 with --full).
    #[arg(long)]
    pub target_events: Option<u64>,
    /// Grow to 10,000,000 events (needs 30 GB free where PostgreSQL keeps its data).
    #[arg(long)]
    pub full: bool,
}

impl GrowthArgs {
    fn target(&self) -> u64 {
        self.target_events.unwrap_or(if self.full {
            FULL_TARGET
        } else {
            DEFAULT_TARGET
        })
    }
}

/// Where publishing pauses (at the first copy boundary at or past each):
/// 100,000 × 10ⁿ below the target, and the target.
pub fn stages(target: u64) -> Vec<u64> {
    let mut stages: Vec<u64> =
        std::iter::successors(Some(100_000u64), |stage| stage.checked_mul(10))
            .take_while(|stage| *stage < target)
            .collect();
    stages.push(target);
    stages
}

/// The reports of a growth run and the peaks its services reached.
pub struct Outcome {
    /// Slice by slice.
    pub growth: Report,
    /// The query stages, when asked for.
    pub query: Option<Report>,
    /// Peak RSS of tach-ingest (and tach-query at each stage).
    pub peaks: Vec<PeakRss>,
}

/// One reported slice: one copy of the stream.
struct Slice {
    stored: u64,
    phase: Phase,
}

/// Grows a scratch database; with `load`, measures the reads at each stage.
pub async fn run(
    context: &Context,
    stream_args: &StreamArgs,
    options: &GrowthArgs,
    load: Option<&LoadArgs>,
) -> anyhow::Result<Outcome> {
    let target = options.target();
    if options.full || target > DEFAULT_TARGET {
        check_free_space(context, target).await?;
    }
    let base = stream::mixed(
        stream_args.instances,
        stream::start_ending_now(stream_args.instances),
    );
    println!(
        "tach-bench growth: to {} stored events in copies of the stream, stages at {}",
        thousands(target),
        stages(target)
            .iter()
            .map(|stage| thousands(*stage))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let database = ScratchDatabase::create(&context.postgres_url, &context.binaries).await?;
    let namespace = Namespace::create(&context.amqp_url, &context.work_dir)?;
    let outcome = grow(context, &database, &namespace, base, options, load).await;
    namespace.finish().await;
    database.finish(context.keep).await?;
    outcome
}

/// Refuses to start when the database's filesystem is too small.
async fn check_free_space(context: &Context, target: u64) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(&context.postgres_url).await?;
    let directory: Option<String> = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&pool)
        .await
        .ok();
    pool.close().await;
    let path = std::path::PathBuf::from(directory.unwrap_or_else(|| "/".into()));
    let path = if path.exists() { path } else { "/".into() };
    let free = system::free_bytes(&path)?;
    let needed = FULL_FREE_BYTES.max(target * 3_000);
    if free < needed {
        bail!(
            "growing to {} events needs about {} GB free on {}, which has {:.1} GB: free space \
             or choose a smaller --target-events",
            thousands(target),
            needed / 1_000_000_000,
            path.display(),
            free as f64 / 1e9
        );
    }
    Ok(())
}

/// Publishes copies of the stream on demand, a chunk at a time.
struct Feed {
    publisher: Publisher,
    base: Scenario,
    next_copy: u32,
    buffer: Vec<Message>,
    position: usize,
    published: u64,
    /// The cumulative message count at the end of each copy begun.
    copy_ends: Vec<u64>,
}

impl Feed {
    /// True when the copy begun is fully published and `stage` is reached,
    /// so no further copy may begin before the stage's pause.
    fn done_for(&self, stage: u64) -> bool {
        self.position == self.buffer.len() && self.published >= stage
    }

    /// Publishes up to [`CHUNK`] more messages, beginning the next copy
    /// when the current one is done.
    async fn publish_more(&mut self) -> anyhow::Result<()> {
        if self.position == self.buffer.len() {
            let scenario = stream::history_copy(&self.base, self.next_copy);
            self.buffer = tokio::task::spawn_blocking(move || generate(&scenario)).await?;
            self.position = 0;
            self.next_copy += 1;
            self.copy_ends
                .push(self.published + self.buffer.len() as u64);
        }
        let end = (self.position + CHUNK as usize).min(self.buffer.len());
        self.publisher
            .publish(&self.buffer[self.position..end], None)
            .await?;
        self.published += (end - self.position) as u64;
        self.position = end;
        Ok(())
    }
}

async fn grow(
    context: &Context,
    database: &ScratchDatabase,
    namespace: &Namespace,
    base: Scenario,
    options: &GrowthArgs,
    load: Option<&LoadArgs>,
) -> anyhow::Result<Outcome> {
    namespace.declare().await?;
    let publisher =
        Publisher::connect(&namespace.broker.amqp_url, &namespace.broker.prefix).await?;
    let mut feed = Feed {
        publisher,
        base,
        next_copy: 0,
        buffer: Vec::new(),
        position: 0,
        published: 0,
        copy_ends: Vec::new(),
    };
    let config = IngestConfig::new(&database.url, namespace)?;
    let ingest = Service::ingest(&context.binaries, &config).await?;
    let grown = feed_and_sample(context, database, &ingest, &mut feed, options, load).await;
    let ingest_peak = ingest.stop().await?;
    feed.publisher.close().await?;
    let (slices, stage_sizes, query_stages) = grown?;
    let mut peaks = vec![PeakRss {
        what: "tach-ingest during growth".into(),
        bytes: ingest_peak,
    }];
    peaks.extend(query::peaks(&query_stages));
    let query = load.map(|_| query::report(&query_stages));
    Ok(Outcome {
        growth: report(&slices, &stage_sizes, ingest_peak),
        query,
        peaks,
    })
}

/// Database size at a stage.
struct StageSize {
    stored: u64,
    bytes: i64,
}

type Grown = (Vec<Slice>, Vec<StageSize>, Vec<query::Stage>);

/// The growth loop: top the backlog up, read the counters, close slices,
/// pause at stages.
async fn feed_and_sample(
    context: &Context,
    database: &ScratchDatabase,
    ingest: &Service,
    feed: &mut Feed,
    options: &GrowthArgs,
    load: Option<&LoadArgs>,
) -> anyhow::Result<Grown> {
    let mut slices: Vec<Slice> = Vec::new();
    let mut sizes = Vec::new();
    let mut query_stages: Vec<query::Stage> = Vec::new();
    let mut slice_start = Sample::now(0)?;
    let mut last_progress = Instant::now();
    let autovacuum_off = query::autovacuum_is_off(&database.pool).await?;
    if autovacuum_off {
        println!("  autovacuum is off on this server: ANALYZE after each copy, while ingest goes on, as it would");
    }
    for stage in stages(options.target()) {
        let stored = loop {
            let sample = Sample::of(ingest).await?;
            if sample.finished > slice_start.finished {
                last_progress = sample.at;
            }
            let copy_end = feed.copy_ends.get(slices.len()).copied();
            if copy_end.is_some_and(|end| sample.finished >= end) {
                let slice = Slice {
                    stored: sample.finished,
                    phase: Phase::between(&slice_start, &sample),
                };
                print_slice(&slice, slices.first());
                slices.push(slice);
                slice_start = sample;
                if autovacuum_off {
                    // Concurrent, so its cost falls in the next copy, as
                    // autovacuum's would.
                    let pool = database.pool.clone();
                    tokio::spawn(async move { sqlx::query("ANALYZE").execute(&pool).await });
                }
            }
            if feed.done_for(stage) && sample.finished >= feed.published {
                break sample.finished;
            }
            if last_progress.elapsed() > STALL {
                bail!(
                    "tach-ingest made no progress for {} s at {} events; {}",
                    STALL.as_secs(),
                    sample.finished,
                    ingest.log_tail(5)
                );
            }
            let backlog = feed.published.saturating_sub(sample.finished);
            if !feed.done_for(stage) && backlog < BACKLOG {
                feed.publish_more().await?;
            } else {
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
        };
        let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&database.pool)
            .await
            .context("reading the database size")?;
        println!(
            "stage: {} events stored (first whole copy at or past {}), database {:.2} GB",
            thousands(stored),
            thousands(stage),
            bytes as f64 / 1e9
        );
        sizes.push(StageSize { stored, bytes });
        if let Some(load) = load {
            let previous = query_stages.last();
            let measured = query::stage(
                context,
                load,
                &database.url,
                &database.pool,
                stored,
                previous,
            )
            .await?;
            query_stages.push(measured);
        }
        // The pause (and the reads) are no part of any slice.
        slice_start = Sample::of(ingest).await?;
        last_progress = Instant::now();
    }
    Ok((slices, sizes, query_stages))
}

fn print_slice(slice: &Slice, first: Option<&Slice>) {
    let ratio = first.map_or(1.0, |first| slice.phase.rate() / first.phase.rate());
    println!(
        "  copy to {:>10} events: {:>7.0} events/s, {:>5.0} CPU µs/event, {:.2} of the first",
        thousands(slice.stored),
        slice.phase.rate(),
        slice.phase.cpu_per_message(),
        ratio
    );
}

fn report(slices: &[Slice], sizes: &[StageSize], peak: Option<u64>) -> Report {
    let mut table = Table::new(
        "growth: tach-ingest's rate as the database grows",
        &[
            "copy to events",
            "events",
            "seconds",
            "events/s",
            "CPU µs/event",
            "of first",
        ],
    );
    let first_rate = slices.first().map_or(f64::NAN, |slice| slice.phase.rate());
    for slice in slices {
        table.row(vec![
            Cell::text(thousands(slice.stored)),
            Cell::Count(slice.phase.messages),
            Cell::number(slice.phase.seconds, 1),
            Cell::number(slice.phase.rate(), 0),
            Cell::number(slice.phase.cpu_per_message(), 0),
            Cell::number(slice.phase.rate() / first_rate, 2),
        ]);
    }
    let mut stages = Table::new("growth: database size", &["stored events", "GB"]);
    for size in sizes {
        stages.row(vec![
            Cell::Count(size.stored),
            Cell::number(size.bytes as f64 / 1e9, 2),
        ]);
    }
    let mut report = Report::new("growth");
    report.table(table);
    report.table(stages);
    let last_rate = slices.last().map_or(f64::NAN, |slice| slice.phase.rate());
    let slowest_rate = slices
        .iter()
        .map(|slice| slice.phase.rate())
        .fold(f64::NAN, f64::min);
    let ratio = last_rate / first_rate;
    println!(
        "\n  last copy / first copy: {ratio:.2}; slowest copy / first copy: {:.2}",
        slowest_rate / first_rate
    );
    report.figure("first_copy_events_per_s", rounded(first_rate, 0));
    report.figure("last_copy_events_per_s", rounded(last_rate, 0));
    report.figure("slowest_copy_events_per_s", rounded(slowest_rate, 0));
    report.figure("last_over_first", rounded(ratio, 3));
    report.figure("slowest_over_first", rounded(slowest_rate / first_rate, 3));
    report.figure("tach_ingest_peak_rss_bytes", peak);
    report
}
