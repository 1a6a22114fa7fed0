//! tach-ingest's configuration: flags and environment (clap), and the
//! `TACH_CONFIG` file describing several deployments.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use tach_schema::logging::LogFormat;
use tach_schema::ExchangeFamily;

/// Settings that may carry a password, each also read from the file its
/// `<NAME>_FILE` names (a mounted secret); `--help` never shows their values.
pub const SECRET_SETTINGS: [&str; 2] = ["DATABASE_URL", "AMQP_URL"];

/// Consumes events from RabbitMQ and stores each exactly once in PostgreSQL,
/// keeping tach's aggregates up to date. Without a subcommand it consumes
/// until SIGTERM or Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "tach-ingest", version, about, long_about = None)]
pub struct Cli {
    /// PostgreSQL URL (or DATABASE_URL_FILE, a file holding it). The database
    /// is created and migrated if missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/tach",
        global = true
    )]
    pub database_url: String,

    /// Log lines on stderr: `text` (the default), or `json`, one object a
    /// line for a log shipper. `RUST_LOG` filters them (default info).
    #[arg(long, env = "TACH_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// What to do; consume (the default) when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Consume and store events (the default).
    Run,
    /// Create the database if missing and apply pending migrations, then exit.
    Migrate,
    /// Re-ingest rejected messages (after a fix), or the messages of a JSON-lines file.
    Replay(ReplayArgs),
    /// Drop raw-event partitions older than the retention period, then exit.
    Prune(PruneArgs),
    /// Generate and store StackTach's "summary for region" report of a period.
    Report(ReportArgs),
}

/// Options of `report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Period start: YYYY-MM-DD (midnight UTC) or RFC 3339; yesterday by default.
    #[arg(long)]
    pub start: Option<String>,
    /// Period length in hours.
    #[arg(long, default_value_t = 24)]
    pub hours: u32,
    /// The percentile column.
    #[arg(long, default_value_t = 97, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub percentile: u32,
    /// Only deployments whose name contains this (case-insensitive); all by default.
    #[arg(long)]
    pub region: Option<String>,
    /// Requests longer than this many seconds count as failed (too long).
    #[arg(long, default_value_t = 1800)]
    pub too_long_secs: i64,
}

/// Options of the consumer.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// RabbitMQ URL of the single deployment used when TACH_CONFIG is not set
    /// (or AMQP_URL_FILE, a file holding it). oslo.messaging's multi-host form
    /// `amqp://u:p@host1:5672,u:p@host2:5672/vhost` names the nodes of a
    /// cluster: tach connects to the first that answers and, when it is lost,
    /// to the next.
    #[arg(
        long,
        env = "AMQP_URL",
        hide_env_values = true,
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,

    /// Name of that single deployment (StackTach's region or cell).
    #[arg(long, env = "TACH_DEPLOYMENT", default_value = "local")]
    pub deployment: String,

    /// TOML file listing several deployments (see deploy/tach.example.toml);
    /// `${NAME}` in any of its strings is the environment variable NAME.
    #[arg(long, env = "TACH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address serving /metrics and /healthz.
    #[arg(
        long,
        env = "TACH_INGEST_METRICS_ADDR",
        default_value = "127.0.0.1:9108"
    )]
    pub metrics_addr: SocketAddr,

    /// Unacknowledged deliveries the broker may send ahead, per deployment.
    #[arg(long, env = "TACH_PREFETCH", default_value_t = 2000)]
    pub prefetch: u16,

    /// Most messages written in one transaction.
    #[arg(long, env = "TACH_BATCH_SIZE", default_value_t = 500)]
    pub batch_size: usize,

    /// Longest a partial batch waits for more messages, in milliseconds.
    #[arg(long, env = "TACH_BATCH_LINGER_MS", default_value = "50", value_parser = parse_millis)]
    pub batch_linger: Duration,

    /// Batches written concurrently per deployment (each on its own connection).
    #[arg(long, env = "TACH_WRITERS", default_value_t = 2)]
    pub writers: usize,

    /// Largest message body accepted; larger ones are rejected as too_large.
    #[arg(long, env = "TACH_MAX_BODY_BYTES", default_value_t = tach_schema::envelope::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Raw events older than this many days are dropped by the scheduled prune.
    #[arg(long, env = "TACH_RETENTION_DAYS", default_value_t = 90)]
    pub retention_days: u32,

    /// Hours between scheduled prunes; the first comes one interval after start. 0 disables.
    #[arg(long, env = "TACH_PRUNE_INTERVAL_HOURS", default_value_t = 24)]
    pub prune_interval_hours: u64,

    /// On SIGTERM, longest wait for the batches in flight, in seconds; keep it
    /// below the orchestrator's grace period. Anything unacknowledged is redelivered.
    #[arg(long, env = "TACH_SHUTDOWN_TIMEOUT_SECS", default_value_t = 20)]
    pub shutdown_timeout_secs: u64,
}

