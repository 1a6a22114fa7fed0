//! The broker topology of one deployment (SPEC §3.1): publishers' exchanges
//! declared without ever making a publisher's own declare fail, and tach's
//! own durable queues bound to them.
//!
//! With quorum queues (`x-queue-type = "quorum"`), each of tach's queues
//! gets a delivery limit and a dead-letter exchange of tach's own,
//! `<queue_prefix>.dead`, bound to the queue of the same name, which tach
//! consumes too: a message delivered too often without an acknowledgement
//! (one that crashes every consumer it reaches) is set aside and stored as
//! rejected, never lost. RabbitMQ fixes a queue's arguments when it is
//! created and refuses a declare that differs: a queue that exists with
//! other values of the arguments tach adds (a queue made before, or with
//! another `delivery_limit`) is used as it is, with a warning, since those
//! change only by policy; any other difference (`x-queue-type`) stays a
//! refusal, which ends a start.

use std::collections::BTreeMap;

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
    /// The dead-letter queue: its messages are stored as rejected, never parsed.
    pub dead_letters: bool,
}

/// True when the deployment's queues are quorum queues.
pub fn is_quorum(deployment: &DeploymentConfig) -> bool {
    deployment.queue_arguments.get("x-queue-type") == Some(&QueueArgument::Text("quorum".into()))
}

/// The dead-letter exchange and queue of a deployment with quorum queues.
pub fn dead_letter_name(deployment: &DeploymentConfig) -> String {
    format!("{}.dead", deployment.queue_prefix)
}

/// Arguments that route a message to another queue; the dead-letter queue
/// has none, so a message can never loop back into it.
const DEAD_LETTER_ARGUMENTS: [&str; 3] = [
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-delivery-limit",
];

/// The arguments `spec` is created with: the deployment's `queue_arguments`,
/// and for a quorum queue of events also a delivery limit and dead-lettering
/// to [`dead_letter_name`], at least once (a dead-lettered message leaves
/// its queue only when the dead-letter queue has it, which RabbitMQ does
/// only with `x-overflow = reject-publish`). An argument set in
/// `queue_arguments` wins.
pub fn arguments(
    deployment: &DeploymentConfig,
    spec: &QueueSpec,
) -> BTreeMap<String, QueueArgument> {
    let mut arguments = deployment.queue_arguments.clone();
    if !is_quorum(deployment) {
        return arguments;
    }
    if spec.dead_letters {
        arguments.retain(|key, _| !DEAD_LETTER_ARGUMENTS.contains(&key.as_str()));
        return arguments;
    }
    let text = |value: &str| QueueArgument::Text(value.to_owned());
    let defaults = [
        (
            "x-delivery-limit",
            QueueArgument::Integer(i64::from(deployment.delivery_limit)),
        ),
        (
            "x-dead-letter-exchange",
            text(&dead_letter_name(deployment)),
        ),
        ("x-dead-letter-strategy", text("at-least-once")),
        ("x-overflow", text("reject-publish")),
    ];
    for (key, value) in defaults {
        arguments.entry(key.to_owned()).or_insert(value);
    }
    arguments
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
                dead_letters: false,
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
                dead_letters: false,
            });
        }
    }
    if is_quorum(deployment) {
        // Dead-lettered messages keep their routing key: bind them all.
        specs.push(QueueSpec {
            name: dead_letter_name(deployment),
            exchange: dead_letter_name(deployment),
            family: ExchangeFamily::Generic,
            routing_keys: vec!["#".into()],
            dead_letters: true,
        });
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
    // The dead-letter queue first, so nothing is dead-lettered before it exists.
    let dead_first = specs
        .iter()
        .filter(|spec| spec.dead_letters)
        .chain(specs.iter().filter(|spec| !spec.dead_letters));
    for spec in dead_first {
        if !declared.contains(&spec.exchange.as_str()) {
            // tach's own exchanges are durable; publishers' exchanges take
            // the publishers' durability (CLIENTS.md §1).
            let durable = spec.family == ExchangeFamily::Tach
                || spec.dead_letters
                || deployment.exchange_durable;
            channel = declare_exchange(connection, channel, &spec.exchange, durable).await?;
            declared.push(&spec.exchange);
        }
        channel = declare_queue(connection, channel, spec, &arguments(deployment, spec)).await?;
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

/// Declares a queue with `arguments`. When it exists with other values of
/// the arguments tach adds ([`kept_as_created`]), declares it passively
/// instead, on a fresh channel (the refusal closed the first). Returns an
/// open channel.
async fn declare_queue(
    connection: &Connection,
    channel: Channel,
    spec: &QueueSpec,
    arguments: &BTreeMap<String, QueueArgument>,
) -> Result<Channel, lapin::Error> {
    let name = ShortString::from(spec.name.as_str());
    let declared = channel
        .queue_declare(
            name.clone(),
            QueueDeclareOptions::durable(),
            field_table(arguments),
        )
        .await;
    let error = match declared {
        Ok(_) => return Ok(channel),
        Err(error) if kept_as_created(&error) => error,
        Err(error) => return Err(error),
    };
    tracing::warn!(queue = %spec.name, error = %error, "queue exists with other delivery-limit or dead-letter arguments; keeping them (a policy changes them)");
    let channel = connection.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name, passive, FieldTable::default())
        .await?;
    Ok(channel)
}

/// The arguments tach adds to quorum queues, which an existing queue may
/// hold with other values (or not at all).
const ADDED_ARGUMENTS: [&str; 4] = [
    "x-delivery-limit",
    "x-dead-letter-exchange",
    "x-dead-letter-strategy",
    "x-overflow",
];

/// True when a declare was refused only because the queue exists with
/// other values of [`ADDED_ARGUMENTS`]: RabbitMQ's `PRECONDITION_FAILED -
/// inequivalent arg 'x-delivery-limit' for queue …`.
pub fn kept_as_created(error: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
    let lapin::ErrorKind::ProtocolError(amqp) = error.kind() else {
        return false;
    };
    if amqp.kind() != &AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED) {
        return false;
    }
    let message = amqp.get_message().as_str();
    ADDED_ARGUMENTS
        .iter()
        .any(|argument| message.contains(&format!("inequivalent arg '{argument}'")))
}

