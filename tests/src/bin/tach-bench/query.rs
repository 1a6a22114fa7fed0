//! `tach-bench query`: every read endpoint of every family under load, on
//! a database of known size, with parameters picked from the data itself.
//!
//! Each endpoint gets `--connections` keep-alive connections for
//! `--seconds`; its p99 is compared with the floor — `/stacky/deployments/`
//! in the same stage, the cheapest answer tach-query gives — and with its
//! own p99 at the previous stage, which had a tenth of the data. A non-2xx
//! answer is an error, counted and shown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use sqlx::PgPool;

use crate::http::{self, Connection};
use crate::report::{rounded, thousands, Cell, Report, Table};
use crate::services::{PeakRss, Service};
use crate::{system, Context};

/// The floor every ratio is taken against.
const FLOOR: &str = "/stacky/deployments/";
/// An endpoint whose first request alone takes this long is not put under
/// load: 32 connections on two cores would only queue behind it, and its
/// miss is plain from the one request.
const ALONE_LIMIT: Duration = Duration::from_secs(1);
/// Sampled raw rows the parameters are picked from.
const SAMPLE_ROWS: f64 = 30_000.0;

/// How hard each endpoint is driven.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Seconds of load per endpoint (2 keeps the default run of `all` near 15 minutes).
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Concurrent keep-alive connections per endpoint.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds a request may take: tach-query's sessions get this statement_timeout, and an
    /// answer that takes longer counts as an error (so a scan cannot stall the run).
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Measure only the endpoints whose name contains this text (the floor is always measured).
    #[arg(long)]
    pub only: Option<String>,
}

impl Default for LoadArgs {
    fn default() -> Self {
        LoadArgs {
            seconds: 2.0,
            connections: 32,
            timeout: 5.0,
            only: None,
        }
    }
}

impl LoadArgs {
    /// The client's limit: the server's statement timeout and a second.
    fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout.max(0.1) + 1.0)
    }
}

/// One endpoint to measure.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `stacky`, `socorro` or `releases`.
    pub family: &'static str,
    /// What it is, e.g. `search tenant (rare)`; the same name at every stage.
    pub name: String,
    /// Path and query string.
    pub path: String,
}

/// An endpoint's figures under load.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Requests answered.
    pub requests: u64,
    /// Seconds of load.
    pub seconds: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Non-2xx answers and failed requests.
    pub errors: u64,
    /// The first of them.
    pub first_error: Option<String>,
    /// Rows of the answer, where that means something.
    pub rows: Option<u64>,
    /// True when the first request alone took [`ALONE_LIMIT`] or more, so
    /// the endpoint was not put under load: its figures are that one request's.
    pub alone: bool,
}

impl Measurement {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }
}

/// One stage: every endpoint at one database size.
pub struct Stage {
    /// Stored events.
    pub stored: u64,
    /// The floor's figures.
    pub floor: Measurement,
    /// Every other endpoint's.
    pub results: Vec<(Endpoint, Measurement)>,
    /// Endpoints left out for want of a parameter, and why.
    pub skipped: Vec<(String, String)>,
    /// tach-query's peak RSS during the stage.
    pub peak_rss: Option<u64>,
    /// The previous stage's p99 of each endpoint by name, and whether it
    /// was measured alone.
    previous: HashMap<String, (f64, bool)>,
}

/// `query --database-url`: one stage on an existing database, as it is.
pub async fn run_existing(context: &Context, load: &LoadArgs, url: &str) -> anyhow::Result<Report> {
    // A plain pool: tach_schema::connect would create a missing database.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM raw_events")
        .fetch_one(&pool)
        .await?;
    let stage = stage(context, load, url, &pool, stored as u64, None).await;
    pool.close().await;
    Ok(report(&[stage?]))
}

/// `url` with a session `statement_timeout` of `seconds`, which PostgreSQL
/// enforces on every query tach-query runs: a request the client gave up on
/// cannot go on loading the database while the next endpoint is measured.
fn with_statement_timeout(url: &str, seconds: f64) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    let millis = (seconds * 1000.0).round().max(1.0);
    format!("{url}{separator}options[statement_timeout]={millis}")
}

/// True when the server runs without autovacuum (this machine's does).
pub async fn autovacuum_is_off(pool: &PgPool) -> anyhow::Result<bool> {
    let autovacuum: String = sqlx::query_scalar("SHOW autovacuum")
        .fetch_one(pool)
        .await?;
    Ok(autovacuum != "on")
}

/// Reads are measured on a database with statistics, as a production
/// server's autovacuum keeps it. Where autovacuum is off (this machine's
/// server runs without it), the stage first does what autovacuum would.
async fn analyze_unless_autovacuum(pool: &PgPool) -> anyhow::Result<()> {
    if !autovacuum_is_off(pool).await? {
        return Ok(());
    }
    println!("  autovacuum is off on this server: VACUUM ANALYZE first, as it would have");
    sqlx::query("VACUUM ANALYZE").execute(pool).await?;
    Ok(())
}

