//! The ceilings tach-ingest is measured against, each in a process of its
//! own (the benchmark re-executes itself with a hidden sub-command), so
//! that "both at once" competes for the two cores the way a consumer and a
//! database writer really do:
//!
//! - **drain**: a consumer that stores nothing — prefetch 2000, one
//!   multiple-ack every 500 deliveries, as tach-ingest consumes;
//! - **load**: the idempotent part of storing — per batch of 500, claim the
//!   keys (`INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING
//!   RETURNING`) and insert the claimed raw rows with one `unnest`, on two
//!   connections, into a copy of `raw_events` with all its indexes;
//! - **both** at once.
//!
//! A child prepares (connects, generates and parses the stream), prints
//! `ready`, waits for a line on stdin, runs, and prints its seconds, so
//! preparation is never timed.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use sqlx::PgPool;
use tach_schema::{Event, PoolSettings};
use tach_tests::gen::{generate, Message};
use tach_tests::publish::Publisher;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::measure::Phase;
use crate::scratch::{Namespace, ScratchDatabase};
use crate::stream;
use crate::system::CpuMeter;

/// tach-ingest's prefetch and multiple-ack interval (its defaults).
const PREFETCH: u16 = 2000;
const ACK_EVERY: usize = 500;
/// tach-ingest's batch size and writer count (its defaults).
const BATCH: usize = 500;
const WRITERS: u32 = 2;

/// The scratch tables the load writes: tach's raw table with every index
/// (`LIKE … INCLUDING ALL` copies indexes and the lz4 compression of
/// `body`), and the idempotency key as SPEC §3.4 defines it.
const TABLES: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS bench_raw (LIKE raw_events INCLUDING ALL)",
    "CREATE TABLE IF NOT EXISTS bench_keys (deployment_id int NOT NULL, message_id text NOT NULL, \
     event_id bigint NOT NULL, PRIMARY KEY (deployment_id, message_id))",
];

/// Creates (or empties) the scratch tables in a migrated database.
pub async fn prepare_tables(pool: &PgPool) -> anyhow::Result<()> {
    for statement in TABLES {
        sqlx::query(statement)
            .execute(pool)
            .await
            .with_context(|| statement.to_owned())?;
    }
    empty_tables(pool).await
}

/// Empties the scratch tables (between runs, and to free their space).
pub async fn empty_tables(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("TRUNCATE bench_raw, bench_keys")
        .execute(pool)
        .await?;
    Ok(())
}

/// What the load child needs to rebuild the very same stream.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Nova instances of [`stream::mixed`].
    pub instances: usize,
    /// Its start.
    pub start: DateTime<Utc>,
}

/// The three ceilings of one run.
#[derive(Debug, Clone)]
pub struct Ceilings {
    /// The consumer alone.
    pub drain: Phase,
    /// The loader alone.
    pub load: Phase,
    /// Both at once: the ceiling.
    pub both: Phase,
}

/// Measures drain, load and both at once over `messages`.
pub async fn measure(
    namespace: &Namespace,
    database: &ScratchDatabase,
    spec: &StreamSpec,
    messages: &[Message],
) -> anyhow::Result<Ceilings> {
    prepare_tables(&database.pool).await?;
    let count = messages.len() as u64;
    let queue = crate::scratch::ceiling_queue(&namespace.broker.prefix);
    let outcome = async {
        fill_queue(namespace, &queue, messages).await?;
        let drain = run_children(count, vec![drain_command(namespace, &queue, count)?]).await?;
        println!("  drain only: {:.0} msg/s", drain.rate());
        let load = run_children(count, vec![load_command(&database.url, spec)?]).await?;
        println!("  load only: {:.0} rows/s", load.rate());
        empty_tables(&database.pool).await?;
        fill_queue(namespace, &queue, messages).await?;
        let both = run_children(
            count,
            vec![
                drain_command(namespace, &queue, count)?,
                load_command(&database.url, spec)?,
            ],
        )
        .await?;
        println!("  drain + load at once: {:.0} msg/s", both.rate());
        empty_tables(&database.pool).await?;
        anyhow::Ok(Ceilings { drain, load, both })
    }
    .await;
    namespace.broker.delete_queues(&[queue]).await;
    outcome
}

