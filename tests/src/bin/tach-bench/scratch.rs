//! What a run creates and removes again: a migrated database of its own
//! (`tach_bench_<unix time>_<id>`) and broker names of its own (a
//! [`TestBroker`] prefix, written into a `TACH_CONFIG` file for the
//! tach-ingest processes it starts), so runs never see each other's data.
//! Everything created is also registered, so that an interrupted run
//! (Ctrl-C, SIGTERM) still removes it: [`remove_leftovers`].

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use tach_ingest::DeploymentConfig;
use tach_schema::PoolSettings;
use tach_tests::harness::{unique_suffix, TestBroker};

use crate::services::Binaries;

/// Something created and not yet removed.
#[derive(Debug, Clone, PartialEq)]
enum Created {
    Database { server: String, name: String },
    Names { prefix: String, amqp_url: String },
}

static CREATED: Mutex<Vec<Created>> = Mutex::new(Vec::new());

fn register(created: Created) {
    CREATED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(created);
}

fn deregister(created: &Created) {
    CREATED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|other| other != created);
}

/// Removes what an interrupted run created and did not remove (the
/// database stays with `keep`).
pub async fn remove_leftovers(keep: bool) {
    let created = std::mem::take(&mut *CREATED.lock().unwrap_or_else(|e| e.into_inner()));
    for item in created {
        match item {
            Created::Database { server, name } => {
                if keep {
                    println!("kept database {name}");
                } else if let Err(error) = drop_database(&server, &name).await {
                    eprintln!("tach-bench: could not drop database {name}: {error:#}");
                }
            }
            Created::Names { prefix, amqp_url } => {
                let broker = TestBroker { prefix, amqp_url };
                broker.delete_queues(&[ceiling_queue(&broker.prefix)]).await;
                broker.delete_all().await;
            }
        }
    }
}

/// The queue the drain ceiling reads, besides tach's own.
pub fn ceiling_queue(prefix: &str) -> String {
    format!("{prefix}ceiling")
}

/// A database of this run's own.
pub struct ScratchDatabase {
    /// The server it lives on (any database URL of it).
    server: String,
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// A small pool on it, for the benchmark's own reads.
    pub pool: PgPool,
}

impl ScratchDatabase {
    /// Creates a new database on `server` and migrates it with the
    /// tach-ingest binary under test (`tach-ingest migrate`), so that the
    /// schema is the one that binary expects.
    pub async fn create(server: &str, binaries: &Binaries) -> anyhow::Result<ScratchDatabase> {
        let name = format!(
            "tach_bench_{}_{}",
            chrono::Utc::now().timestamp(),
            unique_suffix()
        );
        let url = database_url(server, &name)?;
        let pool = tach_schema::connect(
            &url,
            PoolSettings {
                max_connections: 4,
                ..PoolSettings::default()
            },
        )
        .await
        .with_context(|| format!("creating database {name}"))?;
        let database = ScratchDatabase {
            server: server.to_owned(),
            name,
            url,
            pool,
        };
        register(database.created());
        if let Err(error) = migrate(binaries, &database).await {
            // Created but unusable: drop it rather than leave it behind.
            let _ = database.finish(false).await;
            return Err(error);
        }
        Ok(database)
    }

    fn created(&self) -> Created {
        Created::Database {
            server: self.server.clone(),
            name: self.name.clone(),
        }
    }

    /// Drops the database, or with `keep` leaves it and says where it is.
    pub async fn finish(self, keep: bool) -> anyhow::Result<()> {
        self.pool.close().await;
        deregister(&self.created());
        if keep {
            println!("kept database {} ({})", self.name, self.url);
            return Ok(());
        }
        drop_database(&self.server, &self.name).await
    }
}

