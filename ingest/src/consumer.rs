//! The consumer of one deployment: connect, declare, consume with a bounded
//! prefetch, cut deliveries into batches, commit them on concurrent writers,
//! acknowledge what committed — and on a broker or database failure, log,
//! back off, reconnect and carry on (SPEC §4.1, §4.3). Only a refusal before
//! the deployment has ever consumed ends it (and the process): a wrong
//! password, vhost or certificate does not mend by waiting.
//!
//! A deployment on a RabbitMQ cluster lists several nodes. Each session
//! connects to the first node that answers, starting after the node of the
//! previous session, so a lost node is left for the next one. A node that
//! cannot be reached is skipped; only a round in which every node refused
//! counts as a refusal, since a node that is down may be the one that
//! would have accepted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use tach_schema::{BatchOutcome, Store};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::acks::AckFrontier;
use crate::batch::{self, Abandoned, Destination, Prepared, Received};
use crate::broker::{self, Broker};
use crate::config::DeploymentConfig;
use crate::health::ConsumerHealth;
use crate::metrics;
use crate::retry::{self, Backoff, Class, Classify, Stopped};
use crate::topology::{self, QueueSpec};
use crate::Settings;

/// A deployment ready to consume: its settings and its broker's nodes,
/// whose URLs and certificate files were read when it was made.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The settings.
    pub config: DeploymentConfig,
    /// The broker's nodes in the order tried: one for a single broker,
    /// several for a cluster. Never empty.
    pub nodes: Vec<Broker>,
}

impl Deployment {
    /// Reads the deployment's URLs and TLS files; the first bad one refuses
    /// the start, naming the node when there are several.
    pub fn new(config: DeploymentConfig) -> Result<Deployment, StartRefused> {
        let urls = config
            .node_urls()
            .map_err(|error| StartRefused::new(&config, error.to_string()))?;
        let mut nodes = Vec::with_capacity(urls.len());
        for (index, url) in urls.iter().enumerate() {
            match Broker::new(url) {
                Ok(broker) => nodes.push(broker),
                Err(error) if urls.len() == 1 => {
                    return Err(StartRefused::new(&config, error.to_string()))
                }
                Err(error) => {
                    let node = crate::config::redact_url(url);
                    let why = format!("node {} ({node}): {error}", index + 1);
                    return Err(StartRefused::new(&config, why));
                }
            }
        }
        Ok(Deployment { config, nodes })
    }
}

/// Every node of a cluster failed to connect in one round.
#[derive(Debug, thiserror::Error)]
#[error("no broker node answered: {summary}")]
struct NodesFailed {
    /// Each node and its error.
    summary: String,
    /// When every node refused: the first refusal, naming its node.
    refusal: Option<String>,
}

/// Connects to the first of `nodes` that answers, trying them in turn from
/// `first`; returns the connection and the node's index. With one node its
/// own error comes back unchanged.
async fn connect_any(
    deployment: &str,
    nodes: &[Broker],
    first: usize,
    properties: ConnectionProperties,
) -> anyhow::Result<(Connection, usize)> {
    if let [node] = nodes {
        return Ok((node.connect(properties).await?, 0));
    }
    let mut failures = Vec::new();
    let mut refusals = Vec::new();
    for step in 0..nodes.len() {
        let index = (first + step) % nodes.len();
        let node = &nodes[index];
        match node.connect(properties.clone()).await {
            Ok(connection) => return Ok((connection, index)),
            Err(error) => {
                tracing::warn!(deployment, node = node.redacted_url(), error = %error, "broker node unavailable, trying the next");
                if let Some(refusal) = broker::refusal(&error) {
                    refusals.push(format!("{}: {refusal}", node.redacted_url()));
                }
                failures.push(format!("{}: {error}", node.redacted_url()));
            }
        }
    }
    let refusal =
        (refusals.len() == nodes.len()).then(|| format!("every node refused; {}", refusals[0]));
    Err(NodesFailed {
        summary: failures.join("; "),
        refusal,
    }
    .into())
}

/// A deployment that cannot start: one line naming it and its setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deployment {deployment}: {setting}: {why}")]
pub struct StartRefused {
    /// The deployment's name.
    pub deployment: String,
    /// Where its URL is set.
    pub setting: String,
    /// What was refused.
    pub why: String,
}

impl StartRefused {
    fn new(config: &DeploymentConfig, why: String) -> StartRefused {
        StartRefused {
            deployment: config.name.clone(),
            setting: config.url_setting.to_string(),
            why,
        }
    }
}

