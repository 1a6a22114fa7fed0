//! `tach-bench footprint`: how much memory the services take, and how fast
//! tach-ingest is back at full rate after a SIGKILL in mid-stream.
//!
//! tach-ingest drains the mixed stream; at 40 % it is killed and restarted
//! at once (a crash, the OOM killer, a node loss). Recovery is the time
//! from the kill to the start of the first 1-second window whose rate is at
//! least 0.9 of the rate over the 5 seconds before the kill; redelivered
//! messages recognized as duplicates count as work done, as they are. The
//! database must then hold every message exactly once.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tach_tests::gen::generate;
use tach_tests::publish::Publisher;

use crate::measure::{Phase, Sample, STALL};
use crate::query::{self, LoadArgs};
use crate::report::{rounded, Cell, Report, Table};
use crate::scratch::{Namespace, ScratchDatabase};
use crate::services::{IngestConfig, PeakRss, Service};
use crate::stream::{self, StreamArgs};
use crate::{system, Context};

/// Where in the stream tach-ingest is killed.
const KILL_AT: f64 = 0.4;
/// The rate before the kill is taken over this long.
const BEFORE: Duration = Duration::from_secs(5);
/// Recovery windows are this long.
const WINDOW: Duration = Duration::from_secs(1);
/// A window at this share of the rate before counts as recovered.
const RECOVERED: f64 = 0.9;
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// What the SIGKILL restart showed.
struct Recovery {
    rate_before: f64,
    ready_after: f64,
    first_commit_after: Option<f64>,
    recovered_after: Option<f64>,
    recovered_rate: Option<f64>,
    stored: i64,
    expected: usize,
}

/// Runs the kill test (and a query pass unless `earlier` has tach-query's
/// peak) and reports every peak RSS with it.
pub async fn run(
    context: &Context,
    stream_args: &StreamArgs,
    load: &LoadArgs,
    earlier: &[PeakRss],
) -> anyhow::Result<Report> {
    let scenario = stream::mixed(
        stream_args.instances,
        stream::start_ending_now(stream_args.instances),
    );
    let messages = generate(&scenario);
    println!("tach-bench footprint: {}", stream::describe(&messages));
    let database = ScratchDatabase::create(&context.postgres_url, &context.binaries).await?;
    let namespace = Namespace::create(&context.amqp_url, &context.work_dir)?;
    let outcome = async {
        namespace.declare().await?;
        let publisher =
            Publisher::connect(&namespace.broker.amqp_url, &namespace.broker.prefix).await?;
        publisher.publish(&messages, None).await?;
        publisher.close().await?;
        let (recovery, mut peaks) =
            kill_and_restart(context, &database, &namespace, messages.len()).await?;
        let query_measured = earlier
            .iter()
            .any(|peak| peak.what.starts_with("tach-query"));
        if !query_measured {
            let stage = query::stage(
                context,
                load,
                &database.url,
                &database.pool,
                messages.len() as u64,
                None,
            )
            .await?;
            peaks.extend(query::peaks(&[stage]));
        }
        anyhow::Ok((recovery, peaks))
    }
    .await;
    namespace.finish().await;
    database.finish(context.keep).await?;
    let (recovery, peaks) = outcome?;
    let all: Vec<PeakRss> = earlier.iter().cloned().chain(peaks).collect();
    Ok(report(&recovery, &all))
}