/// Starts tach-query on `url` and measures every endpoint.
pub async fn stage(
    context: &Context,
    load: &LoadArgs,
    url: &str,
    pool: &PgPool,
    stored: u64,
    previous: Option<&Stage>,
) -> anyhow::Result<Stage> {
    println!(
        "query at {} stored events ({} connections, {} s per endpoint):",
        thousands(stored),
        load.connections,
        load.seconds
    );
    analyze_unless_autovacuum(pool).await?;
    let url = with_statement_timeout(url, load.timeout);
    let service = Service::query(&context.binaries, &url).await?;
    let measured = measure_all(&service, load, pool, stored, previous).await;
    let peak = service.stop().await?;
    let mut stage = measured?;
    stage.peak_rss = peak;
    print_errors(&stage);
    Ok(stage)
}

async fn measure_all(
    service: &Service,
    load: &LoadArgs,
    pool: &PgPool,
    stored: u64,
    previous: Option<&Stage>,
) -> anyhow::Result<Stage> {
    let picks = Picks::read(pool, service.address, stored).await;
    let catalogue = catalogue(&picks);
    // A first burst opens tach-query's pool and warms its caches; then the floor.
    hammer(service.address, FLOOR, load).await?;
    let floor = hammer(service.address, FLOOR, load).await?;
    let previous: HashMap<String, (f64, bool)> = previous
        .map(|stage| {
            stage
                .results
                .iter()
                .map(|(endpoint, measured)| {
                    (endpoint.name.clone(), (measured.p99_ms, measured.alone))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut stage = Stage {
        stored,
        floor,
        results: Vec::new(),
        skipped: catalogue.skipped,
        peak_rss: None,
        previous,
    };
    println!(
        "  {:<44} p50 {:>8.2} ms  p99 {:>8.2} ms  {:>7.0} req/s",
        format!("floor {FLOOR}"),
        stage.floor.p50_ms,
        stage.floor.p99_ms,
        stage.floor.rate()
    );
    let wanted = |endpoint: &Endpoint| {
        load.only
            .as_deref()
            .is_none_or(|only| endpoint.name.contains(only))
    };
    for endpoint in catalogue.endpoints.into_iter().filter(wanted) {
        let measured = hammer(service.address, &endpoint.path, load).await?;
        let row = stage.verdict(&endpoint, &measured);
        println!(
            "  {:<44} p50 {:>8.2} ms  p99 {:>8.2} ms  {:>7.0} req/s  rows {:>5}  ×floor {:>6.1}{}{}{}",
            endpoint.name,
            measured.p50_ms,
            measured.p99_ms,
            measured.rate(),
            measured.rows.map_or("-".into(), |rows| rows.to_string()),
            row.over_floor,
            row.over_previous
                .map_or(String::new(), |ratio| format!("  ×prev {ratio:.2}")),
            if measured.alone { "  (alone: too slow to load)" } else { "" },
            if measured.errors > 0 {
                format!("  ERRORS {}", measured.errors)
            } else {
                String::new()
            }
        );
        stage.results.push((endpoint, measured));
    }
    Ok(stage)
}

/// An endpoint's ratios and whether it meets the read targets.
struct Verdict {
    over_floor: f64,
    over_previous: Option<f64>,
    budget_ms: f64,
    meets: bool,
}

impl Stage {
    /// The targets: p99 ≤ 4 × the floor's p99 (plus 0.1 ms per row beyond
    /// 100 rows), ≤ 1.3 × the endpoint's own p99 at the previous stage, and
    /// no errors. The p99s of two stages are compared only when both were
    /// measured the same way (under load, or alone).
    fn verdict(&self, endpoint: &Endpoint, measured: &Measurement) -> Verdict {
        let floor = self.floor.p99_ms;
        let rows = measured.rows.unwrap_or(0);
        let budget_ms = 4.0 * floor + if rows > 100 { 0.1 * rows as f64 } else { 0.0 };
        let over_previous = self
            .previous
            .get(&endpoint.name)
            .filter(|(_, alone)| *alone == measured.alone)
            .map(|(previous, _)| measured.p99_ms / previous);
        let meets = measured.p99_ms <= budget_ms
            && over_previous.is_none_or(|ratio| ratio <= 1.3)
            && measured.errors == 0;
        Verdict {
            over_floor: measured.p99_ms / floor,
            over_previous,
            budget_ms,
            meets,
        }
    }
}

fn print_errors(stage: &Stage) {
    for (endpoint, measured) in &stage.results {
        if let Some(error) = &measured.first_error {
            println!(
                "  error: {} ({} errors) {}: {error}",
                endpoint.name, measured.errors, endpoint.path
            );
        }
    }
    for (name, why) in &stage.skipped {
        println!("  skipped: {name}: {why}");
    }
}

/// The query report: one table per stage, errors and skips, headline figures.
pub fn report(stages: &[Stage]) -> Report {
    let mut report = Report::new("query");
    for stage in stages {
        let mut table = Table::new(
            format!(
                "query at {} stored events: floor {FLOOR} p99 {:.2} ms",
                thousands(stage.stored),
                stage.floor.p99_ms
            ),
            &[
                "endpoint",
                "family",
                "p50 ms",
                "p99 ms",
                "req/s",
                "rows",
                "errors",
                "×floor",
                "×prev",
                "budget ms",
                "ok",
                "load",
                "path",
            ],
        );
        let mut misses = 0;
        let mut errors = 0;
        for (endpoint, measured) in &stage.results {
            let verdict = stage.verdict(endpoint, measured);
            misses += usize::from(!verdict.meets);
            errors += measured.errors;
            table.row(vec![
                Cell::text(&endpoint.name),
                Cell::text(endpoint.family),
                Cell::number(measured.p50_ms, 2),
                Cell::number(measured.p99_ms, 2),
                Cell::number(measured.rate(), 0),
                measured.rows.map_or(Cell::Missing, Cell::Count),
                Cell::Count(measured.errors),
                Cell::number(verdict.over_floor, 1),
                Cell::maybe(verdict.over_previous, 2),
                Cell::number(verdict.budget_ms, 1),
                Cell::text(if verdict.meets { "yes" } else { "NO" }),
                Cell::text(if measured.alone { "alone" } else { "full" }),
                Cell::text(&endpoint.path),
            ]);
        }
        report.table(table);
        let key = |what: &str| format!("at_{}_{what}", stage.stored);
        report.figure(&key("floor_p99_ms"), rounded(stage.floor.p99_ms, 3));
        report.figure(&key("endpoints"), stage.results.len());
        report.figure(&key("endpoints_missing_targets"), misses);
        report.figure(&key("errors"), errors);
        report.figure(&key("skipped"), stage.skipped.len());
        report.figure(&key("tach_query_peak_rss_bytes"), stage.peak_rss);
        if let Some(bytes) = stage.peak_rss {
            println!(
                "  tach-query peak RSS at {}: {:.0} MiB; {misses} of {} endpoints miss a target",
                thousands(stage.stored),
                system::mib(bytes),
                stage.results.len()
            );
        }
    }
    report
}

/// tach-query's peak RSS in each stage.
pub fn peaks(stages: &[Stage]) -> Vec<PeakRss> {
    stages
        .iter()
        .map(|stage| PeakRss {
            what: format!("tach-query during query at {}", thousands(stage.stored)),
            bytes: stage.peak_rss,
        })
        .collect()
}

/// Drives `path` with `load.connections` connections for `load.seconds`,
/// after one request that warms it and counts its rows; when that request
/// alone takes [`ALONE_LIMIT`] or more, its figures are the measurement.
pub async fn hammer(
    address: SocketAddr,
    path: &str,
    load: &LoadArgs,
) -> anyhow::Result<Measurement> {
    let request_timeout = load.request_timeout();
    let sent = Instant::now();
    let first = tokio::time::timeout(request_timeout, http::get_once(address, path)).await;
    let alone_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let (rows, warm_error) = match &first {
        Ok(Ok(response)) if response.is_success() => (rows_of(&response.body), None),
        Ok(Ok(response)) => (None, Some(describe_error(response.status, &response.body))),
        Ok(Err(error)) => (None, Some(format!("{error:#}"))),
        Err(_) => (None, Some(no_answer(request_timeout))),
    };
    if sent.elapsed() >= ALONE_LIMIT {
        return Ok(Measurement {
            requests: 1,
            seconds: alone_ms / 1000.0,
            p50_ms: alone_ms,
            p99_ms: alone_ms,
            errors: u64::from(warm_error.is_some()),
            first_error: warm_error,
            rows,
            alone: true,
        });
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(load.seconds);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..load.connections.max(1) {
        let path = path.to_owned();
        workers.spawn(async move {
            let mut connection = Connection::new(address);
            let mut latencies = Vec::new();
            let (mut errors, mut first_error) = (0u64, None);
            while Instant::now() < deadline {
                let sent = Instant::now();
                let answer = tokio::time::timeout(request_timeout, connection.get(&path)).await;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                let error = match answer {
                    Ok(Ok(response)) if response.is_success() => None,
                    Ok(Ok(response)) => Some(describe_error(response.status, &response.body)),
                    Ok(Err(error)) => Some(format!("{error:#}")),
                    Err(_) => {
                        connection = Connection::new(address);
                        Some(no_answer(request_timeout))
                    }
                };
                if let Some(error) = error {
                    errors += 1;
                    first_error.get_or_insert(error);
                }
            }
            (latencies, errors, first_error)
        });
    }
    let mut latencies = Vec::new();
    let mut errors = u64::from(warm_error.is_some());
    let mut first_error = warm_error;
    while let Some(joined) = workers.join_next().await {
        let (mut some, some_errors, some_first) = joined?;
        latencies.append(&mut some);
        errors += some_errors;
        if first_error.is_none() {
            first_error = some_first;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    Ok(Measurement {
        requests: latencies.len() as u64,
        seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        errors,
        first_error,
        rows,
        alone: false,
    })
}

fn no_answer(timeout: Duration) -> String {
    format!("no answer within {:.1} s", timeout.as_secs_f64())
}

/// The `q` quantile of sorted values (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn describe_error(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let short: String = text.chars().take(200).collect();
    format!("HTTP {status}: {short}")
}

/// The rows of an answer: a stacky table's rows without its header, the
/// events of `watch`, the list of a `{"hits"|"crashes"|"releases"|
/// "packages": […]}` answer, the status samples of `environments`, or the
/// length of a bare list.
fn rows_of(body: &[u8]) -> Option<u64> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let length = |value: &Value| value.as_array().map(|list| list.len() as u64);
    match &value {
        Value::Array(list) => {
            let header = list
                .first()
                .and_then(Value::as_array)
                .is_some_and(|first| first.iter().all(Value::is_string));
            if header {
                Some(list.len() as u64 - 1)
            } else if list.len() == 3 && list[1].is_array() && list[0].is_array() {
                length(&list[1])
            } else {
                Some(list.len() as u64)
            }
        }
        Value::Object(object) => {
            for key in ["hits", "crashes", "releases", "packages"] {
                if let Some(rows) = object.get(key).and_then(length) {
                    return Some(rows);
                }
            }
            let samples: Option<u64> = object
                .values()
                .map(|value| value.get("data").and_then(length))
                .sum();
            samples.or(Some(object.len() as u64))
        }
        _ => None,
    }
}

/// Percent-encodes a query-string value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Decimal unix seconds, as stacky takes times.
fn unix(when: DateTime<Utc>) -> String {
    format!("{:.3}", when.timestamp_micros() as f64 / 1e6)
}

/// A value picked from the data, or why there is none.
type Pick<T> = Result<T, String>;

/// Values of one search field: the most and the least frequent in the sample.
#[derive(Debug, Clone)]
struct FieldValues {
    field: String,
    frequent: String,
    rare: Option<String>,
}

/// Realistic parameters, read from the database (and tach-query) at the
/// start of a stage.
struct Picks {
    deployment: Pick<i64>,
    newest: Pick<DateTime<Utc>>,
    nova: Pick<Vec<FieldValues>>,
    glance: Pick<Vec<FieldValues>>,
    event_id: Pick<i64>,
    /// The instance with the most sampled `exists`: a long-lived one.
    long_lived: Pick<String>,
    /// The tenant of the most sampled `.end`s of the last 24 h (what kpi shows).
    recent_tenant: Pick<String>,
    operations: Pick<FieldValues>,
    report: Pick<(i64, String)>,
    crash: Pick<CrashPicks>,
    release: Pick<ReleasePicks>,
}

#[derive(Debug, Clone)]
struct CrashPicks {
    product: String,
    version: String,
    signatures: FieldValues,
    commented: Pick<String>,
    newest: DateTime<Utc>,
    hang_uuid: Pick<String>,
    extension: Pick<(String, DateTime<Utc>)>,
}

#[derive(Debug, Clone)]
struct ReleasePicks {
    id: String,
    tag: Pick<String>,
    user: Pick<String>,
    package: Pick<(String, String)>,
    environment: Pick<String>,
}

fn found<T>(what: &str, result: Result<Option<T>, sqlx::Error>) -> Pick<T> {
    match result {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(format!("no {what} in the database")),
        Err(error) => Err(format!("reading {what}: {error}")),
    }
}

impl Picks {
    async fn read(pool: &PgPool, api: SocketAddr, stored: u64) -> Picks {
        let percent = (100.0 * SAMPLE_ROWS / stored.max(1) as f64).clamp(0.01, 100.0);
        let nova_rows = sample(pool, "nova", percent).await;
        let glance_rows = sample(pool, "glance", percent).await;
        let nova = match &nova_rows {
            Ok(rows) => field_values(api, "nova", rows).await,
            Err(error) => Err(error.clone()),
        };
        let glance = match &glance_rows {
            Ok(rows) => field_values(api, "glance", rows).await,
            Err(error) => Err(error.clone()),
        };
        let event_id = nova_rows.as_ref().map_err(Clone::clone).and_then(|rows| {
            rows.iter()
                .find_map(|row| row.get("id").and_then(Value::as_i64))
                .ok_or_else(|| "no sampled event".to_owned())
        });
        let long_lived = most_frequent(&nova_rows, "instance", |row| {
            text_of(row, "event").is_some_and(|event| event.ends_with("exists"))
        });
        let day_ago = Utc::now() - TimeDelta::hours(24);
        let recent_tenant = most_frequent(&nova_rows, "tenant", |row| {
            let recent = text_of(row, "when")
                .and_then(|when| DateTime::parse_from_rfc3339(when).ok())
                .is_some_and(|when| when >= day_ago);
            recent && text_of(row, "event").is_some_and(|event| event.ends_with(".end"))
        });
        let operations =
            sqlx::query_scalar::<_, String>("SELECT operation FROM timings WHERE duration_us >= 0")
                .fetch_all(pool)
                .await
                .map_err(|error| format!("reading timed operations: {error}"))
                .and_then(|names| {
                    frequency("operation", names.into_iter())
                        .ok_or_else(|| "no complete timing".to_owned())
                });
        Picks {
            deployment: found(
                "deployment",
                sqlx::query_scalar("SELECT id::bigint FROM deployments ORDER BY id LIMIT 1")
                    .fetch_optional(pool)
                    .await,
            ),
            newest: found(
                "nova event",
                sqlx::query_scalar("SELECT max(\"when\") FROM raw_events WHERE family = 'nova'")
                    .fetch_one(pool)
                    .await,
            ),
            nova,
            glance,
            event_id,
            long_lived,
            recent_tenant,
            operations,
            report: found(
                "report",
                sqlx::query_as("SELECT id, name FROM reports ORDER BY id DESC LIMIT 1")
                    .fetch_optional(pool)
                    .await,
            ),
            crash: CrashPicks::read(pool).await,
            release: ReleasePicks::read(pool).await,
        }
    }
}

/// A text column of a sampled row.
fn text_of<'a>(row: &'a Value, column: &str) -> Option<&'a str> {
    row.get(column)?.as_str()
}

/// The most frequent `column` among the sampled rows that pass `keep`.
fn most_frequent(
    rows: &Pick<Vec<Value>>,
    column: &str,
    keep: impl Fn(&Value) -> bool,
) -> Pick<String> {
    let rows = rows.as_ref().map_err(Clone::clone)?;
    let values = rows
        .iter()
        .filter(|row| keep(row))
        .filter_map(|row| Some(text_of(row, column)?.to_owned()));
    frequency(column, values)
        .map(|values| values.frequent)
        .ok_or_else(|| format!("no sampled {column} that fits"))
}

/// A sample of one family's raw rows (without bodies) as JSON objects.
async fn sample(pool: &PgPool, family: &str, percent: f64) -> Pick<Vec<Value>> {
    sqlx::query_scalar(
        "SELECT to_jsonb(r) - 'body' FROM raw_events r TABLESAMPLE SYSTEM ($1) REPEATABLE (7)
         WHERE family = $2",
    )
    .bind(percent)
    .bind(family)
    .fetch_all(pool)
    .await
    .map_err(|error| format!("sampling {family} events: {error}"))
}

/// The most and least frequent of `values` (ties: the smallest value); the
/// least frequent only when it is clearly rarer than the most frequent.
fn frequency(field: &str, values: impl Iterator<Item = String>) -> Option<FieldValues> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let (frequent, most) = ranked.first()?.clone();
    let rare = ranked
        .iter()
        .filter(|(_, count)| *count * 2 < most)
        .min_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
        .map(|(value, _)| value.clone());
    Some(FieldValues {
        field: field.to_owned(),
        frequent,
        rare,
    })
}

/// The raw column a search field reads (glance's image fields carry an
/// `image_` prefix in the raw table, API.md §1).
fn column_of(family: &str, field: &str) -> String {
    match (family, field) {
        ("glance", "uuid" | "status" | "owner") => format!("image_{field}"),
        _ => field.to_owned(),
    }
}

/// The search fields tach-query allows for a service — from its own 400
/// ("use one of …"), so the list follows the service — with values picked
/// from the sample.
async fn field_values(api: SocketAddr, family: &str, rows: &[Value]) -> Pick<Vec<FieldValues>> {
    let path = format!("/stacky/search/?service={family}&field=~&value=~");
    let answer = http::get_once(api, &path)
        .await
        .map_err(|error| format!("{error:#}"))?;
    let text = String::from_utf8_lossy(&answer.body);
    let fields = text
        .split("use one of ")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| format!("tach-query did not list the search fields: {text}"))?;
    Ok(fields
        .split(',')
        .map(str::trim)
        .filter_map(|field| {
            let column = column_of(family, field);
            let values = rows.iter().filter_map(|row| match row.get(&column)? {
                Value::String(text) => Some(text.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            });
            frequency(field, values)
        })
        .collect())
}

impl CrashPicks {
    async fn read(pool: &PgPool) -> Pick<CrashPicks> {
        let (product, version): (String, String) = found(
            "crash report",
            sqlx::query_as(
                "SELECT product, version FROM crash_reports WHERE product <> ''
                 GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1",
            )
            .fetch_optional(pool)
            .await,
        )?;
        let signatures: Vec<String> = sqlx::query_scalar(
            "SELECT signature FROM crash_reports WHERE product = $1 AND signature <> ''",
        )
        .bind(&product)
        .fetch_all(pool)
        .await
        .map_err(|error| format!("reading signatures: {error}"))?;
        let signatures = frequency("signature", signatures.into_iter())
            .ok_or_else(|| "no signature".to_owned())?;
        let newest = found(
            "crash date",
            sqlx::query_scalar("SELECT max(date_processed) FROM crash_reports")
                .fetch_one(pool)
                .await,
        )?;
        Ok(CrashPicks {
            product,
            version,
            signatures,
            commented: found(
                "commented report",
                sqlx::query_scalar(
                    "SELECT signature FROM crash_reports WHERE user_comments <> ''
                     ORDER BY date_processed DESC LIMIT 1",
                )
                .fetch_optional(pool)
                .await,
            ),
            newest,
            hang_uuid: found(
                "hang pair",
                sqlx::query_scalar(
                    "SELECT uuid FROM crash_reports WHERE hangid IS NOT NULL
                     ORDER BY date_processed DESC LIMIT 1",
                )
                .fetch_optional(pool)
                .await,
            ),
            extension: found(
                "report with extensions",
                sqlx::query_as(
                    "SELECT r.uuid, r.date_processed FROM crash_reports r
                     WHERE EXISTS (SELECT 1 FROM crash_extensions e WHERE e.uuid = r.uuid)
                     ORDER BY r.date_processed DESC LIMIT 1",
                )
                .fetch_optional(pool)
                .await,
            ),
        })
    }
}

impl ReleasePicks {
    async fn read(pool: &PgPool) -> Pick<ReleasePicks> {
        let id: String = found(
            "release",
            sqlx::query_scalar("SELECT id FROM releases ORDER BY first_seen DESC LIMIT 1")
                .fetch_optional(pool)
                .await,
        )?;
        Ok(ReleasePicks {
            id,
            tag: found(
                "release tag",
                sqlx::query_scalar(
                    "SELECT tag FROM releases WHERE tag IS NOT NULL ORDER BY first_seen DESC LIMIT 1",
                )
                .fetch_optional(pool)
                .await,
            ),
            user: found(
                "release user",
                sqlx::query_scalar(
                    "SELECT \"user\" FROM releases WHERE \"user\" IS NOT NULL
                     GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
                )
                .fetch_optional(pool)
                .await,
            ),
            package: found(
                "package",
                sqlx::query_as(
                    "SELECT id, name FROM release_packages WHERE name IS NOT NULL
                     ORDER BY stime DESC NULLS LAST LIMIT 1",
                )
                .fetch_optional(pool)
                .await,
            ),
            environment: found(
                "environment",
                sqlx::query_scalar(
                    "SELECT environment FROM environment_deploys
                     GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
                )
                .fetch_optional(pool)
                .await,
            ),
        })
    }
}

/// The endpoints of a stage and the ones left out.
#[derive(Default)]
struct Catalogue {
    endpoints: Vec<Endpoint>,
    skipped: Vec<(String, String)>,
}

impl Catalogue {
    fn add(&mut self, family: &'static str, name: impl Into<String>, path: impl Into<String>) {
        self.endpoints.push(Endpoint {
            family,
            name: name.into(),
            path: path.into(),
        });
    }

    /// The picked value, or None after noting why `name` is left out.
    fn need<'a, T>(&mut self, name: &str, pick: &'a Pick<T>) -> Option<&'a T> {
        match pick {
            Ok(value) => Some(value),
            Err(why) => {
                self.skipped.push((name.to_owned(), why.clone()));
                None
            }
        }
    }
}