/// Consumes one deployment until `shutdown` is cancelled, reconnecting
/// after any failure but a refusal before it ever consumed.
pub async fn run(
    deployment: Deployment,
    store: Store,
    settings: Settings,
    health: ConsumerHealth,
    shutdown: CancellationToken,
) -> Result<(), StartRefused> {
    let name = &deployment.config.name;
    metrics::register_deployment(name);
    let what = format!("consumer of deployment {name}");
    let mut sessions = 0u32;
    // The node the next session tries first.
    let next_node = AtomicUsize::new(0);
    let result = retry::retry(
        &what,
        Backoff::CONNECT,
        &shutdown,
        retry::never_persistent(),
        || {
            sessions += 1;
            if sessions > 1 {
                metrics::reconnected(name);
            }
            let at_start = !health.ever_consumed();
            let session = session(
                &deployment,
                &next_node,
                &store,
                &settings,
                &health,
                &shutdown,
            );
            async move {
                session.await.map_err(|failure| SessionFailure {
                    at_start,
                    ..failure
                })
            }
        },
    )
    .await;
    tracing::info!(deployment = %name, "consumer stopped");
    match result {
        Err(Stopped::GaveUp(failure)) => {
            let why = failure.refusal().unwrap_or_else(|| failure.to_string());
            Err(StartRefused::new(&deployment.config, why))
        }
        Ok(()) | Err(Stopped::Cancelled) => Ok(()),
    }
}

/// Why a session ended early.
struct SessionFailure {
    /// It got as far as consuming, so the next attempt starts with a short backoff.
    was_consuming: bool,
    /// The deployment had not consumed yet in this process.
    at_start: bool,
    error: anyhow::Error,
}

impl SessionFailure {
    /// The broker's refusal in the error, if it is one.
    fn refusal(&self) -> Option<String> {
        if let Some(nodes) = self
            .error
            .chain()
            .find_map(|cause| cause.downcast_ref::<NodesFailed>())
        {
            return nodes.refusal.clone();
        }
        self.error
            .chain()
            .find_map(|cause| cause.downcast_ref::<lapin::Error>())
            .and_then(broker::refusal)
    }
}

impl std::fmt::Display for SessionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&tach_schema::logging::one_line(&*self.error))
    }
}

impl Classify for SessionFailure {
    fn class(&self) -> Class {
        if self.at_start && self.refusal().is_some() {
            Class::Permanent
        } else {
            Class::Transient
        }
    }

    fn made_progress(&self) -> bool {
        self.was_consuming
    }
}

fn before_consuming(error: impl Into<anyhow::Error>) -> SessionFailure {
    SessionFailure {
        was_consuming: false,
        at_start: false,
        error: error.into(),
    }
}

