//! Connecting to PostgreSQL: create the database when it is missing, open a
//! pool, apply the migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// The migrations in `schema/migrations`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What can go wrong while getting a usable database.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL does not parse.
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    BadUrl(#[source] sqlx::Error),
    /// The server could not be reached or refused us.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[source] sqlx::Error),
    /// Creating the missing database failed.
    #[error("cannot create database {database:?}: {source}")]
    Create {
        /// The database name.
        database: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migrating the schema failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl DatabaseError {
    /// True when retrying cannot help: the URL does not parse, the server
    /// refused the role or its password, the TLS handshake failed, or the
    /// role may not create the missing database. A server that is down,
    /// starting or unreachable is not permanent.
    pub fn is_permanent(&self) -> bool {
        match self {
            DatabaseError::BadUrl(_) => true,
            DatabaseError::Connect(error) | DatabaseError::Create { source: error, .. } => {
                refuses_for_good(error)
            }
            DatabaseError::Migrate(_) => false,
        }
    }
}

fn refuses_for_good(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Configuration(_) | sqlx::Error::Tls(_) => true,
        // rustls's handshake failures (an unknown CA, a host name the
        // certificate does not hold) reach sqlx as invalid data.
        sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::InvalidData,
        // 28000 invalid_authorization_specification (no pg_hba entry, a
        // certificate refused), 28P01 invalid_password, 42501
        // insufficient_privilege (may not create the database).
        sqlx::Error::Database(error) => {
            matches!(error.code().as_deref(), Some("28000" | "28P01" | "42501"))
        }
        _ => false,
    }
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a caller waits for a connection before getting an error.
    pub acquire_timeout: Duration,
    /// PostgreSQL's `statement_timeout` for the pool's sessions, so the
    /// database stops a statement whose caller gave up; none when None.
    pub statement_timeout: Option<Duration>,
    /// Whether a missing database is created (a read-only role cannot).
    pub create_if_missing: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: None,
            create_if_missing: true,
        }
    }
}

/// Opens a pool on `url`, creating the database first when it does not exist.
pub async fn connect(url: &str, settings: PoolSettings) -> Result<PgPool, DatabaseError> {
    // Sessions run in UTC: every time tach stores or prints is UTC, and SQL
    // that renders or truncates a timestamptz must not follow the server's zone.
    // No parallel workers: every statement tach runs reads a bounded number
    // of rows through an index, and a parallel plan only ever appeared where
    // the planner misjudged a partition still filling (it then scanned it on
    // every batch, with workers that compete with the writers for the cores).
    let mut options = PgConnectOptions::from_str(url)
        .map_err(DatabaseError::BadUrl)?
        .options([
            ("timezone", "UTC"),
            ("max_parallel_workers_per_gather", "0"),
            // Every query here reads a few pages through an index; a cost
            // estimate inflated by missing statistics made PostgreSQL spend
            // ~250 ms compiling one that then ran in 20 ms.
            ("jit", "off"),
        ]);
    if let Some(timeout) = settings.statement_timeout {
        let millis = timeout.as_millis().max(1).to_string();
        options = options.options([("statement_timeout", millis.as_str())]);
    }
    if settings.create_if_missing {
        create_database_if_missing(&options).await?;
    }
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(DatabaseError::Connect)
}

/// Applies every pending migration. sqlx holds an advisory lock while it
/// migrates, so several replicas may start at once.
pub async fn migrate(pool: &PgPool) -> Result<(), DatabaseError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// True when the schema is at least as new as this build expects; a
/// read-only tach-query waits for this instead of migrating itself.
pub async fn schema_is_current(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let latest = MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0);
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .or_else(|error| match &error {
                // No migrations table yet: nothing is applied.
                sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Ok(None),
                _ => Err(error),
            })?;
    Ok(applied.unwrap_or(0) >= latest)
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), DatabaseError> {
    let database = options.get_database().unwrap_or("postgres").to_owned();
    match options.connect().await {
        Ok(connection) => {
            let _ = connection.close().await;
            return Ok(());
        }
        // 3D000: invalid_catalog_name, the database does not exist.
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("3D000") => {}
        Err(error) => return Err(DatabaseError::Connect(error)),
    }
    let mut admin: PgConnection = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(DatabaseError::Connect)?;
    let statement = format!("CREATE DATABASE \"{}\"", database.replace('"', "\"\""));
    let created = sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&mut admin)
        .await;
    let _ = admin.close().await;
    match created {
        Ok(_) => Ok(()),
        // Another replica created it first: 42P04 duplicate_database, or
        // 23505 when both inserted into pg_database at the same moment.
        Err(sqlx::Error::Database(error))
            if matches!(error.code().as_deref(), Some("42P04" | "23505")) =>
        {
            Ok(())
        }
        Err(source) => Err(DatabaseError::Create { database, source }),
    }
}
