//! Rates and CPU cost of a timed phase, and the sampling of a running
//! tach-ingest's counters they are computed from.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::services::Service;
use crate::system;

/// Messages handled in a timed phase and the machine's CPU time meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    /// Messages (or rows) handled.
    pub messages: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Machine-wide busy CPU microseconds.
    pub cpu_micros: f64,
}

impl Phase {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds.max(1e-9)
    }

    /// Machine-wide CPU microseconds per message.
    pub fn cpu_per_message(&self) -> f64 {
        self.cpu_micros / self.messages.max(1) as f64
    }

    /// The phase between two samples.
    pub fn between(first: &Sample, last: &Sample) -> Phase {
        Phase {
            messages: last.finished.saturating_sub(first.finished),
            seconds: (last.at - first.at).as_secs_f64(),
            cpu_micros: last.jiffies.saturating_sub(first.jiffies) as f64
                * system::micros_per_jiffy(),
        }
    }
}

/// One reading of a tach-ingest's progress.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// Messages finished (stored, duplicate or rejected) by the process.
    pub finished: u64,
    /// Machine-wide busy jiffies at that moment.
    pub jiffies: u64,
}

impl Sample {
    /// A sample with `finished` messages, taken now.
    pub fn now(finished: u64) -> anyhow::Result<Sample> {
        Ok(Sample {
            at: Instant::now(),
            finished,
            jiffies: system::busy_jiffies()?,
        })
    }

    /// Reads `service`'s counters now.
    pub async fn of(service: &Service) -> anyhow::Result<Sample> {
        let finished = service.finished_messages().await?;
        Sample::now(finished)
    }
}

/// Longest tach-ingest may make no progress with messages waiting (a
/// checkpoint or a report run may pause it for a while).
pub const STALL: Duration = Duration::from_secs(120);

/// Samples `service` every `interval` until it has finished `target`
/// messages; returns every sample, the first taken at once.
pub async fn until_finished(
    service: &Service,
    target: u64,
    interval: Duration,
) -> anyhow::Result<Vec<Sample>> {
    let mut samples = vec![Sample::of(service).await?];
    let mut progress_at = Instant::now();
    loop {
        let last = samples[samples.len() - 1];
        if last.finished >= target {
            return Ok(samples);
        }
        tokio::time::sleep(interval).await;
        let sample = Sample::of(service).await?;
        if sample.finished > last.finished {
            progress_at = sample.at;
        } else if progress_at.elapsed() > STALL {
            bail!(
                "tach-ingest made no progress for {} s at {} of {target} messages; {}",
                STALL.as_secs(),
                sample.finished,
                service.log_tail(5)
            );
        }
        samples.push(sample);
    }
}
