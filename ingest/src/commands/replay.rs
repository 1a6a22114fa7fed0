//! `tach-ingest replay`: re-ingest rejected messages once the cause is fixed,
//! or the messages of a JSON-lines file, through the same parse and write
//! path as the consumer. Already stored events are recognized as duplicates.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use chrono::Utc;
use serde::Deserialize;
use tach_schema::store::PendingRejected;
use tach_schema::{ExchangeFamily, PoolSettings, Store};
use tokio_util::sync::CancellationToken;

use crate::batch::{self, Destination, Prepared, Received};
use crate::config::{self, DeploymentConfig, ReplayArgs};

/// Totals of a replay.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayTotals {
    /// Messages read.
    pub read: usize,
    /// Stored for the first time.
    pub stored: usize,
    /// Already stored.
    pub duplicates: usize,
    /// Rejected (again).
    pub rejected: usize,
}

impl ReplayTotals {
    fn add(&mut self, prepared: &Prepared, outcome: &tach_schema::BatchOutcome, read: usize) {
        self.read += read;
        self.stored += outcome.stored.len();
        self.duplicates += outcome.duplicates.len();
        self.rejected += prepared.rejected.len();
    }
}

/// The subcommand.
pub async fn replay(database_url: &str, args: &ReplayArgs) -> anyhow::Result<()> {
    let pool = super::connect_and_migrate(database_url, PoolSettings::default()).await?;
    let store = Store::new(pool);
    let deployments = match &args.config {
        Some(path) => config::read_config_file(path)?,
        None => vec![DeploymentConfig::single(&args.deployment, "")],
    };
    let families = exchange_families(&deployments);
    let totals = match &args.file {
        Some(path) => replay_file(&store, path, &args.deployment, &families, args).await?,
        None => replay_rejected(&store, &families, args).await?,
    };
    println!(
        "replayed {} messages: {} stored, {} already stored, {} rejected",
        totals.read, totals.stored, totals.duplicates, totals.rejected
    );
    Ok(())
}

/// Family rule of each exchange name, from the deployments' bindings.
pub fn exchange_families(deployments: &[DeploymentConfig]) -> BTreeMap<String, ExchangeFamily> {
    deployments
        .iter()
        .flat_map(DeploymentConfig::effective_bindings)
        .map(|binding| (binding.exchange, binding.family))
        .collect()
}

fn family_of(families: &BTreeMap<String, ExchangeFamily>, exchange: &str) -> ExchangeFamily {
    families
        .get(exchange)
        .copied()
        .unwrap_or(ExchangeFamily::Generic)
}

/// One line of a replay file, as `tach-gen jsonl` writes it.
#[derive(Debug, Deserialize)]
struct FileLine {
    exchange: String,
    routing_key: String,
    body: serde_json::Value,
}

/// Replays a JSON-lines file; a line that is not `{exchange, routing_key,
/// body}` is kept as a rejected message, never skipped.
pub async fn replay_file(
    store: &Store,
    path: &Path,
    deployment: &str,
    families: &BTreeMap<String, ExchangeFamily>,
    args: &ReplayArgs,
) -> anyhow::Result<ReplayTotals> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let destination = Destination {
        id: store
            .deployment_id(deployment)
            .await
            .context("registering the deployment")?,
        name: deployment.to_owned(),
    };
    let mut totals = ReplayTotals::default();
    let mut chunk = Vec::with_capacity(args.batch_size);
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line =
            line.with_context(|| format!("reading {} line {}", path.display(), number + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        chunk.push(received_of_line(&line, families));
        if chunk.len() >= args.batch_size {
            commit_chunk(
                store,
                &destination,
                &mut chunk,
                args.max_body_bytes,
                &mut totals,
            )
            .await?;
            eprintln!("replayed {} lines", totals.read);
        }
    }
    commit_chunk(
        store,
        &destination,
        &mut chunk,
        args.max_body_bytes,
        &mut totals,
    )
    .await?;
    Ok(totals)
}

fn received_of_line(line: &str, families: &BTreeMap<String, ExchangeFamily>) -> Received {
    match serde_json::from_str::<FileLine>(line) {
        Ok(parsed) => Received {
            family: family_of(families, &parsed.exchange),
            exchange: parsed.exchange,
            routing_key: parsed.routing_key,
            queue: None,
            body: serde_json::to_vec(&parsed.body).unwrap_or_default(),
            properties: None,
            received_at: Utc::now(),
            dead_lettered: None,
        },
        // Not a replay line: kept whole, and rejected by the parser with its reason.
        Err(_) => Received {
            exchange: String::new(),
            routing_key: String::new(),
            queue: None,
            family: ExchangeFamily::Generic,
            body: line.as_bytes().to_vec(),
            properties: None,
            received_at: Utc::now(),
            dead_lettered: None,
        },
    }
}

async fn commit_chunk(
    store: &Store,
    destination: &Destination,
    chunk: &mut Vec<Received>,
    max_body_bytes: usize,
    totals: &mut ReplayTotals,
) -> anyhow::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let mut prepared = batch::prepare(&destination.name, chunk, max_body_bytes);
    let outcome = batch::commit(
        store,
        destination,
        chunk,
        &mut prepared,
        &CancellationToken::new(),
    )
    .await?;
    totals.add(&prepared, &outcome, chunk.len());
    chunk.clear();
    Ok(())
}

/// Replays pending rejected messages, oldest first; each is marked replayed
/// once its batch committed (stored, duplicate, or rejected anew as a new row).
pub async fn replay_rejected(
    store: &Store,
    families: &BTreeMap<String, ExchangeFamily>,
    args: &ReplayArgs,
) -> anyhow::Result<ReplayTotals> {
    let mut totals = ReplayTotals::default();
    let mut after = 0;
    loop {
        let rows = store
            .pending_rejected(after, args.reason.as_deref(), args.batch_size as i64)
            .await
            .context("reading rejected messages")?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let mut by_deployment: BTreeMap<&str, Vec<&PendingRejected>> = BTreeMap::new();
        for row in &rows {
            by_deployment
                .entry(row.deployment.as_str())
                .or_default()
                .push(row);
        }
        for (deployment, rows) in by_deployment {
            let destination = Destination {
                id: store
                    .deployment_id(deployment)
                    .await
                    .context("registering the deployment")?,
                name: deployment.to_owned(),
            };
            let mut chunk: Vec<Received> = rows
                .iter()
                .map(|row| Received {
                    exchange: row.exchange.clone(),
                    routing_key: row.routing_key.clone(),
                    queue: None,
                    family: family_of(families, &row.exchange),
                    body: row.body.clone(),
                    properties: None,
                    received_at: row.received_at,
                    dead_lettered: None,
                })
                .collect();
            commit_chunk(
                store,
                &destination,
                &mut chunk,
                args.max_body_bytes,
                &mut totals,
            )
            .await?;
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            store
                .mark_replayed(&ids)
                .await
                .context("marking rejected messages replayed")?;
        }
        eprintln!("replayed {} rejected messages", totals.read);
    }
    Ok(totals)
}