/// Every read endpoint of README's "API" and the route tables, with
/// parameters from `picks`.
fn catalogue(picks: &Picks) -> Catalogue {
    let mut catalogue = Catalogue::default();
    stacky(&mut catalogue, picks);
    socorro(&mut catalogue, picks);
    releases(&mut catalogue, picks);
    catalogue
}

fn stacky(c: &mut Catalogue, picks: &Picks) {
    c.add("stacky", "events (nova)", "/stacky/events/?service=nova");
    c.add("stacky", "events (all services)", "/stacky/events/");
    c.add("stacky", "hosts (nova)", "/stacky/hosts/?service=nova");
    c.add("stacky", "kpi", "/stacky/kpi/");
    if let Some(nova) = c.need("nova parameters", &picks.nova) {
        let nova = nova.clone();
        let value = |field: &str| nova.iter().find(|values| values.field == field).cloned();
        if let Some(instance) = value("instance") {
            let frequent = &instance.frequent;
            c.add(
                "stacky",
                "uuid (frequent instance)",
                format!("/stacky/uuid/?uuid={frequent}"),
            );
            if let Some(rare) = &instance.rare {
                c.add(
                    "stacky",
                    "uuid (rare instance)",
                    format!("/stacky/uuid/?uuid={rare}"),
                );
            }
        }
        if let Some(request) = value("request_id") {
            let path = format!("/stacky/request/?request_id={}", encode(&request.frequent));
            c.add("stacky", "request", path);
        }
        searches(c, "nova", &nova);
    }
    for usage in ["launches", "deletes", "exists"] {
        c.add(
            "stacky",
            format!("usage/{usage}"),
            format!("/stacky/usage/{usage}/"),
        );
    }
    if let Some(instance) = c.need("long-lived instance", &picks.long_lived) {
        let path = format!("/stacky/timings/uuid/?uuid={instance}");
        c.add("stacky", "timings/uuid (long-lived instance)", path);
        for usage in ["launches", "deletes", "exists"] {
            let path = format!("/stacky/usage/{usage}/?instance={instance}");
            c.add(
                "stacky",
                format!("usage/{usage} (long-lived instance)"),
                path,
            );
        }
    }
    if let Some(tenant) = c.need("kpi/<tenant>", &picks.recent_tenant) {
        let path = format!("/stacky/kpi/{}/", encode(tenant));
        c.add("stacky", "kpi/<tenant> (busiest of the last 24 h)", path);
    }
    if let Some(glance) = c.need("glance parameters", &picks.glance) {
        let glance = glance.clone();
        if let Some(image) = glance.iter().find(|values| values.field == "uuid") {
            let path = format!("/stacky/uuid/?service=glance&uuid={}", image.frequent);
            c.add("stacky", "uuid (glance image)", path);
        }
        searches(c, "glance", &glance);
    }
    if let Some(id) = c.need("show", &picks.event_id) {
        c.add("stacky", "show/<id>", format!("/stacky/show/{id}/"));
    }
    if let (Some(deployment), Some(newest)) = (
        c.need("watch", &picks.deployment).copied(),
        c.need("watch and summary windows", &picks.newest).copied(),
    ) {
        let since = unix(newest - TimeDelta::minutes(10));
        let path = format!("/stacky/watch/{deployment}/?since={since}");
        c.add("stacky", "watch/<deployment> (last 10 min of data)", path);
        c.add("stacky", "summary", "/stacky/summary/");
        let hour = newest.duration_trunc(TimeDelta::hours(1)).unwrap_or(newest);
        let (min, max) = (unix(hour - TimeDelta::hours(24)), unix(hour));
        let path = format!("/stacky/summary/?when_min={min}&when_max={max}");
        c.add("stacky", "summary (24 h, on hour boundaries)", path);
        let min = unix(newest - TimeDelta::hours(24) - TimeDelta::milliseconds(1_234_500));
        let max = unix(newest - TimeDelta::milliseconds(777_250));
        let path = format!("/stacky/summary/?when_min={min}&when_max={max}");
        c.add("stacky", "summary (24 h, off hour boundaries)", path);
    }
    if let Some(operations) = c.need("timings", &picks.operations) {
        let path = format!("/stacky/timings/?name={}", encode(&operations.frequent));
        c.add("stacky", "timings (frequent operation)", path);
        if let Some(rare) = &operations.rare {
            let path = format!("/stacky/timings/?name={}", encode(rare));
            c.add("stacky", "timings (rare operation)", path);
        }
    }
    c.add("stacky", "reports (last 24 h)", "/stacky/reports/");
    if let Some((id, name)) = c.need("report", &picks.report) {
        let path = format!("/stacky/reports/search/?name={}", encode(name));
        c.add("stacky", "reports/search (by name)", path);
        c.add("stacky", "report/<id>", format!("/stacky/report/{id}/"));
    }
}