fn parse_millis(text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|error| format!("{text:?} is not a number of milliseconds: {error}"))
}

/// Options of `replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Replay this JSON-lines file (one {"exchange", "routing_key", "body"} per
    /// line, as `tach-gen jsonl` writes) instead of the rejected messages.
    #[arg(long)]
    pub file: Option<PathBuf>,

    /// Deployment the file's messages belong to.
    #[arg(long, default_value = "local")]
    pub deployment: String,

    /// Only replay rejected messages with this reason code.
    #[arg(long)]
    pub reason: Option<String>,

    /// Messages per transaction.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,

    /// Largest message body accepted.
    #[arg(long, default_value_t = tach_schema::envelope::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// TOML file of deployments, to map exchanges to families (defaults otherwise).
    #[arg(long, env = "TACH_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Options of `prune`.
#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    /// Drop partitions whose every event is older than this many days.
    #[arg(long, env = "TACH_RETENTION_DAYS", default_value_t = 90)]
    pub retention_days: u32,
}

/// The `TACH_CONFIG` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The deployments to consume.
    #[serde(rename = "deployment")]
    pub deployments: Vec<DeploymentConfig>,
}

/// One deployment: a broker and what to bind on it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// Shown as Deployment in stacky.
    pub name: String,
    /// The broker: one URL, or oslo.messaging's multi-host form naming a
    /// cluster's nodes. Empty when `amqp_urls` is set instead.
    #[serde(default)]
    pub amqp_url: String,
    /// The nodes of a RabbitMQ cluster, one URL each, tried in this order
    /// (instead of `amqp_url`).
    #[serde(default)]
    pub amqp_urls: Vec<String>,
    /// With `x-queue-type = "quorum"`: deliveries of one message after which
    /// the broker dead-letters it to `<queue_prefix>.dead`, which tach
    /// drains into `rejected_messages` (reason `delivery_limit`). Fixed when
    /// a queue is created; later only a policy changes it.
    #[serde(default = "default_delivery_limit")]
    pub delivery_limit: u32,
    /// Durability used when tach has to create a publisher's exchange. It must
    /// match the publishers' (oslo.messaging's default: non-durable), or their
    /// declares fail and they drop every notification (CLIENTS.md §1).
    #[serde(default)]
    pub exchange_durable: bool,
    /// Arguments of tach's own queues, e.g. `{"x-queue-type" = "quorum"}`.
    #[serde(default)]
    pub queue_arguments: BTreeMap<String, QueueArgument>,
    /// tach's queues are named `<queue_prefix>.nova.info` and so on.
    #[serde(default = "default_queue_prefix")]
    pub queue_prefix: String,
    /// Prefix of the default exchanges' names (`<prefix>nova`, …).
    #[serde(default)]
    pub exchange_prefix: String,
    /// Bindings; the defaults of SPEC §3.1 when empty.
    #[serde(default, rename = "binding")]
    pub bindings: Vec<BindingConfig>,
    /// Where `amqp_url` was set, for error messages.
    #[serde(skip)]
    pub url_setting: UrlSetting,
}