/// Declares a durable queue of the run bound to its three exchanges (as
/// tach's queues are) and publishes the stream into it.
async fn fill_queue(
    namespace: &Namespace,
    queue: &str,
    messages: &[Message],
) -> anyhow::Result<()> {
    let prefix = &namespace.broker.prefix;
    let publisher = Publisher::connect(&namespace.broker.amqp_url, prefix).await?;
    publisher.declare_exchanges().await?;
    let connection =
        Connection::connect(&namespace.broker.amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    for (exchange, key) in [
        ("nova", "notifications.*"),
        ("glance", "notifications.*"),
        ("tach", "#"),
    ] {
        channel
            .queue_bind(
                queue.into(),
                format!("{prefix}{exchange}").as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    let _ = connection.close(200, "declared".into()).await;
    publisher.publish(messages, None).await?;
    publisher.close().await?;
    Ok(())
}

/// This executable with a hidden sub-command.
fn this_executable() -> anyhow::Result<Command> {
    let path = std::env::current_exe().context("finding tach-bench's own path")?;
    Ok(Command::new(path))
}

fn drain_command(namespace: &Namespace, queue: &str, count: u64) -> anyhow::Result<Command> {
    let mut command = this_executable()?;
    command
        .args(["ceiling-drain", "--amqp-url", &namespace.broker.amqp_url])
        .args(["--queue", queue, "--messages", &count.to_string()]);
    Ok(command)
}

fn load_command(database_url: &str, spec: &StreamSpec) -> anyhow::Result<Command> {
    let mut command = this_executable()?;
    command
        .args(["ceiling-load", "--database-url", database_url])
        .args(["--instances", &spec.instances.to_string()])
        .args(["--start", &spec.start.to_rfc3339()]);
    Ok(command)
}

/// A child process between `ready` and its result.
struct ChildRun {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl ChildRun {
    async fn start(mut command: Command) -> anyhow::Result<ChildRun> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting a ceiling process")?;
        let stdin = child.stdin.take().context("child stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("child stdout")?);
        let mut run = ChildRun {
            child,
            stdin,
            stdout,
        };
        let line = run.line().await?;
        if line != "ready" {
            bail!("a ceiling process said {line:?} instead of ready");
        }
        Ok(run)
    }

    async fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        self.stdout.read_line(&mut line).await?;
        if line.is_empty() {
            let status = self.child.wait().await?;
            bail!("a ceiling process ended early ({status})");
        }
        Ok(line.trim().to_owned())
    }

    async fn go(&mut self) -> anyhow::Result<()> {
        self.stdin.write_all(b"go\n").await?;
        self.stdin.flush().await?;
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<()> {
        let line = self.line().await?;
        let status = self.child.wait().await?;
        if line != "done" || !status.success() {
            bail!("a ceiling process failed: {line:?} ({status})");
        }
        Ok(())
    }
}

/// Starts the children, waits until all are ready, lets them go at once and
/// times them until the last is done, with the machine's CPU time.
async fn run_children(count: u64, commands: Vec<Command>) -> anyhow::Result<Phase> {
    let mut children = Vec::new();
    for command in commands {
        children.push(ChildRun::start(command).await?);
    }
    let cpu = CpuMeter::start()?;
    let started = Instant::now();
    for child in &mut children {
        child.go().await?;
    }
    for child in children {
        child.finish().await?;
    }
    Ok(Phase {
        messages: count,
        seconds: started.elapsed().as_secs_f64(),
        cpu_micros: cpu.micros()?,
    })
}

/// Reports ready and waits for the parent's go.
async fn ready_and_wait() -> anyhow::Result<()> {
    println!("ready");
    tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await??;
    Ok(())
}

/// The drain child: consumes `messages` deliveries from `queue` and
/// acknowledges them, 500 at a time.
pub async fn drain_child(amqp_url: &str, queue: &str, messages: u64) -> anyhow::Result<()> {
    let connection = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    ready_and_wait().await?;
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "tach-bench-drain".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut received = 0;
    while received < messages {
        let delivery = consumer.next().await.context("the consumer ended")??;
        received += 1;
        if received % ACK_EVERY as u64 == 0 || received == messages {
            channel
                .basic_ack(delivery.delivery_tag, BasicAckOptions { multiple: true })
                .await?;
        }
    }
    let _ = connection.close(200, "drained".into()).await;
    println!("done");
    Ok(())
}

/// The load child: stores the stream's raw rows idempotently on two
/// connections, which take batches of 500 in stream order as tach-ingest's
/// two writers do.
pub async fn load_child(database_url: &str, spec: &StreamSpec) -> anyhow::Result<()> {
    let events = stream::events(&generate(&stream::mixed(spec.instances, spec.start)));
    let pool = tach_schema::connect(
        database_url,
        PoolSettings {
            max_connections: WRITERS,
            ..PoolSettings::default()
        },
    )
    .await?;
    // Open both connections before the clock starts.
    let warm: Vec<_> = futures::future::try_join_all((0..WRITERS).map(|_| pool.acquire())).await?;
    drop(warm);
    ready_and_wait().await?;
    let events = Arc::new(events);
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let (pool, events, next) = (pool.clone(), Arc::clone(&events), Arc::clone(&next));
        writers.spawn(async move {
            loop {
                let batch = next.fetch_add(1, Ordering::SeqCst);
                let start = batch * BATCH;
                if start >= events.len() {
                    return anyhow::Ok(());
                }
                let end = (start + BATCH).min(events.len());
                load_batch(&pool, &events[start..end], start as i64).await?;
            }
        });
    }
    while let Some(result) = writers.join_next().await {
        result??;
    }
    pool.close().await;
    println!("done");
    Ok(())
}

/// One transaction: claim the batch's keys, then insert the rows whose key
/// was new, with every column tach's raw insert writes.
async fn load_batch(pool: &PgPool, events: &[Event], first_id: i64) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = (first_id..first_id + events.len() as i64).collect();
    let message_ids: Vec<&str> = events.iter().map(|e| e.message_id.as_str()).collect();
    let claimed: Vec<String> = sqlx::query_scalar(
        "INSERT INTO bench_keys (deployment_id, message_id, event_id)
         SELECT 1, m, i FROM unnest($1::text[], $2::bigint[]) AS t (m, i) ORDER BY m
         ON CONFLICT DO NOTHING RETURNING message_id",
    )
    .bind(&message_ids)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let claimed: std::collections::HashSet<String> = claimed.into_iter().collect();
    let new: Vec<(i64, &Event)> = ids
        .iter()
        .zip(events)
        .filter(|(_, event)| claimed.contains(&event.message_id))
        .map(|(id, event)| (*id, event))
        .collect();
    let text = |field: fn(&Event) -> Option<&str>| {
        new.iter()
            .map(|(_, event)| field(event))
            .collect::<Vec<_>>()
    };
    sqlx::query(
        "INSERT INTO bench_raw (id, deployment_id, message_id, family, exchange, routing_key, is_error,
             event, \"when\", publisher, service, host, instance, request_id, tenant, state, old_state,
             old_task, task, image_type, image_uuid, image_status, image_owner, image_size, body)
         SELECT id, 1, message_id, family, exchange, routing_key, is_error, event, \"when\", publisher,
             service, host, instance, request_id, tenant, state, old_state, old_task, task, image_type,
             image_uuid, image_status, image_owner, image_size, body::json
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[],
             $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::text[],
             $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::int[],
             $20::text[], $21::text[], $22::text[], $23::bigint[], $24::text[])
           AS t (id, message_id, family, exchange, routing_key, is_error, event, \"when\", publisher,
             service, host, instance, request_id, tenant, state, old_state, old_task, task, image_type,
             image_uuid, image_status, image_owner, image_size, body)",
    )
    .bind(new.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(text(|e| Some(e.message_id.as_str())))
    .bind(new.iter().map(|(_, e)| e.family.as_str()).collect::<Vec<_>>())
    .bind(text(|e| Some(e.exchange.as_str())))
    .bind(text(|e| Some(e.routing_key.as_str())))
    .bind(new.iter().map(|(_, e)| e.is_error).collect::<Vec<_>>())
    .bind(text(|e| Some(e.event_type.as_str())))
    .bind(new.iter().map(|(_, e)| e.when).collect::<Vec<_>>())
    .bind(text(|e| e.publisher.as_deref()))
    .bind(text(|e| e.service.as_deref()))
    .bind(text(|e| e.host.as_deref()))
    .bind(text(|e| e.instance.as_deref()))
    .bind(text(|e| e.request_id.as_deref()))
    .bind(text(|e| e.tenant.as_deref()))
    .bind(text(|e| e.state.as_deref()))
    .bind(text(|e| e.old_state.as_deref()))
    .bind(text(|e| e.old_task.as_deref()))
    .bind(text(|e| e.task.as_deref()))
    .bind(new.iter().map(|(_, e)| e.image_type).collect::<Vec<_>>())
    .bind(text(|e| e.image_uuid.as_deref()))
    .bind(text(|e| e.image_status.as_deref()))
    .bind(text(|e| e.image_owner.as_deref()))
    .bind(new.iter().map(|(_, e)| e.image_size).collect::<Vec<_>>())
    .bind(text(|e| Some(e.body.as_str())))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