/// `stacky/search` on every allowed field, with a frequent and a rare value.
fn searches(c: &mut Catalogue, service: &str, fields: &[FieldValues]) {
    for values in fields {
        let field = &values.field;
        let mut add = |kind: &str, value: &str| {
            let path = format!(
                "/stacky/search/?service={service}&field={field}&value={}",
                encode(value)
            );
            c.add("stacky", format!("search {service} {field} ({kind})"), path);
        };
        add("frequent", &values.frequent);
        if let Some(rare) = &values.rare {
            add("rare", rare);
        }
    }
}

fn socorro(c: &mut Catalogue, picks: &Picks) {
    let Some(crash) = c.need("socorro", &picks.crash).cloned() else {
        return;
    };
    let (product, version) = (encode(&crash.product), encode(&crash.version));
    // Windows end just after the newest report: the data's "now".
    let end = crash.newest + TimeDelta::seconds(1);
    let day = |when: DateTime<Utc>| encode(&when.format("%Y-%m-%d %H:%M:%S").to_string());
    let window = format!(
        "products={product}&from={}&to={}",
        day(end - TimeDelta::days(7)),
        day(end)
    );
    let top = format!(
        "/crashes/signatures/?product={product}&version={version}&end_date={}",
        day(end)
    );
    c.add(
        "socorro",
        "crashes/signatures (720 h)",
        format!("{top}&duration=720"),
    );
    c.add("socorro", "crashes/signatures (168 h)", top);
    if let Some(signature) = c.need("crashes/comments", &crash.commented) {
        let path = format!(
            "/crashes/comments/?signature={}&{window}",
            encode(signature)
        );
        c.add("socorro", "crashes/comments", path);
    }
    if let Some(uuid) = c.need("crashes/paireduuid", &crash.hang_uuid) {
        c.add(
            "socorro",
            "crashes/paireduuid",
            format!("/crashes/paireduuid/?uuid={uuid}"),
        );
    }
    if let Some((uuid, date)) = c.need("extensions", &crash.extension) {
        let date = encode(&date.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string());
        c.add(
            "socorro",
            "extensions",
            format!("/extensions/?uuid={uuid}&date={date}"),
        );
    }
    c.add(
        "socorro",
        "products/builds",
        format!("/products/builds/?product={product}"),
    );
    let pair = encode(&format!("{}:{}", crash.product, crash.version));
    c.add(
        "socorro",
        "products/versions (one)",
        format!("/products/versions/?versions={pair}"),
    );
    c.add("socorro", "products/versions (all)", "/products/versions/");
    c.add(
        "socorro",
        "search/signatures",
        format!("/search/signatures/?{window}"),
    );
    let word = crash
        .signatures
        .frequent
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let path = format!(
        "/search/signatures/?for={}&search_mode=contains&{window}",
        encode(&word)
    );
    c.add("socorro", "search/signatures (contains)", path);
    c.add(
        "socorro",
        "search/crashes",
        format!("/search/crashes/?{window}"),
    );
    let list = |signature: &str| format!("/report/list/?signature={}&{window}", encode(signature));
    c.add(
        "socorro",
        "report/list (frequent signature)",
        list(&crash.signatures.frequent),
    );
    if let Some(rare) = &crash.signatures.rare {
        c.add("socorro", "report/list (rare signature)", list(rare));
    }
    c.add(
        "socorro",
        "util/versions_info",
        format!("/util/versions_info/?versions={pair}"),
    );
}

