//! tach-bench: measures, in one run on this machine, the ceilings of SPEC §7
//! and tach-ingest against them, and prints the ratio. Rates on a shared
//! 2-core machine drift ±20–30 % between runs: only ratios within one run
//! mean anything.
//!
//! 1. drain: a consumer that only acknowledges (prefetch 1000, multiple-ack every 500);
//! 2. load: idempotent `INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING` of
//!    the raw rows on two connections into a copy of the raw table;
//! 3. pipeline: both at once — consume, batch 500, load on two writers, ack
//!    after commit: the least any correct ingester must do;
//! 4. tach-ingest: the real thing (dedup, raw rows, timings, KPIs, usage).

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use sqlx::PgPool;
use tach_schema::{Delivery, Event, ExchangeFamily, PoolSettings, Store};
use tach_tests::gen::{generate, Message, Scenario};
use tach_tests::harness::TestBroker;
use tach_tests::publish::Publisher;
use tokio_util::sync::CancellationToken;

/// Measures tach-ingest against this machine's ceilings.
#[derive(Debug, Parser)]
#[command(name = "tach-bench")]
struct Cli {
    /// Nova instance lifecycles to generate (about 32 messages each).
    #[arg(long, default_value_t = 3_000)]
    instances: usize,
    /// PostgreSQL server; a scratch database is created and dropped.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// tach-ingest's messages per transaction.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    /// tach-ingest's concurrent writers.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// RabbitMQ.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let messages: Vec<Message> = generate(&Scenario {
        seed: 7,
        instances: cli.instances,
        images: 0,
        crashes: 0,
        releases: 0,
        products: 0,
        ..Scenario::default()
    });
    let count = messages.len();
    let body_bytes: usize = messages.iter().map(|m| m.body.to_string().len()).sum();
    println!(
        "tach-bench: {count} nova notifications, {} bytes on average",
        body_bytes / count.max(1)
    );

    let database = scratch_database(&cli.database_url).await?;
    let events = parse_all(&messages);
    let drain = measure_drain(&cli.amqp_url, &messages).await?;
    let load = measure_load(&database.pool, &events).await?;
    let pipeline = measure_pipeline(&cli.amqp_url, &database.pool, &messages).await?;
    let ingest = measure_ingest(&cli, &database.url, &messages).await?;
    database.drop().await?;

    println!(
        "{:<42} {:>10.0} msg/s",
        "drain only (ack, no storage)", drain
    );
    println!(
        "{:<42} {:>10.0} rows/s",
        "load only (unnest insert, 2 connections)", load
    );
    println!(
        "{:<42} {:>10.0} msg/s",
        "ceiling: drain + load at once", pipeline
    );
    println!(
        "{:<42} {:>10.0} msg/s",
        "tach-ingest (dedup, raw, timings, kpi, usage)", ingest
    );
    println!(
        "{:<42} {:>10.2}",
        "tach-ingest / ceiling",
        ingest / pipeline
    );
    Ok(())
}

fn parse_all(messages: &[Message]) -> Vec<Event> {
    messages
        .iter()
        .map(|message| {
            let body = serde_json::to_vec(&message.body).unwrap_or_default();
            let delivery = Delivery {
                exchange: "nova",
                routing_key: &message.routing_key,
                exchange_family: ExchangeFamily::Nova,
                body: &body,
                received_at: chrono::Utc::now(),
            };
            tach_schema::parse(&delivery, usize::MAX).expect("generated messages parse")
        })
        .collect()
}

/// A database for this run, dropped at the end.
struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
    pool: PgPool,
}

async fn scratch_database(server: &str) -> anyhow::Result<ScratchDatabase> {
    let name = format!("tach_bench_{}", uuid::Uuid::new_v4().simple());
    let base = server
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(server);
    let url = format!("{base}/{name}");
    let pool = tach_schema::connect(
        &url,
        PoolSettings {
            max_connections: 8,
            ..PoolSettings::default()
        },
    )
    .await?;
    tach_schema::migrate(&pool).await?;
    // The load ceiling writes into a plain copy of the raw table with the same indexes.
    for statement in [
        "CREATE TABLE bench_keys (LIKE event_keys INCLUDING ALL)",
        "CREATE TABLE bench_raw (LIKE raw_events INCLUDING DEFAULTS)",
        "ALTER TABLE bench_raw ALTER COLUMN body SET COMPRESSION lz4",
        "CREATE INDEX ON bench_raw (id)",
        "CREATE INDEX ON bench_raw (\"when\")",
        "CREATE INDEX ON bench_raw (instance, \"when\") WHERE instance IS NOT NULL",
        "CREATE INDEX ON bench_raw (request_id, \"when\") WHERE request_id IS NOT NULL",
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .with_context(|| statement.to_owned())?;
    }
    Ok(ScratchDatabase {
        admin_url: format!("{base}/postgres"),
        name,
        url,
        pool,
    })
}