/// Where a deployment's broker URL comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UrlSetting {
    /// `amqp_url` (or `amqp_url_file`) of a `[[deployment]]` in TACH_CONFIG.
    #[default]
    ConfigFile,
    /// `amqp_urls` of a `[[deployment]]` in TACH_CONFIG.
    ConfigFileList,
    /// `AMQP_URL` (or `AMQP_URL_FILE`), without TACH_CONFIG.
    Environment,
}

impl std::fmt::Display for UrlSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UrlSetting::ConfigFile => "amqp_url in TACH_CONFIG",
            UrlSetting::ConfigFileList => "amqp_urls in TACH_CONFIG",
            UrlSetting::Environment => "AMQP_URL",
        })
    }
}

/// A queue argument value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum QueueArgument {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A string.
    Text(String),
}

/// One exchange to consume from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingConfig {
    /// Exchange name.
    pub exchange: String,
    /// How its deliveries' family is decided.
    pub family: ExchangeFamily,
    /// Routing keys to bind.
    pub routing_keys: Vec<String>,
}

fn default_queue_prefix() -> String {
    "tach".into()
}

/// RabbitMQ 4's default for quorum queues: enough for a few crashes and
/// failovers in a row, few enough that a message which kills its consumer
/// every time is set aside within minutes.
pub const DEFAULT_DELIVERY_LIMIT: u32 = 20;

fn default_delivery_limit() -> u32 {
    DEFAULT_DELIVERY_LIMIT
}

impl DeploymentConfig {
    /// The single deployment used without TACH_CONFIG.
    pub fn single(name: &str, amqp_url: &str) -> DeploymentConfig {
        DeploymentConfig {
            name: name.into(),
            amqp_url: amqp_url.into(),
            amqp_urls: Vec::new(),
            delivery_limit: DEFAULT_DELIVERY_LIMIT,
            exchange_durable: false,
            queue_arguments: BTreeMap::new(),
            queue_prefix: default_queue_prefix(),
            exchange_prefix: String::new(),
            bindings: Vec::new(),
            url_setting: UrlSetting::Environment,
        }
    }

    /// The configured bindings, or SPEC §3.1's defaults.
    pub fn effective_bindings(&self) -> Vec<BindingConfig> {
        if !self.bindings.is_empty() {
            return self.bindings.clone();
        }
        let notifications = vec![
            "notifications.info".to_owned(),
            "notifications.error".to_owned(),
        ];
        let prefix = &self.exchange_prefix;
        vec![
            BindingConfig {
                exchange: format!("{prefix}nova"),
                family: ExchangeFamily::Nova,
                routing_keys: notifications.clone(),
            },
            BindingConfig {
                exchange: format!("{prefix}glance"),
                family: ExchangeFamily::Glance,
                routing_keys: notifications,
            },
            BindingConfig {
                exchange: format!("{prefix}tach"),
                family: ExchangeFamily::Tach,
                routing_keys: vec!["#".into()],
            },
        ]
    }

    /// One URL per broker node, in the order to try them: `amqp_urls`, or
    /// `amqp_url` split at its hosts ([`crate::broker::node_urls`]).
    pub fn node_urls(&self) -> Result<Vec<String>, crate::broker::BrokerUrlError> {
        if self.amqp_urls.is_empty() {
            return crate::broker::node_urls(&self.amqp_url);
        }
        let mut urls = Vec::new();
        for url in &self.amqp_urls {
            urls.extend(crate::broker::node_urls(url)?);
        }
        Ok(urls)
    }

    /// The URL (or URLs, comma-separated) with passwords hidden, for logs.
    pub fn redacted_url(&self) -> String {
        if self.amqp_urls.is_empty() {
            return redact_url(&self.amqp_url);
        }
        let urls: Vec<String> = self.amqp_urls.iter().map(|url| redact_url(url)).collect();
        urls.join(", ")
    }
}

