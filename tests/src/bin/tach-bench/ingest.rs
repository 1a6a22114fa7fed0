//! `tach-bench ingest`: tach-ingest's rate on the mixed stream as a ratio
//! of the ceiling (drain and load at once) measured in the same run, with
//! the machine's CPU time per message of each.

use std::time::Duration;

use tach_tests::gen::{generate, Message};
use tach_tests::publish::Publisher;

use crate::ceiling::{self, Ceilings, StreamSpec};
use crate::measure::{self, Phase, Sample};
use crate::report::{rounded, Cell, Report, Table};
use crate::scratch::{Namespace, ScratchDatabase};
use crate::services::{IngestConfig, PeakRss, Service};
use crate::stream::{self, StreamArgs};
use crate::{system, Context};

/// The report and the peak RSS tach-ingest reached.
pub struct Outcome {
    /// The figures.
    pub report: Report,
    /// tach-ingest's peak RSS while draining the stream.
    pub peaks: Vec<PeakRss>,
}

/// Runs the ceilings and tach-ingest over one mixed stream.
pub async fn run(context: &Context, options: &StreamArgs) -> anyhow::Result<Outcome> {
    let spec = StreamSpec {
        instances: options.instances,
        start: stream::start_ending_now(options.instances),
    };
    let messages = generate(&stream::mixed(spec.instances, spec.start));
    println!("tach-bench ingest: {}", stream::describe(&messages));
    let database = ScratchDatabase::create(&context.postgres_url, &context.binaries).await?;
    let namespace = Namespace::create(&context.amqp_url, &context.work_dir)?;
    let outcome = async {
        println!("measuring the ceilings (each in its own process):");
        let ceilings = ceiling::measure(&namespace, &database, &spec, &messages).await?;
        let (tach, peak) =
            drain_with_tach_ingest(context, &database, &namespace, &messages).await?;
        anyhow::Ok((ceilings, tach, peak))
    }
    .await;
    namespace.finish().await;
    database.finish(context.keep).await?;
    let (ceilings, tach, peak) = outcome?;
    Ok(Outcome {
        report: report(&messages, &ceilings, &tach, peak),
        peaks: vec![PeakRss {
            what: "tach-ingest during ingest".into(),
            bytes: peak,
        }],
    })
}

/// Publishes the stream into tach's queues, then starts tach-ingest and
/// times it from the moment it answers until it has finished every message.
pub async fn drain_with_tach_ingest(
    context: &Context,
    database: &ScratchDatabase,
    namespace: &Namespace,
    messages: &[Message],
) -> anyhow::Result<(Phase, Option<u64>)> {
    publish_backlog(namespace, messages).await?;
    println!("tach-ingest draining {} messages:", messages.len());
    let config = IngestConfig::new(&database.url, namespace)?;
    let service = Service::ingest(&context.binaries, &config).await?;
    let started = Sample::now(0)?;
    let samples =
        measure::until_finished(&service, messages.len() as u64, Duration::from_millis(100)).await;
    let peak = service.stop().await?;
    let samples = samples?;
    let phase = Phase::between(&started, &samples[samples.len() - 1]);
    println!("  tach-ingest: {:.0} msg/s", phase.rate());
    Ok((phase, peak))
}

/// Declares tach's queues in `namespace` and publishes `messages` into
/// them, so that they wait there as a backlog for tach-ingest to drain.
pub async fn publish_backlog(namespace: &Namespace, messages: &[Message]) -> anyhow::Result<()> {
    namespace.declare().await?;
    let publisher =
        Publisher::connect(&namespace.broker.amqp_url, &namespace.broker.prefix).await?;
    publisher.publish(messages, None).await?;
    publisher.close().await
}

fn report(messages: &[Message], ceilings: &Ceilings, tach: &Phase, peak: Option<u64>) -> Report {
    let ceiling = &ceilings.both;
    let mut table = Table::new(
        format!("ingest: {}", stream::describe(messages)),
        &[
            "phase",
            "messages",
            "seconds",
            "msg/s",
            "CPU µs/msg",
            "of ceiling",
        ],
    );
    let mut row = |name: &str, phase: &Phase| {
        table.row(vec![
            Cell::text(name),
            Cell::Count(phase.messages),
            Cell::number(phase.seconds, 1),
            Cell::number(phase.rate(), 0),
            Cell::number(phase.cpu_per_message(), 0),
            Cell::number(phase.rate() / ceiling.rate(), 2),
        ]);
    };
    row("(a) drain only: ack, no storage", &ceilings.drain);
    row(
        "(b) load only: keys + raw rows, 2 connections",
        &ceilings.load,
    );
    row("(c) ceiling: (a) and (b) at once", ceiling);
    row("tach-ingest", tach);
    let mut report = Report::new("ingest");
    report.table(table);
    let ratio = tach.rate() / ceiling.rate();
    let cpu_ratio = tach.cpu_per_message() / ceiling.cpu_per_message();
    println!(
        "\n  tach-ingest / ceiling: {ratio:.2} of the rate, {cpu_ratio:.2}× the CPU per message; \
         peak RSS {}",
        peak.map_or("unknown".into(), |bytes| format!(
            "{:.0} MiB",
            system::mib(bytes)
        ))
    );
    report.figure("messages", messages.len());
    report.figure("ceiling_msg_per_s", rounded(ceiling.rate(), 0));
    report.figure("tach_ingest_msg_per_s", rounded(tach.rate(), 0));
    report.figure("ratio_to_ceiling", rounded(ratio, 3));
    report.figure(
        "cpu_us_per_msg_ceiling",
        rounded(ceiling.cpu_per_message(), 1),
    );
    report.figure(
        "cpu_us_per_msg_tach_ingest",
        rounded(tach.cpu_per_message(), 1),
    );
    report.figure("cpu_ratio_to_ceiling", rounded(cpu_ratio, 3));
    report.figure("tach_ingest_peak_rss_bytes", peak);
    report
}