/// Migrates `database` with the tach-ingest binary under test.
async fn migrate(binaries: &Binaries, database: &ScratchDatabase) -> anyhow::Result<()> {
    let migrated = tokio::process::Command::new(binaries.path("tach-ingest")?)
        .arg("migrate")
        .env("DATABASE_URL", &database.url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .context("running tach-ingest migrate")?;
    if !migrated.status.success() {
        anyhow::bail!(
            "tach-ingest migrate failed on {}: {}",
            database.name,
            String::from_utf8_lossy(&migrated.stderr)
        );
    }
    Ok(())
}

async fn drop_database(server: &str, name: &str) -> anyhow::Result<()> {
    let admin =
        tach_schema::connect(&database_url(server, "postgres")?, PoolSettings::default()).await?;
    let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&admin)
        .await
        .with_context(|| format!("dropping database {name}"))?;
    admin.close().await;
    Ok(())
}

/// `server`'s URL with another database name.
pub fn database_url(server: &str, name: &str) -> anyhow::Result<String> {
    let options = PgConnectOptions::from_str(server)
        .with_context(|| format!("parsing the PostgreSQL URL {server}"))?
        .database(name);
    Ok(options.to_url_lossy().to_string())
}

/// Broker names of this run's own and the `TACH_CONFIG` file naming them.
pub struct Namespace {
    /// The names (`bench<id>-nova`, `bench<id>-tach.nova.info`, …).
    pub broker: TestBroker,
    /// The TOML file tach-ingest reads through `TACH_CONFIG`.
    pub config_file: PathBuf,
}

impl Namespace {
    /// New names on `amqp_url`, with the config file written into `directory`.
    pub fn create(amqp_url: &str, directory: &Path) -> anyhow::Result<Namespace> {
        let broker = TestBroker {
            prefix: format!("bench{}-", unique_suffix()),
            amqp_url: amqp_url.to_owned(),
        };
        std::fs::create_dir_all(directory)
            .with_context(|| format!("creating {}", directory.display()))?;
        let config_file = directory.join(format!("{}tach.toml", broker.prefix));
        std::fs::write(&config_file, config_toml(&broker.deployment(amqp_url)))
            .with_context(|| format!("writing {}", config_file.display()))?;
        register(Created::Names {
            prefix: broker.prefix.clone(),
            amqp_url: amqp_url.to_owned(),
        });
        Ok(Namespace {
            broker,
            config_file,
        })
    }

    /// The deployment tach-ingest consumes.
    pub fn deployment(&self) -> DeploymentConfig {
        self.broker.deployment(&self.broker.amqp_url)
    }

    /// Declares tach's exchanges, queues and bindings, so that everything
    /// published before tach-ingest starts waits in its queues.
    pub async fn declare(&self) -> anyhow::Result<()> {
        let connection = lapin::Connection::connect(
            &self.broker.amqp_url,
            lapin::ConnectionProperties::default(),
        )
        .await
        .context("connecting to RabbitMQ")?;
        tach_ingest::topology::declare(&connection, &self.deployment())
            .await
            .context("declaring tach's topology")?;
        let _ = connection.close(200, "declared".into()).await;
        Ok(())
    }

    /// Deletes the queues, exchanges and config file.
    pub async fn finish(self) {
        deregister(&Created::Names {
            prefix: self.broker.prefix.clone(),
            amqp_url: self.broker.amqp_url.clone(),
        });
        self.broker
            .delete_queues(&[ceiling_queue(&self.broker.prefix)])
            .await;
        self.broker.delete_all().await;
        let _ = std::fs::remove_file(&self.config_file);
    }
}

/// The `TACH_CONFIG` file of one deployment (the fields tach-ingest reads,
/// deploy/tach.example.toml shows the rest).
fn config_toml(deployment: &DeploymentConfig) -> String {
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    format!(
        "[[deployment]]\nname = {}\namqp_url = {}\nqueue_prefix = {}\nexchange_prefix = {}\n",
        quoted(&deployment.name),
        quoted(&deployment.amqp_url),
        quoted(&deployment.queue_prefix),
        quoted(&deployment.exchange_prefix),
    )
}