/// `scheme://user:secret@host` → `scheme://user:***@host`, and so for every
/// host of a multi-host URL.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // A password may hold '/' or '?' only escaped, but a careless one still
    // must not leak: the authority ends at the last '@' when one follows.
    let authority_end = match rest.rfind('@') {
        Some(at) if at > authority_end => rest[at..]
            .find(['/', '?', '#'])
            .map_or(rest.len(), |end| at + end),
        _ => authority_end,
    };
    let (authorities, tail) = rest.split_at(authority_end);
    let hosts: Vec<String> = authorities
        .split(',')
        .map(|authority| match authority.rsplit_once('@') {
            Some((credentials, host)) => match credentials.split_once(':') {
                Some((user, _)) => format!("{user}:***@{host}"),
                None => authority.to_owned(),
            },
            None => authority.to_owned(),
        })
        .collect();
    format!("{scheme}://{}{tail}", hosts.join(","))
}

/// Reads the deployments: from the TACH_CONFIG file when given, else the single default one.
pub fn deployments(
    file: Option<&PathBuf>,
    single: &RunArgs,
) -> anyhow::Result<Vec<DeploymentConfig>> {
    let Some(path) = file else {
        return Ok(vec![DeploymentConfig::single(
            &single.deployment,
            &single.amqp_url,
        )]);
    };
    read_config_file(path)
}

/// Each deployment's `amqp_url_file` (a mounted secret holding the URL)
/// becomes its `amqp_url`.
fn read_url_files(document: &mut toml::Value) -> Result<(), String> {
    let Some(deployments) = document
        .get_mut("deployment")
        .and_then(toml::Value::as_array_mut)
    else {
        return Ok(());
    };
    for deployment in deployments.iter_mut().filter_map(toml::Value::as_table_mut) {
        let Some(file) = deployment.remove("amqp_url_file") else {
            continue;
        };
        let name = deployment
            .get("name")
            .and_then(toml::Value::as_str)
            .unwrap_or("?")
            .to_owned();
        if deployment.contains_key("amqp_url") {
            return Err(format!(
                "deployment {name}: set amqp_url or amqp_url_file, not both"
            ));
        }
        let file = file
            .as_str()
            .ok_or_else(|| format!("deployment {name}: amqp_url_file must be a path"))?
            .to_owned();
        let lookup = |key: &str| (key == "AMQP_URL_FILE").then(|| file.clone());
        let url = tach_schema::secrets::from_file_variant("AMQP_URL", lookup, |path| {
            std::fs::read_to_string(path)
        })
        .map_err(|why| {
            format!(
                "deployment {name}: {}",
                why.replace("AMQP_URL_FILE", "amqp_url_file")
            )
        })?
        .unwrap_or_default();
        deployment.insert("amqp_url".into(), toml::Value::String(url));
    }
    Ok(())
}

