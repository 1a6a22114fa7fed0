//! The process-wide Prometheus recorder. Both binaries use it, and tests run
//! both in one process, while a process can hold only one global recorder:
//! so there is one installer, idempotent, with the buckets of every tach
//! histogram (without buckets the exporter would emit summaries, which
//! cannot be summed across replicas).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Buckets for durations in seconds: 1 ms to 60 s.
const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0,
];

/// Buckets for ingest lag in seconds: 10 ms to a day (replays of old events land high).
const LAG_BUCKETS: [f64; 12] = [
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0,
];

/// Buckets for batch sizes in messages.
const BATCH_BUCKETS: [f64; 10] = [
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0,
];

/// Installs the recorder on first call and returns its handle ever after.
/// Returns None only if another recorder was installed outside this function.
pub fn install() -> Option<&'static PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Some(handle);
    }
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("tach_ingest_lag_seconds".into()),
            &LAG_BUCKETS,
        )
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full("tach_ingest_batch_size".into()),
                &BATCH_BUCKETS,
            )
        })
        .and_then(|builder| {
            builder.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
        })
        .ok()?;
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        return HANDLE.get();
    }
    Some(HANDLE.get_or_init(|| handle))
}
