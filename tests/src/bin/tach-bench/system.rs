//! What the machine says about itself: CPU time from `/proc/stat`, a
//! process's peak RSS from `/proc/<pid>/status`, free disk space from `df`,
//! and a free local port. Linux only, like the benchmark's figures.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::OnceLock;

use anyhow::Context;

/// Machine-wide busy CPU time so far: every CPU's user, nice, system, irq,
/// softirq and steal jiffies (idle and iowait left out). Broker, database,
/// services and the benchmark itself all count: on a shared 2-core machine
/// that is the cost an event really has.
pub fn busy_jiffies() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().context("/proc/stat is empty")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|index| fields.get(*index))
        .sum();
    Ok(busy)
}

/// Microseconds per jiffy: 1,000,000 / `getconf CLK_TCK` (100 on Linux,
/// which is also the fallback when getconf is missing).
pub fn micros_per_jiffy() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        let ticks = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|ticks| *ticks > 0.0)
            .unwrap_or(100.0);
        1_000_000.0 / ticks
    })
}

/// Busy CPU time between two points of a measurement.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    start: u64,
}

impl CpuMeter {
    /// Starts measuring now.
    pub fn start() -> anyhow::Result<CpuMeter> {
        Ok(CpuMeter {
            start: busy_jiffies()?,
        })
    }

    /// Machine-wide busy CPU microseconds since the start.
    pub fn micros(&self) -> anyhow::Result<f64> {
        let now = busy_jiffies()?;
        Ok(now.saturating_sub(self.start) as f64 * micros_per_jiffy())
    }
}

/// A process's peak resident set size in bytes (`VmHWM`), while it runs.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Free bytes on the filesystem holding `path`, from `df -Pk` (no libc
/// here: the workspace forbids unsafe code).
pub fn free_bytes(path: &Path) -> anyhow::Result<u64> {
    let output = std::process::Command::new("df")
        .arg("-Pk")
        .arg(path)
        .output()
        .context("running df")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().nth(1).context("df printed no filesystem")?;
    let available: u64 = line
        .split_whitespace()
        .nth(3)
        .and_then(|field| field.parse().ok())
        .with_context(|| format!("unexpected df output: {line}"))?;
    Ok(available * 1024)
}

/// A local address whose port was free a moment ago (the OS picked it), for
/// a service started next; the small race with other processes is accepted.
pub fn free_local_address() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a local port")?;
    Ok(listener.local_addr()?)
}

/// Bytes as mebibytes, for tables.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
