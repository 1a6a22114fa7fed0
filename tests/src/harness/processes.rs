//! tach-ingest and tach-query as processes of their own, as an operator
//! starts them: only the environment a test gives, stderr kept in a file,
//! and the ports they serve on chosen free beforehand.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::http;

/// The test copies of the two binaries (tests/src/bin).
pub const INGEST: &str = env!("CARGO_BIN_EXE_tach-ingest-under-test");
/// See [`INGEST`].
pub const QUERY: &str = env!("CARGO_BIN_EXE_tach-query-under-test");

/// A free port on 127.0.0.1 (the process binds it right after).
pub fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
}

/// One running tach-ingest or tach-query.
pub struct ServiceProcess {
    child: Child,
    /// Where it serves HTTP (`/metrics`, `/readyz`, and tach-query's API).
    pub address: SocketAddr,
    stderr: PathBuf,
}

impl ServiceProcess {
    /// Starts tach-ingest with `env` (and PATH), its metrics on a free port.
    pub fn ingest(name: &str, env: &[(&str, &str)]) -> ServiceProcess {
        Self::spawn(INGEST, "TACH_INGEST_METRICS_ADDR", name, env)
    }

    /// Starts tach-query with `env` (and PATH) on a free port.
    pub fn query(name: &str, env: &[(&str, &str)]) -> ServiceProcess {
        Self::spawn(QUERY, "TACH_QUERY_ADDR", name, env)
    }

    fn spawn(program: &str, address_setting: &str, name: &str, env: &[(&str, &str)]) -> ServiceProcess {
        let address = free_address();
        let stderr = std::env::temp_dir().join(format!("{name}-{}.log", super::unique_suffix()));
        let log = std::fs::File::create(&stderr).expect("a log file");
        let child = Command::new(program)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env("TACH_PRUNE_INTERVAL_HOURS", "0")
            .env(address_setting, address.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {program}: {error}"));
        ServiceProcess {
            child,
            address,
            stderr,
        }
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// GETs `path`: the status and the body as text; None while nothing answers.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = http::get_once(self.address, path).await.ok()?;
        Some((
            response.status,
            String::from_utf8_lossy(&response.body).into_owned(),
        ))
    }

    /// Waits until `path` answers 200, failing with the log after `timeout`.
    pub async fn wait_for_ok(&mut self, path: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((200, _)) = self.get(path).await {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exited with {status} before {path} answered 200:\n{}", self.stderr());
            }
            if tokio::time::Instant::now() > deadline {
                let last = self.get(path).await;
                panic!("{path} did not answer 200 within {timeout:?} (last: {last:?}):\n{}", self.stderr());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the process to exit on its own: its status and its stderr.
    pub async fn exit_within(mut self, timeout: Duration) -> (ExitStatus, String) {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => {
                let said = self.stderr();
                let _ = std::fs::remove_file(&self.stderr);
                (status.expect("waiting for the process"), said)
            }
            Err(_) => panic!("still running after {timeout:?}:\n{}", self.stderr()),
        }
    }

    /// True while it runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then its exit status (within 30 s).
    pub async fn terminate(mut self) -> ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits within 30 s of SIGTERM")
            .expect("waiting for the process");
        let _ = std::fs::remove_file(&self.stderr);
        status
    }
}
