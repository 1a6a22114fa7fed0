//! Publishing to RabbitMQ the way nova, glance and Socorro's tooling do
//! (CLIENTS.md §1), with publisher confirms, so a caller knows the broker
//! holds every message before it goes on.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ErrorKind,
    ExchangeKind, PublisherConfirm,
};

use crate::gen::Message;

/// Confirms allowed outstanding: enough to keep the broker busy, few enough
/// that a nack is reported soon after its message.
const CONFIRM_WINDOW: usize = 2000;

/// The logical exchanges and the durability their publishers declare them
/// with: oslo.messaging's default (non-durable) for nova and glance, and
/// durable for tach's own (SPEC §3.1).
const EXCHANGES: [(&str, bool); 3] = [("nova", false), ("glance", false), ("tach", true)];

/// A publishing connection; exchange names get a prefix (tests isolate
/// themselves with one).
pub struct Publisher {
    connection: Connection,
    channel: Channel,
    exchange_prefix: String,
}

impl Publisher {
    /// Connects and puts the publishing channel in confirm mode.
    pub async fn connect(amqp_url: &str, exchange_prefix: &str) -> anyhow::Result<Self> {
        let connection = Connection::connect(amqp_url, ConnectionProperties::default())
            .await
            .with_context(|| {
                format!(
                    "connecting to RabbitMQ at {}",
                    tach_ingest::config::redact_url(amqp_url)
                )
            })?;
        let channel = connection
            .create_channel()
            .await
            .context("opening the publishing channel")?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .context("enabling publisher confirms")?;
        Ok(Publisher {
            connection,
            channel,
            exchange_prefix: exchange_prefix.to_owned(),
        })
    }

    /// Declares `<prefix>nova`, `<prefix>glance` (non-durable, as
    /// oslo.messaging does) and `<prefix>tach` (durable) as topic exchanges.
    /// One that exists with another durability is declared passively
    /// instead: redeclaring it would fail (406), and oslo's publishers
    /// would then drop every notification (CLIENTS.md §1).
    pub async fn declare_exchanges(&self) -> anyhow::Result<()> {
        for (name, durable) in EXCHANGES {
            let exchange = self.exchange_name(name);
            self.declare_exchange(&exchange, durable)
                .await
                .with_context(|| format!("declaring exchange {exchange}"))?;
        }
        Ok(())
    }