/// Each deployment names its broker exactly once: `amqp_url` (or
/// `amqp_url_file`, already read) or a non-empty `amqp_urls`.
fn check_url_settings(document: &toml::Value) -> Result<(), String> {
    let Some(deployments) = document.get("deployment").and_then(toml::Value::as_array) else {
        return Ok(());
    };
    for deployment in deployments.iter().filter_map(toml::Value::as_table) {
        let name = deployment
            .get("name")
            .and_then(toml::Value::as_str)
            .unwrap_or("?");
        let list = deployment.get("amqp_urls");
        match (deployment.contains_key("amqp_url"), list) {
            (true, Some(_)) => {
                return Err(format!(
                    "deployment {name}: set amqp_url (or amqp_url_file) or amqp_urls, not both"
                ))
            }
            (false, None) => {
                return Err(format!(
                    "deployment {name}: set amqp_url, amqp_url_file or amqp_urls"
                ))
            }
            (false, Some(toml::Value::Array(urls))) if urls.is_empty() => {
                return Err(format!("deployment {name}: amqp_urls lists no URL"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parses a TACH_CONFIG file.
pub fn read_config_file(path: &PathBuf) -> anyhow::Result<Vec<DeploymentConfig>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading TACH_CONFIG {}", path.display()))?;
    let mut document: toml::Value =
        toml::from_str(&text).with_context(|| format!("parsing TACH_CONFIG {}", path.display()))?;
    let lookup = |name: &str| std::env::var(name).ok();
    tach_schema::secrets::expand_toml(&mut document, &lookup)
        .map_err(|why| anyhow::anyhow!("TACH_CONFIG {}: {why}", path.display()))?;
    read_url_files(&mut document)
        .and_then(|()| check_url_settings(&document))
        .map_err(|why| anyhow::anyhow!("TACH_CONFIG {}: {why}", path.display()))?;
    let mut file: ConfigFile = document
        .try_into()
        .with_context(|| format!("parsing TACH_CONFIG {}", path.display()))?;
    for deployment in &mut file.deployments {
        if !deployment.amqp_urls.is_empty() {
            deployment.url_setting = UrlSetting::ConfigFileList;
        }
    }
    anyhow::ensure!(
        !file.deployments.is_empty(),
        "TACH_CONFIG {} lists no [[deployment]]",
        path.display()
    );
    let mut names: Vec<&str> = file.deployments.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    anyhow::ensure!(
        names.len() == file.deployments.len(),
        "TACH_CONFIG {}: deployment names must be unique",
        path.display()
    );
    Ok(file.deployments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_strings_take_environment_variables() {
        // nextest runs each test in a process of its own.
        std::env::set_var("TACH_TEST_BROKER_PASSWORD", "s3cret");
        let path = std::env::temp_dir().join(format!("tach-config-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "[[deployment]]\nname = \"r1\"\namqp_url = \"amqp://tach:${TACH_TEST_BROKER_PASSWORD}@mq:5672/%2f\"\n",
        )
        .unwrap();
        let deployments = read_config_file(&path).unwrap();
        assert_eq!(deployments[0].amqp_url, "amqp://tach:s3cret@mq:5672/%2f");
        std::fs::write(
            &path,
            "[[deployment]]\nname = \"r1\"\namqp_url = \"${TACH_TEST_UNSET}\"\n",
        )
        .unwrap();
        let error = format!("{:#}", read_config_file(&path).unwrap_err());
        assert!(
            error.ends_with("deployment: amqp_url: ${TACH_TEST_UNSET} is not set"),
            "{error}"
        );
        let secret = path.with_extension("url");
        std::fs::write(&secret, "amqp://tach:from-file@mq:5672/%2f\n").unwrap();
        std::fs::write(
            &path,
            format!(
                "[[deployment]]\nname = \"r1\"\namqp_url_file = {:?}\n",
                secret.display().to_string()
            ),
        )
        .unwrap();
        assert_eq!(
            read_config_file(&path).unwrap()[0].amqp_url,
            "amqp://tach:from-file@mq:5672/%2f"
        );
        std::fs::remove_file(&secret).unwrap();
        let error = format!("{:#}", read_config_file(&path).unwrap_err());
        assert!(
            error.contains("deployment r1: amqp_url_file: cannot read"),
            "{error}"
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn deploy_tach_example_toml_parses_with_its_secret_file() {
        let example = include_str!("../../deploy/tach.example.toml");
        let dir = std::env::temp_dir().join(format!("tach-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("amqp_url");
        std::fs::write(&secret, "amqp://tach:tach@rabbitmq:5672/%2f\n").unwrap();
        let path = dir.join("tach.toml");
        let text = example.replace("/run/secrets/amqp_url", &secret.display().to_string());
        std::fs::write(&path, text).unwrap();
        let deployments = read_config_file(&path).unwrap();
        assert_eq!(deployments[0].name, "region-1");
        assert_eq!(
            deployments[0].amqp_url,
            "amqp://tach:tach@rabbitmq:5672/%2f"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_example_config_parses() {
        let text = r#"
            [[deployment]]
            name = "region-1"
            amqp_url = "amqp://guest:guest@rabbit-1:5672/%2f"
            exchange_durable = false
            queue_arguments = { "x-queue-type" = "quorum" }
            queue_prefix = "tach"

            [[deployment.binding]]
            exchange = "nova"
            family = "nova"
            routing_keys = ["notifications.info", "notifications.error"]
        "#;
        let file: ConfigFile = toml::from_str(text).unwrap();
        let deployment = &file.deployments[0];
        assert_eq!(
            deployment.queue_arguments["x-queue-type"],
            QueueArgument::Text("quorum".into())
        );
        assert_eq!(deployment.effective_bindings().len(), 1);
        assert_eq!(
            deployment.redacted_url(),
            "amqp://guest:***@rabbit-1:5672/%2f"
        );
    }

    #[test]
    fn a_cluster_is_a_list_or_a_multi_host_url() {
        // nextest runs each test in a process of its own.
        std::env::set_var("TACH_TEST_NODE_PASSWORD", "pw");
        let path = std::env::temp_dir().join(format!("tach-nodes-{}.toml", std::process::id()));
        let write = |body: &str| {
            std::fs::write(&path, format!("[[deployment]]\nname = \"r1\"\n{body}")).unwrap()
        };
        write("amqp_urls = [\"amqp://t:${TACH_TEST_NODE_PASSWORD}@n1:5672/v\", \"amqp://t:x@n2:5672/v\"]\n");
        let deployment = read_config_file(&path).unwrap().remove(0);
        assert_eq!(
            deployment.node_urls().unwrap(),
            ["amqp://t:pw@n1:5672/v", "amqp://t:x@n2:5672/v"]
        );
        assert_eq!(deployment.url_setting, UrlSetting::ConfigFileList);
        assert_eq!(
            deployment.redacted_url(),
            "amqp://t:***@n1:5672/v, amqp://t:***@n2:5672/v"
        );
        assert_eq!(deployment.delivery_limit, DEFAULT_DELIVERY_LIMIT);
        write("amqp_url = \"amqp://a:pw1@n1:5672,b:pw2@n2/v\"\ndelivery_limit = 5\n");
        let deployment = read_config_file(&path).unwrap().remove(0);
        assert_eq!(
            deployment.node_urls().unwrap(),
            ["amqp://a:pw1@n1:5672/v", "amqp://b:pw2@n2/v"]
        );
        assert_eq!(deployment.url_setting, UrlSetting::ConfigFile);
        assert_eq!(deployment.redacted_url(), "amqp://a:***@n1:5672,b:***@n2/v");
        assert_eq!(deployment.delivery_limit, 5);
        for (body, expected) in [
            (
                "amqp_url = \"amqp://n1\"\namqp_urls = [\"amqp://n2\"]\n",
                "deployment r1: set amqp_url (or amqp_url_file) or amqp_urls, not both",
            ),
            ("amqp_urls = []\n", "deployment r1: amqp_urls lists no URL"),
            (
                "queue_prefix = \"t\"\n",
                "deployment r1: set amqp_url, amqp_url_file or amqp_urls",
            ),
        ] {
            write(body);
            let error = format!("{:#}", read_config_file(&path).unwrap_err());
            assert!(error.ends_with(expected), "{error}");
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn redaction_hides_every_password() {
        for (url, redacted) in [
            ("amqp://u:secret@h:5672/%2f", "amqp://u:***@h:5672/%2f"),
            ("amqp://h:5672/%2f", "amqp://h:5672/%2f"),
            (
                "amqp://u:s1@h1,v:s2@h2:5673/x?heartbeat=5",
                "amqp://u:***@h1,v:***@h2:5673/x?heartbeat=5",
            ),
            ("amqp://u:se/cr?et@h/x", "amqp://u:***@h/x"),
        ] {
            assert_eq!(redact_url(url), redacted);
        }
    }

    #[test]
    fn a_typo_fails_loudly() {
        let text = "[[deployment]]\nname = \"a\"\namqp_url = \"amqp://x\"\nqueue_prefx = \"t\"\n";
        let error = toml::from_str::<ConfigFile>(text).unwrap_err().to_string();
        assert!(error.contains("queue_prefx"), "{error}");
    }

    #[test]
    fn defaults_follow_the_spec() {
        let deployment = DeploymentConfig::single("local", "amqp://127.0.0.1");
        let exchanges: Vec<String> = deployment
            .effective_bindings()
            .into_iter()
            .map(|b| b.exchange)
            .collect();
        assert_eq!(exchanges, ["nova", "glance", "tach"]);
    }
}