async fn kill_and_restart(
    context: &Context,
    database: &ScratchDatabase,
    namespace: &Namespace,
    expected: usize,
) -> anyhow::Result<(Recovery, Vec<PeakRss>)> {
    let kill_at = (expected as f64 * KILL_AT) as u64;
    let first = Service::ingest(
        &context.binaries,
        &IngestConfig::new(&database.url, namespace)?,
    )
    .await?;
    let mut before = vec![Sample::now(0)?];
    loop {
        tokio::time::sleep(SAMPLE_EVERY).await;
        let sample = Sample::of(&first).await?;
        before.push(sample);
        let long_enough = sample.at - before[0].at >= BEFORE;
        if sample.finished >= kill_at && long_enough {
            break;
        }
        if sample.finished as usize >= expected {
            bail!("the stream was drained before the kill: use more --instances");
        }
    }
    let last = before[before.len() - 1];
    let window_start = before
        .iter()
        .rev()
        .find(|sample| last.at - sample.at >= BEFORE)
        .copied()
        .unwrap_or(before[0]);
    let rate_before = Phase::between(&window_start, &last).rate();
    println!(
        "  killing tach-ingest (SIGKILL) at {} of {expected} messages, {rate_before:.0} msg/s before",
        last.finished
    );
    let killed_at = Instant::now();
    let peak_before = first.kill().await?;
    let second = Service::ingest(
        &context.binaries,
        &IngestConfig::new(&database.url, namespace)?,
    )
    .await?;
    let ready_after = killed_at.elapsed().as_secs_f64();
    let mut after = vec![Sample::now(0)?];
    let remaining = expected as u64 - last.finished;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut shown = 0;
    let found = loop {
        tokio::time::sleep(SAMPLE_EVERY).await;
        after.push(Sample::of(&second).await?);
        // One progress line per second since the restart.
        let last = after[after.len() - 1];
        if (last.at - after[shown].at) >= WINDOW {
            let rate = Phase::between(&after[shown], &last).rate();
            let since = (after[shown].at - killed_at).as_secs_f64();
            println!("  {since:5.1} s after the kill: {rate:.0} msg/s");
            shown = after.len() - 1;
        }
        if let Some(found) = first_recovered_window(&after, rate_before) {
            break Some(found);
        }
        if after[after.len() - 1].finished >= remaining || Instant::now() > deadline {
            break None;
        }
    };
    let first_commit_after = after
        .iter()
        .find(|sample| sample.finished > 0)
        .map(|sample| (sample.at - killed_at).as_secs_f64());
    let (recovered_after, recovered_rate) = match found {
        Some((start, rate)) => (Some((start - killed_at).as_secs_f64()), Some(rate)),
        None => (None, None),
    };
    let stored = wait_for_all(database, expected).await?;
    let peak_after = second.stop().await?;
    let recovery = Recovery {
        rate_before,
        ready_after,
        first_commit_after,
        recovered_after,
        recovered_rate,
        stored,
        expected,
    };
    println!(
        "  back at ≥ {RECOVERED} of that rate {} after the kill; {stored} of {expected} stored",
        recovered_after.map_or("never, within the stream,".into(), |s| format!("{s:.2} s"))
    );
    let peaks = vec![
        PeakRss {
            what: "tach-ingest during footprint, until the kill".into(),
            bytes: peak_before,
        },
        PeakRss {
            what: "tach-ingest during footprint, after the restart".into(),
            bytes: peak_after,
        },
    ];
    Ok((recovery, peaks))
}

/// The start and rate of the first window of [`WINDOW`] whose rate is at
/// least [`RECOVERED`] × `before`.
fn first_recovered_window(samples: &[Sample], before: f64) -> Option<(Instant, f64)> {
    samples.iter().enumerate().find_map(|(index, start)| {
        let end = samples[index..]
            .iter()
            .find(|sample| sample.at - start.at >= WINDOW)?;
        let rate = Phase::between(start, end).rate();
        (rate >= RECOVERED * before).then_some((start.at, rate))
    })
}

/// Waits until the raw table holds `expected` events (or stops growing).
async fn wait_for_all(database: &ScratchDatabase, expected: usize) -> anyhow::Result<i64> {
    let mut last = (-1, Instant::now());
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM raw_events")
            .fetch_one(&database.pool)
            .await
            .context("counting stored events")?;
        if stored as usize >= expected {
            return Ok(stored);
        }
        if stored != last.0 {
            last = (stored, Instant::now());
        } else if last.1.elapsed() > STALL.min(Duration::from_secs(60)) {
            return Ok(stored);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn report(recovery: &Recovery, peaks: &[PeakRss]) -> Report {
    let mut rss = Table::new("footprint: peak RSS (VmHWM)", &["service and run", "MiB"]);
    for peak in peaks {
        rss.row(vec![
            Cell::text(&peak.what),
            Cell::maybe(peak.bytes.map(system::mib), 1),
        ]);
    }
    let mut restart = Table::new(
        "footprint: SIGKILL of tach-ingest in mid-stream, restarted at once",
        &["measure", "value"],
    );
    let rows = [
        (
            "msg/s over the 5 s before the kill",
            Some(recovery.rate_before),
            0,
        ),
        (
            "s from the kill to answering again",
            Some(recovery.ready_after),
            2,
        ),
        (
            "s from the kill to the first commit",
            recovery.first_commit_after,
            2,
        ),
        (
            "s from the kill to the first 1-s window at >= 0.9 of the rate before",
            recovery.recovered_after,
            2,
        ),
        ("msg/s in that window", recovery.recovered_rate, 0),
    ];
    for (what, value, decimals) in rows {
        restart.row(vec![Cell::text(what), Cell::maybe(value, decimals)]);
    }
    restart.row(vec![
        Cell::text(format!("events stored (of {})", recovery.expected)),
        Cell::Count(recovery.stored.max(0) as u64),
    ]);
    let mut report = Report::new("footprint");
    report.table(rss);
    report.table(restart);
    let largest = |prefix: &str| {
        peaks
            .iter()
            .filter(|peak| peak.what.starts_with(prefix))
            .filter_map(|peak| peak.bytes)
            .max()
    };
    report.figure("tach_ingest_peak_rss_bytes", largest("tach-ingest"));
    report.figure("tach_query_peak_rss_bytes", largest("tach-query"));
    report.figure(
        "rate_before_kill_msg_per_s",
        rounded(recovery.rate_before, 0),
    );
    report.figure(
        "recovered_after_kill_s",
        recovery.recovered_after.map(|s| rounded(s, 3)),
    );
    report.figure(
        "stored_exactly_once",
        recovery.stored == recovery.expected as i64,
    );
    report
}