/// One connection's life. Returns Ok on shutdown, Err on a failure.
async fn session(
    Deployment {
        config: deployment,
        nodes,
    }: &Deployment,
    next_node: &AtomicUsize,
    store: &Store,
    settings: &Settings,
    health: &ConsumerHealth,
    shutdown: &CancellationToken,
) -> Result<(), SessionFailure> {
    let destination = Destination {
        id: store
            .deployment_id(&deployment.name)
            .await
            .map_err(before_consuming)?,
        name: deployment.name.clone(),
    };
    let properties = ConnectionProperties::default()
        .with_connection_name(format!("tach-ingest {}", deployment.name).into());
    let first = next_node.load(Ordering::Relaxed);
    let (connection, node_index) = connect_any(&deployment.name, nodes, first, properties)
        .await
        .map_err(before_consuming)?;
    // Whatever ends this session, the next one starts at the next node.
    next_node.store((node_index + 1) % nodes.len(), Ordering::Relaxed);
    let node = nodes[node_index].redacted_url();
    let queues = topology::declare(&connection, deployment)
        .await
        .map_err(before_consuming)?;
    let channel = connection
        .create_channel()
        .await
        .map_err(before_consuming)?;
    channel
        .basic_qos(settings.prefetch, BasicQosOptions::default())
        .await
        .map_err(before_consuming)?;
    let consumer_tags = consumer_tags(&queues);
    let mut deliveries = Vec::new();
    for (spec, tag) in queues.iter().zip(&consumer_tags) {
        let consumer = channel
            .basic_consume(
                spec.name.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(before_consuming)?;
        let spec = Arc::new(spec.clone());
        deliveries.push(
            consumer
                .map(move |delivery| (spec.clone(), delivery))
                .boxed(),
        );
    }
    tracing::info!(deployment = %deployment.name, url = %node, node = node_index + 1, nodes = nodes.len(), queues = queues.len(), "consuming");
    health.attached();
    let sampler = match connection.create_channel().await {
        Ok(probe) => Some(tokio::spawn(sample_queues(
            probe,
            deployment.name.clone(),
            queues.clone(),
        ))),
        Err(error) => {
            tracing::warn!(deployment = %deployment.name, %error, "no channel to sample queue depths on");
            None
        }
    };
    let mut loop_state = BatchLoop::new(
        destination,
        store.clone(),
        settings.clone(),
        channel.clone(),
        queues.clone(),
    );
    let result = loop_state
        .consume(stream::select_all(deliveries), shutdown)
        .await;
    health.detached();
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    if result.is_ok() {
        for tag in &consumer_tags {
            let _ = channel
                .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
                .await;
        }
    }
    loop_state.drain(shutdown, settings.shutdown_timeout).await;
    let _ = channel.close(200, "tach-ingest stopping".into()).await;
    let _ = connection.close(200, "tach-ingest stopping".into()).await;
    result.map_err(|error| SessionFailure {
        was_consuming: true,
        at_start: false,
        error,
    })
}

/// Every 15 s, how many messages wait in each queue (`tach_ingest_queue_messages`),
/// read with passive declares on `probe`, a channel of its own, so that a
/// failure here never disturbs the consuming channel. A failed declare
/// closes `probe`; sampling then stops until the next session.
async fn sample_queues(probe: Channel, deployment: String, queues: Vec<QueueSpec>) {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let mut interval = tokio::time::interval(Duration::from_secs(15));
    loop {
        interval.tick().await;
        for queue in &queues {
            match probe
                .queue_declare(queue.name.as_str().into(), passive, FieldTable::default())
                .await
            {
                Ok(declared) => {
                    metrics::queue_messages(&deployment, &queue.name, declared.message_count())
                }
                Err(_) => return,
            }
        }
    }
}

fn consumer_tags(queues: &[QueueSpec]) -> Vec<String> {
    let instance = uuid::Uuid::new_v4().simple().to_string();
    queues
        .iter()
        .map(|queue| format!("tach-ingest.{}.{}", queue.name, &instance[..8]))
        .collect()
}

/// What a writer task hands back.
struct Written {
    tags: Vec<u64>,
    prepared: Prepared,
    outcome: Result<BatchOutcome, Abandoned>,
    commit_duration: Duration,
}

/// The batching state of one channel.
struct BatchLoop {
    destination: Destination,
    store: Store,
    settings: Settings,
    channel: Channel,
    pending: Vec<Received>,
    pending_tags: Vec<u64>,
    batch_deadline: Option<tokio::time::Instant>,
    writers: JoinSet<Written>,
    acks: AckFrontier,
    /// The session's queues, to find the family of a dead-lettered message.
    queues: Vec<QueueSpec>,
    /// Cancelled when shutdown's deadline passes: writers stuck retrying give up.
    abandon: CancellationToken,
}

impl BatchLoop {
    fn new(
        destination: Destination,
        store: Store,
        settings: Settings,
        channel: Channel,
        queues: Vec<QueueSpec>,
    ) -> BatchLoop {
        BatchLoop {
            queues,
            destination,
            store,
            settings,
            channel,
            pending: Vec::new(),
            pending_tags: Vec::new(),
            batch_deadline: None,
            writers: JoinSet::new(),
            acks: AckFrontier::default(),
            abandon: CancellationToken::new(),
        }
    }

    /// Reads deliveries until shutdown (Ok) or a broker failure (Err).
    async fn consume(
        &mut self,
        mut deliveries: impl futures::Stream<Item = (Arc<QueueSpec>, lapin::Result<lapin::message::Delivery>)>
            + Unpin,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            let writer_free = self.writers.len() < self.settings.writers;
            let batch_full = self.pending.len() >= self.settings.batch_size;
            if writer_free && batch_full {
                self.flush();
                continue;
            }
            let linger = self.batch_deadline;
            tokio::select! {
                biased;
                Some(written) = self.writers.join_next(), if !self.writers.is_empty() => {
                    self.finish(written?).await?;
                }
                _ = shutdown.cancelled() => return Ok(()),
                _ = sleep_until_optional(linger), if linger.is_some() && writer_free => self.flush(),
                next = deliveries.next(), if !batch_full => match next {
                    Some((queue, Ok(delivery))) => self.push(&queue, delivery),
                    Some((queue, Err(error))) => anyhow::bail!("consuming {}: {error}", queue.name),
                    None => anyhow::bail!("the broker cancelled tach's consumers"),
                },
            }
        }
    }

    fn push(&mut self, queue: &QueueSpec, delivery: lapin::message::Delivery) {
        if self.pending.is_empty() {
            self.batch_deadline = Some(tokio::time::Instant::now() + self.settings.batch_linger);
        }
        self.pending_tags.push(delivery.delivery_tag);
        let mut received = Received {
            exchange: delivery.exchange.as_str().to_owned(),
            routing_key: delivery.routing_key.as_str().to_owned(),
            queue: Some(queue.name.clone()),
            family: queue.family,
            body: delivery.data,
            dead_lettered: None,
            properties: None,
            received_at: chrono::Utc::now(),
        };
        if queue.dead_letters {
            self.dead_lettered(&mut received, delivery.properties.headers().as_ref());
        }
        received.properties = Some(delivery.properties);
        self.pending.push(received);
    }

    /// A delivery of the dead-letter queue becomes a rejection of the
    /// exchange and queue it was first published to and consumed from.
    fn dead_lettered(&self, received: &mut Received, headers: Option<&FieldTable>) {
        let origin = topology::dead_letter_origin(headers);
        if let Some(exchange) = origin.exchange {
            received.family = self
                .queues
                .iter()
                .find(|spec| !spec.dead_letters && spec.exchange == exchange)
                .map_or(tach_schema::ExchangeFamily::Generic, |spec| spec.family);
            received.exchange = exchange;
        }
        let dead_queue = received.queue.take().unwrap_or_default();
        let queue = origin.queue.unwrap_or_else(|| dead_queue.clone());
        let reason = origin.reason.as_deref().unwrap_or("unknown");
        received.dead_lettered = Some(format!(
            "dead-lettered by the broker from queue {queue} to {dead_queue} (reason {reason}): delivered more often than the queue's x-delivery-limit without an acknowledgement"
        ));
        received.queue = Some(queue);
    }

    /// Hands the pending batch to a writer task: parse, then commit.
    fn flush(&mut self) {
        self.batch_deadline = None;
        if self.pending.is_empty() {
            return;
        }
        let received = std::mem::take(&mut self.pending);
        let tags = std::mem::take(&mut self.pending_tags);
        let (store, destination, abandon) = (
            self.store.clone(),
            self.destination.clone(),
            self.abandon.clone(),
        );
        let max_body_bytes = self.settings.max_body_bytes;
        self.writers.spawn(async move {
            let started = Instant::now();
            let mut prepared = batch::prepare(&destination.name, &received, max_body_bytes);
            let outcome =
                batch::commit(&store, &destination, &received, &mut prepared, &abandon).await;
            Written {
                tags,
                prepared,
                outcome,
                commit_duration: started.elapsed(),
            }
        });
    }

    /// Records a finished write and acknowledges what may be.
    async fn finish(&mut self, written: Written) -> anyhow::Result<()> {
        let Ok(outcome) = &written.outcome else {
            // Abandoned at shutdown: not acknowledged, so it is redelivered.
            if self.abandon.is_cancelled() {
                return Ok(());
            }
            // Abandoned otherwise (its rejected rows could not be stored):
            // its deliveries would hold the acknowledgement frontier back
            // for good, so the session ends and the broker redelivers them.
            anyhow::bail!("a batch could not be stored; reconnecting so that it is redelivered");
        };
        metrics::record_commit(
            &self.destination.name,
            &written.prepared,
            outcome,
            written.commit_duration,
        );
        if let Some(tag) = self.acks.commit(&written.tags) {
            // Ack only after commit: an earlier ack loses the event if we crash in between (SPEC §4.1).
            self.channel
                .basic_ack(tag, BasicAckOptions { multiple: true })
                .await
                .map_err(|error| anyhow::anyhow!("acknowledging up to delivery {tag}: {error}"))?;
        }
        Ok(())
    }

    /// Commits what was received and waits for the writers, at most
    /// `timeout`; then acknowledges what committed. After a broker failure
    /// the acks fail and are ignored: those deliveries come back and are
    /// recognized as duplicates.
    async fn drain(&mut self, shutdown: &CancellationToken, timeout: Duration) {
        if shutdown.is_cancelled() {
            self.flush();
        } else {
            self.pending.clear();
            self.pending_tags.clear();
        }
        let abandon = self.abandon.clone();
        let deadline = tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            abandon.cancel();
        });
        while let Some(written) = self.writers.join_next().await {
            if let Ok(written) = written {
                let _ = self.finish(written).await;
            }
        }
        deadline.abort();
    }
}

async fn sleep_until_optional(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
