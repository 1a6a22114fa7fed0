//! Publishing to RabbitMQ as nova, glance and release tooling do, with
//! publisher confirms so a test knows the broker has every message.

use std::time::{Duration, Instant};

use anyhow::Context;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use crate::gen::Message;

/// Confirms allowed outstanding before waiting for them.
const CONFIRM_WINDOW: usize = 2000;

/// A publishing connection; exchange names get a prefix (tests isolate themselves with one).
pub struct Publisher {
    connection: Connection,
    channel: Channel,
    exchange_prefix: String,
}

impl Publisher {
    /// Connects and enables publisher confirms.
    pub async fn connect(amqp_url: &str, exchange_prefix: &str) -> anyhow::Result<Publisher> {
        let connection = Connection::connect(amqp_url, ConnectionProperties::default())
            .await
            .with_context(|| {
                format!(
                    "connecting to {}",
                    tach_ingest::config::redact_url(amqp_url)
                )
            })?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            connection,
            channel,
            exchange_prefix: exchange_prefix.to_owned(),
        })
    }

    /// Declares the three exchanges as their publishers do: nova and glance
    /// non-durable (oslo.messaging's default), tach's own durable. One that
    /// already exists is left as it is.
    pub async fn declare_exchanges(&self) -> anyhow::Result<()> {
        for (name, durable) in [("nova", false), ("glance", false), ("tach", true)] {
            let exchange = format!("{}{name}", self.exchange_prefix);
            let probe = self.connection.create_channel().await?;
            let passive = ExchangeDeclareOptions {
                passive: true,
                ..ExchangeDeclareOptions::default()
            };
            if probe
                .exchange_declare(
                    exchange.as_str().into(),
                    ExchangeKind::Topic,
                    passive,
                    FieldTable::default(),
                )
                .await
                .is_ok()
            {
                let _ = probe.close(200, "exists".into()).await;
                continue;
            }
            let options = ExchangeDeclareOptions {
                durable,
                ..ExchangeDeclareOptions::default()
            };
            self.channel
                .exchange_declare(
                    exchange.as_str().into(),
                    ExchangeKind::Topic,
                    options,
                    FieldTable::default(),
                )
                .await
                .with_context(|| format!("declaring exchange {exchange}"))?;
        }
        Ok(())
    }

    /// Publishes every message, at most `rate` per second when given, and
    /// waits until the broker confirmed them all. `progress` is called about
    /// once a second with the count sent so far.
    pub async fn publish_with_progress(
        &self,
        messages: &[Message],
        rate: Option<f64>,
        mut progress: impl FnMut(usize),
    ) -> anyhow::Result<usize> {
        let started = Instant::now();
        let mut last_report = Instant::now();
        for (index, message) in messages.iter().enumerate() {
            if let Some(rate) = rate.filter(|rate| *rate > 0.0) {
                let due = started + Duration::from_secs_f64(index as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
            let body = serde_json::to_vec(&message.body)?;
            self.send(&message.exchange, &message.routing_key, &body)
                .await?;
            if (index + 1) % CONFIRM_WINDOW == 0 {
                self.wait_for_confirms().await?;
            }
            if last_report.elapsed() >= Duration::from_secs(1) {
                progress(index + 1);
                last_report = Instant::now();
            }
        }
        self.wait_for_confirms().await?;
        Ok(messages.len())
    }

    /// [`Publisher::publish_with_progress`] without progress reports.
    pub async fn publish(&self, messages: &[Message], rate: Option<f64>) -> anyhow::Result<usize> {
        self.publish_with_progress(messages, rate, |_| {}).await
    }

    /// Publishes raw bytes (tests send malformed bodies this way) and waits for the confirm.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
    ) -> anyhow::Result<()> {
        self.send(exchange, routing_key, body).await?;
        self.wait_for_confirms().await
    }

    async fn send(&self, exchange: &str, routing_key: &str, body: &[u8]) -> anyhow::Result<()> {
        // oslo.messaging's properties (CLIENTS.md §1).
        let properties = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_content_encoding(ShortString::from("utf-8"))
            .with_delivery_mode(2);
        let exchange = format!("{}{exchange}", self.exchange_prefix);
        self.channel
            .basic_publish(
                exchange.as_str().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .with_context(|| format!("publishing to {exchange}"))?;
        Ok(())
    }

    async fn wait_for_confirms(&self) -> anyhow::Result<()> {
        self.channel
            .wait_for_confirms()
            .await
            .context("waiting for publisher confirms")?;
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(self) -> anyhow::Result<()> {
        self.connection.close(200, "done".into()).await?;
        Ok(())
    }
}
