//! The broker topology of one deployment (SPEC §3.1): publishers' exchanges
//! declared without ever making a publisher's own declare fail, and tach's
//! own durable queues bound to them.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ExchangeKind};
use tach_schema::ExchangeFamily;

use crate::config::{DeploymentConfig, QueueArgument};

/// One of tach's queues and where its deliveries come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Queue name (tach's own, never `notifications.*`).
    pub name: String,
    /// Exchange it is bound to.
    pub exchange: String,
    /// Family rule of that exchange.
    pub family: ExchangeFamily,
    /// Routing keys bound.
    pub routing_keys: Vec<String>,
}

/// tach's queues for a deployment: for tach's own exchange one queue
/// `<prefix>.events`; for the others one per routing key,
/// `<prefix>.<exchange>.<last word of the key>` (`tach.nova.info`).
pub fn queues(deployment: &DeploymentConfig) -> Vec<QueueSpec> {
    let prefix = &deployment.queue_prefix;
    let mut specs = Vec::new();
    for binding in deployment.effective_bindings() {
        let stem = binding
            .exchange
            .strip_prefix(deployment.exchange_prefix.as_str())
            .unwrap_or(&binding.exchange);
        let wildcard = binding
            .routing_keys
            .iter()
            .any(|key| key.contains(['#', '*']));
        if binding.family == ExchangeFamily::Tach || wildcard {
            let name = if binding.family == ExchangeFamily::Tach {
                format!("{prefix}.events")
            } else {
                format!("{prefix}.{stem}")
            };
            specs.push(QueueSpec {
                name,
                exchange: binding.exchange.clone(),
                family: binding.family,
                routing_keys: binding.routing_keys.clone(),
            });
            continue;
        }
        for key in &binding.routing_keys {
            let last_word = key.rsplit('.').next().unwrap_or(key);
            specs.push(QueueSpec {
                name: format!("{prefix}.{stem}.{last_word}"),
                exchange: binding.exchange.clone(),
                family: binding.family,
                routing_keys: vec![key.clone()],
            });
        }
    }
    specs
}

/// Declares exchanges, queues and bindings; returns the queues to consume.
pub async fn declare(
    connection: &Connection,
    deployment: &DeploymentConfig,
) -> Result<Vec<QueueSpec>, lapin::Error> {
    let specs = queues(deployment);
    let mut channel = connection.create_channel().await?;
    let mut declared: Vec<&str> = Vec::new();
    for spec in &specs {
        if !declared.contains(&spec.exchange.as_str()) {
            // tach's own exchange is durable; publishers' exchanges take the
            // publishers' durability (CLIENTS.md §1).
            let durable = spec.family == ExchangeFamily::Tach || deployment.exchange_durable;
            channel = declare_exchange(connection, channel, &spec.exchange, durable).await?;
            declared.push(&spec.exchange);
        }
        channel
            .queue_declare(
                ShortString::from(spec.name.as_str()),
                QueueDeclareOptions::durable(),
                queue_arguments(deployment),
            )
            .await?;
        for key in &spec.routing_keys {
            channel
                .queue_bind(
                    ShortString::from(spec.name.as_str()),
                    ShortString::from(spec.exchange.as_str()),
                    ShortString::from(key.as_str()),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    let _ = channel.close(200, "topology declared".into()).await;
    Ok(specs)
}

/// Declares an exchange passively when it exists, whatever its durability;
/// otherwise creates it. A failed passive declare closes the channel, so a
/// fresh one is returned either way.
async fn declare_exchange(
    connection: &Connection,
    channel: Channel,
    exchange: &str,
    durable: bool,
) -> Result<Channel, lapin::Error> {
    let passive = ExchangeDeclareOptions {
        passive: true,
        ..ExchangeDeclareOptions::default()
    };
    let exists = channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            passive,
            FieldTable::default(),
        )
        .await
        .is_ok();
    if exists {
        return Ok(channel);
    }
    let channel = connection.create_channel().await?;
    let create = ExchangeDeclareOptions {
        durable,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            create,
            FieldTable::default(),
        )
        .await?;
    Ok(channel)
}

fn queue_arguments(deployment: &DeploymentConfig) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in &deployment.queue_arguments {
        let value = match value {
            QueueArgument::Bool(flag) => AMQPValue::Boolean(*flag),
            QueueArgument::Integer(number) => AMQPValue::LongLongInt(*number),
            QueueArgument::Text(text) => AMQPValue::LongString(LongString::from(text.as_str())),
        };
        table.insert(ShortString::from(key.as_str()), value);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_queue_names_follow_the_spec() {
        let deployment = DeploymentConfig::single("local", "amqp://127.0.0.1");
        let names: Vec<String> = queues(&deployment).into_iter().map(|q| q.name).collect();
        assert_eq!(
            names,
            [
                "tach.nova.info",
                "tach.nova.error",
                "tach.glance.info",
                "tach.glance.error",
                "tach.events"
            ]
        );
    }

    #[test]
    fn prefixes_apply_to_exchanges_and_queues() {
        let mut deployment = DeploymentConfig::single("local", "amqp://127.0.0.1");
        deployment.exchange_prefix = "t1-".into();
        deployment.queue_prefix = "t1-tach".into();
        let specs = queues(&deployment);
        assert_eq!(specs[0].name, "t1-tach.nova.info");
        assert_eq!(specs[0].exchange, "t1-nova");
        assert_eq!(specs[4].name, "t1-tach.events");
        assert_eq!(specs[4].routing_keys, ["#"]);
    }
}