impl ScratchDatabase {
    async fn drop(self) -> anyhow::Result<()> {
        self.pool.close().await;
        let admin = tach_schema::connect(&self.admin_url, PoolSettings::default()).await?;
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&admin)
            .await?;
        Ok(())
    }
}

/// Publishes the messages to a fresh queue of its own; returns the channel consuming it.
async fn filled_queue(
    amqp_url: &str,
    messages: &[Message],
) -> anyhow::Result<(TestBroker, Connection, String)> {
    let broker = TestBroker {
        prefix: format!("bench{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        amqp_url: amqp_url.into(),
    };
    let publisher = Publisher::connect(amqp_url, &broker.prefix).await?;
    publisher.declare_exchanges().await?;
    let connection = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let queue = format!("{}queue", broker.prefix);
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    for key in ["notifications.info", "notifications.error"] {
        let exchange = format!("{}nova", broker.prefix);
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    publisher.publish(messages, None).await?;
    publisher.close().await?;
    Ok((broker, connection, queue))
}

async fn consuming(
    connection: &Connection,
    queue: &str,
) -> anyhow::Result<(Channel, lapin::Consumer)> {
    let channel = connection.create_channel().await?;
    channel.basic_qos(1000, BasicQosOptions::default()).await?;
    let consumer = channel
        .basic_consume(
            queue.into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

async fn measure_drain(amqp_url: &str, messages: &[Message]) -> anyhow::Result<f64> {
    let (broker, connection, queue) = filled_queue(amqp_url, messages).await?;
    let (channel, mut consumer) = consuming(&connection, &queue).await?;
    let started = Instant::now();
    let mut received = 0;
    while received < messages.len() {
        let delivery = consumer.next().await.context("consumer ended")??;
        received += 1;
        if received % 500 == 0 || received == messages.len() {
            channel
                .basic_ack(delivery.delivery_tag, BasicAckOptions { multiple: true })
                .await?;
        }
    }
    let rate = received as f64 / started.elapsed().as_secs_f64();
    cleanup(&connection, &queue, &broker).await;
    Ok(rate)
}

async fn cleanup(connection: &Connection, queue: &str, broker: &TestBroker) {
    if let Ok(channel) = connection.create_channel().await {
        let _ = channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = connection.close(200, "done".into()).await;
    broker.delete_all().await;
}

/// Inserts keys and raw rows the way the ceiling is defined: one unnest per table per batch.
async fn load_batch(pool: &PgPool, events: &[Event], first_id: i64) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = (0..events.len() as i64)
        .map(|offset| first_id + offset)
        .collect();
    let message_ids: Vec<&str> = events.iter().map(|e| e.message_id.as_str()).collect();
    sqlx::query("INSERT INTO bench_keys (deployment_id, message_id, event_id) SELECT 1, m, i FROM unnest($1::text[], $2::bigint[]) AS t (m, i) ORDER BY m ON CONFLICT DO NOTHING")
        .bind(&message_ids)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    let text = |f: fn(&Event) -> Option<&str>| events.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO bench_raw (id, deployment_id, message_id, family, exchange, routing_key, is_error, event, \"when\",
                               publisher, service, host, instance, request_id, tenant, state, body)
         SELECT i, 1, m, 'nova', 'nova', r, false, e, w, p, s, h, inst, req, t, st, b::json
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
              AS t (i, m, r, e, w, p, s, h, inst, req, t, st, b)",
    )
    .bind(&ids)
    .bind(&message_ids)
    .bind(events.iter().map(|e| e.routing_key.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.when).collect::<Vec<_>>())
    .bind(text(|e| e.publisher.as_deref()))
    .bind(text(|e| e.service.as_deref()))
    .bind(text(|e| e.host.as_deref()))
    .bind(text(|e| e.instance.as_deref()))
    .bind(text(|e| e.request_id.as_deref()))
    .bind(text(|e| e.tenant.as_deref()))
    .bind(text(|e| e.state.as_deref()))
    .bind(events.iter().map(|e| e.body.as_str()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn truncate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("TRUNCATE bench_keys, bench_raw")
        .execute(pool)
        .await?;
    Ok(())
}

async fn measure_load(pool: &PgPool, events: &[Event]) -> anyhow::Result<f64> {
    truncate(pool).await?;
    let started = Instant::now();
    let halves: Vec<&[Event]> = events.chunks(events.len().div_ceil(2).max(1)).collect();
    let mut writers = Vec::new();
    for (half_index, half) in halves.into_iter().enumerate() {
        let (pool, half) = (pool.clone(), half.to_vec());
        writers.push(tokio::spawn(async move {
            let base = (half_index as i64) << 40;
            for (chunk_index, chunk) in half.chunks(500).enumerate() {
                load_batch(&pool, chunk, base + chunk_index as i64 * 500).await?;
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    Ok(events.len() as f64 / started.elapsed().as_secs_f64())
}

async fn measure_pipeline(
    amqp_url: &str,
    pool: &PgPool,
    messages: &[Message],
) -> anyhow::Result<f64> {
    truncate(pool).await?;
    let (broker, connection, queue) = filled_queue(amqp_url, messages).await?;
    let (channel, mut consumer) = consuming(&connection, &queue).await?;
    let started = Instant::now();
    let (mut received, mut batch, mut writers) = (0, Vec::new(), tokio::task::JoinSet::new());
    let mut next_id = 0;
    while received < messages.len() {
        let delivery = consumer.next().await.context("consumer ended")??;
        received += 1;
        batch.push((delivery.delivery_tag, delivery.data));
        if batch.len() == 500 || received == messages.len() {
            if writers.len() >= 2 {
                writers.join_next().await.context("writer")???;
            }
            let (pool, channel, taken) =
                (pool.clone(), channel.clone(), std::mem::take(&mut batch));
            let first_id = next_id;
            next_id += taken.len() as i64;
            writers.spawn(async move {
                let events: Vec<Event> = taken
                    .iter()
                    .filter_map(|(_, body)| {
                        let delivery = Delivery {
                            exchange: "nova",
                            routing_key: "notifications.info",
                            exchange_family: ExchangeFamily::Nova,
                            body,
                            received_at: chrono::Utc::now(),
                        };
                        tach_schema::parse(&delivery, usize::MAX).ok()
                    })
                    .collect();
                load_batch(&pool, &events, first_id).await?;
                for (tag, _) in &taken {
                    channel.basic_ack(*tag, BasicAckOptions::default()).await?;
                }
                anyhow::Ok(())
            });
        }
    }
    while let Some(result) = writers.join_next().await {
        result??;
    }
    let rate = received as f64 / started.elapsed().as_secs_f64();
    cleanup(&connection, &queue, &broker).await;
    Ok(rate)
}

async fn measure_ingest(
    cli: &Cli,
    database_url: &str,
    messages: &[Message],
) -> anyhow::Result<f64> {
    let amqp_url = cli.amqp_url.as_str();
    let broker = TestBroker {
        prefix: format!("bench{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        amqp_url: amqp_url.into(),
    };
    let deployment = broker.deployment(amqp_url);
    // Declare tach's queues first (a short consume), then fill them, then time the drain.
    let pool = tach_schema::connect(
        database_url,
        PoolSettings {
            max_connections: 8,
            ..PoolSettings::default()
        },
    )
    .await?;
    let connection = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    tach_ingest::topology::declare(&connection, &deployment).await?;
    let _ = connection.close(200, "declared".into()).await;
    let publisher = Publisher::connect(amqp_url, &broker.prefix).await?;
    publisher.publish(messages, None).await?;
    publisher.close().await?;

    let settings = tach_ingest::Settings {
        prefetch: 2000,
        batch_size: cli.batch_size,
        batch_linger: Duration::from_millis(50),
        writers: cli.writers,
        max_body_bytes: tach_schema::envelope::DEFAULT_MAX_BODY_BYTES,
        shutdown_timeout: Duration::from_secs(20),
    };
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(tach_ingest::consume(
        Store::new(pool.clone()),
        vec![deployment],
        settings,
        shutdown.clone(),
    ));
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM event_keys")
            .fetch_one(&pool)
            .await?;
        if stored as usize >= messages.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rate = messages.len() as f64 / started.elapsed().as_secs_f64();
    shutdown.cancel();
    task.await?;
    broker.delete_all().await;
    Ok(rate)
}