    /// Declares one exchange on a channel of its own: a 406 closes the
    /// channel it happens on, and the publishing channel must survive it.
    async fn declare_exchange(&self, exchange: &str, durable: bool) -> anyhow::Result<()> {
        let channel = self.connection.create_channel().await?;
        let options = ExchangeDeclareOptions {
            durable,
            ..ExchangeDeclareOptions::default()
        };
        let declared = channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                options,
                FieldTable::default(),
            )
            .await;
        match declared {
            Ok(()) => {
                channel.close(200, "declared".into()).await?;
                Ok(())
            }
            Err(error) if is_precondition_failed(error.kind()) => {
                self.declare_passively(exchange).await
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Checks that `exchange` exists, whatever its durability.
    async fn declare_passively(&self, exchange: &str) -> anyhow::Result<()> {
        let channel = self.connection.create_channel().await?;
        let passive = ExchangeDeclareOptions {
            passive: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                passive,
                FieldTable::default(),
            )
            .await?;
        channel.close(200, "declared".into()).await?;
        Ok(())
    }

    /// Publishes every message (its body's compact JSON, with oslo's
    /// properties) and waits until the broker confirmed them all; errors if
    /// it nacked any. `rate` caps messages per second (None:
    /// as fast as confirms allow). Returns the count published.
    pub async fn publish(&self, messages: &[Message], rate: Option<f64>) -> anyhow::Result<usize> {
        self.publish_with_progress(messages, rate, |_| {}).await
    }

    /// [`Publisher::publish`], calling `progress` with the count sent so far
    /// about once a second.
    pub async fn publish_with_progress(
        &self,
        messages: &[Message],
        rate: Option<f64>,
        mut progress: impl FnMut(usize),
    ) -> anyhow::Result<usize> {
        let started = Instant::now();
        let mut last_report = Instant::now();
        let mut pending = Pending::default();
        for (index, message) in messages.iter().enumerate() {
            if let Some(rate) = rate.filter(|rate| *rate > 0.0) {
                let due = started + Duration::from_secs_f64(index as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
            let body = message.body_bytes();
            let confirm = self
                .send(&message.exchange, &message.routing_key, &body)
                .await?;
            pending.push(confirm).await?;
            if last_report.elapsed() >= Duration::from_secs(1) {
                progress(index + 1);
                last_report = Instant::now();
            }
        }
        pending.drain().await?;
        Ok(messages.len())
    }

    /// Publishes raw bytes to a logical exchange (tests send malformed
    /// bodies this way) and waits for the broker's confirm.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
    ) -> anyhow::Result<()> {
        let confirm = self.send(exchange, routing_key, body).await?;
        check(confirm.await.context("waiting for the publisher confirm")?)
    }

    /// Closes the channel and the connection.
    pub async fn close(self) -> anyhow::Result<()> {
        self.channel.close(200, "done".into()).await?;
        self.connection.close(200, "done".into()).await?;
        Ok(())
    }

    async fn send(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
    ) -> anyhow::Result<PublisherConfirm> {
        let exchange = self.exchange_name(exchange);
        self.channel
            .basic_publish(
                exchange.as_str().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                oslo_properties(),
            )
            .await
            .with_context(|| format!("publishing to exchange {exchange}"))
    }

    fn exchange_name(&self, logical: &str) -> String {
        format!("{}{logical}", self.exchange_prefix)
    }
}

/// The properties oslo.messaging's rabbit driver sets (CLIENTS.md §1).
fn oslo_properties() -> BasicProperties {
    BasicProperties::default()
        .with_content_type(ShortString::from("application/json"))
        .with_content_encoding(ShortString::from("utf-8"))
        .with_delivery_mode(2)
        .with_headers(FieldTable::default())
}

/// Confirms not yet received, oldest first (RabbitMQ confirms in order).
#[derive(Default)]
struct Pending {
    confirms: VecDeque<PublisherConfirm>,
}

impl Pending {
    /// Adds a confirm, first waiting for the oldest when the window is full.
    async fn push(&mut self, confirm: PublisherConfirm) -> anyhow::Result<()> {
        self.confirms.push_back(confirm);
        while self.confirms.len() > CONFIRM_WINDOW {
            self.wait_oldest().await?;
        }
        Ok(())
    }

    /// Waits for every confirm.
    async fn drain(&mut self) -> anyhow::Result<()> {
        while !self.confirms.is_empty() {
            self.wait_oldest().await?;
        }
        Ok(())
    }

    async fn wait_oldest(&mut self) -> anyhow::Result<()> {
        if let Some(confirm) = self.confirms.pop_front() {
            check(confirm.await.context("waiting for publisher confirms")?)?;
        }
        Ok(())
    }
}

/// Ok for an ack; an error for a nack, or no confirm at all (the channel
/// is in confirm mode, so that would be a bug).
fn check(confirmation: Confirmation) -> anyhow::Result<()> {
    match confirmation {
        Confirmation::Ack(_) => Ok(()),
        Confirmation::Nack(_) => bail!("the broker nacked a message (it could not store it)"),
        Confirmation::NotRequested => bail!("publisher confirms are not enabled on the channel"),
    }
}

/// True for `406 PRECONDITION_FAILED` (an exchange redeclared differently).
fn is_precondition_failed(kind: &ErrorKind) -> bool {
    matches!(kind, ErrorKind::ProtocolError(error)
        if *error.kind() == AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lapin::options::{
        BasicGetOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    };

    use super::*;
    use crate::gen::{generate, Scenario};

    /// A queue of the test's own, bound to its three exchanges.
    async fn bind_queue(channel: &Channel, prefix: &str) -> anyhow::Result<String> {
        let queue = format!("{prefix}all");
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await?;
        for (exchange, routing_key) in [
            ("nova", "notifications.*"),
            ("glance", "notifications.*"),
            ("tach", "#"),
        ] {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    format!("{prefix}{exchange}").as_str().into(),
                    routing_key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(queue)
    }

    /// Fetches `count` messages from `queue`, polling until a deadline.
    async fn fetch(
        channel: &Channel,
        queue: &str,
        count: usize,
    ) -> anyhow::Result<Vec<lapin::message::BasicGetMessage>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut fetched = Vec::new();
        while fetched.len() < count && Instant::now() < deadline {
            match channel
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await?
            {
                Some(message) => fetched.push(message),
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        Ok(fetched)
    }

    /// Publishes a small scenario and a raw body, with `<prefix>nova`
    /// already declared durable (so declaring falls back to passive), and
    /// reads everything back in order.
    async fn round_trip(channel: &Channel, prefix: &str) -> anyhow::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        let nova = format!("{prefix}nova");
        channel
            .exchange_declare(
                nova.as_str().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        let publisher = Publisher::connect(&crate::harness::amqp_url(), prefix).await?;
        publisher.declare_exchanges().await?;
        let queue = bind_queue(channel, prefix).await?;
        let messages = generate(&Scenario {
            instances: 3,
            images: 2,
            crashes: 4,
            releases: 1,
            products: 1,
            ..Scenario::default()
        });
        assert_eq!(publisher.publish(&messages, None).await?, messages.len());
        publisher
            .publish_raw("tach", "crash.processed", b"{not json")
            .await?;
        publisher.close().await?;

        let received = fetch(channel, &queue, messages.len() + 1).await?;
        assert_eq!(received.len(), messages.len() + 1);
        for (message, delivery) in messages.iter().zip(&received) {
            assert_eq!(
                delivery.delivery.exchange.as_str(),
                format!("{prefix}{}", message.exchange)
            );
            assert_eq!(delivery.delivery.routing_key.as_str(), message.routing_key);
            assert_eq!(delivery.delivery.data, serde_json::to_vec(&message.body)?);
            let properties = &delivery.delivery.properties;
            assert_eq!(
                properties.content_type().as_ref().map(|t| t.as_str()),
                Some("application/json")
            );
            assert_eq!(
                properties.content_encoding().as_ref().map(|e| e.as_str()),
                Some("utf-8")
            );
            assert_eq!(*properties.delivery_mode(), Some(2));
        }
        assert_eq!(received[messages.len()].delivery.data, b"{not json");
        Ok(())
    }

    #[tokio::test]
    async fn published_messages_arrive_in_order_with_oslo_properties() {
        let prefix = format!("gen-test-{}-", uuid::Uuid::new_v4().simple());
        let connection =
            Connection::connect(&crate::harness::amqp_url(), ConnectionProperties::default())
                .await
                .expect("the test broker is reachable");
        let channel = connection.create_channel().await.unwrap();
        let outcome = round_trip(&channel, &prefix).await;

        // Clean up whatever the test got to, on a fresh channel (a failure may have closed this one).
        let cleanup = connection.create_channel().await.unwrap();
        let _ = cleanup
            .queue_delete(
                format!("{prefix}all").as_str().into(),
                QueueDeleteOptions::default(),
            )
            .await;
        for (exchange, _) in EXCHANGES {
            let name = format!("{prefix}{exchange}");
            let _ = cleanup
                .exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
        let _ = connection.close(200, "test done".into()).await;
        outcome.unwrap();
    }
}