fn field_table(arguments: &BTreeMap<String, QueueArgument>) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in arguments {
        let value = match value {
            QueueArgument::Bool(flag) => AMQPValue::Boolean(*flag),
            QueueArgument::Integer(number) => AMQPValue::LongLongInt(*number),
            QueueArgument::Text(text) => AMQPValue::LongString(LongString::from(text.as_str())),
        };
        table.insert(ShortString::from(key.as_str()), value);
    }
    table
}

/// Where a dead-lettered message was first dead-lettered from, read from
/// the headers RabbitMQ adds (`x-first-death-exchange`, `-queue`, `-reason`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterOrigin {
    /// The exchange it was published to.
    pub exchange: Option<String>,
    /// The queue it was dead-lettered from.
    pub queue: Option<String>,
    /// RabbitMQ's reason: `delivery_limit`, `rejected`, `expired`, `maxlen`.
    pub reason: Option<String>,
}

/// Reads a dead-lettered delivery's headers (pure).
pub fn dead_letter_origin(headers: Option<&FieldTable>) -> DeadLetterOrigin {
    let text = |key: &str| {
        headers
            .and_then(|table| table.inner().get(key))
            .and_then(|value| match value {
                AMQPValue::LongString(text) => {
                    Some(String::from_utf8_lossy(text.as_bytes()).into_owned())
                }
                AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
                _ => None,
            })
    };
    DeadLetterOrigin {
        exchange: text("x-first-death-exchange"),
        queue: text("x-first-death-queue"),
        reason: text("x-first-death-reason"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quorum(arguments: &[(&str, QueueArgument)]) -> DeploymentConfig {
        let mut deployment = DeploymentConfig::single("local", "amqp://127.0.0.1");
        deployment.queue_arguments = arguments
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect();
        deployment
    }

    fn text(value: &str) -> QueueArgument {
        QueueArgument::Text(value.into())
    }

    #[test]
    fn quorum_queues_get_a_delivery_limit_and_tachs_dead_letter_queue() {
        let deployment = quorum(&[("x-queue-type", text("quorum"))]);
        let specs = queues(&deployment);
        assert_eq!(specs.len(), 6);
        let dead = &specs[5];
        assert_eq!(
            (
                dead.name.as_str(),
                dead.exchange.as_str(),
                dead.dead_letters
            ),
            ("tach.dead", "tach.dead", true)
        );
        assert_eq!(dead.routing_keys, ["#"]);
        let expected: BTreeMap<String, QueueArgument> = [
            ("x-dead-letter-exchange", text("tach.dead")),
            ("x-dead-letter-strategy", text("at-least-once")),
            ("x-delivery-limit", QueueArgument::Integer(20)),
            ("x-overflow", text("reject-publish")),
            ("x-queue-type", text("quorum")),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        for spec in &specs[..5] {
            assert_eq!(arguments(&deployment, spec), expected, "{}", spec.name);
        }
        assert_eq!(
            arguments(&deployment, dead),
            BTreeMap::from([("x-queue-type".to_owned(), text("quorum"))])
        );
    }

    #[test]
    fn configured_arguments_win_and_classic_queues_stay_as_configured() {
        let mut deployment = quorum(&[
            ("x-queue-type", text("quorum")),
            ("x-delivery-limit", QueueArgument::Integer(3)),
            ("x-overflow", text("drop-head")),
            ("x-max-length", QueueArgument::Integer(1000)),
        ]);
        deployment.delivery_limit = 7;
        deployment.queue_prefix = "t1".into();
        let specs = queues(&deployment);
        let events = arguments(&deployment, &specs[0]);
        assert_eq!(events["x-delivery-limit"], QueueArgument::Integer(3));
        assert_eq!(events["x-overflow"], text("drop-head"));
        assert_eq!(events["x-dead-letter-exchange"], text("t1.dead"));
        let dead = arguments(&deployment, &specs[5]);
        assert_eq!(dead.get("x-delivery-limit"), None);
        assert_eq!(dead["x-max-length"], QueueArgument::Integer(1000));
        let classic = quorum(&[("x-max-priority", QueueArgument::Integer(5))]);
        let specs = queues(&classic);
        assert_eq!(specs.len(), 5);
        assert_eq!(
            arguments(&classic, &specs[0]),
            BTreeMap::from([("x-max-priority".to_owned(), QueueArgument::Integer(5))])
        );
    }

    #[test]
    fn only_arguments_tach_adds_may_differ_on_an_existing_queue() {
        use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPSoftError};
        let refused = |message: &str| -> lapin::Error {
            lapin::ErrorKind::ProtocolError(AMQPError::new(
                AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED),
                message.into(),
            ))
            .into()
        };
        assert!(kept_as_created(&refused(
            "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'tach.events' in vhost '/': received the value '5' of type 'signedint' but current is none"
        )));
        assert!(kept_as_created(&refused(
            "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue 'tach.events' in vhost '/': received 'tach.dead' but current is none"
        )));
        assert!(!kept_as_created(&refused(
            "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'tach.events' in vhost '/': received 'quorum' but current is 'classic'"
        )));
        let access: lapin::Error = lapin::ErrorKind::ProtocolError(AMQPError::new(
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED),
            "ACCESS_REFUSED - inequivalent arg 'x-delivery-limit'".into(),
        ))
        .into();
        assert!(!kept_as_created(&access));
    }

    #[test]
    fn dead_letter_headers_name_the_origin() {
        let mut headers = FieldTable::default();
        headers.insert(
            "x-first-death-exchange".into(),
            AMQPValue::LongString("nova".into()),
        );
        headers.insert(
            "x-first-death-queue".into(),
            AMQPValue::LongString("tach.nova.info".into()),
        );
        headers.insert(
            "x-first-death-reason".into(),
            AMQPValue::LongString("delivery_limit".into()),
        );
        assert_eq!(
            dead_letter_origin(Some(&headers)),
            DeadLetterOrigin {
                exchange: Some("nova".into()),
                queue: Some("tach.nova.info".into()),
                reason: Some("delivery_limit".into()),
            }
        );
        assert_eq!(dead_letter_origin(None), DeadLetterOrigin::default());
    }

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
