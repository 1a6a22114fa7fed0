//! tach-ingest and tach-query as processes of their own, for what only
//! their binaries do (settings from the environment and files, exit status,
//! log lines on stderr, /readyz), and a bare HTTP/1.1 client to talk to
//! them without adding an HTTP client crate.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A tach-query process logging JSON, whose stderr lines are collected as
/// they come.
pub struct QueryProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl QueryProcess {
    /// Starts `program` (`CARGO_BIN_EXE_tach-query-under-test`) with only
    /// `env` (and PATH), on a port the system picks, logging JSON.
    pub fn start(program: &str, env: &[(&str, &str)]) -> QueryProcess {
        let mut child = Command::new(program)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TACH_QUERY_ADDR", "127.0.0.1:0")
            .env("TACH_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("tach-query starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let collected = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                collected.lock().unwrap().push(line);
            }
        });
        QueryProcess { child, lines }
    }

    /// Every stderr line so far, each parsed as JSON (a line that is not
    /// JSON fails the test: the format promises one object a line).
    pub fn records(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|_| panic!("a log line is not JSON: {line}"))
            })
            .collect()
    }

    /// The first record `matches` accepts, waiting for it up to 15 s.
    pub async fn wait_for(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        super::wait_until(what, Duration::from_secs(15), || {
            let found = self.records().iter().any(&matches);
            async move { found }
        })
        .await;
        self.records()
            .into_iter()
            .find(matches)
            .expect("found a moment ago")
    }

    /// The address of its "serving" line, once it serves.
    pub async fn address(&self) -> String {
        let serving = self
            .wait_for("tach-query serving", |record| {
                record["message"] == "serving"
            })
            .await;
        serving["address"]
            .as_str()
            .expect("the serving line names its address")
            .to_owned()
    }

    /// Kills it.
    pub async fn stop(mut self) {
        self.child.kill().await.expect("killing tach-query");
    }
}

/// An answer: status, headers (names in lower case) and body.
#[derive(Debug)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl HttpAnswer {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("the body is not JSON: {}", self.body))
    }
}

/// Sends one request over a connection of its own (closed after it) and
/// reads the whole answer; `body` goes as JSON.
pub async fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpAnswer {
    try_http(address, method, path, headers, body)
        .await
        .unwrap_or_else(|error| panic!("{method} {path} on {address}: {error}"))
}

/// [`http`], with an error while nothing answers at `address`.
pub async fn try_http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<HttpAnswer> {
    let mut stream = TcpStream::connect(address).await?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(parse_answer(&String::from_utf8_lossy(&response)))
}

/// An answer with a `Content-Length` body (tach-query's are whole bytes).
fn parse_answer(response: &str) -> HttpAnswer {
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    HttpAnswer {
        status,
        headers: lines
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect(),
        body: body.to_owned(),
    }
}

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
    /// Starts tach-ingest (`program`, the test copy of the binary: only
    /// integration tests know its path) with `env` (and PATH), its metrics
    /// on a free port.
    pub fn ingest(program: &str, name: &str, env: &[(&str, &str)]) -> ServiceProcess {
        Self::spawn(program, "TACH_INGEST_METRICS_ADDR", name, env)
    }

    /// Starts tach-query (`program`) with `env` (and PATH) on a free port.
    pub fn query(program: &str, name: &str, env: &[(&str, &str)]) -> ServiceProcess {
        Self::spawn(program, "TACH_QUERY_ADDR", name, env)
    }

    fn spawn(
        program: &str,
        address_setting: &str,
        name: &str,
        env: &[(&str, &str)],
    ) -> ServiceProcess {
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

    /// GETs `path`: the status and the body; None while nothing answers.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let answer = try_http(&self.address.to_string(), "GET", path, &[], None)
            .await
            .ok()?;
        Some((answer.status, answer.body))
    }

    /// Waits until `path` answers 200, failing with the log after `timeout`.
    pub async fn wait_for_ok(&mut self, path: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((200, _)) = self.get(path).await {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "exited with {status} before {path} answered 200:\n{}",
                    self.stderr()
                );
            }
            if tokio::time::Instant::now() > deadline {
                let last = self.get(path).await;
                panic!(
                    "{path} did not answer 200 within {timeout:?} (last: {last:?}):\n{}",
                    self.stderr()
                );
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