fn releases(c: &mut Catalogue, picks: &Picks) {
    c.add("releases", "releases", "/releases");
    c.add("releases", "environments", "/environments");
    c.add("releases", "packages", "/packages");
    for field in ["users", "platforms", "packages"] {
        c.add(
            "releases",
            format!("info/{field}"),
            format!("/info/{field}"),
        );
    }
    c.add(
        "releases",
        "info/packages/versions",
        "/info/packages/versions",
    );
    c.add("releases", "stats", "/stats");
    c.add(
        "releases",
        "stats/by_date/release",
        "/stats/by_date/release",
    );
    let Some(release) = c.need("release", &picks.release).cloned() else {
        return;
    };
    c.add(
        "releases",
        "releases/<id>",
        format!("/releases/{}", release.id),
    );
    if let Some(tag) = c.need("release/<tag>", &release.tag) {
        c.add(
            "releases",
            "release/<tag>",
            format!("/release/{}", encode(tag)),
        );
        let number = tag.trim_start_matches('v');
        c.add(
            "releases",
            "releases/<number>",
            format!("/releases/{}", encode(number)),
        );
    }
    if let Some(user) = c.need("releases?user", &release.user) {
        let user = encode(user);
        c.add(
            "releases",
            "releases?user",
            format!("/releases?user={user}"),
        );
        c.add(
            "releases",
            "info/users/<user>",
            format!("/info/users/{user}"),
        );
        c.add(
            "releases",
            "stats/user/<user>",
            format!("/stats/user/{user}"),
        );
    }
    if let Some((id, name)) = c.need("packages", &release.package) {
        let name = encode(name);
        c.add(
            "releases",
            "releases?package_name",
            format!("/releases?package_name={name}"),
        );
        c.add("releases", "packages/<id>", format!("/packages/{id}"));
        c.add(
            "releases",
            "info/packages/<name>",
            format!("/info/packages/{name}"),
        );
        c.add(
            "releases",
            "stats/package/<name>",
            format!("/stats/package/{name}"),
        );
    }
    if let Some(environment) = c.need("environment/<name>", &release.environment) {
        let path = format!("/environment/{}", encode(environment));
        c.add("releases", "environment/<name>", path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_counts_what_each_family_answers() {
        let stacky = br##"[["#", "Name"], [1, "a"], [2, "b"]]"##;
        assert_eq!(rows_of(stacky), Some(2));
        let watch = br#"[[10, 1], [[1, " "], [2, "E"], [3, " "]], "1.0"]"#;
        assert_eq!(rows_of(watch), Some(3));
        assert_eq!(rows_of(br#"{"hits": [1, 2], "total": 9}"#), Some(2));
        let environments = br#"{"prod": {"data": [1, 2]}, "dev": {"data": [3]}}"#;
        assert_eq!(rows_of(environments), Some(3));
        assert_eq!(rows_of(br#"{"a": 1, "b": 2}"#), Some(2));
        assert_eq!(rows_of(b"not json"), None);
    }

    #[test]
    fn frequency_picks_a_rare_value_only_when_clearly_rarer() {
        let values = ["a", "a", "a", "b", "c", "c"].map(String::from);
        let picked = frequency("f", values.into_iter()).unwrap();
        assert_eq!(picked.frequent, "a");
        assert_eq!(picked.rare.as_deref(), Some("b"));
        let even = ["x", "y"].map(String::from);
        assert_eq!(frequency("f", even.into_iter()).unwrap().rare, None);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.5), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
