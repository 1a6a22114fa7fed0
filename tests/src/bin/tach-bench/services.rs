//! tach-ingest and tach-query as an operator runs them: the release
//! binaries as separate processes, configured through their environment,
//! each on a local port of its own, with its log in the run's directory.
//! The benchmark reads their `/metrics`, their peak RSS, and stops them
//! with SIGTERM (or kills them with SIGKILL).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use crate::http;
use crate::scratch::Namespace;
use crate::system;

/// Where the release binaries are and where their logs go.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// Directory holding `tach-ingest` and `tach-query`.
    pub directory: PathBuf,
    /// Directory the services' logs go to.
    pub logs: PathBuf,
}

impl Binaries {
    /// The path of binary `name`; an error saying how to build it when missing.
    pub fn path(&self, name: &str) -> anyhow::Result<PathBuf> {
        let path = self.directory.join(name);
        if !path.is_file() {
            bail!(
                "{} is missing: build it with `cargo build --release -p tach-ingest -p tach-query`",
                path.display()
            );
        }
        Ok(path)
    }
}

/// What tach-ingest is started with.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Its database.
    pub database_url: String,
    /// Its `TACH_CONFIG` file.
    pub config_file: PathBuf,
    /// Its `/metrics` address.
    pub metrics: SocketAddr,
}

impl IngestConfig {
    /// tach-ingest on `database_url`, consuming the run's namespace, with
    /// /metrics on a free local port.
    pub fn new(database_url: &str, namespace: &Namespace) -> anyhow::Result<IngestConfig> {
        Ok(IngestConfig {
            database_url: database_url.to_owned(),
            config_file: namespace.config_file.clone(),
            metrics: system::free_local_address()?,
        })
    }
}

/// A running service process.
pub struct Service {
    name: &'static str,
    child: Child,
    /// The address it answers HTTP on (tach-ingest: /metrics; tach-query: the API).
    pub address: SocketAddr,
    log: PathBuf,
}

impl Service {
    /// Starts tach-ingest with its defaults (prefetch 2000, batches of 500,
    /// two writers) and waits until /metrics answers.
    pub async fn ingest(binaries: &Binaries, config: &IngestConfig) -> anyhow::Result<Service> {
        let mut command = Command::new(binaries.path("tach-ingest")?);
        command
            .env("DATABASE_URL", &config.database_url)
            .env("TACH_CONFIG", &config.config_file)
            .env("TACH_INGEST_METRICS_ADDR", config.metrics.to_string())
            // A grown database keeps its history: no scheduled prune mid-run.
            .env("TACH_PRUNE_INTERVAL_HOURS", "0");
        let service = Service::spawn("tach-ingest", command, binaries, config.metrics)?;
        service.wait_for(&["/healthz"]).await?;
        Ok(service)
    }

    /// Starts tach-query on `database_url` and waits until it is ready.
    pub async fn query(binaries: &Binaries, database_url: &str) -> anyhow::Result<Service> {
        let address = system::free_local_address()?;
        let mut command = Command::new(binaries.path("tach-query")?);
        command
            .env("DATABASE_URL", database_url)
            .env("TACH_QUERY_ADDR", address.to_string());
        let service = Service::spawn("tach-query", command, binaries, address)?;
        service.wait_for(&["/readyz"]).await?;
        Ok(service)
    }

    fn spawn(
        name: &'static str,
        mut command: Command,
        binaries: &Binaries,
        address: SocketAddr,
    ) -> anyhow::Result<Service> {
        std::fs::create_dir_all(&binaries.logs)?;
        let log_path = binaries.logs.join(format!("{name}.log"));
        let log = open_log(&log_path)?;
        // Warnings only: the benchmark measures the service, not its logging.
        command
            .env("RUST_LOG", "warn,lapin::channel=off")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Service {
            name,
            child,
            address,
            log: log_path,
        })
    }

    /// Waits (up to 60 s) until one of `paths` answers 2xx.
    async fn wait_for(&self, paths: &[&str]) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            for path in paths {
                if let Ok(response) = http::get_once(self.address, path).await {
                    if response.is_success() {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer on {} within 60 s",
                    self.name,
                    self.address
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last lines of its log, to say why it made no progress.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        format!("{} (log {}):\n{tail}", self.name, self.log.display())
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Its peak resident set size so far, in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        system::peak_rss_bytes(self.pid())
    }

    /// Stops it the way an orchestrator does (SIGTERM, then waits up to
    /// 30 s); returns its peak RSS, read just before.
    pub async fn stop(mut self) -> anyhow::Result<Option<u64>> {
        let peak = self.peak_rss();
        let pid = self.pid().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status().await;
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                self.child.kill().await?;
                bail!("{} did not stop within 30 s of SIGTERM", self.name);
            }
        }
        Ok(peak)
    }

    /// Kills it with SIGKILL, as a crash or the OOM killer would; returns
    /// its peak RSS, read just before.
    pub async fn kill(mut self) -> anyhow::Result<Option<u64>> {
        let peak = self.peak_rss();
        self.child.kill().await?;
        Ok(peak)
    }

    /// Its Prometheus exposition text.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        let response = http::get_once(self.address, "/metrics").await?;
        if !response.is_success() {
            bail!("{} /metrics answered {}", self.name, response.status);
        }
        Ok(String::from_utf8_lossy(&response.body).into_owned())
    }

    /// The messages tach-ingest has finished with since it started: stored,
    /// duplicate and rejected, summed over deployments and families.
    pub async fn finished_messages(&self) -> anyhow::Result<u64> {
        let text = self.metrics().await?;
        Ok([
            tach_ingest::metrics::MESSAGES_STORED,
            tach_ingest::metrics::MESSAGES_DUPLICATE,
            tach_ingest::metrics::MESSAGES_REJECTED,
        ]
        .iter()
        .map(|name| counter_sum(&text, name))
        .sum::<f64>() as u64)
    }
}

/// A service's peak RSS during one part of a run (footprint prints them all).
#[derive(Debug, Clone)]
pub struct PeakRss {
    /// The service and the part of the run, e.g. `tach-ingest during ingest`.
    pub what: String,
    /// Bytes; None when /proc did not say.
    pub bytes: Option<u64>,
}

/// The sum of every series of counter `name` in an exposition.
pub fn counter_sum(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The service's log file (appended: a restarted service continues it).
fn open_log(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::counter_sum;

    #[test]
    fn counter_sum_adds_every_series_of_one_name_only() {
        let text = "# HELP tach_x_total x\n# TYPE tach_x_total counter\n\
                    tach_x_total{family=\"nova\"} 3\ntach_x_total{family=\"glance\"} 4\n\
                    tach_x_total_other 100\ntach_x_total 1\n";
        assert_eq!(counter_sum(text, "tach_x_total"), 8.0);
    }
}
